"""One ticket's analytics fact (`an_ticket_facts`): what its events say, as dimensions and
measures, folded event by event.

Pure: `start` makes a ticket's row from its registration, `fold` moves it by one event at
the event's time. The projection (services/analytics/projections.py) keeps the rows; the
KPIs (services/analytics/kpi.py) are sums and counts over them. Only codes, counts, times
and ratings go in: never the summary, a reply's text, a reason or the citizen's ref, so the
rows can be read by analysts and auditors and exported without masking anything.

The clocks are "first" clocks, as the evaluation counts them: time to dispatch is
registration → first dispatch; to acknowledge and to reply, first dispatch → the first
acknowledgement and the first reply (a redo's reply is counted by `redos`, not here); to
close, registration → the last close. Working time is on the jurisdiction's working
calendar (None for a year the calendar has no data for), elapsed time in whole seconds.
An acknowledgement or a reply is on time when it came at or before the deadline in force
at that moment (the last `DeadlinesSet` of its kind, moved by an approved extension).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts import events as e
from contracts.base import EventData
from contracts.lifecycle import MOVES, Place, moved
from contracts.vocabulary import DeadlineKind, HandlingRating, TicketStatus
from reference.calendar import MissingYear, WorkingCalendar

# the counters a fact row carries, each 0 at registration
COUNTERS = ("returns", "reassignments", "extensions_requested", "extensions_approved",
            "warnings_blue", "warnings_orange", "warnings_red", "cards_yellow", "cards_red",
            "orders", "redo_requests", "redos", "surveys_answered")
GOOD = frozenset({"satisfied", "basically_satisfied"})  # 满意 and 基本满意 count as satisfied
DISSATISFIED = frozenset(r.value for r in HandlingRating) - GOOD


def period_keys(moment: datetime, calendar: WorkingCalendar) -> dict[str, Any]:
    """The local (jurisdiction's zone) day, ISO week, month, quarter, year and hour of a
    moment: stored with the row, so grouping by period is a plain GROUP BY on both engines."""
    local = moment.astimezone(calendar.zone)
    iso = local.isocalendar()
    return {"reg_day": local.date().isoformat(), "reg_week": f"{iso[0]}-W{iso[1]:02d}",
            "reg_month": f"{local.year}-{local.month:02d}",
            "reg_quarter": f"{local.year}-Q{(local.month - 1) // 3 + 1}",
            "reg_year": str(local.year), "reg_hour": local.hour}


def start(ticket_id: str, at: datetime, event: e.TicketRegistered,
          calendar: WorkingCalendar) -> dict[str, Any]:
    """A new ticket's fact row (the registration itself is folded by `fold`)."""
    return {
        "ticket_id": ticket_id, "ticket_number": event.ticket_number,
        "registered_at": at.astimezone(UTC), **period_keys(at, calendar),
        "channel": event.channel.value if event.channel else None,
        "status": TicketStatus.REGISTERED.value, "first_unit": None, "lead_unit": None,
        "assisting_units": "", "assisting_count": 0, "contacts": len(event.contact_ids),
        "dispatched": False, "answered_directly": False, "merged": False,
        "article_id": None, "article_version": None,
        "dispatched_at": None, "acknowledged_at": None, "replied_at": None, "closed_at": None,
        "dispatch_s": None, "dispatch_work_s": None, "ack_s": None, "ack_work_s": None,
        "reply_s": None, "reply_work_s": None, "close_s": None, "close_work_s": None,
        "ack_due_at": None, "ack_on_time": None, "reply_due_at": None, "reply_on_time": None,
        "responded": False, **dict.fromkeys(COUNTERS, 0),
        "hotline_service": None, "handling": None, "rating": None, "solved": None,
        "after_redo_handling": None, "close_reason": None,
        **_classified(event),
    }


def _classified(event: e.TicketRegistered | e.TicketClassified) -> dict[str, Any]:
    return {"ticket_type": event.ticket_type.value, "category1": event.category.level1,
            "category2": event.category.level2, "urgency": event.urgency.value,
            **({"district_code": event.district_code}
               if isinstance(event, e.TicketRegistered) else {})}


def _spans(calendar: WorkingCalendar, a: datetime, b: datetime) -> tuple[int, int | None]:
    """Elapsed and working seconds from a to b (working: None outside the calendar's years)."""
    try:
        work: int | None = int(calendar.working_time_between(a, b).total_seconds())
    except MissingYear:
        work = None
    return int((b - a).total_seconds()), work


def _units(row: dict[str, Any], lead: str, assisting: tuple[str, ...]) -> None:
    row.update(lead_unit=lead, assisting_units=",".join(assisting),
               assisting_count=len(assisting))


def fold(row: dict[str, Any], at: datetime, event: EventData,
         calendar: WorkingCalendar) -> dict[str, Any]:
    """The row after one event of its ticket (changed in place, and returned). One table
    lookup finds the event's step: a `match` over twenty classes tried them in turn, each
    an `isinstance` through pydantic's metaclass, and with the status moved for every
    event (an enum and a `Place` made each time) that was a third of the fold's time."""
    kind = type(event)
    if kind in MOVES:
        place = moved(Place(_STATUS[row["status"]], row["lead_unit"]), event)
        assert place is not None  # a registered ticket has a place
        row["status"] = place.status.value
    step = _STEPS.get(kind)
    if step is not None:
        step(row, at.astimezone(UTC), event, calendar)
    return row


Step = Callable[[dict[str, Any], datetime, Any, WorkingCalendar], None]
_STATUS = {status.value: status for status in TicketStatus}


def _counts(name: str) -> Step:
    def step(row: dict[str, Any], at: datetime, event: Any, calendar: WorkingCalendar) -> None:
        row[name] += 1
    return step


def _reclassified(row: dict[str, Any], at: datetime, event: e.TicketClassified,
                  calendar: WorkingCalendar) -> None:
    row.update(_classified(event))


def _dispatched(row: dict[str, Any], at: datetime,
                event: e.TicketDispatched | e.TicketReassigned, calendar: WorkingCalendar
                ) -> None:
    _units(row, event.lead_unit, event.assisting_units)
    if isinstance(event, e.TicketReassigned):
        row["reassignments"] += 1
    if not row["dispatched"]:
        row.update(dispatched=True, first_unit=event.lead_unit, dispatched_at=at)
        row["dispatch_s"], row["dispatch_work_s"] = _spans(calendar, row["registered_at"], at)


def _redo(row: dict[str, Any], at: datetime, event: e.RedoAccepted,
          calendar: WorkingCalendar) -> None:
    row["lead_unit"] = event.unit_id
    row["redos"] += 1


def _deadlines(row: dict[str, Any], at: datetime, event: e.DeadlinesSet,
               calendar: WorkingCalendar) -> None:
    for deadline in event.deadlines:
        if deadline.kind is DeadlineKind.ACKNOWLEDGE and row["acknowledged_at"] is None:
            row["ack_due_at"] = deadline.due_at.astimezone(UTC)
        elif deadline.kind is DeadlineKind.REPLY and row["replied_at"] is None:
            row["reply_due_at"] = deadline.due_at.astimezone(UTC)


def _extended(row: dict[str, Any], at: datetime, event: e.ExtensionApproved,
              calendar: WorkingCalendar) -> None:
    row["extensions_approved"] += 1
    if row["replied_at"] is None:
        row["reply_due_at"] = event.new_due_at.astimezone(UTC)


def _acknowledged(row: dict[str, Any], at: datetime, event: e.TicketAcknowledged,
                  calendar: WorkingCalendar) -> None:
    if row["acknowledged_at"] is None:
        _first(row, "ack", at, calendar)
        row["responded"] = row["ack_on_time"] is not False  # no clock: not late


def _replied(row: dict[str, Any], at: datetime, event: e.TicketReplied,
             calendar: WorkingCalendar) -> None:
    if row["replied_at"] is None:
        _first(row, "reply", at, calendar)


def _answered_directly(row: dict[str, Any], at: datetime, event: e.TicketAnsweredDirectly,
                       calendar: WorkingCalendar) -> None:
    row.update(answered_directly=True, responded=True, article_id=event.knowledge_article_id,
               article_version=event.knowledge_article_version)


def _merged(row: dict[str, Any], at: datetime, event: e.TicketMergedInto,
            calendar: WorkingCalendar) -> None:
    row["merged"] = True


def _warned(row: dict[str, Any], at: datetime, event: e.WarningRaised,
            calendar: WorkingCalendar) -> None:
    row[f"warnings_{event.level.value}"] += 1


def _carded(row: dict[str, Any], at: datetime, event: e.CardIssued,
            calendar: WorkingCalendar) -> None:
    row[f"cards_{event.colour.value}"] += 1


def _surveyed(row: dict[str, Any], at: datetime, event: e.SurveyAnswered,
              calendar: WorkingCalendar) -> None:
    """The last answer counts (after a redo, the citizen's second word is the final one)."""
    handling = event.handling.value if event.handling else None
    row["surveys_answered"] += 1
    row.update(hotline_service=event.hotline_service.value, handling=handling,
               rating=handling or event.hotline_service.value, solved=event.solved)
    if row["redos"] > 0 and handling is not None:
        row["after_redo_handling"] = handling


def _closed(row: dict[str, Any], at: datetime, event: e.TicketClosed,
            calendar: WorkingCalendar) -> None:
    row.update(closed_at=at, close_reason=event.reason.value)
    row["close_s"], row["close_work_s"] = _spans(calendar, row["registered_at"], at)


_STEPS: dict[type[EventData], Step] = {
    e.TicketClassified: _reclassified,
    e.TicketDispatched: _dispatched,
    e.TicketReassigned: _dispatched,
    e.RedoAccepted: _redo,
    e.DeadlinesSet: _deadlines,
    e.ExtensionRequested: _counts("extensions_requested"),
    e.ExtensionApproved: _extended,
    e.TicketAcknowledged: _acknowledged,
    e.TicketReplied: _replied,
    e.TicketReturned: _counts("returns"),
    e.TicketAnsweredDirectly: _answered_directly,
    e.TicketMergedInto: _merged,
    e.ContactMerged: _counts("contacts"),  # a repeat contact (合并来电) joined the open ticket
    e.WarningRaised: _warned,
    e.CardIssued: _carded,
    e.SupervisionOrderIssued: _counts("orders"),
    e.RedoRequested: _counts("redo_requests"),
    e.SurveyAnswered: _surveyed,
    e.TicketClosed: _closed,
}


def _first(row: dict[str, Any], clock: str, at: datetime, calendar: WorkingCalendar) -> None:
    """The first acknowledgement or reply: its time, its span from the first dispatch and
    whether it met the deadline then in force (None without one)."""
    stamp = {"ack": "acknowledged_at", "reply": "replied_at"}[clock]
    row[stamp] = at
    if row["dispatched_at"] is not None:
        row[f"{clock}_s"], row[f"{clock}_work_s"] = _spans(calendar, row["dispatched_at"], at)
    due = row[f"{clock}_due_at"]
    row[f"{clock}_on_time"] = None if due is None else at <= due
