"""Reads behind the operator's aids (services/dispatch/domain.py ranks what they return):
open tickets that may be the same issue as a new contact, and which units handled
tickets like this one before, for the routing suggestion.

Each reads one short index range of the work-order projection per criterion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.vocabulary import CloseReason, TicketStatus
from services.dispatch.keyset import bound
from services.dispatch.projections import tickets
from services.dispatch.queries import OPEN_STATUSES, plain, stored_at

HANDLED = (TicketStatus.REPLIED, TicketStatus.CLOSED)
NOT_HANDLED_CLOSES = (CloseReason.DUPLICATE, CloseReason.WITHDRAWN)
t = tickets.c


@dataclass(slots=True)  # not frozen: it must fit the plain attributes of domain's Protocol
class Candidate:
    """An open ticket that may be the same issue as a new contact."""

    ticket_id: str
    ticket_number: str
    summary: str
    citizen_ref: str | None
    district_code: str
    registered_at: datetime
    status: str


@dataclass(slots=True)  # not frozen: it must fit the plain attributes of domain's Protocol
class Handled:
    """A ticket a unit handled, for routing by text similarity."""

    ticket_id: str
    summary: str
    lead_unit: str


async def candidates(
    conn: AsyncConnection,
    *,
    citizen_ref: str | None,
    district_code: str | None,
    since: datetime,
    exclude_ticket_id: str | None = None,
    limit: int = 200,
) -> list[Candidate]:
    """Open tickets registered since `since` from the same citizen or in the same district,
    newest first, the same citizen's first: the pool duplicate detection ranks by text."""
    found: dict[str, Candidate] = {}
    # one indexed range per criterion rather than an OR the planners would read whole
    for column, value in ((t.citizen_ref, citizen_ref), (t.district_code, district_code)):
        if value is None or len(found) >= limit:
            continue
        query = (select(t.ticket_id, t.ticket_number, t.summary, t.citizen_ref,
                        t.district_code, t.registered_at, t.status)
                 .where(column == value, t.status.in_(plain(OPEN_STATUSES)),
                        t.registered_at >= bound(since))
                 .order_by(t.registered_at.desc(), t.ticket_id.desc()).limit(limit))
        if exclude_ticket_id is not None:
            query = query.where(t.ticket_id != exclude_ticket_id)
        for r in await conn.execute(query):
            found.setdefault(r.ticket_id, Candidate(
                r.ticket_id, r.ticket_number, r.summary, r.citizen_ref, r.district_code,
                stored_at(r.registered_at), r.status))
    return list(found.values())[:limit]


def _handled(category1: str, district_code: str) -> list[ColumnElement[bool]]:
    return [t.district_code == district_code, t.category1 == category1,
            t.status.in_(plain(HANDLED)), t.lead_unit.is_not(None),
            or_(t.close_reason.is_(None), t.close_reason.not_in(plain(NOT_HANDLED_CLOSES)))]


async def handled_by_units(
    conn: AsyncConnection,
    category1: str,
    category2: str | None,
    district_code: str,
    limit: int = 10,
) -> list[tuple[str, int]]:
    """(lead unit, tickets) by how many tickets of this category (level 2 when given) in this
    district each replied to or saw closed (not as duplicate or withdrawn), most first."""
    conds = _handled(category1, district_code)
    if category2 is not None:
        conds.append(t.category2 == category2)
    n = func.count().label("n")
    rows = await conn.execute(
        select(t.lead_unit, n).where(*conds).group_by(t.lead_unit)
        .order_by(n.desc(), t.lead_unit).limit(limit))
    return [(r.lead_unit, int(r.n)) for r in rows]


async def similar_handled(
    conn: AsyncConnection, category1: str, district_code: str, limit: int = 500
) -> list[Handled]:
    """The latest handled tickets of this category in this district (with their lead unit),
    for routing by text similarity."""
    rows = await conn.execute(
        select(t.ticket_id, t.summary, t.lead_unit).where(*_handled(category1, district_code))
        .order_by(t.registered_at.desc(), t.ticket_id.desc()).limit(limit))
    return [Handled(r.ticket_id, r.summary, r.lead_unit) for r in rows]
