"""The people service's use cases: accounts and keys changed by an admin, passwords, and
the access history an auditor reads.

Every change is first appended to its stream on hotline.people (`account-<login>`,
`key-<holder>`), then applied to the shared store: no access is ever granted without its
record, and a change the store then refuses (a login taken meanwhile) is followed by no
access at all. The store is what sign-in and every request check.
"""

from __future__ import annotations

from datetime import datetime

from contracts.base import EventData
from contracts.people_events import (
    AccountChanged,
    AccountCreated,
    AccountDeactivated,
    AccountReactivated,
    KeyIssued,
    KeyRevoked,
    PasswordSet,
)
from contracts.topics import PEOPLE
from hotline.apikeys import ApiKeyStore, Principal
from hotline.eventstore import Stored
from hotline.people import (
    Account,
    AccountExists,
    hash_password,
    new_password,
    password_matches,
    record_access,
)
from hotline.runtime import Platform

SOURCE = "/hotline/people"


class UnknownAccount(LookupError):
    """No account with that login."""


class PeopleService:
    """Accounts and keys, each change recorded on hotline.people before it takes effect."""

    def __init__(self, platform: Platform, store: ApiKeyStore) -> None:
        self.platform, self.keys, self.people = platform, store, store.people

    async def _record(self, stream: str, event: EventData, by: Principal,
                      now: datetime) -> None:
        await record_access(self.platform.store, stream, event, by.actor, SOURCE, now)

    async def _account(self, login: str) -> Account:
        account = await self.people.account(login)
        if account is None:
            raise UnknownAccount(login)
        return account

    async def create(self, account: Account, password: str | None, by: Principal,
                     now: datetime) -> str | None:
        """A new account; returns the one-time password made when none was given."""
        made = None if password else new_password()
        hashed = hash_password(account.login, password or made or "")
        if await self.people.account(account.login) is not None:
            raise AccountExists(account.login)
        await self._record(f"account-{account.login}", AccountCreated(
            login=account.login, roles=account.roles,
            unit_id=account.unit, by=by.actor), by, now)
        await self.people.create(account, hashed)
        await self._record(f"account-{account.login}", PasswordSet(
            login=account.login, how="created", by=by.actor), by, now)
        return made

    async def change(self, new: Account, by: Principal, now: datetime) -> Account:
        """The account as `new` says (name, roles, unit, active); sessions that lose their
        role, or all of them on deactivation, end at once."""
        old = await self._account(new.login)
        stream = f"account-{new.login}"
        if (new.roles, new.unit) != (old.roles, old.unit):  # a new name grants nothing
            await self._record(stream, AccountChanged(
                login=new.login, roles=new.roles,
                unit_id=new.unit, by=by.actor), by, now)
        if new.active != old.active:
            event: EventData = (AccountReactivated(login=new.login, by=by.actor) if new.active
                                else AccountDeactivated(login=new.login, by=by.actor))
            await self._record(stream, event, by, now)
        await self.people.change(new)
        return new

    async def reset_password(self, login: str, by: Principal, now: datetime) -> str:
        """A new one-time password from an admin; the account's sessions end."""
        await self._account(login)
        made = new_password()
        hashed = hash_password(login, made)
        await self._record(f"account-{login}", PasswordSet(login=login, how="reset",
                                                           by=by.actor), by, now)
        await self.people.set_password(login, hashed)
        return made

    async def change_password(self, who: Principal, current: str, new: str,
                              now: datetime) -> bool:
        """The holder's own change; False when `current` is wrong."""
        login = who.person or ""
        if not password_matches(await self.people.password_hash(login), current):
            return False
        hashed = hash_password(login, new)
        await self._record(f"account-{login}", PasswordSet(login=login, how="changed",
                                                           by=who.actor), who, now)
        await self.people.set_password(login, hashed)
        return True

    async def issue_key(self, holder: Principal, by: Principal, now: datetime) -> str:
        """A key for a program, shown once."""
        await self._record(f"key-{holder.name}", KeyIssued(
            holder=holder.name, role=holder.role, channel=holder.channel,
            unit_id=holder.unit, by=by.actor), by, now)
        return await self.keys.create(holder)

    async def revoke_key(self, holder: str, by: Principal, now: datetime) -> int:
        """Every live key of the holder stops working."""
        live = sum(1 for p in await self.keys.holders() if p.name == holder)
        await self._record(f"key-{holder}", KeyRevoked(holder=holder, count=live,
                                                       by=by.actor), by, now)
        return await self.keys.revoke(holder)

    async def history(self, stream: str) -> list[Stored]:
        """Every access event of one account or key holder, oldest first."""
        return await self.platform.store.load(PEOPLE, stream)
