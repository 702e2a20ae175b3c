"""Reads over the work-order projection (services/dispatch/projections.py).

Plain SQLAlchemy Core on an `AsyncConnection`, the same results on SQLite and
PostgreSQL. Lists page by keyset (keyset.py); the operator's aids read through
aid_queries.py. Counts stop at `COUNT_CAP`: "10,000+" is
all a list needs to show, and an exact count of a million rows is a full scan.

Each page is shaped so both engines read a short index range (see the indexes in
projections.py) and stop at the page, whatever their planners estimate: a list of
statuses is read as one ordered range per status, merged; `due_asc` reads the dated
tickets, then the undated ones; a unit's tickets are fetched by the ids of its few
active assignments, or, for a unit holding many, by probing tickets read in list
order (`_Scope`). Free-text search (`text`) is the exception: a LIKE that scans.

Every time read back is UTC and aware (SQLite returns naive values); every time
passed in may carry any zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.vocabulary import TicketStatus, TicketType, Urgency
from hotline.projection import aware, page_and_total
from services.dispatch.keyset import (
    Sort,
    after_cursor,
    bound,
    decode_cursor,
    encode_cursor,
    order_by,
)
from services.dispatch.projections import assignments, tickets, timeline

S = TicketStatus
COUNT_CAP = 10_000
MAX_LIMIT = 100
OPEN_STATUSES = (S.REGISTERED, S.DISPATCHED, S.ACKNOWLEDGED, S.RETURNED, S.REPLIED)
WITH_UNIT = (S.DISPATCHED, S.ACKNOWLEDGED)  # a unit owes an answer: the reply clock runs
INBOX_STATUSES = (S.DISPATCHED, S.ACKNOWLEDGED, S.REPLIED)  # open statuses a unit holds
HELD_VALUES = tuple(s.value for s in INBOX_STATUSES)
WITH_UNIT_VALUES = tuple(s.value for s in WITH_UNIT)
# A unit holding more tickets than this is listed by probing tickets read in list order;
# below it, by the ids of its assignment rows (see _Scope).
PROBE_UNIT_ABOVE = 1000
PUBLIC_TEXT_EVENTS = frozenset({"ProgressNoted", "TicketReplied", "TicketAnsweredDirectly"})
PUBLIC_STEP_ZH = {
    "TicketRegistered": "已受理登记",
    "TicketDispatched": "已转交承办单位",
    "TicketReassigned": "已改派其他承办单位",
    "TicketAcknowledged": "承办单位已签收",
    "TicketReturned": "承办单位退回, 热线重新派单",
    "ProgressNoted": "办理进展",
    "TicketReplied": "承办单位已反馈办理结果",
    "TicketAnsweredDirectly": "已直接答复",
    "RedoRequested": "市民对办理结果不满意, 申请重办",
    "RedoAccepted": "重办申请已受理, 退回承办单位重新办理",
    "TicketClosed": "已办结",
    "TicketReopened": "工单已重新办理",
}
REPLIED_AGAIN_ZH = "承办单位已反馈重办结果"  # a reply after an accepted redo

t = tickets.c
a = assignments.c


@dataclass(frozen=True)
class TicketFilter:
    """What a list is narrowed to; every field left None (or empty) does not narrow.

    `unit`: the unit holds the ticket now (an active assignment, lead or assisting).
    `visible_to_unit`: the unit was ever assigned the ticket (what a unit may look at).
    `registered_*` and `due_*`: from inclusive, to exclusive. `overdue`: the reply
    deadline has passed while a unit still holds the ticket. `text`: a substring of
    the summary or the ticket number.
    """

    statuses: tuple[TicketStatus | str, ...] = ()
    unit: str | None = None
    lead_unit: str | None = None
    district_code: str | None = None
    category1: str | None = None
    category2: str | None = None
    ticket_type: TicketType | str | None = None
    channel: str | None = None
    urgency: Urgency | str | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    overdue: bool | None = None
    text: str | None = None
    visible_to_unit: str | None = None


@dataclass(frozen=True)
class TicketRow:
    """One ticket as lists show it, with the Chinese labels; `role` in unit-scoped lists."""

    ticket_id: str
    ticket_number: str
    status: str
    status_zh: str
    ticket_type: str
    ticket_type_zh: str
    category1: str
    category2: str | None
    urgency: str
    urgency_zh: str
    summary: str
    district_code: str
    channel: str | None
    citizen_ref: str | None
    contact_count: int
    lead_unit: str | None
    urgent: bool
    dispatch_round: int
    registered_at: datetime
    registered_by: str
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    ack_due_at: datetime | None
    reply_due_at: datetime | None
    warning_level: str | None
    merged_into: str | None
    redone: bool  # sent back to its unit after a justified redo request (重办)
    ext_request_id: str | None  # an extension request waiting for a supervisor
    ext_unit: str | None
    ext_due_at: datetime | None
    ext_reason: str | None
    ext_requested_at: datetime | None
    updated_at: datetime
    version: int
    role: str | None = None  # lead / assisting, when listed for one unit


@dataclass(frozen=True)
class Page:
    """One page of a list; `total` stops at COUNT_CAP (`total_exact` False beyond it)."""

    items: list[TicketRow]
    next_cursor: str | None
    total: int
    total_exact: bool


@dataclass(frozen=True)
class Assignment:
    """A unit on a ticket in one dispatch round."""

    unit_id: str
    round: int
    role: str
    active: bool
    assigned_at: datetime
    replied: bool


@dataclass(frozen=True)
class HistoryStep:
    """One event of a ticket's history, as staff see it."""

    seq: int
    at: datetime
    event: str
    actor: str
    unit_id: str | None
    public: bool
    text: str | None


