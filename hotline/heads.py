"""Stream heads: the last version a projection applied of each stream (principle 5).

A stream's events carry versions 1, 2, 3 … in log order, so a record at or below its
stream's head was applied before: a redelivery (a producer's retry stored twice), skipped.
The heads live in the projection's database, one row per stream, written in the batch's
own transaction with its rows and offsets.

They were a quarter of a no-op replay's time (the performance issue's profile: 2.5 µs an
event to read them, 4.8 to write them through SQLAlchemy's executemany). So:

- the rows go to the driver as tuples (hotline/bulk.py): SQLAlchemy's per-row parameter
  processing was most of the write;
- a runner that is its projection's only writer (a read model: every replica keeps its
  own store) remembers the heads it read and committed, and asks the database only for
  streams it does not know; one that started on an empty table (a new projection, a
  rebuild) knows a stream it never saw has none, until it had to forget some.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.bulk import insert_many, update_many

Stream = tuple[str, str]  # (topic, subject)
READ_CHUNK = 1000  # keys per IN (...) when a batch reads its rows: far below any bind limit
REMEMBERED = 200_000  # streams a runner keeps in memory (about 50 MB at most)


def heads_in(metadata: MetaData) -> Table:
    """The table: per projection and stream, the last version applied."""
    return Table(
        "projection_heads", metadata,
        Column("projection", String(100), primary_key=True),
        Column("topic", String(200), primary_key=True),
        Column("subject", String, primary_key=True),  # unbounded: any envelope's subject fits
        Column("version", Integer, nullable=False),
        sqlite_with_rowid=False,
    )


class StreamHeads:
    """One projection's heads: read for a batch, written in its transaction, remembered
    after its COMMIT when `remember` (the runner is the only writer of these rows)."""

    def __init__(self, table: Table, projection: str, *, remember: bool,
                 capacity: int = REMEMBERED) -> None:
        self.table, self.projection = table, projection
        self.remember, self.capacity = remember, capacity
        self._known: dict[Stream, int] = {}
        self._complete = False  # every stream with a head is in _known

    async def start(self, conn: AsyncConnection) -> None:
        """Learn whether the table holds none of this projection's heads yet."""
        self._known.clear()
        h = self.table.c
        any_row = (await conn.execute(select(h.version).where(
            h.projection == self.projection).limit(1))).first()
        self._complete = self.remember and any_row is None

    async def of(self, conn: AsyncConnection, streams: Iterable[Stream]) -> dict[Stream, int]:
        """The head of each stream that has one (what is absent has none)."""
        found: dict[Stream, int] = {}
        missing: dict[str, list[str]] = {}
        for stream in streams:
            version = self._known.get(stream)
            if version is not None:
                found[stream] = version
            elif not self._complete:
                missing.setdefault(stream[0], []).append(stream[1])
        h = self.table.c
        for topic, subjects in missing.items():
            subjects.sort()  # the index's own order
            for i in range(0, len(subjects), READ_CHUNK):
                rows = await conn.execute(select(h.subject, h.version).where(
                    h.projection == self.projection, h.topic == topic,
                    h.subject.in_(subjects[i:i + READ_CHUNK])))
                found |= {(topic, s): v for s, v in rows}
        return found

    async def store(self, conn: AsyncConnection, moved: dict[Stream, int],
                    known: set[Stream]) -> None:
        """The batch's new heads: an INSERT for streams seen first, an UPDATE for the
        others (cheaper than an upsert of each)."""
        name = self.projection
        await insert_many(conn, self.table, [
            {"projection": name, "topic": t, "subject": s, "version": v}
            for (t, s), v in moved.items() if (t, s) not in known])
        await update_many(conn, self.table, ("projection", "topic", "subject"), ("version",), [
            {"projection": name, "topic": t, "subject": s, "version": v}
            for (t, s), v in moved.items() if (t, s) in known])

    def committed(self, read: dict[Stream, int], moved: dict[Stream, int]) -> None:
        """After COMMIT: remember what the batch read and wrote (oldest forgotten first)."""
        if not self.remember:
            return
        known = self._known
        for stream, version in (read | moved).items():
            known.pop(stream, None)
            known[stream] = version
        if len(known) > self.capacity:
            for stream in list(islice(known, len(known) - self.capacity // 2)):
                del known[stream]
            self._complete = False

