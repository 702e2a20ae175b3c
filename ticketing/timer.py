"""What the services that act on time share (supervision's ticker, callback's worker): read
the board rows whose `next_check_at` has come, and send planned commands to the desk.

Neither keeps state of its own: the ticket stream is the only record of what was done, and
a planned command's id is derived from what it is about, so a command sent again after a
crash, or planned again from a lagging board, is answered from the log or refused by rule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import commands as c
from hotline.readiness import Readiness
from hotline.ticking import every
from ticketing.client import TicketCommands
from ticketing.handler import IdempotencyConflict
from ticketing.rules import Rejected

log = logging.getLogger(__name__)

PAGE = 1000


@dataclass
class TickReport:
    """What one tick did."""

    due: int = 0  # board rows whose check time had come
    planned: int = 0  # commands planned
    fired: int = 0  # commands that appended events
    resent: int = 0  # commands the log already held (a restart, a lagging board)
    refused: dict[str, int] = field(default_factory=dict)  # rule id -> count
    failed: int = 0  # tickets left for the next tick (an error was logged)


async def due_rows(db: AsyncEngine, table: Table, now: datetime,
                   *columns: Any) -> AsyncIterator[Row[Any]]:
    """The rows of `table` whose `next_check_at` <= now, with `ticket_id`, `version` and
    `columns`, paged by keyset on (next_check_at, ticket_id): many checks share an instant."""
    t = table.c
    after: tuple[datetime, str] | None = None
    while True:
        query = (select(t.ticket_id, t.next_check_at, t.version, *columns)
                 .where(t.next_check_at <= now.astimezone(UTC))
                 .order_by(t.next_check_at, t.ticket_id).limit(PAGE))
        if after is not None:
            query = query.where(or_(t.next_check_at > after[0], and_(
                t.next_check_at == after[0], t.ticket_id > after[1])))
        async with db.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            yield row
        if len(rows) < PAGE:
            return
        after = (rows[-1].next_check_at, rows[-1].ticket_id)


class Timer:
    """Base of a worker acting on the board rows whose `next_check_at` has come: a tick
    pages through them and runs `work` on each, `concurrency` tickets at a time; `run`
    ticks every `interval_s`. Subclasses name the board `table`, the `columns` `work`
    reads, and send their commands with `send`."""

    name: str = "timer"
    source: str = "/hotline"
    actor: str = "system:timer"
    table: Table
    columns: tuple[str, ...] = ()

    def __init__(self, db: AsyncEngine, tickets: TicketCommands, *, concurrency: int = 32,
                 interval_s: float = 30.0, clock: Callable[[], datetime]) -> None:
        self.db, self.tickets = db, tickets
        self.concurrency = concurrency
        self.interval_s = interval_s
        self.clock = clock
        # ticket -> stream version the board must reach before the ticket is planned again:
        # until the board has applied what this timer appended, its row is known stale
        self._awaiting: dict[str, int] = {}
        self._stop = asyncio.Event()

    async def work(self, row: Row[Any], now: datetime, report: TickReport) -> None:
        raise NotImplementedError

    def waiting(self, ticket_id: str, now: datetime) -> bool:
        """Whether a due ticket is to be left for a later tick (a subclass's own reason)."""
        return False

    def forget(self, seen: set[str], now: datetime) -> None:
        """Drop what a subclass remembers of tickets no longer due."""

    async def tick(self, now: datetime) -> TickReport:
        """Do everything due at `now`; returns what happened."""
        report = TickReport()
        gate = asyncio.Semaphore(self.concurrency)
        seen: set[str] = set()
        columns = [self.table.c[name] for name in self.columns]
        async with asyncio.TaskGroup() as group:
            async for row in due_rows(self.db, self.table, now, *columns):
                report.due += 1
                seen.add(row.ticket_id)
                if self._awaiting.get(row.ticket_id, 0) > row.version:
                    continue
                self._awaiting.pop(row.ticket_id, None)
                if self.waiting(row.ticket_id, now):
                    continue
                await gate.acquire()
                task = group.create_task(self.work(row, now, report))
                task.add_done_callback(lambda _: gate.release())
        # what is no longer due needs no memory: the board caught up, or the ticket closed
        self._awaiting = {t: v for t, v in self._awaiting.items() if t in seen}
        self.forget(seen, now)
        return report

    async def send(self, command: c.TicketCommand, command_id: str, now: datetime,
                   report: TickReport) -> bool:
        """Send one planned command; False when it failed (logged, counted: the ticket's
        remaining commands wait for the next tick)."""
        ticket_id = command.ticket_id
        try:
            outcome = await self.tickets.execute(command, actor=self.actor, command_id=command_id,
                                              now=now, source=self.source)
        except Rejected as exc:  # the ticket moved on since the board saw it
            report.refused[exc.rule.id] = report.refused.get(exc.rule.id, 0) + 1
            log.debug("%s: %s on %s refused: %s", self.name, type(command).__name__,
                      ticket_id, exc.rule.id)
            return True
        except IdempotencyConflict:  # sent before with details computed from another `now`
            report.resent += 1
            return True
        except Exception:
            log.exception("%s: %s on %s failed; retried next tick", self.name,
                          type(command).__name__, ticket_id)
            report.failed += 1
            return False
        if outcome.duplicate:
            report.resent += 1
        else:
            report.fired += 1
        self._awaiting[ticket_id] = max(self._awaiting.get(ticket_id, 0), outcome.version)
        return True

    async def run(self, readiness: Readiness) -> None:
        """Tick every `interval_s` until `stop()`, the first once the service is ready (its
        board made and caught up) and one interval has passed; an error is logged, the next
        tick retries."""
        await readiness.wait()
        await every(self.interval_s, self._stop, self._logged_tick, self.name)

    async def _logged_tick(self) -> None:
        report = await self.tick(self.clock())
        if report.fired or report.failed:
            log.info("%s tick: %s", self.name, report)

    def stop(self) -> None:
        self._stop.set()
