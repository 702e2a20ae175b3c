"""The supervision ticker: at each tick, fire every escalation whose time has come.

A tick reads the board's tickets whose `next_check_at` has passed (an index range, however
many tickets are open), plans on each ticket's watch (services/supervision/escalation.py)
and sends the commands to the ticket decider. Nothing of the ticker's own is stored: the
ticket stream is the only record of what fired, so a crash anywhere loses nothing and
repeats nothing —

- a command id is derived from what it escalates (ticket, step, warning or order id), so
  a command resent after a crash is the same command: the desk answers it from the log
  and appends nothing (and the decider would refuse it by rule anyway);
- a board that lags behind the log (after a restart, under load) only delays: the tickets
  due are still due, and the decider checks every warning against the ticket's current
  clocks (`clock-stopped`), so a stale row can never raise a wrong one.

Time is injected: `tick(now)` is the whole of it, so tests advance weeks in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select

from contracts import commands as c
from hotline.runtime import Platform, utc_now
from services.supervision.calendar import MissingYear, WorkingCalendar
from services.supervision.escalation import SUPERVISION, blocked, plan
from services.supervision.policy import DeadlinePolicy
from services.supervision.projections import board
from services.supervision.watch import from_json
from services.tickets.handler import IdempotencyConflict, TicketDesk, desk_of
from services.tickets.rules import Rejected

log = logging.getLogger(__name__)

SOURCE = "/hotline/supervision"
ACTOR = f"system:{SUPERVISION}"
_COMMANDS = uuid.UUID("0b4f2d6e-8a1c-4e3b-9f57-12345a0f0003")
PAGE = 1000
MISSING_YEAR_RETRY = timedelta(hours=1)


def escalation_command_id(command: c.TicketCommand) -> str:
    """The same escalation, the same id: ticket, step and what it is about."""
    match command:
        case c.RaiseWarning():
            key = f"warning:{command.warning_id}"
        case c.IssueCard():
            key = f"card:{command.warning_id}"
        case c.IssueSupervisionOrder():
            key = f"order:{command.order_id}"
        case c.EscalateSupervisionOrder():
            key = f"order-level:{command.order_id}:{command.level}"
        case _:
            raise TypeError(f"not an escalation: {type(command).__name__}")
    return str(uuid.uuid5(_COMMANDS, f"{command.ticket_id}\n{key}"))


@dataclass
class TickReport:
    """What one tick did."""

    due: int = 0  # board rows whose check time had come
    planned: int = 0  # commands planned
    fired: int = 0  # commands that appended events
    resent: int = 0  # commands the log already held (a restart, a lagging board)
    refused: dict[str, int] = field(default_factory=dict)  # rule id -> count
    failed: int = 0  # tickets left for the next tick (an error was logged)


class Ticker:
    """Fires due escalations through the process's TicketDesk."""

    def __init__(self, platform: Platform, policy: DeadlinePolicy, calendar: WorkingCalendar,
                 *, concurrency: int = 32, interval_s: float = 30.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = platform.db
        self.desk: TicketDesk = desk_of(platform.store)
        self.policy, self.calendar = policy, calendar
        self.concurrency = concurrency
        self.interval_s = interval_s
        self.clock = clock or utc_now
        # ticket -> stream version the board must reach before the ticket is planned again:
        # until the board has applied what this ticker appended, its row is known stale
        self._awaiting: dict[str, int] = {}
        self._later: dict[str, datetime] = {}  # tickets whose calendar year is missing
        self._stop = asyncio.Event()

    async def tick(self, now: datetime) -> TickReport:
        """Fire everything due at `now`; returns what happened."""
        report = TickReport()
        gate = asyncio.Semaphore(self.concurrency)
        seen: set[str] = set()
        async with asyncio.TaskGroup() as group:
            async for ticket_id, watch_json in self._due(now, report, seen):
                await gate.acquire()
                task = group.create_task(self._escalate(ticket_id, watch_json, now, report))
                task.add_done_callback(lambda _: gate.release())
        # what is no longer due needs no memory: the board caught up, or the ticket closed
        self._awaiting = {t: v for t, v in self._awaiting.items() if t in seen}
        self._later = {t: at for t, at in self._later.items() if t in seen and at > now}
        return report

    async def _due(self, now: datetime, report: TickReport,
                   seen: set[str]) -> AsyncIterator[tuple[str, str]]:
        """(ticket id, watch) of every row due at `now` that is worth planning, paged by
        keyset on (next_check_at, ticket_id)."""
        after: tuple[datetime, str] | None = None
        t = board.c
        while True:
            query = (select(t.ticket_id, t.next_check_at, t.version, t.watch)
                     .where(t.next_check_at <= now.astimezone(UTC))
                     .order_by(t.next_check_at, t.ticket_id).limit(PAGE))
            if after is not None:
                query = query.where(or_(t.next_check_at > after[0], and_(
                    t.next_check_at == after[0], t.ticket_id > after[1])))
            async with self.db.connect() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                report.due += 1
                seen.add(row.ticket_id)
                if self._awaiting.get(row.ticket_id, 0) > row.version:
                    continue
                self._awaiting.pop(row.ticket_id, None)
                if (retry := self._later.get(row.ticket_id)) is not None and retry > now:
                    continue
                yield row.ticket_id, row.watch
            if len(rows) < PAGE:
                return
            after = (rows[-1].next_check_at, rows[-1].ticket_id)

    async def _escalate(self, ticket_id: str, watch_json: str, now: datetime,
                        report: TickReport) -> None:
        watch = from_json(ticket_id, json.loads(watch_json))
        try:
            commands = plan(watch, now, self.policy, self.calendar)
            missing = None if commands else blocked(watch, now, self.policy, self.calendar)
        except MissingYear as exc:  # an order placed from `now` reaches an unknown year
            commands, missing = [], exc
        if missing is not None:
            log.error("supervision: ticket %s: %s", ticket_id, missing)
            self._later[ticket_id] = now + MISSING_YEAR_RETRY
            report.failed += 1
            return
        report.planned += len(commands)
        for command in commands:  # in order: a card follows its warning
            try:
                outcome = await self.desk.execute(
                    command, actor=ACTOR, command_id=escalation_command_id(command), now=now,
                    source=SOURCE)
            except Rejected as exc:  # the ticket moved on since the board saw it
                report.refused[exc.rule.id] = report.refused.get(exc.rule.id, 0) + 1
                log.debug("supervision: %s on %s refused: %s", type(command).__name__,
                          ticket_id, exc.rule.id)
                continue
            except IdempotencyConflict:  # fired before with other details (an order's due)
                report.resent += 1
                continue
            except Exception:
                log.exception("supervision: %s on %s failed; retried next tick",
                              type(command).__name__, ticket_id)
                report.failed += 1
                return
            if outcome.duplicate:
                report.resent += 1
            else:
                report.fired += 1
            self._awaiting[ticket_id] = max(self._awaiting.get(ticket_id, 0), outcome.version)

    async def run(self) -> None:
        """Tick every `interval_s` until `stop()`; an error is logged, the next tick retries."""
        while not self._stop.is_set():
            try:
                report = await self.tick(self.clock())
                if report.fired or report.failed:
                    log.info("supervision tick: %s", report)
            except Exception:
                log.exception("supervision tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    def stop(self) -> None:
        self._stop.set()
