"""The work-order projection and its queries, on real logs and real databases.

Ticket histories are appended through the event store, as the ticket decider
writes them; the projection runs through the real ProjectionRunner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from contracts import events as e
from contracts.base import Category, Deadline, EventData
from contracts.topics import CATALOGUE, DEADLETTER, TICKETS
from contracts.vocabulary import (
    Channel,
    CloseReason,
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
    TicketStatus,
    TicketType,
    Urgency,
    WarningLevel,
)
from hotline.eventstore import Context, EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import EventLog
from hotline.projection import Projection, checksum
from hotline.runner import ProjectionRunner, rebuild
from services.dispatch import aid_queries as aids
from services.dispatch import queries as q
from services.dispatch.keyset import BadCursor
from services.dispatch.projections import WorkOrders, assignments, tickets
from tests.fixtures.databases import PG_URL

S = TicketStatus
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
REF_A, REF_B = "ref-aaaaaaaaaaaa", "ref-bbbbbbbbbbbb"


async def create_topics(log: EventLog) -> None:
    specs = [dataclasses.replace(CATALOGUE[name].spec, replication_factor=1)
             for name in (TICKETS, DEADLETTER)]
    await log.create_topics(specs)


class Histories:
    """Appends ticket events through the event store, one append per call, like the decider."""

    def __init__(self, log: EventLog) -> None:
        self.store = EventStore(log)
        self.versions: dict[str, int] = {}
        self.numbers = 0

    async def add(self, stream: str, events: Sequence[EventData], at: datetime,
                  actor: str = "operator:op-1") -> None:
        version = self.versions.get(stream, 0)
        await self.store.append(stream, events, expected_version=version,
                                context=Context.new(actor, "/tests"), now=at)
        self.versions[stream] = version + len(events)

    async def register(self, ticket_id: str, at: datetime, *, district: str = "990101",
                       category: tuple[str, str | None] = ("urban-management", "street-lights"),
                       ticket_type: TicketType = TicketType.REQUEST,
                       urgency: Urgency = Urgency.NORMAL, summary: str = "小区门口路灯坏了",
                       citizen_ref: str | None = REF_A) -> str:
        self.numbers += 1
        number = f"12345-{at:%Y%m%d}-{self.numbers:06d}"
        # the day's number is reserved on its own stream of the same topic first
        await self.add(f"ticket-numbers-{at:%Y%m%d}",
                       [e.TicketNumberReserved(ticket_id=ticket_id, ticket_number=number)], at)
        await self.add(f"ticket-{ticket_id}", [e.TicketRegistered(
            ticket_id=ticket_id, ticket_number=number, contact_ids=(f"contact-{ticket_id}",),
            ticket_type=ticket_type, category=Category(level1=category[0], level2=category[1]),
            urgency=urgency, summary=summary, district_code=district, citizen_ref=citizen_ref,
            registered_by="op-1", channel=Channel.PHONE)], at)
        return number

    async def then(self, ticket_id: str, at: datetime, *events: EventData,
                   actor: str = "operator:op-1") -> None:
        await self.add(f"ticket-{ticket_id}", events, at, actor)


def deadlines(ack: datetime | None, reply: datetime | None,
              redo: datetime | None = None) -> e.DeadlinesSet:
    kinds = [(DeadlineKind.ACKNOWLEDGE, ack), (DeadlineKind.REPLY, reply),
             (DeadlineKind.REDO, redo)]
    return e.DeadlinesSet(deadlines=tuple(Deadline(kind=k, due_at=d, policy_id="p-1")
                                          for k, d in kinds if d is not None), reason="dispatched")


async def catch_up(log: EventLog, engine: AsyncEngine, projection: WorkOrders | None = None,
                   batch_size: int = 500) -> ProjectionRunner:
    ends = await log.end_offsets(TICKETS)
    runner = ProjectionRunner(log, engine, projection or WorkOrders(), batch_size=batch_size)
    await runner.run(until={(TICKETS, p): end for p, end in ends.items()})
    return runner


@asynccontextmanager
async def second_database(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Another fresh database of the same engine as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'rebuilt.db'}"
        return
    name = f"hotline_t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def assert_rebuilds_the_same(log: EventLog, live: AsyncEngine, db_url: str,
                                   tmp_path: Path, projection: Projection) -> None:
    """A rebuild of `projection` from the log into a fresh database of the same engine
    gives the same checksum as the live rows."""
    live_sum = await checksum(live, projection.metadata)
    async with second_database(db_url, tmp_path) as fresh_url:
        fresh = create_async_engine(fresh_url)
        await rebuild(log, fresh, projection)
        assert await checksum(fresh, projection.metadata) == live_sum
        await fresh.dispose()


# ------------------------------------------------------------------------------ the lifecycle


async def lifecycle(h: Histories) -> None:
    """Four tickets through the loop: full handling with extension, return and reassignment
    with a redo, a direct answer, a merge."""
    t0 = NOW
    due_ack = datetime(2026, 11, 23, 18, 0, tzinfo=SHANGHAI)
    due_reply = datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)
    await h.register("t1", t0, summary="路灯坏了, 回电 13812345678")
    await h.then("t1", t0 + timedelta(minutes=5), e.TicketDispatched(
        lead_unit="d01-urban", assisting_units=("d01-street",), note="请核实", urgent=True),
        deadlines(due_ack, due_reply))
    await h.then("t1", t0 + timedelta(hours=1), e.TicketAcknowledged(unit_id="d01-urban"),
                 actor="unit:d01-urban")
    await h.then("t1", t0 + timedelta(hours=2), e.ProgressNoted(
        unit_id="d01-urban", note="已派人到现场, 联系电话 13987654321", public=True),
        e.ProgressNoted(unit_id="d01-urban", note="内部: 需要采购灯具"),
        e.AssistingUnitReplied(unit_id="d01-street", text="街道已配合"),
        e.ExtensionRequested(request_id="x1", unit_id="d01-urban", reason="等灯具",
                             requested_due_at=due_reply + timedelta(days=3)),
        e.ExtensionApproved(request_id="x1", approved_by="sv-1",
                            new_due_at=due_reply + timedelta(days=3)),
        actor="unit:d01-urban")
    await h.then("t1", t0 + timedelta(days=2), e.TicketReplied(
        unit_id="d01-urban", text="路灯已修复"), actor="unit:d01-urban")
    await h.then("t1", t0 + timedelta(days=3), e.TicketClosed(reason=CloseReason.SOLVED))

    await h.register("t2", t0 + timedelta(minutes=1), district="990102", citizen_ref=REF_B)
    await h.then("t2", t0 + timedelta(minutes=6), e.TicketDispatched(lead_unit="d02-water"),
                 deadlines(due_ack, due_reply))
    await h.then("t2", t0 + timedelta(minutes=30), e.TicketReturned(
        unit_id="d02-water", reason="不属于本单位职责"), actor="unit:d02-water")
    await h.then("t2", t0 + timedelta(minutes=40), e.TicketReassigned(
        from_unit="d02-water", lead_unit="d02-urban", assisting_units=("d02-street",)),
        deadlines(due_ack, due_reply))
    await h.then("t2", t0 + timedelta(hours=3), e.TicketAcknowledged(unit_id="d02-urban"),
                 e.WarningRaised(warning_id="w1", level=WarningLevel.BLUE,
                                 deadline_kind=DeadlineKind.REPLY, unit_id="d02-urban",
                                 rule="near", message_zh="处理期限将至, 请抓紧办理"),
                 e.TicketReplied(unit_id="d02-urban", text="已处理"),
                 e.SurveyOpened(survey_id="s1", channel=SurveyChannel.SMS,
                                expires_at=t0 + timedelta(days=5)),
                 e.SurveyAnswered(survey_id="s1",
                                  hotline_service=HotlineServiceRating.SATISFIED,
                                  handling=HandlingRating.DISSATISFIED_WITH_RESULT,
                                  answered_via=SurveyChannel.SMS),
                 e.RedoRequested(survey_id="s1", reason="没有修好"))
    await h.then("t2", t0 + timedelta(days=1), e.RedoAccepted(
        reviewer="rv-1", unit_id="d02-urban", reason="确实没修好"),
        deadlines(None, None, redo=due_reply + timedelta(days=7)))

    await h.register("t3", t0 + timedelta(minutes=2), ticket_type=TicketType.CONSULTATION)
    await h.then("t3", t0 + timedelta(minutes=3), e.TicketAnsweredDirectly(
        answer="办理地点在市民中心, 咨询电话 0999-81000001"),
        e.TicketClosed(reason=CloseReason.ANSWERED))

    await h.register("t4", t0 + timedelta(minutes=4))
    await h.then("t4", t0 + timedelta(minutes=8), e.TicketDispatched(lead_unit="d01-urban"),
                 e.ContactMerged(contact_id="contact-x", repeat_count=2),
                 e.TicketMergedInto(target_ticket_id="t1"))


async def test_lifecycle_rows_on_every_log_and_database(log: EventLog, db_url: str) -> None:
    await create_topics(log)
    h = Histories(log)
    await lifecycle(h)
    engine = create_async_engine(db_url)
    runner = await catch_up(log, engine, batch_size=7)  # a ticket's events span batches
    assert runner.stats.dead_lettered == 0
    async with engine.connect() as conn:
        t1 = await q.ticket_detail(conn, "t1")
        t2 = await q.ticket_detail(conn, "t2")
        t3 = await q.ticket_by_number(conn, "12345-20261123-000003")
        t4 = await q.ticket_detail(conn, "t4")
        t4_public = await q.public_timeline(conn, "t4")
        t1_public = await q.public_timeline(conn, "t1")
        t2_public = await q.public_timeline(conn, "t2")
        ids = sorted((await conn.execute(select(tickets.c.ticket_id))).scalars())
    await engine.dispose()
    assert ids == ["t1", "t2", "t3", "t4"]  # no row for the number reservations
    assert t1 is not None and t2 is not None and t3 is not None and t4 is not None

    row = t1.ticket
    assert (row.status, row.status_zh, row.close_reason) == ("closed", "已办结", "solved")
    assert (row.lead_unit, row.urgent, row.dispatch_round, row.version) == ("d01-urban", True,
                                                                           1, 11)
    assert row.ack_due_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert row.reply_due_at == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # the extension
    assert row.reply_due_at is not None and row.reply_due_at.tzinfo is not None
    assert row.acknowledged_at == NOW + timedelta(hours=1)
    assert row.replied_at == NOW + timedelta(days=2)
    assert row.closed_at == row.updated_at == NOW + timedelta(days=3)
    assert (row.ticket_type_zh, row.urgency_zh, row.channel) == ("求助", "一般", "phone")
    assert [(u.unit_id, u.round, u.role, u.active, u.replied) for u in t1.assignments] == [
        ("d01-urban", 1, "lead", False, True), ("d01-street", 1, "assisting", False, True)]
    assert [(s.seq, s.event, s.public) for s in t1.timeline] == [
        (1, "TicketRegistered", True), (2, "TicketDispatched", True),
        (3, "DeadlinesSet", False), (4, "TicketAcknowledged", True),
        (5, "ProgressNoted", True), (6, "ProgressNoted", False),
        (7, "AssistingUnitReplied", False), (8, "ExtensionRequested", False),
        (9, "ExtensionApproved", False), (10, "TicketReplied", True),
        (11, "TicketClosed", True)]
    assert t1.timeline[3].actor == "unit:d01-urban" and t1.timeline[3].unit_id == "d01-urban"
    assert t1.timeline[5].text == "内部: 需要采购灯具"
    assert [(s.step_zh, s.text) for s in t1_public] == [
        ("已受理登记", None), ("已转交承办单位", None), ("承办单位已签收", None),
        ("办理进展", "已派人到现场, 联系电话 139****4321"),
        ("承办单位已反馈办理结果", "路灯已修复"), ("已办结", None)]

    row2 = t2.ticket
    assert (row2.status, row2.lead_unit, row2.dispatch_round) == ("acknowledged", "d02-urban", 2)
    assert row2.reply_due_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # the redo's clock
    assert row2.warning_level is None and row2.replied_at is None  # a new holder, a new start
    assert {(u.unit_id, u.round, u.role, u.active, u.replied) for u in t2.assignments} == {
        ("d02-water", 1, "lead", False, False),  # returned
        ("d02-urban", 2, "lead", True, False),  # reassigned, replied, taken back by the redo
        ("d02-street", 2, "assisting", False, False),  # the redo goes to the lead unit alone
    }
    events2 = [s.event for s in t2.timeline]
    assert events2[:4] == ["TicketRegistered", "TicketDispatched", "DeadlinesSet",
                           "TicketReturned"]
    returned = t2.timeline[3]
    assert (returned.public, returned.text, returned.unit_id) == (True, "不属于本单位职责",
                                                                 "d02-water")
    assert row2.redone and not row.redone  # the inbox marks the redo
    assert row.ext_request_id is None  # the extension was decided: no longer waiting

    assert (t3.status, t3.close_reason, t3.lead_unit, t3.ticket_type) == (
        "closed", "answered", None, "consultation")
    assert (t4.ticket.status, t4.ticket.merged_into, t4.ticket.contact_count) == (
        "merged", "t1", 2)
    assert [a.active for a in t4.assignments] == [False]
    assert [s.event for s in t4_public] == ["TicketRegistered", "TicketDispatched"]
    assert [(s.step_zh, s.text) for s in t2_public] == [  # the return's reason stays inside
        ("已受理登记", None), ("已转交承办单位", None), ("承办单位退回, 热线重新派单", None),
        ("已改派其他承办单位", None), ("承办单位已签收", None),
        ("承办单位已反馈办理结果", "已处理"), ("市民对办理结果不满意, 申请重办", None),
        ("重办申请已受理, 退回承办单位重新办理", None)]


async def test_the_return_clears_holder_and_clocks(tmp_path: Path, db_url: str) -> None:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    await create_topics(log)
    h = Histories(log)
    engine = create_async_engine(db_url)
    await h.register("t5", NOW)
    await h.then("t5", NOW, e.TicketDispatched(lead_unit="d01-urban", assisting_units=(
        "d01-street",)), deadlines(NOW + timedelta(hours=4), NOW + timedelta(days=5)))
    await h.then("t5", NOW + timedelta(hours=1),
                 e.WarningRaised(warning_id="w", level=WarningLevel.ORANGE, rule="r",
                                 message_zh="处理期限已到, 请尽快反馈"),
                 e.TicketReturned(unit_id="d01-urban", reason="错派"))
    await catch_up(log, engine)
    async with engine.connect() as conn:
        d = await q.ticket_detail(conn, "t5")
        rows = (await conn.execute(select(assignments.c.unit_id, assignments.c.active)
                                   .where(assignments.c.ticket_id == "t5"))).all()
        returned = await q.list_tickets(conn, q.TicketFilter(statuses=(S.RETURNED,)))
    await engine.dispose()
    await log.close()
    assert d is not None
    assert (d.ticket.status, d.ticket.lead_unit, d.ticket.ack_due_at, d.ticket.reply_due_at,
            d.ticket.warning_level) == ("returned", None, None, None, None)
    assert sorted(rows) == [("d01-street", False), ("d01-urban", False)]
    assert [r.ticket_id for r in returned.items] == ["t5"]


async def test_rebuild_gives_the_same_checksum(log: EventLog, db_url: str,
                                               tmp_path: Path) -> None:
    await create_topics(log)
    h = Histories(log)
    await lifecycle(h)
    live = create_async_engine(db_url)
    await catch_up(log, live, batch_size=3)
    projection = WorkOrders()
    assert isinstance(projection, WorkOrders)
    live_sum = await checksum(live, projection.metadata)
    async with second_database(db_url, tmp_path) as fresh_url:
        fresh = create_async_engine(fresh_url)
        stats = await rebuild(log, fresh, WorkOrders())  # batches of 2000: one batch
        assert stats.applied == sum(h.versions[s] for s in h.versions
                                    if not s.startswith("ticket-numbers-"))
        assert await checksum(fresh, projection.metadata) == live_sum
        await fresh.dispose()
    await live.dispose()


# ------------------------------------------------------------------------------ lists


@dataclasses.dataclass
class Spec:
    """What the 60-ticket fixture did to one ticket, to compute the expected lists."""

    ticket_id: str
    number: str
    registered_at: datetime
    updated_at: datetime
    district: str
    category1: str
    ticket_type: str
    summary: str
    status: str
    lead: str | None = None
    assisting: str | None = None
    reply_due: datetime | None = None
    citizen_ref: str | None = None
    units_ever: frozenset[str] = frozenset()


DISTRICTS = ("990101", "990102", "990103")
CATEGORIES = ("urban-management", "transport", "environment", "housing")
TYPES = (TicketType.REQUEST, TicketType.COMPLAINT, TicketType.CONSULTATION)
UNITS = ("u-east", "u-west", "u-north", "u-south")
T0 = NOW - timedelta(days=10)


async def sixty(h: Histories) -> list[Spec]:
    """60 tickets; pairs share a registration instant so the keyset's id tie-break counts."""
    specs = []
    for i in range(60):
        ticket_id = hashlib.sha256(str(i).encode()).hexdigest()[:16]  # ids out of time order
        at = T0 + timedelta(hours=i // 2)
        summary = f"第{i}号诉求: 路灯不亮" if i != 7 else "噪音 100%_扰民"
        spec = Spec(ticket_id, "", at, at, DISTRICTS[i % 3], CATEGORIES[i % 4],
                    TYPES[i % 3].value, summary, S.REGISTERED.value,
                    citizen_ref=REF_A if i % 10 == 0 else None)
        spec.number = await h.register(ticket_id, at, district=spec.district,
                                       category=(spec.category1, None),
                                       ticket_type=TYPES[i % 3], summary=summary,
                                       citizen_ref=spec.citizen_ref)
        kind = i % 5
        if kind:
            lead, assisting = UNITS[i % 4], UNITS[(i + 1) % 4] if i % 3 == 0 else None
            due = (NOW + timedelta(days=(i % 7) - 3, minutes=i)) if i % 6 else None
            at = at + timedelta(minutes=10 + i)
            await h.then(ticket_id, at, e.TicketDispatched(
                lead_unit=lead, assisting_units=(assisting,) if assisting else ()),
                *([deadlines(None, due)] if due else []))
            spec.status, spec.lead, spec.assisting, spec.reply_due = "dispatched", lead, \
                assisting, due
            spec.units_ever = frozenset(u for u in (lead, assisting) if u)
        if kind in (2, 3):
            at = at + timedelta(minutes=30)
            await h.then(ticket_id, at, e.TicketAcknowledged(unit_id=spec.lead or ""))
            spec.status = "acknowledged"
        if kind == 3:
            at = at + timedelta(minutes=30)
            await h.then(ticket_id, at, e.TicketReplied(unit_id=spec.lead or "", text="已办"),
                         e.TicketClosed(reason=CloseReason.SOLVED))
            spec.status = "closed"
        if kind == 4:
            at = at + timedelta(minutes=30)
            await h.then(ticket_id, at, e.TicketReturned(unit_id=spec.lead or "", reason="错派"))
            spec.status, spec.lead, spec.assisting, spec.reply_due = "returned", None, None, None
        spec.updated_at = at
        specs.append(spec)
    return specs


def expected(specs: list[Spec], sort: q.Sort) -> list[str]:
    if sort is q.Sort.DUE_ASC:
        dated = sorted((s for s in specs if s.reply_due), key=lambda s: (s.reply_due,
                                                                         s.ticket_id))
        undated = sorted((s for s in specs if not s.reply_due), key=lambda s: s.ticket_id)
        return [s.ticket_id for s in dated + undated]
    key = {q.Sort.REGISTERED_DESC: lambda s: (s.registered_at, s.ticket_id),
           q.Sort.REGISTERED_ASC: lambda s: (s.registered_at, s.ticket_id),
           q.Sort.UPDATED_DESC: lambda s: (s.updated_at, s.ticket_id)}[sort]
    ordered = sorted(specs, key=key, reverse=sort is not q.Sort.REGISTERED_ASC)
    return [s.ticket_id for s in ordered]


async def every_page(conn: AsyncConnection, flt: q.TicketFilter, sort: q.Sort,
                     limit: int = 7) -> tuple[list[str], int]:
    """Follow the cursors to the end; the ids in order, and the total the first page gave."""
    ids: list[str] = []
    cursor, total = None, -1
    for _ in range(100):
        page = await q.list_tickets(conn, flt, sort, limit, cursor, NOW)
        assert len(page.items) <= limit and page.total_exact
        total = page.total if total < 0 else total
        assert page.total == total
        ids += [r.ticket_id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids, total
    raise AssertionError("the cursor never ended")


@pytest.fixture()
async def listed(tmp_path: Path, db_url: str) -> AsyncIterator[tuple[AsyncEngine, list[Spec]]]:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    await create_topics(log)
    specs = await sixty(Histories(log))
    engine = create_async_engine(db_url)
    await catch_up(log, engine)
    await log.close()
    yield engine, specs
    await engine.dispose()


async def test_filters_sorts_and_cursor_pages(listed: tuple[AsyncEngine, list[Spec]]) -> None:
    engine, specs = listed
    late = {"dispatched", "acknowledged"}
    cases: list[tuple[q.TicketFilter, list[Spec]]] = [
        (q.TicketFilter(), specs),
        (q.TicketFilter(statuses=(S.DISPATCHED, S.ACKNOWLEDGED)),
         [s for s in specs if s.status in late]),
        (q.TicketFilter(statuses=("closed",), district_code="990102"),
         [s for s in specs if s.status == "closed" and s.district == "990102"]),
        (q.TicketFilter(category1="transport", ticket_type=TicketType.COMPLAINT),
         [s for s in specs if s.category1 == "transport" and s.ticket_type == "complaint"]),
        (q.TicketFilter(lead_unit="u-west"), [s for s in specs if s.lead == "u-west"]),
        (q.TicketFilter(unit="u-east"),
         [s for s in specs if "u-east" in (s.lead, s.assisting) and s.status in late]),
        (q.TicketFilter(visible_to_unit="u-north"),
         [s for s in specs if "u-north" in s.units_ever]),
        (q.TicketFilter(overdue=True),
         [s for s in specs if s.status in late and s.reply_due and s.reply_due < NOW]),
        (q.TicketFilter(overdue=False),
         [s for s in specs if not (s.status in late and s.reply_due and s.reply_due < NOW)]),
        (q.TicketFilter(due_from=NOW.astimezone(SHANGHAI), due_to=NOW + timedelta(days=2)),
         [s for s in specs if s.reply_due and NOW <= s.reply_due < NOW + timedelta(days=2)]),
        (q.TicketFilter(registered_from=T0 + timedelta(hours=5),
                        registered_to=T0 + timedelta(hours=12)),
         [s for s in specs
          if T0 + timedelta(hours=5) <= s.registered_at < T0 + timedelta(hours=12)]),
        (q.TicketFilter(text="路灯"), [s for s in specs if "路灯" in s.summary]),
        (q.TicketFilter(text="100%_"), [s for s in specs if s.ticket_id == specs[7].ticket_id]),
        (q.TicketFilter(text="%"), [specs[7]]),  # escaped: not "anything"
        (q.TicketFilter(text=specs[42].number[-6:]), [specs[42]]),
    ]
    async with engine.connect() as conn:
        for flt, want in cases:
            assert want or flt.text, f"an empty case proves little: {flt}"
            for sort in q.Sort:
                ids, total = await every_page(conn, flt, sort)
                assert ids == expected(want, sort), (flt, sort)
                assert total == len(want)
        one = await q.list_tickets(conn, q.TicketFilter(), q.Sort.DUE_ASC, 100, None, NOW)
        with pytest.raises(BadCursor):
            await q.list_tickets(conn, q.TicketFilter(), q.Sort.REGISTERED_DESC, 5,
                                 "bm90IGEgY3Vyc29y", NOW)
        first = await q.list_tickets(conn, q.TicketFilter(), q.Sort.REGISTERED_DESC, 5)
        with pytest.raises(BadCursor):  # a cursor of another order
            await q.list_tickets(conn, q.TicketFilter(), q.Sort.UPDATED_DESC, 5,
                                 first.next_cursor)
        with pytest.raises(ValueError):
            await q.list_tickets(conn, q.TicketFilter(), limit=101)
    assert len(one.items) == 60 and one.next_cursor is None
    assert all(r.registered_at.tzinfo is UTC for r in one.items)


async def test_inbox_lists_what_the_unit_holds_with_its_role(
        listed: tuple[AsyncEngine, list[Spec]]) -> None:
    engine, specs = listed
    async with engine.connect() as conn:
        page = await q.inbox(conn, "u-north", limit=100, now=NOW)
        replied = await q.inbox(conn, "u-north", statuses=(S.CLOSED,), now=NOW)
    holds = [s for s in specs if "u-north" in (s.lead, s.assisting)
             and s.status in {"dispatched", "acknowledged"}]
    assert [r.ticket_id for r in page.items] == expected(holds, q.Sort.DUE_ASC)
    assert {r.ticket_id: r.role for r in page.items} == {
        s.ticket_id: "lead" if s.lead == "u-north" else "assisting" for s in holds}
    assert {"lead", "assisting"} <= {r.role for r in page.items}
    assert replied.items == [] and replied.total == 0  # a closed ticket is held by nobody


async def test_a_busy_unit_is_listed_the_same_way(listed: tuple[AsyncEngine, list[Spec]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Units holding many tickets are read by probing tickets in list order: same pages."""
    engine, specs = listed
    late = {"dispatched", "acknowledged"}
    monkeypatch.setattr(q, "PROBE_UNIT_ABOVE", 0)
    async with engine.connect() as conn:
        for unit in UNITS:
            for flt, want in [
                (q.TicketFilter(unit=unit), [s for s in specs if unit in (s.lead, s.assisting)
                                             and s.status in late]),
                (q.TicketFilter(unit=unit, statuses=(S.ACKNOWLEDGED, S.CLOSED)),
                 [s for s in specs if unit in (s.lead, s.assisting)
                  and s.status == "acknowledged"]),
                (q.TicketFilter(unit=unit, overdue=True),
                 [s for s in specs if unit in (s.lead, s.assisting) and s.status in late
                  and s.reply_due and s.reply_due < NOW]),
            ]:
                for sort in q.Sort:
                    ids, total = await every_page(conn, flt, sort, limit=3)
                    assert ids == expected(want, sort), (unit, flt, sort)
                    assert total == len(want)
            page = await q.inbox(conn, unit, now=NOW)
            assert {r.role for r in page.items} <= {"lead", "assisting"}
            assert all(r.role for r in page.items)


async def test_a_unit_sees_only_tickets_it_was_given(
        listed: tuple[AsyncEngine, list[Spec]]) -> None:
    engine, specs = listed
    returned = next(s for s in specs if s.status == "returned")
    given = next(s for s in specs if s.units_ever and s.status != "returned")
    async with engine.connect() as conn:
        own = await q.ticket_detail(conn, given.ticket_id, visible_to_unit=given.lead)
        other = next(u for u in UNITS if u not in given.units_ever)
        hidden = await q.ticket_detail(conn, given.ticket_id, visible_to_unit=other)
        # the unit that returned a ticket still sees what it once held
        back = await q.ticket_detail(conn, returned.ticket_id,
                                     visible_to_unit=next(iter(returned.units_ever)))
        never = await q.ticket_detail(conn, specs[0].ticket_id, visible_to_unit="u-east")
        unknown = await q.ticket_detail(conn, "no-such-ticket")
    assert own is not None and own.ticket.ticket_id == given.ticket_id
    assert hidden is None and never is None and unknown is None
    assert back is not None and back.ticket.status == "returned"


async def test_duplicate_candidates_and_routing_history(
        listed: tuple[AsyncEngine, list[Spec]]) -> None:
    engine, specs = listed
    since = T0 + timedelta(hours=3)
    async with engine.connect() as conn:
        found = await aids.candidates(conn, citizen_ref=REF_A, district_code="990103",
                                   since=since, exclude_ticket_id=specs[30].ticket_id)
        few = await aids.candidates(conn, citizen_ref=None, district_code="990103", since=since,
                                 limit=3)
        counts = await aids.handled_by_units(conn, "urban-management", None, "990101")
        handled = await aids.similar_handled(conn, "urban-management", "990101")
        none = await aids.handled_by_units(conn, "urban-management", "no-such-child", "990101")
    open_ = {"registered", "dispatched", "acknowledged", "returned", "replied"}
    want = {s.ticket_id for s in specs if s.status in open_ and s.registered_at >= since
            and (s.citizen_ref == REF_A or s.district == "990103")} - {specs[30].ticket_id}
    assert {c.ticket_id for c in found} == want
    assert [c.registered_at for c in found[:2]] == sorted(
        [c.registered_at for c in found if c.citizen_ref == REF_A], reverse=True)[:2]
    assert len(few) == 3 and all(c.district_code == "990103" for c in few)
    closed = [s for s in specs if s.status == "closed" and s.category1 == "urban-management"
              and s.district == "990101"]
    by_unit: dict[str, int] = {}
    for s in closed:
        assert s.lead is not None
        by_unit[s.lead] = by_unit.get(s.lead, 0) + 1
    assert dict(counts) == by_unit and counts == sorted(counts, key=lambda c: (-c[1], c[0]))
    assert [h.ticket_id for h in handled] == [s.ticket_id for s in sorted(
        closed, key=lambda s: (s.registered_at, s.ticket_id), reverse=True)]
    assert none == []
