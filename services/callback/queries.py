"""Reads of the callback board: the callback staff's work list, the reviewer's queue, the
SMS reply's survey, and satisfaction per dimension (by unit, agent, district or category)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.vocabulary import CloseReason, HandlingRating, HotlineServiceRating
from hotline.projection import aware
from services.callback.projections import cases, surveys

MAX_PAGE = 200
# the stages that wait for the callback (a ticket in them has a due time)
WAITING = ("to_survey", "survey_open", "unanswered", "answered", "redo_review")
GOOD = frozenset({"satisfied", "basically_satisfied"})
# closes counted against the replying unit, and the redo outcomes
AGAINST_UNIT = (CloseReason.UNSATISFIED.value, CloseReason.UNSATISFIED_AFTER_REDO.value)
GroupBy = Literal["overall", "unit", "agent", "district", "category"]


@dataclass(frozen=True, slots=True)
class Task:
    """One ticket waiting for the callback."""

    ticket_id: str
    ticket_number: str
    ticket_type: str
    category1: str
    district_code: str
    summary: str
    stage: str
    replied_by: str | None
    replied_at: datetime | None
    due_at: datetime | None
    overdue: bool
    survey_id: str | None
    survey_channel: str | None
    survey_expires_at: datetime | None
    redone: bool
    redo_reason: str | None


def as_task(row: Row[Any], now: datetime) -> Task:
    due = aware(row.due_at)
    return Task(ticket_id=row.ticket_id, ticket_number=row.ticket_number,
                ticket_type=row.ticket_type, category1=row.category1,
                district_code=row.district_code, summary=row.summary, stage=row.stage,
                replied_by=row.replied_by, replied_at=aware(row.replied_at), due_at=due,
                overdue=due is not None and due < now, survey_id=row.survey_id,
                survey_channel=row.survey_channel,
                survey_expires_at=aware(row.survey_expires_at), redone=row.redone,
                redo_reason=row.redo_reason)


async def tasks(conn: AsyncConnection, now: datetime, *, stage: str | None = None,
                unit: str | None = None, channel: str | None = None,
                overdue: bool | None = None, limit: int = 50, offset: int = 0) -> list[Task]:
    """Tickets waiting for the callback, the most urgent (earliest due) first."""
    t = cases.c
    query = select(cases).where(t.stage.in_([stage] if stage else WAITING))
    if unit is not None:
        query = query.where(t.replied_by == unit)
    if channel is not None:
        query = query.where(t.survey_channel == channel)
    if overdue is not None:
        at = now.astimezone(UTC)
        query = query.where(t.due_at < at if overdue else t.due_at >= at)
    query = query.order_by(t.due_at, t.ticket_id).limit(min(limit, MAX_PAGE)).offset(offset)
    return [as_task(row, now) for row in await conn.execute(query)]


async def task_counts(conn: AsyncConnection, now: datetime,
                      unit: str | None = None) -> dict[str, dict[str, int]]:
    """Per waiting stage: how many tickets, how many overdue."""
    t = cases.c
    late = func.sum(case((t.due_at < now.astimezone(UTC), 1), else_=0))
    query = (select(t.stage, func.count(), late).where(t.stage.in_(WAITING))
             .group_by(t.stage))
    if unit is not None:
        query = query.where(t.replied_by == unit)
    found = {stage: {"waiting": 0, "overdue": 0} for stage in WAITING}
    for stage, n, overdue in await conn.execute(query):
        found[stage] = {"waiting": n, "overdue": int(overdue or 0)}
    return found


async def case_row(conn: AsyncConnection, ticket_id: str) -> Row[Any] | None:
    return (await conn.execute(select(cases).where(cases.c.ticket_id == ticket_id))).first()


async def open_sms_surveys(conn: AsyncConnection, citizen_ref: str) -> list[tuple[str, str]]:
    """(ticket id, survey id) of the citizen's open SMS surveys, the latest first."""
    t = cases.c
    rows = await conn.execute(
        select(t.ticket_id, t.survey_id)
        .where(t.citizen_ref == citizen_ref, t.survey_channel == "sms", t.stage == "survey_open")
        .order_by(t.survey_expires_at.desc()))
    return [(row.ticket_id, row.survey_id) for row in rows]


