"""The analytics fact tables, folded from `hotline.tickets`: `an_ticket_facts`, one row per
ticket (services/analytics/facts.py says what each column means), and `an_kpi_cube`, the
KPIs' sums per day, month and dimension kept beside it (services/analytics/cube.py: per
batch in the live flow, counted again from the rows once a replay has caught up).

`TicketFacts` is a `TicketBoard`: a batch loads the rows of the tickets it touches in a few
`IN (...)` reads, folds every event in memory and writes with one executemany per table, so
a replay of a year costs a few round trips per batch, not per event. The row is the whole
state: nothing is kept as JSON beside it, so every column is a plain SQL value the KPI
queries sum and count on SQLite and PostgreSQL alike.

Working time is computed with the calendar in force when the event is applied: a changed
calendar means bumping `version`, which rebuilds the facts from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
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
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope
from contracts.events import LIFECYCLE
from hotline.board import Folded, TicketBoard, write_rows
from hotline.builds import projection_metadata
from hotline.projection import Applied, aware, rows_by_id, utc_column
from reference.calendar import WorkingCalendar
from services.analytics import cube, facts

VERSION = 4  # 4: an_kpi_pending, the cube counted again after a replay
metadata = projection_metadata(VERSION)


def _count(name: str) -> Column[int]:
    return Column(name, Integer, nullable=False)


def _seconds(name: str) -> Column[int]:
    return Column(name, Integer)


ticket_facts = Table(
    f"an_ticket_facts_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("ticket_number", String(32), nullable=False),
    # dimensions
    utc_column("registered_at", nullable=False),
    Column("reg_day", String(10), nullable=False),  # local (Asia/Shanghai) yyyy-mm-dd
    Column("reg_week", String(8), nullable=False),  # ISO week yyyy-Www
    Column("reg_month", String(7), nullable=False),
    Column("reg_quarter", String(7), nullable=False),
    Column("reg_year", String(4), nullable=False),
    Column("reg_hour", Integer, nullable=False),
    Column("channel", String(16)),  # of the first contact; NULL when the event did not say
    Column("ticket_type", String(32), nullable=False),
    Column("category1", String(128), nullable=False),
    Column("category2", String(128)),
    Column("district_code", String(12), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_unit", String(64)),  # the unit of the first dispatch
    Column("lead_unit", String(64)),  # the last unit to lead it
    Column("assisting_units", Text, nullable=False),  # comma-separated unit ids
    Column("assisting_count", Integer, nullable=False),
    # contacts on the ticket: those it was registered from, and each repeat merged in since
    Column("contacts", Integer, nullable=False),
    # what became of it
    Column("dispatched", Boolean, nullable=False),
    Column("answered_directly", Boolean, nullable=False),
    Column("article_id", String(200)),  # the knowledge article a direct answer cited
    Column("article_version", Integer),
    Column("merged", Boolean, nullable=False),
    Column("responded", Boolean, nullable=False),  # answered directly or acknowledged in time
    Column("close_reason", String(32)),
    # clocks: first dispatch, first acknowledgement, first reply, last close
    utc_column("dispatched_at"), utc_column("acknowledged_at"), utc_column("replied_at"),
    utc_column("closed_at"), utc_column("ack_due_at"), utc_column("reply_due_at"),
    _seconds("dispatch_s"), _seconds("dispatch_work_s"), _seconds("ack_s"),
    _seconds("ack_work_s"), _seconds("reply_s"), _seconds("reply_work_s"),
    _seconds("close_s"), _seconds("close_work_s"),
    Column("ack_on_time", Boolean), Column("reply_on_time", Boolean),
    # counts
    *(_count(name) for name in facts.COUNTERS),
    # the citizen's last survey answer
    Column("hotline_service", String(32)), Column("handling", String(32)),
    Column("rating", String(32)),  # handling, or the hotline's service when no unit handled it
    Column("solved", Boolean),
    Column("after_redo_handling", String(32)),  # the handling rating given after a redo
    Column("version", Integer, nullable=False),
    Index("ix_an_ticket_facts_registered", "registered_at"),
    Index("ix_an_ticket_facts_unit_registered", "lead_unit", "registered_at"),
    Index("ix_an_ticket_facts_district_registered", "district_code", "registered_at"),
    Index("ix_an_ticket_facts_category_registered", "category1", "registered_at"),
)

TIMES = tuple(c.name for c in ticket_facts.columns
              if c.name.endswith("_at") and c.name != "registered_at")
MUTABLE = tuple(c.name for c in ticket_facts.columns
                if c.name not in ("ticket_id", "ticket_number", "registered_at")
                and not c.name.startswith("reg_") and c.name != "district_code")

kpi_cube = cube.table_in(metadata, VERSION)
kpi_pending = cube.pending_in(metadata, VERSION)
# a batch of so many events is a replay's (the live flow's are a few): its cells are
# counted again from the rows when the replay has caught up, not kept up per ticket
BULK_EVENTS = 250

Row = Folded[cube.Counted]  # the row, and what it counted in the cube when loaded


class TicketFacts(TicketBoard[Row, None]):
    """`an_ticket_facts`: one row per ticket, its dimensions and measures; and the KPI cube
    (a `Deferring` projection: a replay leaves the cube's cells to `settle`)."""

    name: str = "analytics_ticket_facts"
    version: int = VERSION
    events: frozenset[str] = LIFECYCLE
    metadata: MetaData = metadata

    def __init__(self, calendar: WorkingCalendar, bulk_from: int = BULK_EVENTS) -> None:
        self.calendar = calendar
        self.bulk_from = bulk_from
        self.unsettled = True  # days may have been left pending before a restart
        self._bulk = False  # whether the batch in hand is a replay's

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        self._bulk = len(batch) >= self.bulk_from
        await super().apply(conn, batch)

    async def load(self, conn: AsyncConnection, ids: set[str]) -> dict[str, Row]:
        rows = await rows_by_id(conn, ticket_facts, ids)
        for row in rows.values():  # SQLite gives the UTC wall clock back without its zone
            row["registered_at"] = aware(row["registered_at"])
            for name in TIMES:
                row[name] = aware(row[name])
        if self._bulk:  # the cells are counted again from the rows: no part to take out
            return {tid: Folded(row) for tid, row in rows.items()}
        return {tid: Folded(row, cube.contribution(row)) for tid, row in rows.items()}

    def side(self) -> None:
        return None

    def start(self, ticket_id: str, env: Envelope, event: e.TicketRegistered) -> Row:
        return Folded(facts.start(ticket_id, env.time, event, self.calendar))

    def step(self, state: Row, env: Envelope, event: Any, side: None) -> Row:
        facts.fold(state.row, env.time, event, self.calendar)
        state.row["version"] = env.streamversion
        return state

    async def write(self, conn: AsyncConnection, new: list[Row], changed: list[Row],
                    side: None) -> None:
        rows = [s.row for s in new], [s.row for s in changed]
        await write_rows(conn, ticket_facts, MUTABLE, *rows)
        if self._bulk or self.unsettled and await cube.is_pending(conn, kpi_pending):
            await cube.mark(conn, kpi_pending, [*rows[0], *rows[1]])
            if self._bulk:
                self.unsettled = True
            else:  # the live flow again: pending days counted, a month of them a batch
                await self.settle(conn)
            return
        self.unsettled = False
        deltas = cube.Deltas()
        for state in new:
            deltas.add(cube.contribution(state.row), +1)
        for state in changed:  # out of the cells it was counted in, into its cells now
            assert state.folded is not None
            deltas.add(state.folded, -1)
            deltas.add(cube.contribution(state.row), +1)
        await deltas.write(conn, kpi_cube)

    async def settle(self, conn: AsyncConnection) -> None:
        """Count a month of pending days' cells again from the fact rows (cube.recount);
        still `unsettled` while days remain."""
        self.unsettled = await cube.recount(conn, kpi_cube, kpi_pending, ticket_facts,
                                            self.calendar.zone)
