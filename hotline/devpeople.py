"""Development accounts: one person per staff role and a few member units' staff, so that
`make run` can be signed into at once. None of them may exist anywhere else.

On a development machine they are created (each with its AccountCreated on
hotline.people) under one password kept in data_dir/dev-accounts.json (0600), and
printed in the banner. In any other environment every `dev.*` account found is
deactivated, its sessions ended, and the file removed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime

from contracts.people_events import AccountCreated, AccountDeactivated, PasswordSet
from hotline.apikeys import ApiKeyStore
from hotline.eventstore import EventStore
from hotline.people import STAFF_ROLES, Account, hash_password, record_access
from hotline.settings import Settings

PREFIX = "dev."
SYSTEM = "system:hotline-run"
SOURCE = "/hotline/run"
DEV_UNITS = ("d01-urban-squad", "city-urban-mgmt", "d01-street-1", "city-water")
NAMES: dict[str, str] = {
    "operator": "开发·话务员", "supervisor": "开发·督办员", "callback": "开发·回访员",
    "analyst": "开发·分析员", "auditor": "开发·审计员", "editor": "开发·知识编辑",
    "admin": "开发·管理员"}


def dev_accounts() -> list[Account]:
    """The development people: `dev.<role>` and `dev.unit.<unit>`."""
    staff = [Account(f"{PREFIX}{role}", NAMES[role], (role,))
             for role in STAFF_ROLES if role != "unit"]
    units = [Account(f"{PREFIX}unit.{unit}", f"开发·{unit}", ("unit",), unit)
             for unit in DEV_UNITS]
    return staff + units


async def ensure_dev_accounts(settings: Settings, keys: ApiKeyStore,
                              events: EventStore) -> str | None:
    """The development password (accounts made as needed), or None outside development
    (where any `dev.*` account is deactivated)."""
    path, now = settings.data_dir / "dev-accounts.json", datetime.now(UTC)
    people = keys.people
    if settings.environment != "development":
        path.unlink(missing_ok=True)
        for account in await people.accounts():
            if account.login.startswith(PREFIX) and account.active:
                await record_access(events, f"account-{account.login}", AccountDeactivated(
                    login=account.login, by=SYSTEM, reason="development account"),
                    SYSTEM, SOURCE, now)
                await people.change(Account(account.login, account.display_name,
                                            account.roles, account.unit, active=False))
                logging.getLogger(__name__).warning(
                    "deactivated the development account %s", account.login)
        return None
    known = json.loads(path.read_text()) if path.exists() else {}
    password: str = known.get("password") or secrets.token_urlsafe(12)
    for account in dev_accounts():
        if await people.account(account.login) is not None:
            if not known:  # the file was lost: the accounts take the new password
                await record_access(events, f"account-{account.login}", PasswordSet(
                    login=account.login, how="reset", by=SYSTEM), SYSTEM, SOURCE, now)
                await people.set_password(account.login,
                                          hash_password(account.login, password))
            continue
        await record_access(events, f"account-{account.login}", AccountCreated(
            login=account.login, roles=account.roles, unit_id=account.unit, by=SYSTEM),
            SYSTEM, SOURCE, now)
        await people.create(account, hash_password(account.login, password))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"password": password, "logins": [a.login for a in dev_accounts()]}, f)
    return password
