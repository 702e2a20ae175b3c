"""Conflicting commands never both win, on either engine (DESIGN.md §3 principle 3).

Every racer loads the same version and decides; the log accepts one append and
the others are retried on the new state, where the decider rejects them by rule.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from contracts import commands as c
from contracts.base import Category
from contracts.topics import CATALOGUE, DEADLETTER, TICKETS
from contracts.vocabulary import TicketType
from hotline.eventstore import EventStore
from hotline.integrity import verify_stream
from hotline.log.port import EventLog
from ticketing.handler import Outcome, TicketDesk, stream_of
from ticketing.rules import Rejected

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LEAD = "d01-urban-squad"


async def open_desks(log: EventLog, n: int = 1) -> list[TicketDesk]:
    """`n` desks (separate caches, as separate replicas would have) over one log."""
    from dataclasses import replace

    await log.create_topics([replace(CATALOGUE[t].spec, replication_factor=1)
                             for t in (TICKETS, DEADLETTER)])
    await log.claim(TICKETS)
    store = EventStore(log)
    return [TicketDesk(store) for _ in range(n)]


async def run(desk: TicketDesk, command: c.TicketCommand, actor: str) -> Outcome | Rejected:
    try:
        return await desk.execute(command, actor=actor, command_id=str(uuid.uuid4()), now=NOW)
    except Rejected as exc:
        return exc


def registration(ticket_id: str) -> c.RegisterTicket:
    return c.RegisterTicket(
        ticket_id=ticket_id, ticket_number="12345-20261123-000001", contact_ids=("contact-1",),
        ticket_type=TicketType.EMERGENCY_REPAIR,
        category=Category(level1="urban-management", level2="street-lights"),
        summary="路灯不亮", district_code="990101", registered_by="op-1")


async def dispatched(desk: TicketDesk, assisting: tuple[str, ...] = ()) -> str:
    ticket_id = str(uuid.uuid4())
    steps: list[c.TicketCommand] = [
        registration(ticket_id),
        c.DispatchTicket(ticket_id=ticket_id, lead_unit=LEAD, assisting_units=assisting),
    ]
    for step in steps:
        await desk.execute(step, actor="operator:op-1", command_id=str(uuid.uuid4()), now=NOW)
    return ticket_id


async def names(log: EventLog, ticket_id: str) -> list[str]:
    desk = TicketDesk(EventStore(log))
    return [s.envelope.event_name for s in await desk.history(ticket_id)]


async def assert_intact(log: EventLog, ticket_id: str) -> None:
    stream = stream_of(ticket_id)
    values = [r.value for r in await log.read_stream(TICKETS, stream)]
    assert verify_stream(stream, values, await log.stream_head(TICKETS, stream)) == []


async def test_fifty_acknowledgements_one_wins(log: EventLog) -> None:
    desks = await open_desks(log, 5)
    ticket_id = await dispatched(desks[0])
    ack = c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=LEAD)
    results = await asyncio.gather(*(run(desks[i % 5], ack, f"unit:{LEAD}") for i in range(50)))
    won = [r for r in results if isinstance(r, Outcome)]
    lost = [r for r in results if isinstance(r, Rejected)]
    assert len(won) == 1 and len(lost) == 49
    assert {r.rule.id for r in lost} == {"already-acknowledged"}
    assert {r.rule.status for r in lost} == {409}
    assert (await names(log, ticket_id)).count("TicketAcknowledged") == 1
    await assert_intact(log, ticket_id)


async def test_fifty_units_acknowledging_only_the_lead_wins(log: EventLog) -> None:
    desks = await open_desks(log, 5)
    helpers = tuple(f"d01-helper-{i:02d}" for i in range(49))
    ticket_id = await dispatched(desks[0], helpers)
    racers = (LEAD, *helpers)
    results = await asyncio.gather(*(
        run(desks[i % 5], c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=u), f"unit:{u}")
        for i, u in enumerate(racers)))
    won = [u for u, r in zip(racers, results, strict=True) if isinstance(r, Outcome)]
    assert won == [LEAD]
    assert {r.rule.id for r in results if isinstance(r, Rejected)} == {"not-lead-unit"}
    assert (await names(log, ticket_id)).count("TicketAcknowledged") == 1


async def test_a_reply_racing_a_reassignment_one_wins(log: EventLog) -> None:
    desks = await open_desks(log, 2)
    outcomes: set[str] = set()
    for _ in range(10):
        ticket_id = await dispatched(desks[0])
        await desks[0].execute(c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=LEAD),
                               actor=f"unit:{LEAD}", command_id=str(uuid.uuid4()), now=NOW)
        reply = c.ReplyTicket(ticket_id=ticket_id, unit_id=LEAD, text="已修复")
        move = c.ReassignTicket(ticket_id=ticket_id, lead_unit="d01-street-1")
        r_reply, r_move = await asyncio.gather(run(desks[0], reply, f"unit:{LEAD}"),
                                               run(desks[1], move, "operator:op-1"))
        assert isinstance(r_reply, Outcome) != isinstance(r_move, Outcome)
        loser = r_move if isinstance(r_reply, Outcome) else r_reply
        assert isinstance(loser, Rejected) and loser.rule.status == 409
        assert loser.rule.id in {"wrong-state", "reassigned-away"}
        history = await names(log, ticket_id)
        assert ("TicketReplied" in history) != ("TicketReassigned" in history)
        outcomes.add(loser.rule.id)
        await assert_intact(log, ticket_id)
    assert outcomes  # which one wins depends on scheduling; both are legal


async def test_a_command_delivered_twice_applies_once(log: EventLog) -> None:
    [desk] = await open_desks(log)
    ticket_id = await dispatched(desk)
    ack = c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=LEAD)
    first = await desk.execute(ack, actor=f"unit:{LEAD}", command_id="cmd-ack-1", now=NOW)
    cold = TicketDesk(EventStore(log))  # another replica, empty cache: finds it in the log
    again = await cold.execute(ack, actor=f"unit:{LEAD}", command_id="cmd-ack-1", now=NOW)
    assert not first.duplicate and again.duplicate
    assert [e.id for e in again.events] == [e.id for e in first.events]
    assert (await names(log, ticket_id)).count("TicketAcknowledged") == 1
