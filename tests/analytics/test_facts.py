"""Every KPI is reproducible from the log (property-based, on SQLite and PostgreSQL).

Hypothesis draws a few days of ticket histories — registered on any channel, answered
directly or dispatched, returned and reassigned, acknowledged and replied early or late,
extended, warned, carded, surveyed, redone, closed — and sends them as commands through the
real ticket desk (the decider refuses what its rules forbid, and what it refuses simply
does not happen). The fact projection folds the log; each KPI the query computes for those
days must equal a recount straight from the tickets' events (tests/analytics/recount.py),
numerator and denominator. Each example registers its tickets in a window of days of its
own, so the examples share one log and one database. A rebuild from the log then gives the
same rows.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import commands as c
from contracts.base import Category
from contracts.topics import TICKETS
from contracts.vocabulary import (
    CardColour,
    Channel,
    CloseReason,
    HandlingRating,
    HotlineServiceRating,
    OrderKind,
    SurveyChannel,
    TicketType,
    Urgency,
    WarningLevel,
)
from hotline.builds import ensure_schema
from hotline.log.embedded import EmbeddedEventLog
from hotline.projection import checksum
from hotline.runner import ProjectionRunner, rebuild
from hotline.runtime import Platform
from reference.calendar import WorkingCalendar
from reference.policy import load_policy
from services.analytics import cube, queries
from services.analytics.contacts import ContactFacts
from services.analytics.kpi import KPIS, tally
from services.analytics.projections import BULK_EVENTS, TicketFacts, kpi_cube, kpi_pending
from tests.analytics.recount import recount
from tests.dispatch.test_projection import assert_rebuilds_the_same
from tests.intake.conftest import make_platform
from ticketing.client import tickets_of
from ticketing.rules import Rejected

BJ = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()
CAL = WorkingCalendar.load(POLICY.jurisdiction)
UNITS = ("d01-urban-squad", "city-urban-mgmt", "city-water")
WINDOW = timedelta(days=8)  # each example registers its tickets in a window of its own
ACTIONS = ("dispatch", "answer", "ack", "return", "reassign", "extend", "reject_extension",
           "reply", "survey", "redo", "warn", "card", "order", "merge", "close")


@dataclass
class Bench:
    """One log and one projection database for every example; a window of days each."""

    platform: Platform
    log: EmbeddedEventLog
    runner: ProjectionRunner
    windows: itertools.count[int] = field(default_factory=lambda: itertools.count())
    all_ids: list[str] = field(default_factory=list)

    async def catch_up(self) -> None:
        ends = await self.log.end_offsets(TICKETS)
        await self.runner.run(until={(TICKETS, p): end for p, end in ends.items()})


@asynccontextmanager
async def bench_of(tmp_path: Path, db_url: str, batch_size: int) -> AsyncIterator[Bench]:
    """A log, a platform on it, and the fact projection's runner at `batch_size`."""
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    platform.db = create_async_engine(db_url)
    runner = ProjectionRunner(log, platform.db, TicketFacts(CAL), batch_size=batch_size)
    yield Bench(platform, log, runner)
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await platform.keys.close()
    await log.close()


@pytest.fixture
async def bench(tmp_path: Path, db_url: str) -> AsyncIterator[Bench]:
    async with bench_of(tmp_path, db_url, batch_size=37) as made:
        yield made


# the loop a ticket usually goes through; a history keeps some of its steps, in order, with
# any action in between (most of which the decider refuses at that point)
SKELETON = ("dispatch", "ack", "extend", "reply", "survey", "redo", "reply", "survey", "close")
step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 60 * 30))  # action, minutes later


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for action in SKELETON:
        if draw(st.integers(0, 9)) < 8:  # mostly kept: histories reach the survey
            found.append((action, draw(st.integers(0, 60 * 30))))
        found += draw(st.lists(step, max_size=2))
    return found

