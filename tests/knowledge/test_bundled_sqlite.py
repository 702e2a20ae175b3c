"""The knowledge index's engine on the bundled SQLite (hotline/bundled_sqlite.py): every
connection runs that build, with the projection database's settings, SQLAlchemy's
transactions and SQLAlchemy's errors, as on the standard module; and it reads an index the
system's SQLite wrote."""

from __future__ import annotations

import platform
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline import bundled_sqlite
from services.knowledge.fts import open_index, words_row
from services.knowledge.segment import SEP
from tests.knowledge.corpus import sample_articles


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    found = open_index(f"sqlite+aiosqlite:///{tmp_path / 'index.db'}")
    yield found
    await found.dispose()


def test_the_wheel_is_installed_where_it_exists() -> None:
    # pyproject installs it on Linux x86-64: without it the index silently runs slower
    if sys.platform == "linux" and platform.machine() == "x86_64":
        assert bundled_sqlite.available()


async def test_every_connection_runs_the_bundled_build(engine: AsyncEngine) -> None:
    async with engine.connect() as a, engine.connect() as b:
        for conn in (a, b):
            version = (await conn.execute(text("SELECT sqlite_version()"))).scalar()
            assert version == bundled_sqlite.dbapi().sqlite_version
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            assert mode == "wal"  # hotline.database's settings for a read model


async def test_errors_are_sqlalchemys_and_transactions_roll_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(exc.OperationalError):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM nothing_here"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT k FROM t"))).scalars().all() == [1]


async def test_a_connection_comes_back_without_its_transaction(engine: AsyncEngine) -> None:
    # the index's pool does not roll back what it is given back (open_index): SQLAlchemy's
    # own transaction must, or the next user would inherit an open write
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t VALUES (1)"))  # never committed
    async with engine.connect() as a, engine.connect() as b:  # one of them is that one
        for conn in (a, b):  # a leftover write would show its own row
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0


@pytest.mark.skipif(not bundled_sqlite.available(), reason="no bundled SQLite here")
def test_an_index_written_by_the_system_sqlite_reads_alike() -> None:
    """An index built before the change (by the system's SQLite) is searched by the bundled
    one: both must cut the stored text into the same tokens, or a query would miss words
    the index holds. The sample corpus's rows, and characters at the tokenizer's edges."""
    rows = [(w["t"], w["k"], w["b"]) for w in (words_row(n, a) for n, a
                                              in enumerate(sample_articles()))]
    edges = "ＡＢＣ１２３ 〇〇 𠀀𪚥 😀 é Ⅻ ⑩ ㊙ ﹏ \u200bzero"  # full width, CJK Ext. B, emoji …
    rows.append((edges, "x", SEP.join(["社保", "户口"])))

    def vocabulary(module: Any) -> list[tuple[str, int, int]]:
        conn = module.connect(":memory:")
        conn.execute("CREATE VIRTUAL TABLE f USING fts5(title, terms, body, "
                     f"tokenize = \"unicode61 separators '{SEP}'\")")
        conn.executemany("INSERT INTO f VALUES (?, ?, ?)", rows)
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'row')")
        return list(conn.execute("SELECT term, doc, cnt FROM v ORDER BY term"))

    found = vocabulary(bundled_sqlite.dbapi())
    assert len(found) > 1000
    assert found == vocabulary(sqlite3)
