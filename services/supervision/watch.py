"""What supervision follows of one ticket (`Watch`), folded from the ticket's events.

Pure. The supervision board keeps one Watch per ticket (services/supervision/projections.py)
and the ticker asks the escalation rules what is due on it. The clocks that run are the
ones the ticket decider sees running (`ticketing.domain.running_deadline`): the
acknowledge clock while the ticket waits to be acknowledged, the reply clock (or the redo's)
while a unit holds it. The decider checks every warning against its own state again
(`clock-stopped`), so a board that lags behind the log can delay an escalation, never
raise a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts import events as e
from contracts.base import EventData
from contracts.frozen import with_changes
from contracts.lifecycle import carried
from contracts.vocabulary import DeadlineKind, OrderKind, TicketStatus, TicketType, WarningLevel

S = TicketStatus
WITH_UNIT = frozenset({S.DISPATCHED, S.ACKNOWLEDGED})
FINISHED = frozenset({S.CLOSED, S.MERGED})


@dataclass(frozen=True, slots=True)
class Clock:
    """One deadline of a ticket: who owes what, since when, by when."""

    kind: DeadlineKind
    unit_id: str
    started_at: datetime
    due_at: datetime

    @property
    def id(self) -> str:
        """The clock's identity: an extension makes a new clock (new warnings). In UTC, so
        the same instant always gives the same id, whatever offset it was written with."""
        return f"{self.kind.value}@{self.due_at.astimezone(UTC).isoformat()}"


@dataclass(frozen=True, slots=True)
class OrderWatch:
    """A 督办/催办 order on the ticket: when it is due, how far it was escalated."""

    order_id: str
    kind: OrderKind
    unit_id: str
    issued_at: datetime
    due_at: datetime
    level: int = 0
    answered: bool = False


@dataclass(frozen=True, slots=True)
class Watch:
    """One ticket as supervision sees it."""

    ticket_id: str
    status: TicketStatus
    ticket_type: TicketType
    lead_unit: str | None = None
    clocks: tuple[Clock, ...] = ()  # the last set of each kind; `running` says which count
    warnings: frozenset[str] = frozenset()
    carded: frozenset[str] = frozenset()
    orders: tuple[OrderWatch, ...] = ()
    repeat_count: int = 1  # contacts on the ticket

    @property
    def open(self) -> bool:
        return self.status not in FINISHED

    def running(self) -> list[Clock]:
        """The clocks that count now."""
        if self.status not in WITH_UNIT:
            return []
        wanted = {self.reply_kind()}
        if self.status is S.DISPATCHED:
            wanted.add(DeadlineKind.ACKNOWLEDGE)
        return [clock for clock in self.clocks if clock.kind in wanted]

    def reply_kind(self) -> DeadlineKind:
        """As the decider's `reply_kind`: the redo's clock once one is set (a dispatch, a
        reassignment or an accepted redo clears the clocks before setting new ones)."""
        redo = any(clock.kind is DeadlineKind.REDO for clock in self.clocks)
        return DeadlineKind.REDO if redo else DeadlineKind.REPLY

    def colour(self) -> WarningLevel | None:
        """The highest warning standing: on a running clock, or for repeat contacts."""
        found: list[WarningLevel] = [level for clock in self.running() for level in WarningLevel
                                     if f"{clock.id}/{level.value}" in self.warnings]
        found += [level for count, level in REPEATS if f"repeat/{count}" in self.warnings]
        return max(found, key=SEVERITY.__getitem__, default=None)


SEVERITY = {WarningLevel.BLUE: 1, WarningLevel.ORANGE: 2, WarningLevel.RED: 3}
REPEATS = ((2, WarningLevel.ORANGE), (3, WarningLevel.RED))  # Qingdao: 2nd contact, 3rd contact


def _set_clocks(w: Watch, ev: e.DeadlinesSet, at: datetime) -> Watch:
    kinds = {d.kind for d in ev.deadlines}
    unit = w.lead_unit or ""
    kept = tuple(clock for clock in w.clocks if clock.kind not in kinds)
    return with_changes(w, clocks=kept + tuple(Clock(d.kind, unit, at, d.due_at)
                                               for d in ev.deadlines))


def _extended(w: Watch, ev: e.ExtensionApproved) -> Watch:
    kind = w.reply_kind()
    clocks = tuple(with_changes(clock, due_at=ev.new_due_at) if clock.kind is kind else clock
                   for clock in w.clocks)
    return with_changes(w, clocks=clocks)


def _order(w: Watch, order_id: str, **changes: Any) -> Watch:
    orders = tuple(with_changes(o, **changes) if o.order_id == order_id else o
                   for o in w.orders)
    return with_changes(w, orders=orders)


def evolve_watch(w: Watch | None, event: EventData, at: datetime, ticket_id: str) -> Watch | None:
    """The watch after one ticket event (None until the ticket is registered)."""
    if isinstance(event, e.TicketRegistered):
        return Watch(ticket_id, S.REGISTERED, event.ticket_type,
                     repeat_count=len(event.contact_ids))
    if w is None:
        return None
    w = carried(w, event)  # status and lead unit (contracts.lifecycle)
    match event:
        case e.TicketClassified():
            return with_changes(w, ticket_type=event.ticket_type)
        case (e.TicketDispatched() | e.TicketReassigned() | e.TicketReturned()
              | e.RedoAccepted() | e.TicketReopened()):
            return with_changes(w, clocks=())  # a new holder: the old clocks stop
        case e.DeadlinesSet():
            return _set_clocks(w, event, at)
        case e.ExtensionApproved():
            return _extended(w, event)
        case e.ContactMerged():
            return with_changes(w, repeat_count=event.repeat_count)
        case e.WarningRaised():
            return with_changes(w, warnings=w.warnings | {event.warning_id})
        case e.CardIssued() if event.warning_id:
            return with_changes(w, carded=w.carded | {event.warning_id})
        case e.SupervisionOrderIssued():
            return with_changes(w, orders=(*w.orders, OrderWatch(
                event.order_id, event.kind, event.unit_id, at, event.due_at)))
        case e.SupervisionOrderAnswered():
            return _order(w, event.order_id, answered=True)
        case e.SupervisionOrderEscalated():
            return _order(w, event.order_id, level=event.level)
    return w


# ------------------------------------------------------------------------------- storage


def to_json(w: Watch) -> dict[str, Any]:
    """A plain-JSON form of the watch, for the board's rows."""
    return {
        "t": w.ticket_type.value, "s": w.status.value, "u": w.lead_unit,
        "c": [[k.kind.value, k.unit_id, _iso(k.started_at), _iso(k.due_at)] for k in w.clocks],
        "w": sorted(w.warnings), "k": sorted(w.carded),
        "o": [[o.order_id, o.kind.value, o.unit_id, _iso(o.issued_at), _iso(o.due_at), o.level,
               o.answered] for o in w.orders],
        "r": w.repeat_count,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def from_json(ticket_id: str, raw: dict[str, Any]) -> Watch:
    """The watch `to_json` wrote."""
    ts = datetime.fromisoformat
    return Watch(
        ticket_id, S(raw["s"]), TicketType(raw["t"]), raw["u"],
        tuple(Clock(DeadlineKind(k), u, ts(a), ts(b)) for k, u, a, b in raw["c"]),
        frozenset(raw["w"]), frozenset(raw["k"]),
        tuple(OrderWatch(i, OrderKind(k), u, ts(a), ts(b), lvl, ans)
              for i, k, u, a, b, lvl, ans in raw["o"]),
        raw["r"],
    )