_KEYS = {"unit": surveys.c.unit_id, "agent": surveys.c.agent,
         "district": surveys.c.district_code, "category": surveys.c.category1}


def _empty() -> dict[str, Any]:
    return {"surveys": 0, "answered": 0, "unanswered": 0, "skipped": 0, "open": 0,
            "hotline_service": {r.value: 0 for r in HotlineServiceRating},
            "handling": {r.value: 0 for r in HandlingRating},
            "solved": 0, "not_solved": 0, "redone": 0, "closed_unsatisfied": 0}


async def satisfaction(conn: AsyncConnection, by: GroupBy = "overall", *,
                       unit: str | None = None, since: datetime | None = None,
                       until: datetime | None = None) -> list[dict[str, Any]]:
    """满意度: per group, the surveys by outcome, each dimension's answers, the satisfied
    rates ((满意 + 基本满意) / answered) and, by unit or overall, the tickets redone and
    those closed unsatisfied, counted against the unit (0 for the other groupings).
    Surveys are counted by the time they were opened."""
    s = surveys.c
    key = _KEYS[by] if by != "overall" else literal("all")
    query = (select(key.label("key"), s.outcome, s.hotline_service, s.handling, s.solved,
                    func.count().label("n"))
             .group_by(key, s.outcome, s.hotline_service, s.handling, s.solved))
    if unit is not None:
        query = query.where(s.unit_id == unit)
    if since is not None:
        query = query.where(s.opened_at >= since.astimezone(UTC))
    if until is not None:
        query = query.where(s.opened_at < until.astimezone(UTC))
    groups: dict[str, dict[str, Any]] = defaultdict(_empty)
    for row in await conn.execute(query):
        g = groups[row.key or "-"]
        g["surveys"] += row.n
        g[row.outcome] += row.n
        if row.outcome == "answered":
            g["hotline_service"][row.hotline_service] += row.n
            if row.handling is not None:
                g["handling"][row.handling] += row.n
            if row.solved is not None:
                g["solved" if row.solved else "not_solved"] += row.n
    if by in ("unit", "overall"):
        await _unit_outcomes(conn, groups, by, unit, since, until)
    for g in groups.values():
        for dimension in ("hotline_service", "handling"):
            rated = sum(g[dimension].values())
            good = sum(n for rating, n in g[dimension].items() if rating in GOOD)
            g[f"{dimension}_satisfied_rate"] = round(good / rated, 4) if rated else None
    return [{"key": k, **v} for k, v in sorted(groups.items())]


async def _unit_outcomes(conn: AsyncConnection, groups: dict[str, dict[str, Any]],
                         by: GroupBy, unit: str | None, since: datetime | None,
                         until: datetime | None) -> None:
    """Redos and the closes counted against the unit whose last reply was surveyed
    (tickets counted by the time of that reply)."""
    t = cases.c
    key = t.replied_by if by == "unit" else literal("all")
    query = (select(key.label("key"), t.close_reason, t.redone, func.count().label("n"))
             .where(t.replied_by.is_not(None)).group_by(key, t.close_reason, t.redone))
    if unit is not None:
        query = query.where(t.replied_by == unit)
    if since is not None:
        query = query.where(t.replied_at >= since.astimezone(UTC))
    if until is not None:
        query = query.where(t.replied_at < until.astimezone(UTC))
    for row in await conn.execute(query):
        g = groups[row.key]
        if row.redone:
            g["redone"] += row.n
        if row.close_reason in AGAINST_UNIT:
            g["closed_unsatisfied"] += row.n
