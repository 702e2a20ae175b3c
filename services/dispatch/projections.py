"""Dispatch's read model: the work orders (工单), who holds them, and their timelines.

`WorkOrders` folds the ticket lifecycle on `hotline.tickets` into three tables:

- `wo_tickets`: one row per ticket, the columns the lists filter and sort on;
- `wo_assignments`: one row per unit and dispatch round (主办 lead / 协办 assisting);
  `active` is true while the unit holds the ticket now, i.e. exactly the domain's
  current lead and assisting units (ticketing/domain.py `evolve`) while the
  ticket is open: a new dispatch, reassignment or redo deactivates the previous rows,
  a return, reopen, close or merge deactivates them all;
- `wo_timeline`: one row per event of the ticket stream, flagged `public` for the steps a
  citizen may see (registration, dispatch, acknowledgement, public progress, reply,
  direct answer, close, reopen).

Every time is stored in UTC: SQLite keeps no zone, so readers attach UTC again
(services/dispatch/queries.py). No personal data: the citizen is the pseudonymous ref.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.base import EventData
from contracts.envelope import Envelope
from contracts.events import LIFECYCLE
from contracts.lifecycle import MOVES, Place, moved
from contracts.vocabulary import DeadlineKind, TicketStatus
from hotline.board import TicketBoard, write_rows
from hotline.builds import projection_metadata
from hotline.bulk import insert_many, update_many
from hotline.projection import READ_CHUNK, rows_by_id, utc_column

S = TicketStatus
LEAD, ASSISTING = "lead", "assisting"


VERSION = 2  # 2: redo and extension columns, returns and redos public
metadata = projection_metadata(VERSION)
tickets = Table(
    f"wo_tickets_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("ticket_number", String(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("ticket_type", String(32), nullable=False),
    Column("category1", String(128), nullable=False),
    Column("category2", String(128)),
    Column("urgency", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("district_code", String(12), nullable=False),
    Column("channel", String(16)),
    Column("citizen_ref", String(64)),
    Column("contact_count", Integer, nullable=False),
    Column("lead_unit", String(64)),
    Column("urgent", Boolean, nullable=False),
    Column("dispatch_round", Integer, nullable=False),
    utc_column("registered_at", nullable=False),
    Column("registered_by", String(128), nullable=False),
    utc_column("dispatched_at"),
    utc_column("acknowledged_at"),
    utc_column("replied_at"),
    utc_column("closed_at"),
    Column("close_reason", String(32)),
    utc_column("ack_due_at"),
    utc_column("reply_due_at"),  # the unit's reply (or redo) deadline; cleared on return
    Column("warning_level", String(8)),  # latest 红橙蓝单 level; cleared when the holder changes
    Column("merged_into", String(128)),
    Column("redone", Boolean, nullable=False),  # a justified redo sent it back to its unit
    # the extension request waiting for a supervisor (cleared when decided or moot)
    Column("ext_request_id", String(128)),
    Column("ext_unit", String(64)),
    utc_column("ext_due_at"),  # the date the unit asks for
    Column("ext_reason", Text),  # masked in the log
    utc_column("ext_requested_at"),
    utc_column("updated_at", nullable=False),
    Column("version", Integer, nullable=False),  # stream version of the last event applied
    # Lists filter on one to three equalities and page by keyset on (sort column, ticket_id):
    # each index is the equality columns then the sort column, so a page is a short range read
    # in order, and a capped count reads the index alone. Deadlines are shared by many tickets
    # (the end of a working day), hence ticket_id in the deadline indexes to keep them ordered.
    Index("ix_wo_tickets_registered", "registered_at"),
    Index("ix_wo_tickets_updated", "updated_at"),
    Index("ix_wo_tickets_status_registered", "status", "registered_at"),
    Index("ix_wo_tickets_district_status_registered", "district_code", "status", "registered_at"),
    Index("ix_wo_tickets_district_category_registered", "district_code", "category1",
          "registered_at"),
    Index("ix_wo_tickets_lead_status_registered", "lead_unit", "status", "registered_at"),
    Index("ix_wo_tickets_category_registered", "category1", "registered_at"),
    Index("ix_wo_tickets_category_type_registered", "category1", "ticket_type", "registered_at"),
    Index("ix_wo_tickets_type_registered", "ticket_type", "registered_at"),
    Index("ix_wo_tickets_citizen_registered", "citizen_ref", "registered_at"),
    Index("ix_wo_tickets_due", "reply_due_at", "ticket_id"),
    Index("ix_wo_tickets_status_due", "status", "reply_due_at", "ticket_id"),  # overdue
    Index("ix_wo_tickets_district_status_due", "district_code", "status", "reply_due_at",
          "ticket_id"),
    Index("ix_wo_tickets_extension", "ext_requested_at", "ticket_id"),  # supervisors' queue
)
assignments = Table(
    f"wo_assignments_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("unit_id", String(64), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    utc_column("assigned_at", nullable=False),
    Column("replied", Boolean, nullable=False),
    # a unit's inbox: its active rows, ticket ids read from the index alone
    Index("ix_wo_assignments_unit_active", "unit_id", "active", "ticket_id"),
)
timeline = Table(
    f"wo_timeline_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),  # the event's stream version
    utc_column("at", nullable=False),
    Column("event", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("unit_id", String(64)),
    Column("public", Boolean, nullable=False),
    Column("text", Text),
)

# Steps a citizen may follow on their ticket (ProgressNoted only when the unit marked it so).
PUBLIC_EVENTS = frozenset({
    "TicketRegistered", "TicketDispatched", "TicketReassigned", "TicketAcknowledged",
    "TicketReturned", "TicketReplied", "TicketAnsweredDirectly", "RedoRequested",
    "RedoAccepted", "TicketClosed", "TicketReopened",
})


# Columns an event may change; registration writes them all. Updates set every one of them,
# so one executemany statement serves every changed ticket of a batch.
UNIT_MUTABLE = ("role", "active", "assigned_at", "replied")  # of an assignment row
MUTABLE = tuple(c.name for c in tickets.columns if c.name not in {
    "ticket_id", "ticket_number", "summary", "district_code", "channel", "citizen_ref",
    "registered_at", "registered_by"})


def utc(value: datetime) -> datetime:
    """The same instant in UTC (SQLite stores the wall clock without its zone)."""
    return value.astimezone(UTC)


@dataclass
class _Ticket:
    """A ticket row being changed by a batch, with its assignment rows."""

    row: dict[str, Any]
    units: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # (unit, round)
    new_units: set[tuple[str, int]] = field(default_factory=set)
    changed_units: set[tuple[str, int]] = field(default_factory=set)

    def set(self, **values: Any) -> None:
        self.row.update(values)

    def deactivate(self) -> None:
        for key, unit in self.units.items():
            if unit["active"]:
                unit["active"] = False
                self.changed_units.add(key)

    def assign(self, unit_id: str, round_: int, role: str, at: datetime) -> None:
        key = (unit_id, round_)
        row = self.units.get(key)
        if row is None:
            self.units[key] = {"ticket_id": self.row["ticket_id"], "unit_id": unit_id,
                               "round": round_, "role": role, "active": True,
                               "assigned_at": at, "replied": False}
            self.new_units.add(key)
        else:  # a redo back to a unit of the same round: the row is taken up again
            row.update(role=role, active=True, assigned_at=at, replied=False)
            self.changed_units.add(key)

    def replied(self, unit_id: str) -> None:
        key = (unit_id, self.row["dispatch_round"])
        row = self.units.get(key)
        if row is not None and not row["replied"]:
            row["replied"] = True
            self.changed_units.add(key)


class WorkOrders(TicketBoard[_Ticket, list[dict[str, Any]]]):
    """Tickets, their assignments and timelines, as units and the hotline list them."""

    name: str = "workorders"
    version: int = VERSION
    events: frozenset[str] = LIFECYCLE
    metadata: MetaData = metadata

    async def load(self, conn: AsyncConnection, ids: set[str]) -> dict[str, _Ticket]:
        """The stored rows (and every assignment row) of the tickets a batch changes."""
        state = {tid: _Ticket(row) for tid, row in
                 (await rows_by_id(conn, tickets, ids)).items()}
        wanted = sorted(state)
        for i in range(0, len(wanted), READ_CHUNK):
            for row in await conn.execute(select(assignments).where(
                    assignments.c.ticket_id.in_(wanted[i:i + READ_CHUNK]))):
                state[row.ticket_id].units[(row.unit_id, row.round)] = dict(row._mapping)
        return state

    def side(self) -> list[dict[str, Any]]:
        return []  # the batch's timeline steps

    def start(self, ticket_id: str, env: Envelope, event: e.TicketRegistered) -> _Ticket:
        return _Ticket(_registered(ticket_id, env, event))

    def step(self, state: _Ticket, env: Envelope, event: Any,
             side: list[dict[str, Any]]) -> _Ticket:
        unit_id, text = _evolve(state, env, event)
        state.set(updated_at=env.time, version=env.streamversion)
        public = env.event_name in PUBLIC_EVENTS or (
            isinstance(event, e.ProgressNoted) and event.public)
        side.append({"ticket_id": state.row["ticket_id"], "seq": env.streamversion,
                     "at": env.time, "event": env.event_name, "actor": env.actor,
                     "unit_id": unit_id, "public": public, "text": text})
        return state

    async def write(self, conn: AsyncConnection, new: list[_Ticket], changed: list[_Ticket],
                    side: list[dict[str, Any]]) -> None:
        await write_rows(conn, tickets, MUTABLE, [t.row for t in new], [t.row for t in changed])
        unit_inserts, unit_updates = [], []
        for t in (*new, *changed):
            unit_inserts += [t.units[k] for k in sorted(t.new_units)]
            unit_updates += [t.units[k] for k in sorted(t.changed_units - t.new_units)]
        await insert_many(conn, assignments, unit_inserts)
        await update_many(conn, assignments, ("ticket_id", "unit_id", "round"), UNIT_MUTABLE,
                          unit_updates)
        await insert_many(conn, timeline, side)


def _registered(ticket_id: str, env: Envelope, ev: e.TicketRegistered) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id, "ticket_number": ev.ticket_number, "status": S.REGISTERED.value,
        "ticket_type": ev.ticket_type.value, "category1": ev.category.level1,
        "category2": ev.category.level2, "urgency": ev.urgency.value, "summary": ev.summary,
        "district_code": ev.district_code, "channel": ev.channel.value if ev.channel else None,
        "citizen_ref": ev.citizen_ref, "contact_count": len(ev.contact_ids), "lead_unit": None,
        "urgent": False, "dispatch_round": 0, "registered_at": env.time,
        "registered_by": ev.registered_by, "dispatched_at": None, "acknowledged_at": None,
        "replied_at": None, "closed_at": None, "close_reason": None, "ack_due_at": None,
        "reply_due_at": None, "warning_level": None, "merged_into": None,
        "updated_at": env.time, "version": env.streamversion, "redone": False,
        **NO_EXTENSION,
    }


NO_EXTENSION: dict[str, Any] = {"ext_request_id": None, "ext_unit": None, "ext_due_at": None,
                                "ext_reason": None, "ext_requested_at": None}


def _dispatch(t: _Ticket, at: datetime, lead: str, assisting: tuple[str, ...], urgent: bool,
              round_: int) -> None:
    """派单/改派: a new round; the previous holders let go."""
    t.deactivate()
    t.set(urgent=urgent, dispatch_round=round_, dispatched_at=at, acknowledged_at=None,
          replied_at=None, **NO_EXTENSION)
    t.assign(lead, round_, LEAD, at)
    for unit in assisting:
        t.assign(unit, round_, ASSISTING, at)


def _evolve(t: _Ticket, env: Envelope, ev: EventData) -> tuple[str | None, str | None]:
    """Change the ticket for one event; returns the timeline's unit and text. Status and
    lead unit move as `contracts.lifecycle` says; the cases below keep the rest."""
    at = env.time
    if type(ev) in MOVES:
        place = moved(Place(S(t.row["status"]), t.row["lead_unit"]), ev)
        assert place is not None
        t.set(status=place.status.value, lead_unit=place.lead_unit)
    match ev:
        case e.TicketRegistered():
            return None, None
        case e.TicketClassified():
            t.set(ticket_type=ev.ticket_type.value, category1=ev.category.level1,
                  category2=ev.category.level2, urgency=ev.urgency.value)
            return None, ev.note
        case e.ContactMerged():
            t.set(contact_count=ev.repeat_count)
            return None, None
        case e.TicketMergedInto():
            t.deactivate()
            t.set(merged_into=ev.target_ticket_id)
            return None, ev.note
        case e.TicketAnsweredDirectly():
            return None, ev.answer  # the TicketClosed that follows closes it
        case e.TicketDispatched():
            _dispatch(t, at, ev.lead_unit, ev.assisting_units, ev.urgent, ev.round)
            return ev.lead_unit, ev.note
        case e.TicketReassigned():
            _dispatch(t, at, ev.lead_unit, ev.assisting_units, ev.urgent,
                      t.row["dispatch_round"] + 1)
            t.set(warning_level=None)
            return ev.lead_unit, ev.note
        case e.DeadlinesSet():
            for d in ev.deadlines:
                if d.kind is DeadlineKind.ACKNOWLEDGE:
                    t.set(ack_due_at=utc(d.due_at))
                elif d.kind in (DeadlineKind.REPLY, DeadlineKind.REDO):  # a redo's reply is due
                    t.set(reply_due_at=utc(d.due_at))
            return None, ev.reason
        case e.TicketAcknowledged():
            t.set(acknowledged_at=at)
            return ev.unit_id, None
        case e.TicketReturned():
            t.deactivate()
            t.set(ack_due_at=None, reply_due_at=None, warning_level=None, **NO_EXTENSION)
            return ev.unit_id, ev.reason
        case e.ProgressNoted():
            return ev.unit_id, ev.note
        case e.AssistingUnitReplied():
            t.replied(ev.unit_id)
            return ev.unit_id, ev.text
        case e.ExtensionRequested():
            t.set(ext_request_id=ev.request_id, ext_unit=ev.unit_id,
                  ext_due_at=utc(ev.requested_due_at), ext_reason=ev.reason,
                  ext_requested_at=at)
            return ev.unit_id, ev.reason
        case e.ExtensionApproved():
            t.set(reply_due_at=utc(ev.new_due_at), **NO_EXTENSION)
            return None, None
        case e.ExtensionRejected():
            t.set(**NO_EXTENSION)
            return None, ev.reason
        case e.TicketReplied():
            t.set(replied_at=at, **NO_EXTENSION)
            t.replied(ev.unit_id)
            return ev.unit_id, ev.text
        case e.WarningRaised():
            t.set(warning_level=ev.level.value)
            return ev.unit_id, ev.message_zh
        case e.CardIssued():
            return ev.unit_id, ev.colour.zh
        case e.SupervisionOrderIssued() | e.SupervisionOrderAnswered():
            return ev.unit_id, ev.text
        case e.SurveySkipped():
            return None, ev.note
        case e.SurveyAnswered():
            return None, ev.comment
        case e.RedoRequested() | e.RedoRejected():
            return None, ev.reason
        case e.RedoAccepted():
            t.deactivate()
            t.set(acknowledged_at=at, replied_at=None, warning_level=None, redone=True)
            t.assign(ev.unit_id, t.row["dispatch_round"], LEAD, at)
            return ev.unit_id, ev.reason
        case e.TicketClosed():
            t.deactivate()
            t.set(closed_at=at, close_reason=ev.reason.value, **NO_EXTENSION)
            return None, ev.note
        case e.TicketReopened():
            t.deactivate()
            t.set(closed_at=None, close_reason=None, warning_level=None)
            return None, ev.reason
    return None, None  # escalations, surveys opened or unanswered: a timeline step only


