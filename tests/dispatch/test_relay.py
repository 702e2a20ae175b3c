"""The dispatch relay and the inbox feed, on both log engines and both databases."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contracts.base import Category, Deadline, EventData
from contracts.envelope import canonical_json, decode
from contracts.events import (
    AssistingUnitReplied,
    CardIssued,
    DeadlinesSet,
    ExtensionApproved,
    ExtensionRequested,
    ProgressNoted,
    RedoAccepted,
    RedoRequested,
    SupervisionOrderEscalated,
    SupervisionOrderIssued,
    SurveyAnswered,
    SurveyOpened,
    TicketAcknowledged,
    TicketClassified,
    TicketClosed,
    TicketDispatched,
    TicketMergedInto,
    TicketNumberReserved,
    TicketReassigned,
    TicketRegistered,
    TicketReopened,
    TicketReplied,
    TicketReturned,
    WarningRaised,
)
from contracts.topics import CATALOGUE, DEADLETTER, TICKETS, dispatch_topic
from contracts.vocabulary import (
    CardColour,
    CloseReason,
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    OrderKind,
    SurveyChannel,
    TicketType,
    Urgency,
    WarningLevel,
)
from hotline.eventstore import STRUCTURED, Context, EventStore
from hotline.log.port import EventLog, OutgoingRecord, Record, UnknownTopic
from hotline.runner import ProjectionRunner
from services.dispatch.feed import FeedItem, follow, read_feed
from services.dispatch.relay import ROLE_HEADER, DispatchRelay

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEAD1, LEAD2, HELPER = "U0101", "U0202", "U0303"


def registered(ticket_id: str) -> TicketRegistered:
    return TicketRegistered(
        ticket_id=ticket_id, ticket_number="12345-20261123-000001", contact_ids=("c-1",),
        ticket_type=TicketType.REQUEST, category=Category(level1="utilities", level2="water"),
        summary="幸福小区停水三天, 请求尽快恢复供水", district_code="990101",
        citizen_ref="ref-0123456789", registered_by="op-017")


def deadlines(at: datetime) -> DeadlinesSet:
    due = Deadline(kind=DeadlineKind.REPLY, due_at=at + timedelta(days=5),
                   policy_id="request-normal")
    return DeadlinesSet(deadlines=(due,), reason="dispatched")


async def write(log: EventLog, stream: str, steps: list[EventData]) -> None:
    """Append a history one event at a time, as the ticket desk does."""
    store = EventStore(log)
    for version, event in enumerate(steps):
        await store.append(stream, [event], expected_version=version,
                           context=Context.new("operator:op-017", "/tests"),
                           now=T0 + timedelta(hours=version))


def returned_then_reassigned(ticket_id: str) -> list[EventData]:
    """Dispatched with a helper, returned by the lead, reassigned, extended, replied, closed."""
    return [
        registered(ticket_id),
        TicketClassified(ticket_type=TicketType.COMPLAINT, category=Category(level1="utilities"),
                         urgency=Urgency.URGENT),
        TicketDispatched(lead_unit=LEAD1, assisting_units=(HELPER,)),
        deadlines(T0),
        TicketAcknowledged(unit_id=LEAD1),
        TicketReturned(unit_id=LEAD1, reason="不属于本单位职责"),
        TicketReassigned(from_unit=LEAD1, lead_unit=LEAD2, assisting_units=(HELPER,)),
        deadlines(T0),
        TicketAcknowledged(unit_id=LEAD2),
        ExtensionRequested(request_id="x-1", unit_id=LEAD2, reason="需协调施工",
                           requested_due_at=T0 + timedelta(days=10)),
        ExtensionApproved(request_id="x-1", approved_by="sv-02",
                          new_due_at=T0 + timedelta(days=10)),
        WarningRaised(warning_id="w-1", level=WarningLevel.BLUE, unit_id=LEAD2,
                      deadline_kind=DeadlineKind.REPLY, rule="blue-1d",
                      message_zh="处理期限将至, 请抓紧办理"),
        TicketReplied(unit_id=LEAD2, text="已恢复供水", solved=True),
        SurveyOpened(survey_id="s-1", channel=SurveyChannel.SMS,
                     expires_at=T0 + timedelta(days=12)),
        SurveyAnswered(survey_id="s-1", hotline_service=HotlineServiceRating.SATISFIED,
                       handling=HandlingRating.SATISFIED, comment="谢谢, 我叫张三 13800000000",
                       answered_via=SurveyChannel.SMS),
        TicketClosed(reason=CloseReason.SOLVED),
    ]


HANDLED = ["TicketAcknowledged", "ExtensionRequested", "ExtensionApproved"]
EXPECTED = {  # (event name, role) per unit, for returned_then_reassigned
    LEAD1: [("TicketRegistered", "lead"), ("TicketClassified", "lead"),
            ("TicketDispatched", "lead"), ("DeadlinesSet", "lead"),
            ("TicketAcknowledged", "lead"), ("TicketReturned", "former")],
    HELPER: [("TicketRegistered", "assisting"), ("TicketClassified", "assisting"),
             ("TicketDispatched", "assisting"), ("DeadlinesSet", "assisting"),
             ("TicketAcknowledged", "assisting"), ("TicketReturned", "former"),
             ("TicketRegistered", "assisting"), ("TicketClassified", "assisting"),
             ("TicketReassigned", "assisting"), ("DeadlinesSet", "assisting"),
             *[(n, "assisting") for n in HANDLED],
             ("TicketReplied", "assisting"), ("TicketClosed", "assisting")],
    LEAD2: [("TicketRegistered", "lead"), ("TicketClassified", "lead"),
            ("TicketReassigned", "lead"), ("DeadlinesSet", "lead"),
            *[(n, "lead") for n in HANDLED],
            ("WarningRaised", "lead"), ("TicketReplied", "lead"), ("TicketClosed", "lead")],
}


async def prepare(log: EventLog) -> None:
    await log.create_topics([dataclasses.replace(CATALOGUE[t].spec, replication_factor=1)
                             for t in (TICKETS, DEADLETTER)])


async def relay(log: EventLog, engine: AsyncEngine, **runner_options: object) -> None:
    """Run the relay until it has read everything on the ticket topic."""
    ends = await log.end_offsets(TICKETS)
    runner = ProjectionRunner(log, engine, DispatchRelay(log, replication_factor=1),
                              **runner_options)  # type: ignore[arg-type]
    await runner.run(until={(TICKETS, p): end for p, end in ends.items()})


async def unit_records(log: EventLog, unit: str) -> list[Record]:
    try:
        return await log.read(dispatch_topic(unit), 0, 0, 10_000)
    except UnknownTopic:  # the relay has sent this unit nothing yet
        return []


def names_roles(records: list[Record]) -> list[tuple[str, str]]:
    return [(decode(r.value).event_name, r.headers[ROLE_HEADER]) for r in records]


async def test_each_unit_gets_the_events_while_the_ticket_concerns_it(
    log: EventLog, db_url: str
) -> None:
    await prepare(log)
    ticket = str(uuid.uuid4())
    stream = f"ticket-{ticket}"
    await write(log, stream, returned_then_reassigned(ticket))
    await write(log, "ticket-numbers-20261123",
                [TicketNumberReserved(ticket_id=ticket, ticket_number="12345-20261123-000001")])
    engine = create_async_engine(db_url)
    await relay(log, engine)

    originals = {decode(r.value).id: r.value for r in await log.read_stream(TICKETS, stream)}
    for unit, expected in EXPECTED.items():
        records = await unit_records(log, unit)
        assert names_roles(records) == expected, unit
        for r in records:  # the ticket's own events: same key, same bytes, same ids
            assert r.key == stream
            assert r.value == originals[decode(r.value).id]
            assert {k: r.headers[k] for k in STRUCTURED} == STRUCTURED
    others = [t.name for t in await log.topics() if ".dispatch." in t.name]
    assert sorted(others) == sorted(dispatch_topic(u) for u in EXPECTED)

    # running again finds its offsets and its rows: nothing is sent twice
    await relay(log, engine)
    for unit, expected in EXPECTED.items():
        assert len(await unit_records(log, unit)) == len(expected)
    await engine.dispose()


def supervised_redone_reopened(ticket_id: str) -> list[EventData]:
    """Orders and cards for one unit, a redo given to another unit, a reopening, a merge."""
    return [
        registered(ticket_id),
        TicketDispatched(lead_unit=LEAD1, assisting_units=(HELPER,)),
        TicketAcknowledged(unit_id=LEAD1),
        ProgressNoted(unit_id=HELPER, note="已现场查看"),
        AssistingUnitReplied(unit_id=HELPER, text="管网已检修"),
        SupervisionOrderIssued(order_id="o-1", kind=OrderKind.SUPERVISION, unit_id=LEAD1,
                               due_at=T0 + timedelta(days=2), text="请尽快反馈",
                               issued_by="sv-02"),
        SupervisionOrderEscalated(order_id="o-1", level=1, rule="order-late"),
        CardIssued(unit_id=LEAD1, colour=CardColour.YELLOW, rule="reply-late"),
        WarningRaised(warning_id="w-9", level=WarningLevel.ORANGE, rule="repeat-contact",
                      message_zh="处理期限已到, 请尽快反馈"),
        TicketReplied(unit_id=LEAD1, text="已处理"),
        RedoRequested(survey_id="s-1", reason="问题未解决"),
        RedoAccepted(reviewer="rv-1", unit_id=LEAD2, reason="问题未解决"),
        TicketReplied(unit_id=LEAD2, text="已彻底解决"),
        TicketClosed(reason=CloseReason.SOLVED),
        TicketReopened(reopened_by="sv-02", reason="市民再次反映"),
        TicketDispatched(lead_unit=LEAD1, round=2),
        TicketMergedInto(target_ticket_id="t-other"),
    ]


async def test_targeted_events_redo_and_reopening(log: EventLog, tmp_path: Path) -> None:
    await prepare(log)
    ticket = str(uuid.uuid4())
    await write(log, f"ticket-{ticket}", supervised_redone_reopened(ticket))
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    await relay(log, engine)
    shared = ["TicketAcknowledged", "ProgressNoted", "AssistingUnitReplied"]
    assert names_roles(await unit_records(log, LEAD1)) == [
        ("TicketRegistered", "lead"), ("TicketDispatched", "lead"),
        *[(n, "lead") for n in shared],
        ("SupervisionOrderIssued", "lead"), ("SupervisionOrderEscalated", "lead"),
        ("CardIssued", "lead"), ("WarningRaised", "lead"), ("TicketReplied", "lead"),
        ("RedoAccepted", "former"),
        # dispatched again after the reopening: the ticket first, same TicketRegistered id
        ("TicketRegistered", "lead"), ("TicketDispatched", "lead"),
        ("TicketMergedInto", "lead"),
    ]
    assert names_roles(await unit_records(log, HELPER)) == [
        ("TicketRegistered", "assisting"), ("TicketDispatched", "assisting"),
        *[(n, "assisting") for n in shared],
        ("WarningRaised", "assisting"), ("TicketReplied", "assisting"),
        ("RedoAccepted", "assisting"), ("TicketReplied", "assisting"),
        ("TicketClosed", "assisting"), ("TicketReopened", "former"),
    ]
    assert names_roles(await unit_records(log, LEAD2)) == [
        ("TicketRegistered", "lead"), ("RedoAccepted", "lead"), ("TicketReplied", "lead"),
        ("TicketClosed", "lead"), ("TicketReopened", "former"),
    ]
    await engine.dispose()


async def test_read_feed_pages_through_a_units_stream(log: EventLog, tmp_path: Path) -> None:
    await prepare(log)
    ticket = str(uuid.uuid4())
    await write(log, f"ticket-{ticket}", returned_then_reassigned(ticket))
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    await relay(log, engine)
    stored = await unit_records(log, LEAD2)

    items: list[FeedItem] = []
    after, pages = 0, 0
    while True:
        page = await read_feed(log, LEAD2, after, limit=3)
        if not page.items:
            assert page.next_offset == after
            break
        assert page.items[0].offset == after and len(page.items) <= 3
        assert page.next_offset == page.items[-1].offset + 1
        items += page.items
        after, pages = page.next_offset, pages + 1
    assert pages == 4 and after == len(stored) == len(EXPECTED[LEAD2])
    assert [(i.envelope["type"].split(".")[1], i.role) for i in items] == EXPECTED[LEAD2]
    for item, record in zip(items, stored, strict=True):
        assert item.offset == record.offset
        assert canonical_json(item.envelope) == record.value  # verifiable against the chain
        assert item.envelope["subject"] == f"ticket-{ticket}"

    middle = await read_feed(log, LEAD2, 5, limit=2)
    assert [i.offset for i in middle.items] == [5, 6] and middle.next_offset == 7
    nobody = await read_feed(log, "U9999", 0)  # no ticket yet, so no topic yet: empty
    assert nobody.items == [] and nobody.next_offset == 0
    started = time.monotonic()
    idle = await read_feed(log, LEAD2, after, wait_s=0.5)
    assert idle.items == [] and idle.next_offset == after
    assert 0.45 <= time.monotonic() - started < 5
    for bad in [dict(unit_id="U/1", after=0), dict(unit_id=LEAD2, after=-1),
                dict(unit_id=LEAD2, after=0, limit=0)]:
        with pytest.raises(ValueError):
            await read_feed(log, **bad)  # type: ignore[arg-type]
    await engine.dispose()


async def test_long_poll_returns_when_the_units_first_record_arrives(
    log: EventLog, tmp_path: Path
) -> None:
    await prepare(log)
    ticket = str(uuid.uuid4())
    stream = f"ticket-{ticket}"
    waiting = asyncio.create_task(read_feed(log, LEAD1, 0, wait_s=60))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await write(log, stream, [registered(ticket), TicketDispatched(lead_unit=LEAD1)])
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")

    async def relay_meanwhile() -> float:
        await relay(log, engine)  # creates the unit's topic and appends to it
        return time.monotonic()

    appended = await asyncio.create_task(relay_meanwhile())
    page = await asyncio.wait_for(waiting, 30)
    answered = time.monotonic()
    assert answered - appended < 5  # well before the 60 s wait is up
    assert [(i.envelope["type"], i.role) for i in page.items] == [
        ("hotline.TicketRegistered.v1", "lead"), ("hotline.TicketDispatched.v1", "lead")]

    # and once the topic exists, a plain append wakes a waiting reader too
    waiting = asyncio.create_task(read_feed(log, LEAD1, page.next_offset, wait_s=60))
    await asyncio.sleep(0.5)
    copy = (await unit_records(log, LEAD1))[0]
    await log.append(dispatch_topic(LEAD1), [OutgoingRecord(copy.key, copy.value,
                                                            copy.headers)])
    appended = time.monotonic()
    again = await asyncio.wait_for(waiting, 30)
    assert time.monotonic() - appended < 5
    assert [i.offset for i in again.items] == [page.next_offset]
    await engine.dispose()


async def test_follow_yields_items_as_they_come_until_stopped(
    log: EventLog, tmp_path: Path
) -> None:
    """...and says it is alive (None) while none comes: the SSE keep-alive."""
    await prepare(log)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    stop = asyncio.Event()
    got: list[FeedItem] = []
    idle = 0

    async def consume() -> None:
        nonlocal idle
        async for item in follow(log, LEAD1, 0, stop, idle_s=0.3):
            if item is None:
                idle += 1
            else:
                got.append(item)

    task = asyncio.create_task(consume())
    deadline = time.monotonic() + 30
    while idle < 2:  # nothing yet: a keep-alive each 0.3 s
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.05)
    for _ in range(2):
        ticket = str(uuid.uuid4())
        await write(log, f"ticket-{ticket}", [registered(ticket), TicketDispatched(
            lead_unit=LEAD1)])
        await relay(log, engine)
    deadline = time.monotonic() + 30
    while len(got) < 4:
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [i.offset for i in got] == [0, 1, 2, 3]
    assert [i.envelope["type"].split(".")[1] for i in got] == [
        "TicketRegistered", "TicketDispatched"] * 2
    await engine.dispose()


class Crash(Exception):
    """The relay process dies after its appends, before its COMMIT."""


async def test_a_crash_before_commit_resends_only_that_batch(log: EventLog, db_url: str) -> None:
    await prepare(log)
    ticket = str(uuid.uuid4())
    await write(log, f"ticket-{ticket}", returned_then_reassigned(ticket))
    engine = create_async_engine(db_url)

    async def crash() -> None:
        raise Crash

    with pytest.raises(Crash):  # the first batch is appended, then the process dies
        await relay(log, engine, batch_size=4, before_commit=crash)
    resent: dict[str, list[Record]] = {}
    for unit, expected in EXPECTED.items():
        resent[unit] = await unit_records(log, unit)
        assert names_roles(resent[unit]) == expected[:len(resent[unit])]
    assert 1 <= sum(map(len, resent.values())) <= 8  # what four ticket events send at most

    await relay(log, engine, batch_size=4)  # the restart
    for unit, expected in EXPECTED.items():
        records = await unit_records(log, unit)
        before = len(resent[unit])
        assert names_roles(records) == names_roles(resent[unit]) + expected
        assert [r.value for r in records[:before]] == [r.value for r in records[
            before:2 * before]]  # the same bytes again, so the same ids
        # a consumer that keeps the ids it has seen ends with each event once, in order
        seen: set[str] = set()
        kept = []
        for r in records:
            envelope = decode(r.value)
            if envelope.id not in seen:
                seen.add(envelope.id)
                kept.append(envelope.id)
        assert kept == list(dict.fromkeys(decode(r.value).id for r in records[before:]))
    await engine.dispose()
