"""hotline.bulk stores exactly what SQLAlchemy's executemany stores, on SQLite and PostgreSQL:
the same rows written both ways into twin tables read back equal (times with their zone,
booleans, Chinese text, NULLs, a quoted column name), and a table whose Python-side
default SQLAlchemy must fill in takes SQLAlchemy's path; `add_many` adds to stored running
totals and inserts the rest."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.bulk import _processor, add_many, insert_many, update_many
from hotline.projection import utc_column
from tests.fixtures.databases import db_url  # noqa: F401 (fixture)

metadata = MetaData()


def twin(name: str) -> Table:
    return Table(name, metadata,
                 Column("ticket_id", String(64), primary_key=True),
                 Column("round", Integer, primary_key=True),
                 Column("order", Text),  # a reserved word: quoted in both
                 Column("active", Boolean, nullable=False),
                 utc_column("due_at"),
                 Column("note", Text))


ours, theirs = twin("bulk_ours"), twin("bulk_theirs")
defaulted = Table("bulk_defaulted", metadata, Column("id", Integer, primary_key=True),
                  Column("state", String(16), default="new"))
totals = Table("bulk_totals", metadata, Column("day", String(10), primary_key=True),
               Column("value", String(16), primary_key=True), Column("label", Text),
               Column("n", Integer, nullable=False), Column("seconds", Float, nullable=False))
T0 = datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)


def rows(n: int) -> list[dict[str, object]]:
    return [{"ticket_id": f"t-{i}", "round": i % 3, "order": None if i % 4 else "第一轮",
             "active": i % 2 == 0,
             "due_at": None if i % 5 == 0 else _zoned(i, T0 + timedelta(hours=i)),
             "note": f"市民反映{i}号楼噪音"} for i in range(n)]


def _zoned(i: int, t: datetime) -> datetime:
    """Some times in Beijing's zone: the same instant, another wall clock."""
    return t.astimezone(timezone(timedelta(hours=8))) if i % 7 == 1 else t


def test_sqlite_times_are_the_text_sqlalchemy_writes() -> None:
    """Our faster processor for SQLite's DATETIME, and SQLAlchemy's own where a column
    stores another text."""
    dialect, rng = sqlite.dialect(), random.Random(7)
    table = Table("times", MetaData(), Column("at", DateTime(timezone=True)),
                  Column("day", sqlite.DATETIME(storage_format="%(year)04d/%(month)02d/%(day)02d")))
    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30)), None]
    values = [datetime(rng.randrange(1, 9999), rng.randrange(1, 13), rng.randrange(1, 29),
                       rng.randrange(24), rng.randrange(60), rng.randrange(60),
                       rng.choice([0, rng.randrange(1_000_000)]), tzinfo=rng.choice(zones))
              for _ in range(2000)] + [datetime(2026, 12, 5).date(), None]
    for column in ("at", "day"):
        ours_ = _processor(dialect, table, column)
        theirs_ = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        assert ours_ is not None and theirs_ is not None
        assert [ours_(v) for v in values] == [theirs_(v) for v in values]


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres",
                                                           marks=pytest.mark.postgres)],
                         indirect=True)
async def test_the_same_rows_as_sqlalchemys_executemany(db_url: str) -> None:  # noqa: F811
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            written = rows(40)
            await insert_many(conn, ours, written)
            await conn.execute(theirs.insert(), written)
            changed = [{**r, "active": not r["active"], "note": "已回复", "due_at": T0}
                       for r in written[::3]]
            await update_many(conn, ours, ("ticket_id", "round"), ("active", "note", "due_at"),
                              changed)
            for r in changed:
                await conn.execute(theirs.update().where(
                    theirs.c.ticket_id == r["ticket_id"], theirs.c["round"] == r["round"])
                    .values(active=r["active"], note=r["note"], due_at=r["due_at"]))
            await insert_many(conn, defaulted, [{"id": 1}, {"id": 2}])
            await insert_many(conn, ours, [])
            await update_many(conn, ours, ("ticket_id",), ("note",), [])
        async with engine.connect() as conn:
            mine = (await conn.execute(select(ours).order_by(ours.c.ticket_id))).all()
            other = (await conn.execute(select(theirs).order_by(theirs.c.ticket_id))).all()
            states = (await conn.execute(select(defaulted.c.state))).scalars().all()
    finally:
        await engine.dispose()
    assert len(mine) == 40 and mine == other
    assert sum(1 for r in mine if r.note == "已回复") == 14
    assert states == ["new", "new"]  # SQLAlchemy's path filled in the default


async def test_add_many_adds_to_stored_totals(db_url: str) -> None:  # noqa: F811
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await add_many(conn, totals, ("day", "value"), ("n", "seconds"), [
                {"day": "2026-12-05", "value": "", "label": "全市", "n": 3, "seconds": 1.5},
                {"day": "2026-12-05", "value": "u1", "label": "城管", "n": 1, "seconds": 0.25}])
            await add_many(conn, totals, ("day", "value"), ("n", "seconds"), [
                {"day": "2026-12-05", "value": "", "label": "另一个", "n": -1, "seconds": 2.0},
                {"day": "2026-12-06", "value": "", "label": "全市", "n": 2, "seconds": 0.0}])
            await add_many(conn, totals, ("day", "value"), ("n", "seconds"), [])
        async with engine.connect() as conn:
            found = (await conn.execute(select(totals).order_by(totals.c.day,
                                                                totals.c.value))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in found] == [("2026-12-05", "", "全市", 2, 3.5),  # label kept
                                         ("2026-12-05", "u1", "城管", 1, 0.25),
                                         ("2026-12-06", "", "全市", 2, 0.0)]
