"""Access events (人员与权限), topic hotline.people: who was given which access, by whom, when.

An auditor answers "who could read or change what on a given day" from these streams:
`account-<login>` for a staff account, `key-<holder>` for a program's API key. Secrets
never travel here (no password hash, no key): only that one was set or issued. Nor do
people's names: the login identifies the account, its display name stays in the account
store, where it can be corrected or erased.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Id, PeopleEvent, PersonId, Reason, UnitId

Login = Field(pattern=r"^[a-z][a-z0-9._-]{1,63}$", description="Sign-in name, e.g. wang.li")
StaffRole = Literal["operator", "unit", "supervisor", "callback", "analyst", "auditor",
                    "editor", "admin"]
KeyRole = Literal["channel", "operator", "unit", "supervisor", "callback", "analyst",
                  "auditor", "editor", "admin"]


class AccountCreated(PeopleEvent):
    """开户: a staff account with its roles (and unit, for a member unit's staff)."""

    login: str = Login
    roles: tuple[StaffRole, ...] = Field(min_length=1)
    unit_id: UnitId | None = None
    by: PersonId


class AccountChanged(PeopleEvent):
    """变更: the account's roles or unit now (the whole new value of each)."""

    login: str = Login
    roles: tuple[StaffRole, ...] = Field(min_length=1)
    unit_id: UnitId | None = None
    by: PersonId


class AccountDeactivated(PeopleEvent):
    """停用: no sign-in and no session any more."""

    login: str = Login
    by: PersonId
    reason: Reason | None = None


class AccountReactivated(PeopleEvent):
    """启用: the account may sign in again."""

    login: str = Login
    by: PersonId


class PasswordSet(PeopleEvent):
    """密码: a password was set (at creation, by its holder, or reset by an admin)."""

    login: str = Login
    how: Literal["created", "changed", "reset"]
    by: PersonId


class KeyIssued(PeopleEvent):
    """发放密钥: an API key for a program (channel adapter, unit system, service account)."""

    holder: Id
    role: KeyRole
    channel: str | None = None
    unit_id: UnitId | None = None
    by: PersonId


class KeyRevoked(PeopleEvent):
    """吊销密钥: every live key of the holder stops working."""

    holder: Id
    count: int = Field(ge=0, description="How many live keys were revoked")
    by: PersonId
