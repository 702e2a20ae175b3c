"""Where a ticket stands in the loop after each event: its status and its lead unit.

The decider's state, the work-order rows, the supervision watch and the callback case all
keep a ticket's status and lead unit; what each lifecycle event does to those two is
written here once (DESIGN.md §4) and every fold starts from it, adding only what it keeps
beside them (clocks, surveys, rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from contracts import events as e
from contracts.base import EventData
from contracts.frozen import with_changes
from contracts.vocabulary import TicketStatus

S = TicketStatus

# the events that move a ticket's status or lead unit; every other event leaves both as is
MOVES: frozenset[type[EventData]] = frozenset({
    e.TicketRegistered, e.TicketDispatched, e.TicketReassigned, e.TicketAcknowledged,
    e.TicketReturned, e.TicketReplied, e.RedoAccepted, e.TicketClosed, e.TicketMergedInto,
    e.TicketReopened,
})


@dataclass(frozen=True, slots=True)
class Place:
    """A ticket's status and the unit leading it now (None while the hotline holds it)."""

    status: TicketStatus
    lead_unit: str | None = None


def moved(place: Place | None, event: EventData) -> Place | None:
    """The place after `event`; the same place for an event that moves neither (None before
    the ticket is registered)."""
    match event:
        case e.TicketRegistered():
            return Place(S.REGISTERED)
        case _ if place is None:
            return None
        case e.TicketDispatched() | e.TicketReassigned():
            return Place(S.DISPATCHED, event.lead_unit)
        case e.TicketAcknowledged():
            return with_changes(place, status=S.ACKNOWLEDGED)
        case e.TicketReturned():
            return Place(S.RETURNED)  # back at the hotline: no unit leads it
        case e.TicketReplied():
            return with_changes(place, status=S.REPLIED)
        case e.RedoAccepted():
            return Place(S.ACKNOWLEDGED, event.unit_id)  # the redo goes back, acknowledged
        case e.TicketClosed():
            return with_changes(place, status=S.CLOSED)
        case e.TicketMergedInto():
            return with_changes(place, status=S.MERGED)
        case e.TicketReopened():
            return Place(S.REGISTERED)  # the hotline decides again who handles it
    return place


class Placed(Protocol):
    """A fold's state (a dataclass) that keeps a ticket's status and lead unit."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def status(self) -> TicketStatus: ...

    @property
    def lead_unit(self) -> str | None: ...


T = TypeVar("T", bound=Placed)


def carried(state: T, event: EventData) -> T:
    """`state` with its status and lead unit moved by `event` (itself when it moves neither):
    the first step of every fold after the registration."""
    if type(event) not in MOVES:
        return state
    place = moved(Place(state.status, state.lead_unit), event)
    assert place is not None  # a registered ticket has a place
    return with_changes(state, status=place.status, lead_unit=place.lead_unit)
