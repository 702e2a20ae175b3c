"""People (人员与权限): staff accounts, API keys for programs, and who granted what."""