ticket = st.fixed_dictionaries({
    "type": st.sampled_from(list(TicketType)), "urgency": st.sampled_from(list(Urgency)),
    "channel": st.none() | st.sampled_from(list(Channel)),
    "district": st.sampled_from(("990101", "990102")),
    "category": st.sampled_from(("urban-management", "water-supply")),
    "unit": st.integers(0, len(UNITS) - 1),
    "start_min": st.integers(0, int(WINDOW.total_seconds() // 60) - 1),
    "steps": steps(),
    "ratings": st.lists(st.tuples(st.sampled_from(list(HotlineServiceRating)),
                                  st.none() | st.sampled_from(list(HandlingRating)),
                                  st.none() | st.booleans()), min_size=2, max_size=2),
})


class History:
    """Sends one drawn ticket history as commands; refused commands are skipped."""

    def __init__(self, bench: Bench, draw: dict[str, Any], start: datetime) -> None:
        self.desk = tickets_of(bench.platform)
        self.draw, self.tid, self.at = draw, str(uuid.uuid4()), start
        self.unit = UNITS[draw["unit"]]
        self.surveys = 0

    async def send(self, command: c.TicketCommand) -> bool:
        try:
            await self.desk.execute(command, actor="operator:op-1",
                                    command_id=str(uuid.uuid4()), now=self.at)
        except Rejected:
            return False
        return True

    def clocks(self) -> tuple[Any, ...]:
        return POLICY.at_dispatch(self.draw["type"], self.draw["urgency"], False, self.at, CAL)

    async def run(self, number: str) -> None:
        d, tid = self.draw, self.tid
        await self.send(c.RegisterTicket(
            ticket_id=tid, ticket_number=number, contact_ids=(f"c-{tid}",),
            ticket_type=d["type"], category=Category(level1=d["category"]), summary="路灯不亮",
            urgency=d["urgency"], district_code=d["district"], registered_by="op-1",
            channel=d["channel"]))
        for action, minutes in d["steps"]:
            self.at += timedelta(minutes=minutes)
            await self.step(action)

    async def step(self, action: str) -> None:
        tid, unit = self.tid, self.unit
        match action:
            case "dispatch":
                await self.send(c.DispatchTicket(ticket_id=tid, lead_unit=unit,
                                                 deadlines=self.clocks()))
            case "answer":
                await self.send(c.AnswerDirectly(ticket_id=tid, answer="请拨打12319",
                                                 knowledge_article_id="a-1",
                                                 knowledge_article_version=2))
            case "ack":
                await self.send(c.AcknowledgeTicket(ticket_id=tid, unit_id=unit))
            case "return":
                await self.send(c.ReturnTicket(ticket_id=tid, unit_id=unit, reason="非本单位"))
            case "reassign":
                to = UNITS[(UNITS.index(unit) + 1) % len(UNITS)]
                if await self.send(c.ReassignTicket(ticket_id=tid, lead_unit=to,
                                                    deadlines=self.clocks())):
                    self.unit = to
            case "extend" | "reject_extension":
                rid = str(uuid.uuid4())
                if await self.send(c.RequestExtension(
                        ticket_id=tid, request_id=rid, unit_id=unit, reason="需采购",
                        requested_due_at=self.at + timedelta(days=9))):
                    await self.send(c.ApproveExtension(ticket_id=tid, request_id=rid,
                                                       approved_by="sup-1")
                                    if action == "extend" else
                                    c.RejectExtension(ticket_id=tid, request_id=rid,
                                                      rejected_by="sup-1", reason="不同意"))
            case "reply":
                await self.send(c.ReplyTicket(ticket_id=tid, unit_id=unit, text="已处理"))
            case "survey":
                await self.survey()
            case "redo":
                await self.send(c.RequestRedo(ticket_id=tid, survey_id=f"s{self.surveys}",
                                              reason="未解决"))
                await self.send(c.AcceptRedo(ticket_id=tid, reviewer="sup-1", reason="属实"))
            case "warn":
                await self.send(c.RaiseWarning(
                    ticket_id=tid, warning_id=str(uuid.uuid4()),
                    level=list(WarningLevel)[self.surveys % 3], rule="test", unit_id=unit,
                    message_zh="处理期限将至"))
            case "card":
                await self.send(c.IssueCard(ticket_id=tid, unit_id=unit,
                                            colour=CardColour.YELLOW, rule="test"))
            case "order":
                await self.send(c.IssueSupervisionOrder(
                    ticket_id=tid, order_id=str(uuid.uuid4()), kind=OrderKind.REMINDER,
                    unit_id=unit, due_at=self.at + timedelta(days=2), text="请加快",
                    issued_by="sup-1"))
            case "merge":
                await self.send(c.MergeContact(ticket_id=tid, contact_id=str(uuid.uuid4())))
            case "close":
                await self.send(c.CloseTicket(ticket_id=tid, reason=CloseReason.SOLVED))

    async def survey(self) -> None:
        sid = f"s{self.surveys + 1}"
        if not await self.send(c.OpenSurvey(ticket_id=self.tid, survey_id=sid,
                                            channel=SurveyChannel.SMS,
                                            expires_at=self.at + timedelta(days=3))):
            return
        self.surveys += 1
        service, handling, solved = self.draw["ratings"][(self.surveys - 1) % 2]
        await self.send(c.RecordSurveyAnswer(
            ticket_id=self.tid, survey_id=sid, hotline_service=service, handling=handling,
            solved=solved, answered_via=SurveyChannel.SMS))


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(histories=st.lists(ticket, min_size=1, max_size=8))
async def test_every_kpi_equals_a_recount_of_the_log(bench: Bench,
                                                     histories: list[dict[str, Any]]) -> None:
    n = next(bench.windows) % 90  # 90 windows of 8 days fit the calendar's two years
    first = datetime(2025, 1, 1, tzinfo=BJ) + timedelta(days=8 * n)
    facts = bench.runner.projection
    assert isinstance(facts, TicketFacts)  # every other example replays: the cube recounted
    facts.bulk_from = 1 if n % 2 else BULK_EVENTS
    until = first + WINDOW
    ids = []
    for k, draw in enumerate(histories):
        start = first + timedelta(minutes=draw["start_min"])
        history = History(bench, draw, start)
        await history.run(f"12345-{start:%Y%m%d}-{n:03d}{k:03d}")
        ids.append(history.tid)
    bench.all_ids += ids
    await bench.catch_up()

    expected = await recount(tickets_of(bench.platform), ids, CAL)
    async with bench.platform.db.connect() as conn:
        [group] = await queries.figures(conn, KPIS, queries.Scope(first, until))
        by_unit = await queries.figures(conn, KPIS, queries.Scope(first, until),
                                        period="month", by="unit")
        rows, _ = await queries.fact_rows(conn, queries.Scope(first, until), limit=500)
        # the same from the daily cube: whole local days, one dimension
        days = queries.Scope(first, until, zone=BJ)
        cubed = await queries.figures(conn, KPIS, days)
        cubed_by_unit = await queries.figures(conn, KPIS, days, period="month", by="unit")
        one_unit = {"unit": UNITS[0]}
        cubed_unit = await queries.figures(conn, KPIS, replace(days, filters=one_unit))
        [unit_group] = await queries.figures(conn, KPIS, queries.Scope(first, until, one_unit))
        month = first.replace(day=1)  # whole months: the cube's month grain
        months = queries.Scope(month, (month + timedelta(days=62)).replace(day=1))
        by_month = [await queries.figures(conn, KPIS, replace(months, zone=zone), "month", by)
                    for zone in (None, BJ) for by in (None, "district")]
    assert by_month[:2] == by_month[2:]
    assert cubed == [group] and cubed_unit == [unit_group]
    assert {(g.period, g.key): g for g in cubed_by_unit} == {(g.period, g.key): g
                                                             for g in by_unit}
    for kpi in KPIS:
        got = group.figures[kpi.id]
        num, den = expected[kpi.id]
        assert got.denominator == den, (kpi.id, histories)
        assert got.numerator == pytest.approx(num), (kpi.id, histories)
        assert tally(kpi, rows) == pytest.approx(got)  # the SQL is the rows' pure tally
    # a direct answer keeps the knowledge article it cited, at its version
    assert all((r["article_id"], r["article_version"]) == ("a-1", 2)
               for r in rows if r["answered_directly"])
    # the breakdown adds up to the whole
    assert sum(g.figures["tickets"].numerator for g in by_unit) == len(ids)
    assert {g.period for g in by_unit} <= {f"{first:%Y-%m}", f"{until:%Y-%m}"}


async def _six_histories(bench: Bench) -> None:
    """Six tickets through every action, twice over, registered the same morning."""
    everything = [a for a in ACTIONS for _ in range(2)]
    for k in range(6):
        draw = {"type": list(TicketType)[k], "urgency": Urgency.NORMAL,
                "channel": Channel.WECHAT, "district": "990101",
                "category": "urban-management", "unit": k % 3,
                "steps": [(a, 37 * (j + k)) for j, a in enumerate(everything[k:] + everything)],
                "ratings": [(HotlineServiceRating.SATISFIED, HandlingRating.SATISFIED, True)] * 2}
        await History(bench, draw, datetime(2026, 3, 2, 9, tzinfo=BJ)).run(
            f"12345-20260302-00000{k}")


@pytest.fixture
async def small(tmp_path: Path, db_url: str) -> AsyncIterator[Bench]:
    """A bench whose runner applies batches of seven events (the live flow's way)."""
    async with bench_of(tmp_path, db_url, batch_size=7) as made:
        yield made


async def test_the_facts_rebuild_the_same(small: Bench, tmp_path: Path, db_url: str) -> None:
    """A rebuild of either fact table from the log into a fresh database gives the same
    rows (checksum): the KPI cube the live batches kept up cell by cell equals the one a
    replay counts again from the rows (every batch a replay's: `bulk_from=1`)."""
    await _six_histories(small)
    await small.catch_up()
    log, db = small.log, small.platform.db
    await assert_rebuilds_the_same(log, db, db_url, tmp_path, TicketFacts(CAL, bulk_from=1))
    await rebuild(log, db, ContactFacts(CAL))  # the contacts the tickets name
    await assert_rebuilds_the_same(log, db, db_url, tmp_path, ContactFacts(CAL))


async def test_figures_while_the_cube_is_behind(small: Bench, tmp_path: Path,
                                                db_url: str) -> None:
    """Replay batches leave the cube's days pending: the figures then come from the fact
    rows (the same figures); the next live batch counts the pending days again, and the
    cube is the one live batches would have kept."""
    await _six_histories(small)
    facts = TicketFacts(CAL, bulk_from=1)
    replay = ProjectionRunner(small.log, small.platform.db, facts, batch_size=50)
    assert await replay.lead()
    await ensure_schema(small.platform.db, facts)
    for p, end in (await small.log.end_offsets(TICKETS)).items():
        await replay.process(await small.log.read(TICKETS, p, 0, end))
    day = queries.Scope(datetime(2026, 3, 2, tzinfo=BJ), datetime(2026, 3, 3, tzinfo=BJ))
    async with small.platform.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(kpi_cube)) == 0
        assert await conn.scalar(select(func.count()).select_from(kpi_pending)) == 1
        from_rows = await queries.figures(conn, KPIS, day, "day", "unit")
        assert await queries.figures(conn, KPIS, replace(day, zone=BJ), "day", "unit") \
            == from_rows and from_rows[0].figures["tickets"].numerator > 0
    facts.bulk_from = 1000  # the live flow again: one more ticket, in a batch of its own
    draw = {"type": TicketType.COMPLAINT, "urgency": Urgency.NORMAL, "channel": None,
            "district": "990102", "category": "water-supply", "unit": 1,
            "steps": [("dispatch", 5)], "ratings": []}
    await History(small, draw, datetime(2026, 3, 2, 15, tzinfo=BJ)).run("12345-20260302-000100")
    for p, end in (await small.log.end_offsets(TICKETS)).items():
        start = replay.stats.positions.get((TICKETS, p), 0)
        await replay.process(await small.log.read(TICKETS, p, start, end))
    async with small.platform.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(kpi_pending)) == 0
        cubed = await queries.figures(conn, KPIS, replace(day, zone=BJ), "day", "unit")
        assert cubed == await queries.figures(conn, KPIS, day, "day", "unit") != from_rows
    assert not facts.unsettled
    await assert_rebuilds_the_same(small.log, small.platform.db, db_url, tmp_path,
                                   TicketFacts(CAL))


