"""The supervision board (督办看板): every ticket's clocks, colour and next check, and the tally
of warnings, cards and orders per unit.

`SupervisionBoard` folds `hotline.tickets` into:

- `sv_tickets`: one row per ticket with its `Watch` (services/supervision/watch.py) as JSON
  and the columns the board and the ticker read: colour, the earliest running deadline
  and `next_check_at`, the first moment an escalation may be due (NULL: none can come).
  The ticker's query is a range read on that index, whatever the number of open tickets;
- `sv_escalations`: one row per warning, card and order event, with its unit: the
  evaluation counts (Foshan counts yellow and red cards per unit against its tickets);
- `sv_orders`: supervision orders and reminders, open until answered;
- `sv_unit_tickets`: which units led which tickets (the denominator of the rates).

`next_check_at` is computed with the deadline policy and calendar in force when the event
is applied: changing either means bumping `version`, which rebuilds the board from the log.
Times are stored in UTC (SQLite keeps no zone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    and_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope
from contracts.events import LIFECYCLE
from hotline.board import Folded, TicketBoard, write_rows
from hotline.builds import projection_metadata
from hotline.bulk import insert_many
from hotline.projection import READ_CHUNK, aware, rows_by_id, utc_column
from reference.calendar import WorkingCalendar
from reference.policy import DeadlinePolicy, load_policy
from services.supervision.escalation import next_check
from services.supervision.watch import SEVERITY, Watch, evolve_watch, from_json, to_json

VERSION = 2  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
board = Table(
    f"sv_tickets_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("ticket_number", String(32), nullable=False),
    Column("ticket_type", String(32), nullable=False),
    Column("category1", String(128), nullable=False),
    Column("district_code", String(12), nullable=False),
    Column("status", String(16), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("lead_unit", String(64)),
    Column("colour", String(8)),  # blue / orange / red standing now; NULL: none
    Column("severity", Integer, nullable=False),  # 0 none, 1 blue, 2 orange, 3 red
    utc_column("due_at"),  # the earliest running deadline
    utc_column("next_check_at"),
    utc_column("registered_at", nullable=False),
    utc_column("updated_at", nullable=False),
    Column("version", Integer, nullable=False),
    Column("watch", Text, nullable=False),
    # the ticker pages by keyset on (next_check_at, ticket_id): many checks share an instant
    Index("ix_sv_tickets_next_check", "next_check_at", "ticket_id"),
    # a unit's list, worst first: red before orange before blue, then the nearest deadline
    Index("ix_sv_tickets_unit_open_severity_due", "lead_unit", "open", "severity", "due_at"),
    Index("ix_sv_tickets_open_colour", "open", "colour"),
)
escalations = Table(
    f"sv_escalations_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),  # the event's stream version
    utc_column("at", nullable=False),
    Column("unit_id", String(64)),
    Column("kind", String(16), nullable=False),  # warning, card, order, order_escalated
    Column("level", String(16), nullable=False),  # colour, order kind, or escalation level
    Column("rule", String(200)),
    Index("ix_sv_escalations_unit_kind", "unit_id", "kind", "level"),
)
orders = Table(
    f"sv_orders_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("order_id", String(200), primary_key=True),
    Column("unit_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("issued_by", String(200), nullable=False),
    utc_column("issued_at", nullable=False),
    utc_column("due_at", nullable=False),
    utc_column("answered_at"),
    Column("level", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_sv_orders_unit_answered", "unit_id", "answered_at"),
)
unit_tickets = Table(
    f"sv_unit_tickets_v{VERSION}", metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
)

# Columns a later event may change (registration writes them all).
MUTABLE = ("ticket_type", "status", "open", "lead_unit", "colour", "severity", "due_at",
           "next_check_at", "updated_at", "version", "watch")


Row = Folded[Watch]  # a ticket's row with its watch, while a batch is folded


@dataclass
class _Side:
    """A batch's sanctions, orders and lead units, written after the tickets."""

    sanctions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_updates: list[dict[str, Any]] = field(default_factory=list)
    leads: set[tuple[str, str]] = field(default_factory=set)