@dataclass(frozen=True)
class TimelineStep:
    """A step of the ticket as the citizen sees it; numbers in the text are masked."""

    seq: int
    at: datetime
    event: str
    step_zh: str
    text: str | None


@dataclass(frozen=True)
class Detail:
    """A ticket with every unit it went to and its whole timeline."""

    ticket: TicketRow
    assignments: list[Assignment]
    timeline: list[HistoryStep]


# -------------------------------------------------------------------------------------- helpers


def stored_at(value: datetime) -> datetime:
    """`aware` for a time that is never NULL."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def plain(items: Sequence[Any]) -> list[str]:
    """Enum members (or strings) as the plain strings the columns hold."""
    return [str(getattr(i, "value", i)) for i in items]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


TIME_COLUMNS = ("registered_at", "dispatched_at", "acknowledged_at", "replied_at", "closed_at",
                "ack_due_at", "reply_due_at", "ext_due_at", "ext_requested_at", "updated_at")
ROW_COLUMNS = [c for c in tickets.columns]


def _row(m: Any, role: str | None = None) -> TicketRow:
    values = {c.name: m[c.name] for c in ROW_COLUMNS}
    for name in TIME_COLUMNS:
        values[name] = aware(values[name])
    return TicketRow(
        **values, role=role, status_zh=S(values["status"]).zh,
        ticket_type_zh=TicketType(values["ticket_type"]).zh,
        urgency_zh=Urgency(values["urgency"]).zh,
    )


class _Scope:
    """The FROM and WHERE of a filter, shaped so that each engine reads a short index range.

    A unit's tickets are reached one of two ways. A unit holding few: by the ids of its
    active assignments, read first (`held_ids`), so the tickets are fetched by primary key
    whatever the planners estimate. A unit holding many: by reading tickets in list order
    and probing each one's assignment (EXISTS), which stops as soon as the page is full.
    """

    def __init__(self, flt: TicketFilter, now: datetime | None, statuses: list[str],
                 held_ids: list[str] | None, dialect: str) -> None:
        self.flt, self.now, self.statuses, self.held_ids = flt, now, statuses, held_ids
        self.dialect = dialect

    def select(self, columns: Sequence[Any], status: str | None = None) -> Select[Any]:
        """SELECT columns with the filter; `status`: one of the statuses alone (a branch)."""
        flt = self.flt
        query = select(*columns).select_from(tickets)
        conds = self._conditions()
        if status is not None:
            conds.append(t.status == status)
        elif self.statuses:
            conds.append(t.status.in_(self.statuses))
        if self.held_ids is not None and self.dialect == "postgresql":
            # one array parameter: a statement PostgreSQL prepares once, not one per count
            conds.append(t.ticket_id == any_(literal(self.held_ids, ARRAY(String()))))
        elif self.held_ids is not None:
            conds.append(t.ticket_id.in_(self.held_ids))
        elif flt.unit is not None:
            # OFFSET 0 keeps PostgreSQL from turning the probe into a join driven from the
            # unit's rows (it would read them all, for every status); SQLite probes anyway.
            conds.append(exists(select(literal_column("1")).select_from(assignments).where(
                a.ticket_id == t.ticket_id, a.unit_id == flt.unit, a.active == true())
                .offset(0)))
        return query.where(*conds)

    def _conditions(self) -> list[ColumnElement[bool]]:
        flt = self.flt
        conds: list[ColumnElement[bool]] = []
        for column, value in ((t.lead_unit, flt.lead_unit), (t.district_code, flt.district_code),
                              (t.category1, flt.category1), (t.category2, flt.category2),
                              (t.ticket_type, flt.ticket_type), (t.channel, flt.channel),
                              (t.urgency, flt.urgency)):
            if value is not None:
                conds.append(column == str(getattr(value, "value", value)))
        if flt.registered_from is not None:
            conds.append(t.registered_at >= bound(flt.registered_from))
        if flt.registered_to is not None:
            conds.append(t.registered_at < bound(flt.registered_to))
        if flt.due_from is not None:
            conds.append(t.reply_due_at >= bound(flt.due_from))
        if flt.due_to is not None:
            conds.append(t.reply_due_at < bound(flt.due_to))
        if flt.overdue is not None:
            moment = bound(self.now or datetime.now(UTC))
            late = and_(t.status.in_(plain(WITH_UNIT)), t.reply_due_at.is_not(None),
                        t.reply_due_at < moment)  # never NULL: NOT must flip it
            conds.append(late if flt.overdue else not_(late))
        if flt.text:
            pattern = f"%{_escape_like(flt.text)}%"
            conds.append(or_(t.summary.ilike(pattern, escape="\\"),
                             t.ticket_number.ilike(pattern, escape="\\")))
        if flt.visible_to_unit is not None:
            conds.append(_ever_assigned(flt.visible_to_unit))
        return conds

    def page(self, extra: Sequence[ColumnElement[bool]], order: list[tuple[str, bool]],
             limit: int) -> Select[Any]:
        """The page query: rows matching the scope and `extra`, in `order` (column name,
        descending), at most `limit`."""
        def ordered(columns: Any) -> list[Any]:
            return [columns[n].desc() if desc else columns[n].asc() for n, desc in order]

        if len(self.statuses) <= 1 or self.held_ids is not None:  # few rows, all read once
            return self.select(ROW_COLUMNS).where(*extra).order_by(*ordered(t)).limit(limit)
        # An IN list of statuses, read as one index range per status, each cut at the page
        # and then merged: both planners would otherwise sort every match before the LIMIT.
        parts = [select(self.select(ROW_COLUMNS, status).where(*extra)
                        .order_by(*ordered(t)).limit(limit).subquery())
                 for status in self.statuses]
        merged = union_all(*parts).subquery()
        return select(merged).order_by(*ordered(merged.c)).limit(limit)


def _ever_assigned(unit_id: str) -> ColumnElement[bool]:
    return exists().where(a.ticket_id == t.ticket_id, a.unit_id == unit_id)


# -------------------------------------------------------------------------------------- lists


async def list_tickets(
    conn: AsyncConnection,
    flt: TicketFilter | None = None,
    sort: Sort = Sort.REGISTERED_DESC,
    limit: int = 20,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page:
    """One page of the tickets matching `flt`, in `sort` order, after `cursor`.

    `now` is the instant `overdue` is judged at (default: the clock). Raises
    BadCursor for a cursor of another list order, ValueError for a limit outside 1..100.
    """
    flt = flt or TicketFilter()
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    after = decode_cursor(cursor, sort) if cursor else None
    statuses = list(dict.fromkeys(plain(flt.statuses)))
    held, held_ids = 0, None
    if flt.unit is not None:
        # A unit's assignment is active only while it holds the ticket (the projection's
        # invariant), i.e. while the ticket is dispatched, acknowledged or replied.
        statuses = [s for s in statuses or HELD_VALUES if s in HELD_VALUES]
        if not statuses:
            return Page([], None, 0, True)
        held_ids = await _held_ids(conn, flt.unit, PROBE_UNIT_ABOVE + 1)
        held = len(held_ids)
        if held > PROBE_UNIT_ABOVE:
            held_ids, held = None, await _held(conn, flt.unit)
        elif not held:
            return Page([], None, 0, True)
    if flt.overdue:  # late means held by a unit that owes the reply: say so, to branch on it
        statuses = [s for s in statuses or WITH_UNIT_VALUES if s in WITH_UNIT_VALUES]
        if not statuses:
            return Page([], None, 0, True)
    scope = _Scope(flt, now, statuses, held_ids, conn.dialect.name)
    rows: list[Any] = []
    if sort is Sort.DUE_ASC:
        # Two ranges instead of NULLS LAST, which neither engine reads from an index in the
        # same way: the dated tickets by deadline, then the undated ones by id.
        if after is None or after[0] is not None:
            extra: list[ColumnElement[bool]] = [t.reply_due_at.is_not(None)]
            if after is not None and after[0] is not None:
                extra += after_cursor(sort, after[0], after[1])
            rows = list(await conn.execute(scope.page(extra, order_by(sort), limit + 1)))
        if len(rows) <= limit:
            extra = [t.reply_due_at.is_(None)]
            if after is not None and after[0] is None:
                extra.append(t.ticket_id > after[1])
            rows += list(await conn.execute(
                scope.page(extra, [("ticket_id", False)], limit + 1 - len(rows))))
    else:
        extra = []
        if after is not None:
            assert after[0] is not None  # checked by _decode_cursor
            extra = after_cursor(sort, after[0], after[1])
        rows = list(await conn.execute(scope.page(extra, order_by(sort), limit + 1)))
    roles = await _roles(conn, flt.unit, [r.ticket_id for r in rows[:limit]])
    items = [_row(r._mapping, roles.get(r.ticket_id)) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        value = {Sort.REGISTERED_DESC: last.registered_at, Sort.REGISTERED_ASC: last.registered_at,
                 Sort.UPDATED_DESC: last.updated_at, Sort.DUE_ASC: last.reply_due_at}[sort]
        next_cursor = encode_cursor(sort, value, last.ticket_id)
    if flt.unit is not None and set(statuses) == set(HELD_VALUES) and flt == TicketFilter(
            statuses=flt.statuses, unit=flt.unit):
        total = held  # the unit's active rows are exactly the answer: no join to count
    else:
        capped = scope.select([literal_column("1")]).limit(COUNT_CAP + 1).subquery()
        total = (await conn.execute(select(func.count()).select_from(capped))).scalar_one()
    return Page(items, next_cursor, min(total, COUNT_CAP), total <= COUNT_CAP)


async def _held_ids(conn: AsyncConnection, unit_id: str, limit: int) -> list[str]:
    """Ids of (up to `limit`) tickets the unit holds, from the index alone."""
    return list((await conn.execute(select(a.ticket_id).where(
        a.unit_id == unit_id, a.active == true()).limit(limit))).scalars())


async def _held(conn: AsyncConnection, unit_id: str) -> int:
    """How many tickets the unit holds, up to COUNT_CAP + 1 (read from the index alone)."""
    capped = (select(literal_column("1")).select_from(assignments)
              .where(a.unit_id == unit_id, a.active == true()).limit(COUNT_CAP + 1).subquery())
    return int((await conn.execute(select(func.count()).select_from(capped))).scalar_one())


async def _roles(conn: AsyncConnection, unit_id: str | None,
                 ticket_ids: list[str]) -> dict[str, str]:
    """The unit's role on each of these tickets it holds."""
    if unit_id is None or not ticket_ids:
        return {}
    rows = await conn.execute(select(a.ticket_id, a.role).where(
        a.unit_id == unit_id, a.active == true(), a.ticket_id.in_(ticket_ids)))
    return {r.ticket_id: r.role for r in rows}


