"""One fold of status and lead unit (contracts.lifecycle) shared by the decider and the boards.

Random walks through the decider's commands: whatever history the decider accepts, the
supervision watch and the callback case end on the same status and lead unit as the
decider's own state, after every event.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import events as e
from contracts.lifecycle import MOVES, Place, moved
from contracts.vocabulary import HandlingRating, TicketStatus
from services.callback.domain import evolve_case
from services.supervision.watch import evolve_watch
from tests.tickets.test_decider import (
    LEAD,
    NOW,
    REGISTERED,
    T0,
    TID,
    accept_redo,
    samples,
    survey_answer,
)
from ticketing.domain import decide, evolve
from ticketing.rules import Rejected

COMMANDS = [*samples(), survey_answer(HandlingRating.DISSATISFIED_WITH_RESULT),
            accept_redo(LEAD)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(COMMANDS), max_size=40))
def test_every_fold_keeps_the_deciders_status_and_lead_unit(walk: list) -> None:
    at = T0
    ticket = evolve(None, REGISTERED, at)
    watch = evolve_watch(None, REGISTERED, at, TID)
    case = evolve_case(None, REGISTERED, at, 1)
    seq = 1
    for command in walk:
        try:
            events = decide(ticket, command, NOW)
        except Rejected:
            continue
        for event in events:
            at, seq = at + timedelta(minutes=1), seq + 1
            ticket = evolve(ticket, event, at)
            watch = evolve_watch(watch, event, at, TID)
            case = evolve_case(case, event, at, seq)
            assert watch is not None and case is not None
            expected = (ticket.status, ticket.lead_unit)
            assert (watch.status, watch.lead_unit) == expected, type(event).__name__
            assert (case.status, case.lead_unit) == expected, type(event).__name__


def test_an_event_outside_moves_leaves_the_place() -> None:
    place = Place(TicketStatus.DISPATCHED, LEAD)
    assert moved(place, e.ProgressNoted(unit_id=LEAD, note="已联系施工方")) is place
    assert e.ProgressNoted not in MOVES and e.TicketReturned in MOVES


def test_nothing_moves_before_the_registration() -> None:
    assert moved(None, e.TicketAcknowledged(unit_id=LEAD)) is None
    assert moved(None, REGISTERED) == Place(TicketStatus.REGISTERED)
