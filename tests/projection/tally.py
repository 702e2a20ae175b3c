"""A small real projection for the runtime tests: how many events each stream has had.

A count, not a set, so that an event applied twice shows up as a wrong number.
Also the entry point of the crash worker (`python -m tests.projection.tally TOPIC DB MARKER`)
and of a replica's runner (`python -m tests.projection.tally replica TOPIC DB`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from sqlalchemy import Column, Integer, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from contracts.base import EventData
from hotline.builds import projection_metadata
from hotline.log.factory import open_log
from hotline.projection import Applied
from hotline.runner import ProjectionRunner
from hotline.settings import Settings


class Noted(EventData):
    """A test event: some text on some stream."""

    topic: ClassVar[str] = ""
    text: str


def noted_on(topic: str) -> type[Noted]:
    return type("Noted", (Noted,), {"topic": topic})


class Tally:
    """Counts events per subject."""

    def __init__(self, topic: str, version: int = 1, relay: bool = False) -> None:
        self.name = "tally"
        self.version = version
        self.in_place = relay  # a relay's table keeps its name through versions
        self.topics = [topic]
        self.events = frozenset({"Noted"})
        self.metadata = projection_metadata(version)
        self.table = Table(
            "tally" if relay else f"tally_v{version}", self.metadata,
            Column("subject", String(100), primary_key=True),
            Column("events", Integer, nullable=False),
        )

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        new = Counter(event.subject for event, _ in batch)
        found = await conn.execute(
            select(self.table.c.subject).where(self.table.c.subject.in_(list(new))))
        known = {row[0] for row in found}
        if fresh := [{"subject": s, "events": n} for s, n in new.items() if s not in known]:
            await conn.execute(self.table.insert(), fresh)
        for subject in known:
            await conn.execute(
                update(self.table).where(self.table.c.subject == subject)
                .values(events=self.table.c.events + new[subject])
            )

    async def counts(self, conn: AsyncConnection) -> dict[str, int]:
        return {s: n for s, n in await conn.execute(select(self.table))}


async def crash_worker(topic: str, db_url: str, marker: Path) -> None:
    """Run the tally until the first commit is about to happen, then hang there to be killed."""
    log = open_log(Settings())
    await log.start()
    engine = create_async_engine(db_url)

    async def hang_before_commit() -> None:
        marker.write_text("rows written, commit pending")
        await asyncio.sleep(600)

    runner = ProjectionRunner(log, engine, Tally(topic), before_commit=hang_before_commit,
                              batch_size=int(os.environ.get("TALLY_BATCH", "50")))
    await runner.run()


async def replica(topic: str, db_url: str) -> None:
    """One replica's runner of the tally, as a service runs it: until it is killed."""
    log = open_log(Settings())
    await log.start()
    await ProjectionRunner(log, create_async_engine(db_url), Tally(topic), batch_size=10).run()


if __name__ == "__main__":
    if sys.argv[1] == "replica":
        asyncio.run(replica(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(crash_worker(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
