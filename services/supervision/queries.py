"""Reads of the supervision board: open tickets by colour, the per-unit tally, the list a
unit should handle first, and the orders. Rows are plain dataclasses; times come back in UTC
(SQLite stores none, so they are attached again here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.vocabulary import WarningLevel
from hotline.projection import aware
from services.supervision.projections import board, escalations, orders, unit_tickets

MAX_PAGE = 200
MAX_OFFSET = 10_000  # a board is read from the top; deeper pages belong to an export


class GroupBy(StrEnum):
    UNIT = "unit"
    DISTRICT = "district"
    CATEGORY = "category"


_GROUP_COLUMN = {GroupBy.UNIT: board.c.lead_unit, GroupBy.DISTRICT: board.c.district_code,
                 GroupBy.CATEGORY: board.c.category1}


@dataclass(frozen=True)
class BoardRow:
    """One open ticket on the board."""

    ticket_id: str
    ticket_number: str
    ticket_type: str
    category1: str
    district_code: str
    status: str
    lead_unit: str | None
    colour: str | None
    due_at: datetime | None
    overdue: bool
    next_check_at: datetime | None


@dataclass(frozen=True)
class ColourCount:
    """Open tickets of one group (a unit, district or category) by colour."""

    key: str | None
    red: int
    orange: int
    blue: int
    none: int
    total: int


@dataclass(frozen=True)
class UnitTally:
    """What a unit earned: warnings, cards, orders, against the tickets it led (考核)."""

    unit_id: str
    tickets: int
    open_tickets: int
    warnings: dict[str, int]  # blue / orange / red
    cards: dict[str, int]  # yellow / red
    yellow_card_rate: float  # cards per ticket led, as Foshan reports them (0.16 %)
    red_card_rate: float
    orders_issued: int
    orders_open: int
    orders_overdue: int
    orders_escalated: int


@dataclass(frozen=True)
class OrderRow:
    ticket_id: str
    order_id: str
    unit_id: str
    kind: str
    issued_by: str
    issued_at: datetime
    due_at: datetime
    answered_at: datetime | None
    level: int
    overdue: bool
    text: str


def _board_row(row: Any, now: datetime) -> BoardRow:
    due = aware(row.due_at)
    return BoardRow(row.ticket_id, row.ticket_number, row.ticket_type, row.category1,
                    row.district_code, row.status, row.lead_unit, row.colour, due,
                    due is not None and due < now, aware(row.next_check_at))


async def open_tickets(conn: AsyncConnection, now: datetime, *,
                       colour: WarningLevel | None = None, unit: str | None = None,
                       district: str | None = None, category1: str | None = None,
                       limit: int = 50, offset: int = 0) -> list[BoardRow]:
    """Open tickets, worst first: red, orange, blue, none; then the nearest deadline."""
    t = board.c
    query = select(board).where(t.open.is_(True))
    if colour is not None:
        query = query.where(t.colour == colour.value)
    for column, value in ((t.lead_unit, unit), (t.district_code, district),
                          (t.category1, category1)):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(t.severity.desc(), t.due_at.is_(None), t.due_at,
                           t.ticket_id).limit(min(limit, MAX_PAGE)).offset(min(offset,
                                                                               MAX_OFFSET))
    return [_board_row(row, now.astimezone(UTC)) for row in await conn.execute(query)]


async def colour_counts(conn: AsyncConnection, group: GroupBy) -> list[ColourCount]:
    """Open tickets per group and colour."""
    key = _GROUP_COLUMN[group].label("key")
    t = board.c

    def count(colour: str | None) -> Any:
        test = t.colour.is_(None) if colour is None else t.colour == colour
        return func.sum(case((test, 1), else_=0))

    query = (select(key, count("red"), count("orange"), count("blue"), count(None),
                    func.count()).where(t.open.is_(True)).group_by(key)
             .order_by(count("red").desc(), count("orange").desc(), func.count().desc()))
    return [ColourCount(row[0], int(row[1] or 0), int(row[2] or 0), int(row[3] or 0),
                        int(row[4] or 0), int(row[5])) for row in await conn.execute(query)]


async def unit_tallies(conn: AsyncConnection, now: datetime,
                       unit: str | None = None) -> list[UnitTally]:
    """Per unit: tickets led, warnings and cards by colour, orders; one unit when given."""
    now = now.astimezone(UTC)
    q = select(unit_tickets.c.unit_id, func.count()).group_by(unit_tickets.c.unit_id)
    if unit is not None:
        q = q.where(unit_tickets.c.unit_id == unit)
    led = {u: n for u, n in await conn.execute(q)}
    q = (select(board.c.lead_unit, func.count()).where(board.c.open.is_(True))
         .group_by(board.c.lead_unit))
    open_now = {u: n for u, n in await conn.execute(q) if u is not None}
    e = escalations.c
    q = select(e.unit_id, e.kind, e.level, func.count()).where(
        e.unit_id.is_not(None), e.kind.in_(("warning", "card"))).group_by(
        e.unit_id, e.kind, e.level)
    marks: dict[str, dict[str, dict[str, int]]] = {}
    for u, kind, level, n in await conn.execute(q):
        marks.setdefault(u, {}).setdefault(kind, {})[level] = n
    o = orders.c
    q = select(o.unit_id, func.count(), func.sum(case((o.answered_at.is_(None), 1), else_=0)),
               func.sum(case((and_(o.answered_at.is_(None), o.due_at < now), 1), else_=0)),
               func.sum(case((o.level > 0, 1), else_=0))).group_by(o.unit_id)
    order_counts = {row[0]: [int(x or 0) for x in row[1:]] for row in await conn.execute(q)}
    units = sorted((set(led) | set(marks) | set(order_counts))
                   if unit is None else {unit})
    out = []
    for u in units:
        n = led.get(u, 0)
        warnings = {lv.value: marks.get(u, {}).get("warning", {}).get(lv.value, 0)
                    for lv in WarningLevel}
        cards = {c: marks.get(u, {}).get("card", {}).get(c, 0) for c in ("yellow", "red")}
        issued, still_open, overdue, escalated = order_counts.get(u, [0, 0, 0, 0])
        out.append(UnitTally(u, n, open_now.get(u, 0), warnings, cards,
                             cards["yellow"] / n if n else 0.0, cards["red"] / n if n else 0.0,
                             issued, still_open, overdue, escalated))
    return out


def _order_scope(now: datetime, unit: str | None, kind: str | None,
                 overdue_only: bool) -> list[Any]:
    o = orders.c
    where: list[Any] = []
    if unit is not None:
        where.append(o.unit_id == unit)
    if kind is not None:
        where.append(o.kind == kind)
    if overdue_only:
        where += [o.answered_at.is_(None), o.due_at < now.astimezone(UTC)]
    return where


async def order_list(conn: AsyncConnection, now: datetime, *, unit: str | None = None,
                     ticket_id: str | None = None, open_only: bool = True,
                     kind: str | None = None, overdue_only: bool = False,
                     limit: int = 100) -> list[OrderRow]:
    """Orders and reminders, the oldest due first."""
    o = orders.c
    query = select(orders).where(*_order_scope(now, unit, kind, overdue_only))
    if ticket_id is not None:
        query = query.where(o.ticket_id == ticket_id)
    if open_only:
        query = query.where(o.answered_at.is_(None))
    query = query.order_by(o.due_at, o.order_id).limit(min(limit, MAX_PAGE))
    now = now.astimezone(UTC)
    out = []
    for row in await conn.execute(query):
        due = aware(row.due_at)
        assert due is not None
        answered = aware(row.answered_at)
        out.append(OrderRow(row.ticket_id, row.order_id, row.unit_id, row.kind, row.issued_by,
                            aware(row.issued_at) or due, due, answered, row.level,
                            answered is None and due < now, row.text))
    return out


async def order_counts(conn: AsyncConnection, now: datetime, *, unit: str | None = None,
                       kind: str | None = None) -> dict[str, int]:
    """How many orders await an answer, how many of those are past due, how many were
    answered: the counts beside the list, over the same unit and kind."""
    o = orders.c
    waiting = o.answered_at.is_(None)
    late = and_(waiting, o.due_at < now.astimezone(UTC))
    row = (await conn.execute(
        select(func.count().filter(waiting), func.count().filter(late),
               func.count().filter(o.answered_at.is_not(None)))
        .where(*_order_scope(now, unit, kind, False)))).one()
    return {"awaiting_answer": int(row[0]), "overdue": int(row[1]), "answered": int(row[2])}
