"""The projection database's engine: SQLAlchemy async, with SQLite set up for a read model.

SQLite's defaults (a rollback journal, every COMMIT synced through the journal and the
file) suit a database that is the only copy of its data. A projection's rows are not:
they are derived from the log, and its offsets are committed in the same transactions,
so what a crash of the machine takes back is re-read from the log. Hence, per connection:

- `journal_mode=WAL`: readers (the APIs) never wait for a runner's write, nor it for them;
  a COMMIT appends to the WAL instead of writing each page twice;
- `synchronous=NORMAL`: the WAL is synced at checkpoints, not at each COMMIT; a process
  killed after COMMIT loses nothing (the WAL is in the OS), a power cut may take back the
  last transactions, rows and offsets together, which replay redoes;
- `busy_timeout`: the runners of one process share the file and take turns to write;
- a page cache of 64 MB rather than 2 MB: stream heads and board rows are read back at
  random (ticket ids), and a replay touches far more than 2 MB;
- `wal_autocheckpoint` at 10,000 pages (40 MB) rather than 1,000: a replay's batch dirties
  pages all over a table's indexes (ticket ids and times come in no order), so at 1,000
  nearly every COMMIT ran a checkpoint, with its sync: 44 ms of each, a fifth of the
  analytics facts' replay (a year of 30,000 tickets: 8,064 -> 10,655 events/s). The WAL
  stays bounded: it is reused from its start after each checkpoint.

PostgreSQL needs none of this: its engine is created as it is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import MetaData, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hotline.bundled_sqlite import aiosqlite_dbapi

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=10000",
)


def open_database(url: str, *, bundled: bool = False, **options: Any) -> AsyncEngine:
    """An engine for the projection database at `url` (SQLite tuned as above); with
    `bundled`, a SQLite file is opened with the SQLite the pysqlite3 wheel bundles
    (hotline/bundled_sqlite.py: every connection of the engine, where the wheel exists)."""
    if bundled and make_url(url).get_dialect().driver == "aiosqlite" and (
            module := aiosqlite_dbapi()) is not None:
        options.setdefault("module", module)
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


SCHEMA_LOCK = 12345003  # pg_advisory_xact_lock id of every CREATE and DROP of our tables


async def schema_turn(conn: AsyncConnection) -> None:
    """Wait for this transaction's turn to make or drop tables: on PostgreSQL the processes
    sharing a database (a Deployment's replicas, every service on the development overlay)
    start together, and two CREATE TABLEs of one name both pass their check and one fails
    (UniqueViolation on pg_type); a SQLite database takes one writer at a time anyway."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))


class TablesOnce:
    """A store's own tables (not a projection's: those have `ensure_schema`), made in its
    engine at first use, once however many ask at the same moment: CREATE TABLE's check
    first is not atomic."""

    def __init__(self, engine: AsyncEngine, metadata: MetaData) -> None:
        self.engine, self.metadata = engine, metadata
        self._made = False
        self._making = asyncio.Lock()

    async def ensure(self) -> None:
        if self._made:
            return
        async with self._making:
            if not self._made:
                async with self.engine.begin() as conn:
                    await schema_turn(conn)
                    await conn.run_sync(self.metadata.create_all)
                self._made = True
