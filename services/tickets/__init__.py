"""工单决策 tickets: the ticket decider as a service of its own (see host.py)."""
