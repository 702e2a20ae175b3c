"""The people store on SQL, beside the API keys (HOTLINE_API_KEYS_DB): accounts, their
password hashes, sessions and failed sign-ins, in tables every replica shares.

A session is read on every request it makes, with its account, so a deactivated account
or a role taken away stops working at the next request on every replica. Its idle clock
is written back at most once a minute.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateIndex, CreateTable

from contracts.people_events import StaffRole
from hotline.apikeys import Principal, digest
from hotline.people import SESSION_IDLE, SESSION_MAX, Account, AccountExists, Session

SEEN_EVERY = timedelta(minutes=1)  # how stale a session's idle clock may be written

metadata = MetaData()
accounts = Table(
    "people_accounts", metadata,
    Column("login", String(64), primary_key=True),
    Column("display_name", String(64), nullable=False),
    Column("roles", String(200), nullable=False),  # comma-separated
    Column("unit", String(64)),
    Column("active", Boolean, nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
sessions = Table(
    "people_sessions", metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the cookie's token
    Column("login", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
failures = Table(
    "people_failures", metadata,
    Column("login", String(64), primary_key=True),
    Column("client", String(64), primary_key=True),
    Column("tries", Integer, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
)
sessions_by_login = Index("ix_people_sessions_login", sessions.c.login)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _account(row: Any) -> Account:
    return Account(row.login, row.display_name, cast(tuple[StaffRole, ...], tuple(
        row.roles.split(","))), row.unit, bool(row.active))


class SqlPeopleStore:
    """PeopleStore on the API key store's engine (its tables are created by `create`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    async def create_tables(conn: AsyncConnection) -> None:
        for table in metadata.sorted_tables:
            await conn.execute(CreateTable(table, if_not_exists=True))
        await conn.execute(CreateIndex(sessions_by_login, if_not_exists=True))

    async def create(self, account: Account, password_hash: str) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(accounts.insert().values(
                    **_columns(account), password_hash=password_hash,
                    changed_at=datetime.now(UTC)))
        except IntegrityError as exc:
            raise AccountExists(account.login) from exc

    async def account(self, login: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.login == login))).first()
        return _account(row) if row is not None else None

    async def accounts(self) -> list[Account]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(accounts).order_by(accounts.c.login))
            return [_account(row) for row in rows]

    async def change(self, account: Account) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(accounts).where(accounts.c.login == account.login)
                               .values(**_columns(account), changed_at=datetime.now(UTC)))
            ended = sessions.c.login == account.login
            if account.active:
                ended = ended & sessions.c.role.not_in(account.roles)
            await conn.execute(delete(sessions).where(ended))

    async def set_password(self, login: str, password_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(accounts).where(accounts.c.login == login).values(
                password_hash=password_hash, changed_at=datetime.now(UTC)))
            await conn.execute(delete(sessions).where(sessions.c.login == login))

    async def password_hash(self, login: str) -> str | None:
        async with self._engine.connect() as conn:
            return cast(str | None, (await conn.execute(
                select(accounts.c.password_hash).where(accounts.c.login == login,
                                                       accounts.c.active))).scalar())

    async def open_session(self, principal: Principal, now: datetime) -> tuple[str, Session]:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = now + SESSION_MAX
        async with self._engine.begin() as conn:
            await conn.execute(sessions.insert().values(
                digest=digest(token), login=principal.person, role=principal.role, csrf=csrf,
                seen_at=now, expires_at=expires))
        return token, Session(principal, csrf, expires)

    async def session(self, token: str, now: datetime) -> Session | None:
        found = digest(token)
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                select(sessions.c.role, sessions.c.csrf, sessions.c.seen_at,
                       sessions.c.expires_at, accounts)
                .join(accounts, accounts.c.login == sessions.c.login)
                .where(sessions.c.digest == found, accounts.c.active))).first()
            if row is None:
                return None
            seen, expires = _aware(row.seen_at), _aware(row.expires_at)
            account = _account(row)
            if now >= expires or now - seen >= SESSION_IDLE or row.role not in account.roles:
                return None
            if now - seen >= SEEN_EVERY:
                await conn.execute(update(sessions).where(sessions.c.digest == found)
                                   .values(seen_at=now))
                await conn.commit()
        return Session(account.principal(cast(StaffRole, row.role)), row.csrf, expires)

    async def close_session(self, token: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.digest == digest(token)))

    async def failures(self, login: str, client: str, now: datetime) -> tuple[int, datetime]:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(failures.c.tries, failures.c.last_at).where(
                failures.c.login == login, failures.c.client == client))).first()
        return (row.tries, _aware(row.last_at)) if row is not None else (0, now)

    async def record_failure(self, login: str, client: str, now: datetime) -> None:
        for _ in range(2):  # two first failures at once: one inserts, the other updates
            try:
                async with self._engine.begin() as conn:
                    done = await conn.execute(update(failures).where(
                        failures.c.login == login, failures.c.client == client)
                        .values(tries=failures.c.tries + 1, last_at=now))
                    if done.rowcount == 0:
                        await conn.execute(failures.insert().values(
                            login=login, client=client, tries=1, last_at=now))
                return
            except IntegrityError:
                continue

    async def clear_failures(self, login: str, client: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(failures).where(failures.c.login == login,
                                                      failures.c.client == client))


def _columns(account: Account) -> dict[str, Any]:
    return {"login": account.login, "display_name": account.display_name,
            "roles": ",".join(account.roles), "unit": account.unit, "active": account.active}
