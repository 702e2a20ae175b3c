"""Timers from the log: kill the supervision service during a burst of deadlines, restart
it, and every escalation is there exactly once — on both engines.

Each round dispatches a batch of tickets, lets their deadlines pass (blue, orange + yellow
card, red + red card + automatic order: six escalations each), and ticks. The ticker is
killed after its k-th append (k from 0 to past the end of the burst); the other tickets'
commands are cancelled wherever they are, appends in flight included. In some rounds the
board's projection is also killed between writing its rows and committing them. Then a
new process's worth of objects (desk, ticker, board runner: nothing kept in memory) ticks
again at the same time, and the log is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts import commands as c
from contracts import events as e
from contracts.base import Category
from contracts.events import from_envelope
from contracts.topics import TICKETS
from contracts.vocabulary import TicketType, Urgency
from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from hotline.runtime import Platform
from reference.calendar import WorkingCalendar
from reference.policy import load_policy
from services.supervision.projections import SupervisionBoard
from services.supervision.ticker import Ticker
from tests.intake.conftest import make_platform
from ticketing.client import TicketCommands, tickets_of

BJ = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()
CAL = WorkingCalendar.load(POLICY.jurisdiction)
UNIT = "d01-urban-squad"
TICKETS_PER_ROUND = 8
EXPECTED = Counter({"WarningRaised": 3, "CardIssued": 2, "SupervisionOrderIssued": 1})
# (appends before the kill, kill the board between its write and its commit too)
KILLS = [(0, False), (1, True), (5, False), (13, True), (29, False), (1000, True)]


class Killed(BaseException):
    """The process died here (a BaseException: no `except Exception` in the code catches it)."""


class DyingDesk:
    """The real desk, dying after `appends` appended commands."""

    def __init__(self, desk: TicketCommands, appends: int) -> None:
        self.desk, self.left = desk, appends

    async def execute(self, command: c.TicketCommand, **kw: Any) -> Any:
        if self.left <= 0:
            raise Killed
        outcome = await self.desk.execute(command, **kw)
        self.left -= 0 if outcome.duplicate else 1
        return outcome


async def settle(runner: ProjectionRunner, log: EventLog, task: asyncio.Task[Any]) -> None:
    ends = await log.end_offsets(TICKETS)
    for _ in range(3000):
        if all(runner.stats.positions.get((TICKETS, p), 0) >= end for p, end in ends.items()):
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise AssertionError("the board did not catch up")


async def dispatch_round(desk: TicketCommands, start: datetime) -> list[str]:
    """Tickets registered, dispatched with the policy's clocks and acknowledged at `start`."""
    ids = []
    for n in range(TICKETS_PER_ROUND):
        tid = str(uuid.uuid4())
        ack, reply = POLICY.at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False, start, CAL)
        for command in (
            c.RegisterTicket(ticket_id=tid, ticket_number=f"12345-20260302-{n:06d}",
                             contact_ids=(f"contact-{tid}",), ticket_type=TicketType.REQUEST,
                             category=Category(level1="urban-management"),
                             summary="路灯不亮", district_code="990101", registered_by="op-1"),
            c.DispatchTicket(ticket_id=tid, lead_unit=UNIT, deadlines=(ack, reply)),
            c.AcknowledgeTicket(ticket_id=tid, unit_id=UNIT),
        ):
            await desk.execute(command, actor="operator:op-1", command_id=str(uuid.uuid4()),
                               now=start)
        ids.append(tid)
    return ids


async def escalations(desk: TicketCommands, tid: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for stored in await desk.history(tid):
        event = from_envelope(stored.envelope)
        if isinstance(event, e.WarningRaised | e.CardIssued | e.SupervisionOrderIssued):
            found[type(event).__name__] += 1
    return found


class Life:
    """One life of the supervision service: a platform, its board runner, its ticker."""

    def __init__(self, platform: Platform, kill_board: bool) -> None:
        self.platform = platform
        self.kill_board = kill_board
        self.runner = ProjectionRunner(platform.log, platform.db, SupervisionBoard(),
                                       batch_size=20, before_commit=self._maybe_die)
        self.task = asyncio.create_task(self.runner.run())
        self.ticker = Ticker(platform, POLICY, CAL)

    async def _maybe_die(self) -> None:
        if self.kill_board:
            raise Killed

    async def end(self) -> None:
        self.runner.stop()
        with contextlib.suppress(BaseException):
            await self.task
        await self.platform.close_shared()  # its desk's snapshots written
        await self.platform.db.dispose()


@pytest.mark.parametrize("appends,kill_board", KILLS)
async def test_a_kill_anywhere_loses_and_repeats_nothing(log: EventLog, tmp_path: Path,
                                                         appends: int, kill_board: bool
                                                         ) -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=BJ)  # due 03-09; red 03-16 17:30
    now = datetime(2026, 3, 17, 9, 0, tzinfo=BJ)
    first = Life(await make_platform(log, tmp_path), kill_board=False)
    await first.platform.log.claim(TICKETS)
    ids = await dispatch_round(tickets_of(first.platform), start)
    await settle(first.runner, log, first.task)

    # the burst: killed after `appends` appends, everything in flight cancelled with it
    first.kill_board = kill_board  # the board dies on its next commit: the escalations'
    first.ticker.tickets = DyingDesk(first.ticker.tickets, appends)  # type: ignore[assignment]
    with contextlib.suppress(Killed, BaseExceptionGroup):
        await first.ticker.tick(now)
    await asyncio.sleep(0.05)  # whatever the board runner does next (dies, if told to)
    await first.end()
    fired_before = sum([sum((await escalations(tickets_of(first.platform), t)).values())
                        for t in ids])
    assert fired_before <= appends + TICKETS_PER_ROUND  # appends in flight may have landed

    # the restart: new objects over the same log and board database
    second = Life(await make_platform(log, tmp_path), kill_board=False)
    await settle(second.runner, log, second.task)
    report = await second.ticker.tick(now)
    await settle(second.runner, log, second.task)
    again = await second.ticker.tick(now + timedelta(minutes=1))
    desk = tickets_of(second.platform)
    for tid in ids:
        assert await escalations(desk, tid) == EXPECTED, tid
    assert again.fired == 0 and again.planned == 0, again
    assert report.refused == {}, report
    await second.end()


async def test_two_replicas_ticking_together_fire_each_escalation_once(
        log: EventLog, tmp_path: Path) -> None:
    """Two supervision replicas, each with its own board, tick over the same due tickets at
    once: the commands they send have the same derived ids, so whichever comes second is
    answered from the log (or refused by rule) and the log holds every escalation once."""
    start = datetime(2026, 3, 2, 10, 0, tzinfo=BJ)
    now = datetime(2026, 3, 17, 9, 0, tzinfo=BJ)
    replicas = [Life(await make_platform(log, tmp_path / name), kill_board=False)
                for name in ("a", "b")]
    await log.claim(TICKETS)
    ids = await dispatch_round(tickets_of(replicas[0].platform), start)
    for life in replicas:
        await settle(life.runner, log, life.task)
    reports = await asyncio.gather(*(life.ticker.tick(now) for life in replicas))
    desk = tickets_of(replicas[0].platform)
    for tid in ids:
        assert await escalations(desk, tid) == EXPECTED, tid
    fired = sum(r.fired for r in reports)
    assert fired == sum(EXPECTED.values()) * len(ids)  # each escalation appended once…
    assert sum(r.resent + sum(r.refused.values()) for r in reports) > 0  # …the copies not
    for life in replicas:
        await life.end()
