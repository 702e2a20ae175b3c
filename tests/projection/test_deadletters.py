"""A record whose value the database refuses goes to the dead letters and the read model
moves on (hotline/deadletters.py): on PostgreSQL, which stores no NUL in text, one such
event stopped a read model for good (every restart failed on the same batch)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Column, Integer, String, Table, Text, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from contracts.topics import CATALOGUE, DEADLETTER
from hotline.builds import projection_metadata
from hotline.deadletters import refused_value
from hotline.eventstore import Context, EventStore
from hotline.log.port import EventLog, TopicSpec
from hotline.projection import Applied
from hotline.runner import ProjectionRunner
from tests.conftest import unique
from tests.fixtures.databases import db_url  # noqa: F401 (fixture)
from tests.projection.tally import noted_on
from tests.projection.test_runtime import NOW, run_until_caught_up


class Notes:
    """Keeps each event's text: what a board does with a summary or a note."""

    def __init__(self, topic: str) -> None:
        self.name, self.version, self.topics = "notes", 1, [topic]
        self.events = frozenset({"Noted"})
        self.metadata = projection_metadata(1)
        self.table = Table("notes_v1", self.metadata,
                           Column("subject", String(100), primary_key=True),
                           Column("version", Integer, primary_key=True),
                           Column("text", Text, nullable=False))

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        await conn.execute(self.table.insert(), [
            {"subject": env.subject, "version": env.streamversion, "text": env.data["text"]}
            for env, _ in batch])  # a test event: not in the catalogue, read untyped


async def test_a_value_the_database_refuses_is_dead_lettered_and_the_rest_applied(
        log: EventLog, db_url: str) -> None:  # noqa: F811
    topic = unique("notes")
    await log.create_topics([TopicSpec(topic, 3, -1, 1), CATALOGUE[DEADLETTER].spec])
    store, event = EventStore(log), noted_on(topic)
    ctx = Context.new("operator:op-1", "/tests")
    texts = {f"s-{s}": [f"第{s}条第{i}次" for i in range(4)] for s in range(5)}
    texts["s-2"][1] = "路灯\x00坏了"  # as an older writer or another tool may have logged it
    for subject, written in texts.items():
        await store.append(subject, [event(text=t) for t in written], expected_version=0,
                           context=ctx, now=NOW)
    engine = create_async_engine(db_url)
    notes = Notes(topic)
    runner = ProjectionRunner(log, engine, notes, batch_size=8)
    await run_until_caught_up(runner, log, topic)
    async with engine.connect() as conn:
        stored = {(s, v): t for s, v, t in await conn.execute(select(notes.table))}
    postgres = db_url.startswith("postgresql")
    expected = {(s, v + 1): t for s, written in texts.items() for v, t in enumerate(written)
                if not (postgres and "\x00" in t)}
    assert stored == expected
    assert runner.stats.dead_lettered == (1 if postgres else 0)
    assert runner.stats.applied == 20 - runner.stats.dead_lettered
    letters = []
    for p, end in (await log.end_offsets(DEADLETTER)).items():
        letters += [r for r in await log.read(DEADLETTER, p, 0, end)
                    if r.headers["dlq_topic"] == topic]
    assert [(r.key, r.headers["dlq_consumer"]) for r in letters] == (
        [("s-2", "notes")] if postgres else [])
    if postgres:
        reason = letters[0].headers["dlq_reason"]
        assert reason.startswith("refused by the database") and "0x00" in reason, reason
        assert "路灯" not in reason and "INSERT" not in reason  # no statement, no values
    await engine.dispose()


async def test_only_a_refused_value_is_the_records_fault(db_url: str) -> None:  # noqa: F811
    """A refused value is the record's (dead-lettered); a missing table or a broken
    statement is the code's (the batch fails, the runner is started again)."""
    engine = create_async_engine(db_url)
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError) as missing:
            await conn.execute(text("SELECT * FROM no_such_table"))
        assert not refused_value(missing.value)
        await conn.rollback()
        if db_url.startswith("postgresql"):
            await conn.execute(text("CREATE TEMP TABLE short (s varchar(3))"))
            await conn.commit()
            for bad, values in (("INSERT INTO short VALUES (:v)", {"v": "a\x00"}),  # 22021
                                ("INSERT INTO short VALUES (:v)", {"v": "abcdef"}),  # 22001
                                ("SELECT 2147483647::integer + 1", {})):  # 22003
                with pytest.raises(DBAPIError) as refused:
                    await conn.execute(text(bad), values)
                assert refused_value(refused.value), bad
                await conn.rollback()
    await engine.dispose()
