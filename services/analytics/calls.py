"""`an_call_facts`: one row per offered call (话务), from the phone system's `CallRecorded`
on hotline.calls (intake's `POST /v1/calls` appends one per call, once: its stream
`call-<id>` takes exactly one event).

Pure `call_row` makes the row; `CallFacts` keeps the rows. The call KPIs (接通率, 15秒接通率,
放弃率, 平均等待时长: `kpi.CALL_KPIS`) are counts and sums over them, by the local period the
call was offered in (the same `reg_*` period keys as the ticket and contact facts, in the
city's zone) and by queue.

No personal data: a call record carries none (no caller number, no recording), and the row
keeps the call id, times, queue, seat, outcome and durations only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.intake_events import CallRecorded
from contracts.topics import CALLS
from contracts.vocabulary import CallOutcome
from hotline.board import write_rows
from hotline.builds import projection_metadata
from hotline.projection import Applied, aware, rows_by_id, utc_column
from reference.calendar import WorkingCalendar
from services.analytics.facts import period_keys
from services.analytics.kpi import ANSWER_TARGET_SECONDS

VERSION = 1  # bump it when the tables change: a new build, made from zero
# its own: a rebuild of the call facts leaves the others alone
metadata = projection_metadata(VERSION)
call_facts = Table(
    f"an_call_facts_v{VERSION}", metadata,
    Column("call_id", String(128), primary_key=True),
    utc_column("offered_at", nullable=False),
    # the offered time's local (Asia/Shanghai) day, ISO week, month, quarter, year and hour
    Column("reg_day", String(10), nullable=False), Column("reg_week", String(8), nullable=False),
    Column("reg_month", String(7), nullable=False),
    Column("reg_quarter", String(7), nullable=False),
    Column("reg_year", String(4), nullable=False), Column("reg_hour", Integer, nullable=False),
    Column("queue", String(128)),  # the skill group / queue it waited in, when reported
    Column("seat_id", String(128)),  # the agent seat (坐席) that answered it
    Column("outcome", String(16), nullable=False),  # answered, abandoned, overflow
    Column("answered", Boolean, nullable=False),
    Column("abandoned", Boolean, nullable=False),
    Column("answered_in_target", Boolean, nullable=False),  # answered, waited ≤ 15 s
    Column("wait_seconds", Float, nullable=False),  # in the queue, to answer or abandon
    Column("talk_seconds", Float),
    Index("ix_an_call_facts_offered", "offered_at"),
    Index("ix_an_call_facts_queue_offered", "queue", "offered_at"),
)
COLUMNS = tuple(c.name for c in call_facts.columns)


def call_row(event: CallRecorded, calendar: WorkingCalendar) -> dict[str, Any]:
    """One call's fact row."""
    answered = event.outcome is CallOutcome.ANSWERED
    return {
        "call_id": event.call_id, "offered_at": aware(event.offered_at),
        **period_keys(event.offered_at, calendar),
        "queue": event.queue, "seat_id": event.seat_id, "outcome": event.outcome.value,
        "answered": answered, "abandoned": event.outcome is CallOutcome.ABANDONED,
        "answered_in_target": answered and event.wait_seconds <= ANSWER_TARGET_SECONDS,
        "wait_seconds": float(event.wait_seconds),
        "talk_seconds": None if event.talk_seconds is None else float(event.talk_seconds),
    }


class CallFacts:
    """`an_call_facts`: every offered call, its queue, outcome and waiting time."""

    name: str = "analytics_call_facts"
    version: int = VERSION
    topics: Sequence[str] = (CALLS,)
    events: frozenset[str] = frozenset({"CallRecorded"})
    metadata: MetaData = metadata

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        """Insert the batch's calls; a call already stored keeps its row (a call's stream
        holds one event, so a second record of it can only be a replayed copy)."""
        rows: dict[str, dict[str, Any]] = {}
        for _, data in batch:
            if isinstance(data, CallRecorded):
                rows.setdefault(data.call_id, call_row(data, self.calendar))
        if not rows:
            return
        stored = await rows_by_id(conn, call_facts, set(rows), key="call_id")
        new = [row for cid, row in sorted(rows.items()) if cid not in stored]
        await write_rows(conn, call_facts, (), new, [], key="call_id")