async def test_a_caught_up_runner_settles_the_cube(small: Bench) -> None:
    """A live runner that finds nothing more to read counts the pending days again, once it
    has read to the log's end."""
    await _six_histories(small)
    facts = TicketFacts(CAL, bulk_from=1)
    runner = ProjectionRunner(small.log, small.platform.db, facts)
    assert not await runner.caught_up()  # an empty poll before the end settles nothing
    task = asyncio.create_task(runner.run())
    ends = {(TICKETS, p): end for p, end in (await small.log.end_offsets(TICKETS)).items()}
    while any(runner.stats.positions.get(tp) != end for tp, end in ends.items()) \
            or facts.unsettled:
        await asyncio.sleep(0.05)
    runner.stop()
    await task
    assert await runner.caught_up()
    async with small.platform.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(kpi_pending)) == 0
        assert (await conn.scalar(select(func.count()).select_from(kpi_cube)) or 0) > 0


async def test_a_long_recount_goes_a_month_of_days_a_transaction(small: Bench) -> None:
    """Forty-one pending days are counted again in two transactions (31 days at most in
    one); the cube is the same as before."""
    await _six_histories(small)
    await small.catch_up()
    facts = small.runner.projection
    assert isinstance(facts, TicketFacts) and not facts.unsettled
    db = small.platform.db
    before = await checksum(db, kpi_cube.metadata)
    first = datetime(2026, 2, 20)
    async with db.begin() as conn:
        await cube.mark(conn, kpi_pending, [{"reg_day": f"{first + timedelta(days=k):%Y-%m-%d}"}
                                            for k in range(41)])
    facts.unsettled = True
    transactions = 0
    while facts.unsettled:
        async with db.begin() as conn:
            await facts.settle(conn)
        transactions += 1
    assert transactions == 2
    assert await checksum(db, kpi_cube.metadata) == before