async def inbox(
    conn: AsyncConnection,
    unit_id: str,
    statuses: Sequence[TicketStatus | str] | None = None,
    sort: Sort = Sort.DUE_ASC,
    limit: int = 20,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page:
    """A unit's inbox: the tickets it holds now (default: the open statuses a unit holds a
    ticket in), each row with the unit's role, earliest reply deadline first."""
    flt = TicketFilter(statuses=tuple(statuses or INBOX_STATUSES), unit=unit_id)
    return await list_tickets(conn, flt, sort, limit, cursor, now)


# -------------------------------------------------------------------------------------- one ticket


async def ticket_by_number(conn: AsyncConnection, ticket_number: str) -> TicketRow | None:
    """The ticket with this public number (12345-yyyymmdd-nnnnnn), or None."""
    row = (await conn.execute(select(tickets).where(t.ticket_number == ticket_number))).first()
    return _row(row._mapping) if row is not None else None


async def ticket_detail(
    conn: AsyncConnection, ticket_id: str, visible_to_unit: str | None = None
) -> Detail | None:
    """The ticket, its assignments and whole timeline; None when unknown, or when
    `visible_to_unit` was never assigned it (a unit sees nothing of the others' tickets)."""
    query = select(tickets).where(t.ticket_id == ticket_id)
    if visible_to_unit is not None:
        query = query.where(_ever_assigned(visible_to_unit))
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    units = await conn.execute(select(assignments).where(a.ticket_id == ticket_id)
                               .order_by(a.round, a.role.desc(), a.unit_id))  # lead first
    steps = await conn.execute(select(timeline).where(timeline.c.ticket_id == ticket_id)
                               .order_by(timeline.c.seq))
    return Detail(
        _row(row._mapping),
        [Assignment(u.unit_id, u.round, u.role, u.active, stored_at(u.assigned_at),
                    u.replied) for u in units],
        [HistoryStep(s.seq, stored_at(s.at), s.event, s.actor, s.unit_id, s.public, s.text)
         for s in steps],
    )


async def public_timeline(conn: AsyncConnection, ticket_id: str) -> list[TimelineStep]:
    """The steps a citizen may follow, with only the texts meant for them (masked in the log)."""
    rows = await conn.execute(
        select(timeline.c.seq, timeline.c.at, timeline.c.event, timeline.c.text)
        .where(timeline.c.ticket_id == ticket_id, timeline.c.public == true())
        .order_by(timeline.c.seq))
    steps, redone = [], False
    for r in rows:
        redone = redone or r.event == "RedoAccepted"
        label = REPLIED_AGAIN_ZH if redone and r.event == "TicketReplied" else \
            PUBLIC_STEP_ZH.get(r.event, r.event)
        steps.append(TimelineStep(r.seq, stored_at(r.at), r.event, label,
                                  r.text if r.event in PUBLIC_TEXT_EVENTS else None))
    return steps


@dataclass(frozen=True)
class ExtensionRequest:
    """延期申请 waiting for a supervisor, with the time the unit has left meanwhile."""

    ticket_id: str
    ticket_number: str
    summary: str
    unit_id: str
    request_id: str
    reason: str
    requested_due_at: datetime
    requested_at: datetime
    reply_due_at: datetime | None
    seconds_left: int | None  # until the current deadline (negative: overdue)


async def extension_requests(conn: AsyncConnection, now: datetime, unit: str | None = None,
                             limit: int = MAX_LIMIT) -> tuple[list[ExtensionRequest], int]:
    """The waiting extension requests, oldest first (a page), and how many wait in all."""
    where: list[ColumnElement[bool]] = [t.ext_requested_at.is_not(None)]
    if unit is not None:
        where.append(t.ext_unit == unit)
    rows, total = await page_and_total(conn, tickets, where,
                                       (t.ext_requested_at, t.ticket_id), limit)
    out = []
    for r in rows:
        due = aware(r.reply_due_at)
        out.append(ExtensionRequest(
            r.ticket_id, r.ticket_number, r.summary, r.ext_unit, r.ext_request_id,
            r.ext_reason, stored_at(r.ext_due_at), stored_at(r.ext_requested_at), due,
            int((due - now).total_seconds()) if due else None))
    return out, total


async def row_version(conn: AsyncConnection, ticket_id: str) -> int | None:
    """The stream version the ticket's row has reached (None: not there yet)."""
    found = (await conn.execute(select(t.version).where(t.ticket_id == ticket_id))).scalar()
    return int(found) if found is not None else None
