"""Reads of the fact tables: KPI figures by period and one dimension, and the fact rows
behind a figure (drill-down); the call KPIs the same way over the call facts. Each KPI's
numerator and denominator (services/analytics/kpi.py) become `SUM(CASE WHEN … THEN 1
ELSE 0 END)` columns (services/analytics/sums.py) of one GROUP BY, so every KPI of a
request is one query over the time index (or the KPI cube's cells), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.projection import aware
from services.analytics.calls import call_facts
from services.analytics.contacts import contact_facts
from services.analytics.cube import cube_query, is_pending
from services.analytics.kpi import (
    CALL_DIMENSIONS,
    DIMENSIONS,
    PERIODS,
    Figure,
    Kpi,
    Total,
    figure,
    how_shown,
    value_of,
)
from services.analytics.projections import TIMES, kpi_cube, kpi_pending, ticket_facts
from services.analytics.sums import aggregate, all_of

MAX_PAGE = 500
MAX_OFFSET = 100_000
T = ticket_facts.c


@dataclass(frozen=True, slots=True)
class Scope:
    """Which tickets a figure covers: registered in [since, until), matching the filters
    (dimension name → value)."""

    since: datetime | None = None
    until: datetime | None = None
    filters: Mapping[str, str] | None = None
    zone: tzinfo | None = None  # the city's: with it, whole local days are read from the cube

    def where(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(T.registered_at >= aware(self.since))
        if self.until is not None:
            found.append(T.registered_at < aware(self.until))
        for name, value in (self.filters or {}).items():
            found.append(T[DIMENSIONS[name]] == value)
        return found


@dataclass(frozen=True, slots=True)
class Group:
    """One row of a breakdown: its period and dimension value, and a figure per KPI."""

    period: str | None
    key: str | None
    figures: dict[str, Figure]


async def figures(conn: AsyncConnection, kpis: Sequence[Kpi], scope: Scope,
                  period: str | None = None, by: str | None = None) -> list[Group]:
    """Every KPI for every (period, dimension value) group of the scope's tickets, in order
    of period then value; one group in all when neither is asked for."""
    keys: list[ColumnElement[Any]] = []
    if period is not None:
        keys.append(T[PERIODS[period]].label("period"))
    if by is not None:
        keys.append(T[DIMENSIONS[by]].label("key"))
    columns: list[ColumnElement[Any]] = []
    for k in kpis:
        columns.append(aggregate(k.numerator, ticket_facts).label(f"n_{k.id}"))
        if k.denominator is not None:
            columns.append(aggregate(k.denominator, ticket_facts).label(f"d_{k.id}"))
    query = None
    if scope.zone is not None and not await is_pending(conn, kpi_pending):
        query = cube_query(kpi_cube, kpis, scope.since, scope.until, scope.zone,
                           scope.filters or {}, period, by)
    if query is None:
        query = select(*keys, *columns).select_from(ticket_facts).where(*scope.where())
        if keys:
            query = query.group_by(*keys).order_by(*keys)
    result = await conn.execute(query)
    at = {name: i for i, name in enumerate(result.keys())}
    # each KPI's numerator and denominator by position, and how it is shown, taken once: a
    # year by unit and month is 1,500 rows of 17 KPIs, and a lookup by name or value_of's
    # look at the KPI per value cost more than the query
    places = [(k.id, at[f"n_{k.id}"], at.get(f"d_{k.id}"), float if k.unit == "hours" else int,
               *how_shown(k)) for k in kpis]
    p, b = at.get("period"), at.get("key")
    return [Group(row[p] if p is not None else None, row[b] if b is not None else None,
                  {kpi_id: figure(kind(row[n]), None if d is None else int(row[d]), scale,
                                  percent)
                   for kpi_id, n, d, kind, scale, percent in places})
            for row in result]  # without keys, one row: an empty scope is one group of zeros


Side = Literal["numerator", "denominator"]


async def fact_rows(conn: AsyncConnection, scope: Scope, kpi: Kpi | None = None,
                    side: Side = "denominator", limit: int = 100, offset: int = 0,
                    ) -> tuple[list[dict[str, Any]], int]:
    """The fact rows behind a figure (the tickets its numerator or denominator counts, or
    every ticket in scope without a KPI), oldest registration first, and how many in all."""
    where = scope.where()
    if kpi is not None:
        part = kpi.numerator if side == "numerator" or kpi.denominator is None \
            else kpi.denominator
        where.append(all_of(part.where, ticket_facts))
    rows = await conn.execute(select(ticket_facts).where(*where)
                              .order_by(T.registered_at, T.ticket_id).limit(limit)
                              .offset(offset))
    items = []
    for row in rows:
        item = dict(row._mapping)
        for name in ("registered_at", *TIMES):
            item[name] = aware(item[name])
        items.append(item)
    total = (await conn.execute(select(func.count()).select_from(ticket_facts)
                                .where(*where))).scalar_one()
    return items, int(total)


CONTACT_BY = {"channel": "channel", "district": "district_code"}  # contacts' dimensions


@dataclass(frozen=True, slots=True)
class ContactGroup:
    """Contacts of one (period, channel or district) group, by what became of them."""

    period: str | None
    key: str | None
    contacts: int
    registered: int  # a ticket was registered from it
    merged: int  # it joined an open ticket as a repeat contact
    dismissed: int
    pending: int  # neither yet
    answered_directly: int  # its ticket was answered directly by the operator


async def contact_counts(conn: AsyncConnection, since: datetime | None, until: datetime | None,
                         period: str | None = None, by: str | None = None,
                         filters: Mapping[str, str] | None = None) -> list[ContactGroup]:
    """Contacts received in [since, until) by period and channel or district (分渠道来电量):
    how many became tickets, repeats, dismissals, direct answers."""
    c = contact_facts.c
    keys: list[ColumnElement[Any]] = []
    if period is not None:
        keys.append(c[PERIODS[period]].label("period"))
    if by is not None:
        keys.append(c[CONTACT_BY[by]].label("key"))
    where: list[ColumnElement[bool]] = [c.received_at.is_not(None)]
    if since is not None:
        where.append(c.received_at >= aware(since))
    if until is not None:
        where.append(c.received_at < aware(until))
    for name, value in (filters or {}).items():
        where.append(c[CONTACT_BY[name]] == value)

    def count(cond: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    query = (select(*keys, func.count().label("contacts"),
                    count(c.joined == "registered").label("registered"),
                    count(c.joined == "merged").label("merged"),
                    count(and_(c.joined.is_(None), c.dismissed.is_not(None))).label("dismissed"),
                    count(and_(c.joined.is_(None), c.dismissed.is_(None))).label("pending"),
                    count(T.answered_directly.is_(True)).label("answered_directly"))
             .select_from(contact_facts.outerjoin(ticket_facts, T.ticket_id == c.ticket_id))
             .where(*where))
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    return [ContactGroup(r._mapping["period"] if period else None,
                         r._mapping["key"] if by else None,
                         *(int(r._mapping[n]) for n in ("contacts", "registered", "merged",
                                                        "dismissed", "pending",
                                                        "answered_directly")))
            for r in await conn.execute(query)]


C = call_facts.c


@dataclass(frozen=True, slots=True)
class CallScope:
    """Which calls a call figure covers: offered in [since, until), in `queue` if given."""

    since: datetime | None = None
    until: datetime | None = None
    queue: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(C.offered_at >= aware(self.since))
        if self.until is not None:
            found.append(C.offered_at < aware(self.until))
        if self.queue is not None:
            found.append(C.queue == self.queue)
        return found


async def call_figures(conn: AsyncConnection, kpis: Sequence[Kpi], scope: CallScope,
                       period: str | None = None, by: str | None = None) -> list[Group]:
    """Every call KPI for every (period, queue) group of the scope's calls, summed from the
    call fact rows in one GROUP BY; one group in all when neither is asked for."""
    keys: list[ColumnElement[Any]] = []
    if period is not None:
        keys.append(C[PERIODS[period]].label("period"))
    if by is not None:
        keys.append(C[CALL_DIMENSIONS[by]].label("key"))
    columns: list[ColumnElement[Any]] = []
    for k in kpis:
        columns.append(aggregate(k.numerator, call_facts).label(f"n_{k.id}"))
        if k.denominator is not None:
            columns.append(aggregate(k.denominator, call_facts).label(f"d_{k.id}"))
    query = select(*keys, *columns).select_from(call_facts).where(*scope.where())
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    groups = []
    for row in await conn.execute(query):
        m = row._mapping
        groups.append(Group(
            m["period"] if period is not None else None, m["key"] if by is not None else None,
            {k.id: value_of(k, float(m[f"n_{k.id}"]) if isinstance(k.numerator, Total)
                            else int(m[f"n_{k.id}"]),
                            None if k.denominator is None else int(m[f"d_{k.id}"]))
             for k in kpis}))
    return groups


async def call_rows(conn: AsyncConnection, scope: CallScope, kpi: Kpi | None = None,
                    side: Side = "denominator", limit: int = 100, offset: int = 0,
                    ) -> tuple[list[dict[str, Any]], int]:
    """The call fact rows behind a call figure (the calls its numerator or denominator
    counts, or every call in scope without a KPI), first offered first, and how many."""
    where = scope.where()
    if kpi is not None:
        part = kpi.numerator if side == "numerator" or kpi.denominator is None \
            else kpi.denominator
        where.append(all_of(part.where, call_facts))
    rows = await conn.execute(select(call_facts).where(*where)
                              .order_by(C.offered_at, C.call_id).limit(limit).offset(offset))
    items = []
    for row in rows:
        item = dict(row._mapping)
        item["offered_at"] = aware(item["offered_at"])
        items.append(item)
    total = (await conn.execute(select(func.count()).select_from(call_facts)
                                .where(*where))).scalar_one()
    return items, int(total)
