"""SQLite as the `pysqlite3-binary` wheel bundles it, for a database that ranks full text.

Python's `sqlite3` module runs the system's SQLite library: on Debian 12 that is 3.40.1,
built without the lookaside allocator (`OMIT_LOOKASIDE` in `PRAGMA compile_options`).
FTS5's bm25() allocates for every row it ranks, and ranking is what a knowledge search
spends its time on: on the bench's 130,000-article index the same MATCH statements ran
at p95 8.8-9.8 / 9.2-10.2 ms (search / recommendation) on the system's build and
6.7-7.1 / 7.4-7.7 ms on the wheel's SQLite 3.51.1 (five alternated runs each; run-time
pragmas such as temp_store or a larger cache did not close the gap). The wheel is a
drop-in DB-API module (`pysqlite3.dbapi2`, the standard module's code) with its own
SQLite compiled in. Also measured: `sqlean.py` (SQLite 3.50.4, no faster here) and
`apsw` (as fast, but not DB-API, so SQLAlchemy cannot drive it).

One rule makes this safe: every connection a process opens to one file must come from
the same SQLite library. Two copies of SQLite in one process do not see each other's
locks (POSIX locks belong to the process, and each copy keeps its own table of them), so
one copy could checkpoint or write under the other's readers. So the bundled build is
chosen per database, for all of its connections (`hotline.database.open_database(...,
bundled=True)`), and only for a file nothing else in the process opens: the knowledge
index.

The wheel exists for Linux on x86-64 only (pyproject's marker); elsewhere `dbapi()` is the
standard module and the index runs on the system's SQLite, as it did before.
"""

from __future__ import annotations

import functools
import sqlite3
import types
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

try:
    from pysqlite3 import dbapi2 as _bundled
except ImportError:  # no wheel for this platform
    _bundled = None

_ERRORS = ("DatabaseError", "Error", "IntegrityError", "NotSupportedError", "OperationalError",
           "ProgrammingError", "sqlite_version", "sqlite_version_info")


def dbapi() -> Any:
    """The DB-API module of the bundled build (the standard `sqlite3` where there is none)."""
    return _bundled if _bundled is not None else sqlite3


def available() -> bool:
    """Whether this platform has the bundled build."""
    return _bundled is not None


@functools.cache
def aiosqlite_dbapi() -> AsyncAdapt_aiosqlite_dbapi | None:
    """SQLAlchemy's aiosqlite adapter over the bundled build (for `create_async_engine`'s
    `module`), or None where there is none.

    aiosqlite runs any connector in its thread; its `connect` calls the standard module, so
    this one gives it the bundled module's. The errors are the bundled module's own classes
    (SQLAlchemy wraps a driver's errors only when they are the classes its adapter names):
    a failing statement still raises `sqlalchemy.exc.OperationalError` and the like."""
    if _bundled is None:
        return None
    driver = _bundled

    def connect(database: Any, *, iter_chunk_size: int = 64, **kw: Any) -> aiosqlite.Connection:
        return aiosqlite.Connection(functools.partial(driver.connect, str(database), **kw),
                                    iter_chunk_size)

    module = types.SimpleNamespace(Connection=aiosqlite.Connection, connect=connect,
                                   __version__=aiosqlite.__version__)
    for name in _ERRORS:
        setattr(module, name, getattr(driver, name))
    return AsyncAdapt_aiosqlite_dbapi(module, driver)  # type: ignore[arg-type]
