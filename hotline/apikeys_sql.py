"""The API key store on SQL (SQLAlchemy async): one table every replica of every service reads.

A SQLite file by default (`data_dir/api_keys.db`, created 0600), PostgreSQL
when HOTLINE_API_KEYS_DB is a `postgresql+asyncpg://…` URL: then a key made
or revoked through any replica, or `hotline keys`, holds on all of them.
Revoking keeps the row with its time, so an auditor can tell which keys
existed when; only live rows authenticate. The clear key is never stored.

`authenticate` runs on every request, so hits are cached in the process and
checked against the table again after `RECHECK_SECONDS`; misses are
remembered for `MISS_SECONDS` only, so a key made on another replica works
here a second later. The requests that find a key's check due meanwhile share
one query.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable

from hotline.apikeys import Principal, Role, digest, new_key, plausible
from hotline.database import schema_turn
from hotline.people_sql import SqlPeopleStore

# How long a hit is believed before the table is asked again: the longest a key revoked
# on another replica keeps working here. Each live key then costs one primary-key read
# per replica every few seconds instead of one per request.
RECHECK_SECONDS = 5.0
# How long an unknown key is refused without a look-up: short, because a key created on
# another replica must work here at once; long enough that a client retrying with a
# revoked or mistyped key in a loop does not cost a query per request.
MISS_SECONDS = 1.0
MISSES_KEPT = 10_000  # the miss memo is dropped whole past this: random keys cannot grow it

metadata = MetaData()
api_keys = Table(
    "api_keys", metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the key, hex
    Column("name", String, nullable=False),
    Column("role", String(16), nullable=False),
    Column("channel", String),
    Column("unit", String),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
by_name = Index("ix_api_keys_name", api_keys.c.name)
LIVE = api_keys.c.revoked_at.is_(None)

log = logging.getLogger(__name__)


class SqlApiKeyStore:
    """ApiKeyStore on a SQLAlchemy async URL (or a SQLite file path); `legacy` is a JSON key
    file of earlier versions, imported once at start and renamed `….imported`."""

    def __init__(self, url: str, *, legacy: Path | None = None,
                 recheck_seconds: float = RECHECK_SECONDS, miss_seconds: float = MISS_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._url = make_url(url if "://" in url else f"sqlite+aiosqlite:///{url}")
        self._engine = create_async_engine(self._url)
        self._legacy = legacy
        self._recheck, self._miss, self._clock = recheck_seconds, miss_seconds, clock
        self._hits: dict[str, tuple[Principal, float]] = {}  # digest -> holder, checked at
        self._misses: dict[str, float] = {}  # digest -> refused at
        self._asking: dict[str, asyncio.Future[Principal | None]] = {}  # digest -> its lookup
        self._started = False
        self.people = SqlPeopleStore(self._engine)  # accounts and sessions, in the same database

    async def start(self) -> None:
        self._create_private_file()
        async with self._engine.begin() as conn:
            await schema_turn(conn)
            await conn.execute(CreateTable(api_keys, if_not_exists=True))
            await conn.execute(CreateIndex(by_name, if_not_exists=True))
            await SqlPeopleStore.create_tables(conn)
            imported = await self._import(conn)
        if imported is not None:
            self._retire_legacy(imported)
        self._started = True

    async def close(self) -> None:
        await self._engine.dispose()
        self._started = False

    def _create_private_file(self) -> None:
        """The SQLite file made 0600 before SQLite opens it (its journals take its mode),
        whatever the umask of the process (`hotline keys` runs outside `hotline run`)."""
        database = self._url.database
        if self._url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return
        path = Path(database)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))

    async def _import(self, conn: AsyncConnection) -> int | None:
        """The keys of the legacy JSON file, added unless present; None without a file."""
        if self._legacy is None or not self._legacy.exists():
            return None
        raw: dict[str, dict[str, Any]] = json.loads(self._legacy.read_text(encoding="utf-8"))
        now = datetime.now(UTC)  # the file kept no dates: the import is the earliest we know
        rows = [{"digest": d, **_columns(Principal(**p)), "created_at": now}
                for d, p in raw.items()]
        if rows:
            await conn.execute(_insert_new(conn), rows)
        return len(rows)

    def _retire_legacy(self, count: int) -> None:
        assert self._legacy is not None
        try:
            self._legacy.rename(self._legacy.with_name(self._legacy.name + ".imported"))
        except FileNotFoundError:  # another process on this data dir imported it too
            return
        log.warning("imported %d API keys from %s into the key store; the file is now %s",
                    count, self._legacy, self._legacy.name + ".imported")

    def _ready(self) -> None:
        if not self._started:
            raise RuntimeError("the API key store is not started: await start() first "
                               "(in the app's lifespan or the command)")

    async def create(self, principal: Principal) -> str:
        self._ready()
        key = new_key()
        async with self._engine.begin() as conn:
            await conn.execute(api_keys.insert().values(
                digest=digest(key), **_columns(principal), created_at=datetime.now(UTC)))
        return key

    async def authenticate(self, key: str | None) -> Principal | None:
        if not plausible(key):
            return None
        assert key is not None
        found = digest(key)
        now = self._clock()
        hit = self._hits.get(found)
        if hit is not None and now - hit[1] < self._recheck:
            return hit[0]
        missed = self._misses.get(found)
        if missed is not None and now - missed < self._miss:
            return None
        self._ready()
        # one look at the table per key at a time: when a key's check falls due, every
        # request then in flight with it (64 under load) waits for the same query
        asking = self._asking.get(found)
        if asking is None:
            asking = self._asking[found] = asyncio.ensure_future(self._look_up(found, now))
            asking.add_done_callback(lambda _: self._asking.pop(found, None))
        return await asyncio.shield(asking)  # a cancelled caller leaves it to the others

    async def _look_up(self, found: str, now: float) -> Principal | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                select(api_keys.c.name, api_keys.c.role, api_keys.c.channel, api_keys.c.unit)
                .where(api_keys.c.digest == found, LIVE))).first()
        if row is None:
            self._hits.pop(found, None)
            if len(self._misses) >= MISSES_KEPT:
                self._misses.clear()
            self._misses[found] = now
            return None
        principal = _principal(row)
        self._hits[found] = (principal, now)
        self._misses.pop(found, None)
        return principal

    async def revoke(self, name: str) -> int:
        self._ready()
        async with self._engine.begin() as conn:
            done = await conn.execute(update(api_keys).where(api_keys.c.name == name, LIVE)
                                      .values(revoked_at=datetime.now(UTC)))
        self._hits = {d: hit for d, hit in self._hits.items() if hit[0].name != name}
        return done.rowcount

    async def holders(self) -> list[Principal]:
        self._ready()
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(api_keys.c.name, api_keys.c.role, api_keys.c.channel, api_keys.c.unit)
                .where(LIVE).order_by(api_keys.c.name, api_keys.c.created_at))
            return [_principal(row) for row in rows]


def _columns(principal: Principal) -> dict[str, str | None]:
    return {"name": principal.name, "role": principal.role, "channel": principal.channel,
            "unit": principal.unit}


def _principal(row: Any) -> Principal:
    return Principal(row.name, cast(Role, row.role), row.channel, row.unit)


def _insert_new(conn: AsyncConnection) -> Any:
    """INSERT that skips rows already there (a second process importing the same file)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(api_keys).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(api_keys).on_conflict_do_nothing()