class SupervisionBoard(TicketBoard[Row, _Side]):
    """Clocks, colours and next checks of every ticket; the per-unit tally of sanctions."""

    name: str = "supervision"
    version: int = VERSION
    events: frozenset[str] = LIFECYCLE

    metadata: MetaData = metadata

    def __init__(self, policy: DeadlinePolicy | None = None,
                 calendar: WorkingCalendar | None = None) -> None:
        self.policy = policy or load_policy()
        self.calendar = calendar or WorkingCalendar.load(self.policy.jurisdiction)

    async def load(self, conn: AsyncConnection, ids: set[str]) -> dict[str, Row]:
        rows = await rows_by_id(conn, board, ids)
        return {tid: Folded(row, from_json(tid, json.loads(row["watch"])))
                for tid, row in rows.items()}

    def side(self) -> _Side:
        return _Side()

    def start(self, ticket_id: str, env: Envelope, event: e.TicketRegistered) -> Row:
        return Folded({"ticket_id": ticket_id, "ticket_number": event.ticket_number,
                     "category1": event.category.level1,
                     "district_code": event.district_code, "registered_at": env.time})

    def step(self, state: Row, env: Envelope, event: Any, side: _Side) -> Row:
        tid = state.row["ticket_id"]
        state.folded = evolve_watch(state.folded, event, env.time, tid)
        assert state.folded is not None
        state.row.update(updated_at=env.time, version=env.streamversion)
        if isinstance(event, e.TicketClassified):
            state.row["category1"] = event.category.level1
        if (unit := _lead_of(event)) is not None:
            side.leads.add((unit, tid))
        if (tally := _sanction(tid, env, event)) is not None:
            side.sanctions.append(tally)
        _orders(tid, env, event, side.orders, side.order_updates)
        return state

    def _derived(self, w: Watch) -> dict[str, Any]:
        colour = w.colour()
        running = w.running()
        return {
            "ticket_type": w.ticket_type.value, "status": w.status.value, "open": w.open,
            "lead_unit": w.lead_unit, "colour": colour.value if colour else None,
            "severity": SEVERITY[colour] if colour else 0,
            "due_at": aware(min((c.due_at for c in running), default=None)),
            "next_check_at": aware(next_check(w, self.policy, self.calendar)),
            "watch": json.dumps(to_json(w), separators=(",", ":")),
        }

    async def write(self, conn: AsyncConnection, new: list[Row], changed: list[Row],
                    side: _Side) -> None:
        for state in (*new, *changed):
            assert state.folded is not None
            state.row.update(self._derived(state.folded))
        await write_rows(conn, board, MUTABLE, [s.row for s in new], [s.row for s in changed])
        await insert_many(conn, escalations, side.sanctions)
        await insert_many(conn, orders, side.orders)
        for update in side.order_updates:  # rare: one statement each keeps it simple
            await conn.execute(orders.update().where(and_(
                orders.c.ticket_id == update.pop("b_ticket"),
                orders.c.order_id == update.pop("b_order"))).values(**update))
        if side.leads:
            await _record_leads(conn, side.leads)


async def _record_leads(conn: AsyncConnection, leads: set[tuple[str, str]]) -> None:
    """Add the (unit, ticket) pairs not yet recorded: one read for the batch."""
    u = unit_tickets.c
    tids = sorted({tid for _, tid in leads})
    known: set[tuple[str, str]] = set()
    for i in range(0, len(tids), READ_CHUNK):
        found = await conn.execute(select(u.unit_id, u.ticket_id).where(
            u.ticket_id.in_(tids[i:i + READ_CHUNK])))
        known |= {(r.unit_id, r.ticket_id) for r in found}
    fresh = sorted(leads - known)
    if fresh:
        await conn.execute(unit_tickets.insert(),
                           [{"unit_id": u, "ticket_id": t} for u, t in fresh])


def _lead_of(data: object) -> str | None:
    if isinstance(data, e.TicketDispatched | e.TicketReassigned):
        return data.lead_unit
    if isinstance(data, e.RedoAccepted):
        return data.unit_id
    return None


def _sanction(tid: str, env: Envelope, data: object) -> dict[str, Any] | None:
    row = {"ticket_id": tid, "seq": env.streamversion, "at": env.time}
    match data:
        case e.WarningRaised():
            return row | {"unit_id": data.unit_id, "kind": "warning",
                          "level": data.level.value, "rule": data.rule}
        case e.CardIssued():
            return row | {"unit_id": data.unit_id, "kind": "card", "level": data.colour.value,
                          "rule": data.rule}
        case e.SupervisionOrderIssued():
            return row | {"unit_id": data.unit_id, "kind": "order", "level": data.kind.value,
                          "rule": None}
        case e.SupervisionOrderEscalated():
            return row | {"unit_id": None, "kind": "order_escalated", "level": str(data.level),
                          "rule": data.rule}
    return None


def _orders(tid: str, env: Envelope, data: object, rows: list[dict[str, Any]],
            updates: list[dict[str, Any]]) -> None:
    match data:
        case e.SupervisionOrderIssued():
            rows.append({"ticket_id": tid, "order_id": data.order_id, "unit_id": data.unit_id,
                         "kind": data.kind.value, "issued_by": data.issued_by,
                         "issued_at": env.time, "due_at": aware(data.due_at), "answered_at": None,
                         "level": 0, "text": data.text})
        case e.SupervisionOrderAnswered():
            updates.append({"b_ticket": tid, "b_order": data.order_id, "answered_at": env.time})
        case e.SupervisionOrderEscalated():
            updates.append({"b_ticket": tid, "b_order": data.order_id, "level": data.level})


