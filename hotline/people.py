"""Staff accounts and their sessions: who a person is, what they may do, how they sign in.

Programs hold API keys (hotline.apikeys); people hold accounts. An account has a login
(`wang.li`), a display name, one or more roles and, for a member unit's staff, the unit.
A person signs in with a password and picks one of their roles; the session then acts
as that role, and every event it causes names the person (`Principal.actor`:
`operator:wang.li`, `unit:d01-urban-squad/zhang.min`).

Passwords are hashed with Argon2id (argon2-cffi, its RFC 9106 low-memory profile); a
sign-in for an unknown login still verifies against a dummy hash, so the time taken does
not tell which logins exist. Sessions are random tokens stored as SHA-256 digests, with a
CSRF token the browser sends back on every state change (hotline.auth). Failed sign-ins
are throttled per (login, client address): a stranger guessing from elsewhere slows down
only themselves, never the real person at their own desk.

`PeopleStore` is the port; hotline.people_sql keeps it beside the API keys, in the
database every replica shares.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from contracts.base import EventData
from contracts.people_events import StaffRole
from contracts.topics import PEOPLE
from hotline.apikeys import Principal
from hotline.eventstore import Context, EventStore
from hotline.log.port import VersionConflict

STAFF_ROLES: tuple[StaffRole, ...] = get_args(StaffRole)
MIN_PASSWORD = 12
SESSION_IDLE = timedelta(hours=8)  # a working shift without a request ends the session
SESSION_MAX = timedelta(hours=12)  # and no session outlives a long day
FREE_FAILURES = 5  # failed sign-ins per (login, address) before each costs a wait
MAX_WAIT = timedelta(minutes=15)

_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class WeakPassword(ValueError):
    """A password that is too short, or the login itself."""


@dataclass(frozen=True, slots=True)
class Account:
    """A person's account (never their password)."""

    login: str
    display_name: str
    roles: tuple[StaffRole, ...]
    unit: str | None = None
    active: bool = True

    def principal(self, role: StaffRole) -> Principal:
        """Who this person is while acting as `role` (one of theirs)."""
        return Principal(self.login, role, unit=self.unit if role == "unit" else None,
                         person=self.login)


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in person acting in one role; `csrf` must come back on every change."""

    principal: Principal
    csrf: str
    expires_at: datetime


def hash_password(login: str, password: str) -> str:
    """The Argon2id hash to store; WeakPassword for one not worth storing."""
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"a password has at least {MIN_PASSWORD} characters")
    if login.lower() in password.lower():
        raise WeakPassword("a password must not contain the login")
    return _hasher.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one hashed in `stored` (None: no such account; the
    dummy hash is checked anyway, so both cases take the same time)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A one-time password an admin hands over (20 characters, about 119 bits)."""
    return secrets.token_urlsafe(15)


def throttle_wait(failures: int) -> timedelta:
    """How long the next try from the same address for the same login must wait."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_WAIT)


class PeopleStore(Protocol):
    """Accounts, their password hashes and sessions, shared by every replica."""

    async def create(self, account: Account, password_hash: str) -> None:
        """A new account (AccountExists if the login is taken)."""
        ...

    async def account(self, login: str) -> Account | None: ...

    async def accounts(self) -> list[Account]: ...

    async def change(self, account: Account) -> None:
        """Store the account's new name, roles, unit and active flag; deactivating (or
        taking away the role a session acts in) ends its sessions at once."""
        ...

    async def set_password(self, login: str, password_hash: str) -> None:
        """A new password; every session of the account ends."""
        ...

    async def password_hash(self, login: str) -> str | None: ...

    async def open_session(self, principal: Principal, now: datetime) -> tuple[str, Session]:
        """A new session: its token (for the cookie, never stored) and the session."""
        ...

    async def session(self, token: str, now: datetime) -> Session | None:
        """The live session of `token` (its account still active), its idle clock reset."""
        ...

    async def close_session(self, token: str) -> None: ...

    async def failures(self, login: str, client: str, now: datetime) -> tuple[int, datetime]:
        """Recent failed sign-ins for (login, client) and when the last one was."""
        ...

    async def record_failure(self, login: str, client: str, now: datetime) -> None: ...

    async def clear_failures(self, login: str, client: str) -> None: ...


class AccountExists(ValueError):
    """The login is taken."""


async def record_access(store: EventStore, stream: str, event: EventData, actor: str,
                        source: str, now: datetime) -> None:
    """Append an access event at the end of its stream on hotline.people (retried when
    another replica appended first): the record that comes before every change."""
    for _ in range(5):
        head = await store.log.stream_head(PEOPLE, stream)
        try:
            await store.append(stream, [event], expected_version=head.version,
                               head_hash=head.head_hash, context=Context.new(actor, source),
                               now=now)
            return
        except VersionConflict:
            continue
    raise VersionConflict(PEOPLE, stream, -1, -1)
