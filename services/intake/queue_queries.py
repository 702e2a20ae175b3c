"""Reads of the contact queue (services/intake/queue_board.py): the waiting contacts, oldest
first, and the operators' figures. Times in and out are aware UTC."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.projection import aware, page_and_total
from services.intake.queue_board import queue

q = queue.c
MAX_PAGE = 200
SHANGHAI = ZoneInfo("Asia/Shanghai")  # an operator's day is the city's calendar day


@dataclass(frozen=True, slots=True)
class Waiting:
    contact_id: str
    channel: str
    received_at: datetime
    district_code: str | None
    holder: str | None  # while the claim runs
    held_until: datetime | None


@dataclass(frozen=True, slots=True)
class OperatorFigures:
    operator: str
    handled: int  # registered, merged or dismissed
    registered: int
    dismissed: int
    mean_claim_s: float | None  # arrival to the operator's first claim
    mean_outcome_s: float | None  # arrival to the outcome
    by_day: dict[str, int]  # handled per local day (YYYY-MM-DD), the seed's "per day" figure


async def waiting(conn: AsyncConnection, now: datetime, channel: str | None = None,
                  limit: int = 50) -> tuple[list[Waiting], int]:
    """The waiting contacts, oldest first (a page), and how many wait in all."""
    open_: list[ColumnElement[bool]] = [q.outcome.is_(None), q.received_at.is_not(None)]
    if channel is not None:
        open_.append(q.channel == channel)
    rows, total = await page_and_total(conn, queue, open_, (q.received_at, q.contact_id),
                                       limit)
    page = []
    for r in rows:
        until = aware(r.held_until)
        held = until is not None and until > now
        page.append(Waiting(r.contact_id, r.channel, aware(r.received_at) or now,
                            r.district_code, r.holder if held else None,
                            until if held else None))
    return page, total


async def operator_figures(conn: AsyncConnection, since: datetime,
                           until: datetime) -> list[OperatorFigures]:
    """Per operator, the contacts they brought to an outcome in [since, until]."""
    rows = await conn.execute(select(q.outcome_by, q.outcome, q.received_at,
                                     q.first_claimed_by, q.first_claimed_at, q.outcome_at)
                              .where(q.outcome_at >= since.astimezone(UTC),
                                     q.outcome_at <= until.astimezone(UTC),
                                     q.received_at.is_not(None)))
    by: dict[str, list[_Outcome]] = {}
    for r in rows:
        arrived, done = aware(r.received_at), aware(r.outcome_at)
        assert arrived is not None and done is not None
        claimed = aware(r.first_claimed_at) if r.first_claimed_by == r.outcome_by else None
        by.setdefault(r.outcome_by, []).append(_Outcome(
            r.outcome, (claimed - arrived).total_seconds() if claimed else None,
            (done - arrived).total_seconds(), done.astimezone(SHANGHAI).date().isoformat()))
    return [_figures(op, items) for op, items in sorted(by.items())]


@dataclass(frozen=True, slots=True)
class _Outcome:
    outcome: str
    to_claim_s: float | None
    to_outcome_s: float
    day: str


def _figures(operator: str, items: list[_Outcome]) -> OperatorFigures:
    claims = [i.to_claim_s for i in items if i.to_claim_s is not None]
    days = Counter(i.day for i in items)
    return OperatorFigures(
        operator, len(items), sum(1 for i in items if i.outcome in ("registered", "merged")),
        sum(1 for i in items if i.outcome == "dismissed"),
        sum(claims) / len(claims) if claims else None,
        sum(i.to_outcome_s for i in items) / len(items), dict(sorted(days.items())))
