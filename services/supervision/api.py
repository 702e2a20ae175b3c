"""The supervision board (督办看板) and orders over HTTP.

Supervisors, operators, analysts and auditors read the whole board; a unit key reads its own
row only (its tickets, its tally, its orders). Supervisors issue orders and reminders; the
unit they name answers them. The board carries no personal data (ticket numbers, units,
districts, categories, deadlines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from contracts.free_text import NoteText
from contracts.vocabulary import OrderKind, WarningLevel
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import ID_PATTERN, CodeQuery, Instant, PathId
from hotline.web import Problem
from reference.directory import ReferenceData, UnknownUnit
from services.supervision import queries
from services.supervision.service import SupervisionService
from ticketing.web import (
    CommandResult,
    IdempotencyKey,
    Strict,
    command_id,
    command_problems,
    result,
    unit_of,
)

router = APIRouter(prefix="/v1", tags=["supervision 督办"])


async def _service(request: Request) -> SupervisionService:
    service: SupervisionService = request.app.state.service
    return service


async def _clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


async def _reference(request: Request) -> ReferenceData:
    reference: ReferenceData = request.app.state.reference
    return reference


ServiceDep = Annotated[SupervisionService, Depends(_service)]
ClockDep = Annotated[Callable[[], datetime], Depends(_clock)]
RefDep = Annotated[ReferenceData, Depends(_reference)]
Supervisor = Annotated[Principal, Depends(roles("supervisor"))]
UnitKey = Annotated[Principal, Depends(roles("unit"))]
Reader = Annotated[Principal, Depends(roles("supervisor", "operator", "analyst", "auditor",
                                            "unit"))]
Staff = Annotated[Principal, Depends(roles("supervisor", "operator", "analyst", "auditor"))]

COLOUR_ZH: dict[str | None, str] = {None: "正常", **{lv.value: lv.zh for lv in WarningLevel}}


def _own_unit(who: Principal, asked: str | None) -> str | None:
    """A unit key sees its own unit whatever it asks for; staff see what they ask for."""
    return unit_of(who) if who.role == "unit" else asked


def _unit_zh(reference: ReferenceData, unit_id: str | None) -> str | None:
    if unit_id is None:
        return None
    try:
        return reference.directory.get(unit_id).name_zh
    except UnknownUnit:
        return unit_id


def _row(row: queries.BoardRow, reference: ReferenceData) -> dict[str, Any]:
    return {**asdict(row), "colour_zh": COLOUR_ZH[row.colour],
            "lead_unit_zh": _unit_zh(reference, row.lead_unit)}


@router.get("/supervision/tickets")
async def board_tickets(service: ServiceDep, clock: ClockDep, reference: RefDep, who: Reader,
                        colour: WarningLevel | None = None, unit: CodeQuery = None,
                        district: CodeQuery = None, category1: CodeQuery = None,
                        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
                        offset: Annotated[int, Query(ge=0, le=queries.MAX_OFFSET)] = 0,
                        ) -> dict[str, Any]:
    """红橙蓝单: open tickets, worst first (red, orange, blue, then the nearest deadline)."""
    rows = await service.read(queries.open_tickets, clock(), colour=colour,
                              unit=_own_unit(who, unit), district=district,
                              category1=category1, limit=limit, offset=offset)
    return {"items": [_row(r, reference) for r in rows], "offset": offset, "limit": limit}


@router.get("/supervision/first")
async def first_to_handle(service: ServiceDep, clock: ClockDep, reference: RefDep,
                          who: Reader, unit: CodeQuery = None,
                          limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
                          ) -> dict[str, Any]:
    """优先办理: a unit's open tickets in the order to handle them, and its open orders."""
    unit_id = _own_unit(who, unit)
    if unit_id is None:
        raise Problem(422, "invalid-request", "请指定单位 (unit required)",
                      "Staff name the unit: ?unit=<unit id>.")
    now = clock()
    rows = await service.read(queries.open_tickets, now, unit=unit_id, limit=limit)  # worst 1st
    orders = await service.read(queries.order_list, now, unit=unit_id)
    return {"unit_id": unit_id, "unit_zh": _unit_zh(reference, unit_id),
            "tickets": [_row(r, reference) for r in rows],
            "orders": [asdict(o) for o in orders]}


@router.get("/supervision/summary")
async def summary(service: ServiceDep, reference: RefDep, who: Staff,
                  by: queries.GroupBy = queries.GroupBy.UNIT) -> dict[str, Any]:
    """Open tickets per unit, district or category, by colour."""
    counts = await service.read(queries.colour_counts, by)
    names: dict[str, str] = {}
    if by is queries.GroupBy.DISTRICT:
        names = {d.code: d.name_zh for d in reference.directory.districts()}
    elif by is queries.GroupBy.UNIT:
        names = {u.id: u.name_zh for u in reference.directory.units()}
    return {"by": by.value, "groups": [
        {**asdict(c), "name_zh": names.get(c.key or "", c.key)} for c in counts]}


@router.get("/supervision/units")
async def unit_tallies(service: ServiceDep, clock: ClockDep, reference: RefDep, who: Reader,
                       unit: CodeQuery = None) -> dict[str, Any]:
    """考核: per unit, tickets led, warnings and cards by colour (with rates), orders."""
    tallies = await service.read(queries.unit_tallies, clock(), _own_unit(who, unit))
    return {"units": [{**asdict(t), "unit_zh": _unit_zh(reference, t.unit_id)}
                      for t in tallies]}


@router.get("/supervision/orders")
async def order_list(service: ServiceDep, clock: ClockDep, who: Reader, unit: CodeQuery = None,
                     open_only: Annotated[bool, Query(alias="open")] = True,
                     kind: OrderKind | None = None,
                     overdue: Annotated[bool, Query(description="only those past due")] = False,
                     ticket: Annotated[str | None, Query(
                         pattern=ID_PATTERN, description="only those on this ticket")] = None,
                     ) -> dict[str, Any]:
    """督办/催办 orders awaiting an answer (or all with open=false), the oldest due first,
    with their counts (of the unit and kind, whatever the ticket); a unit sees the ones
    addressed to it."""
    now, unit_id, kind_ = clock(), _own_unit(who, unit), kind.value if kind else None
    rows = await service.read(queries.order_list, now, unit=unit_id, ticket_id=ticket,
                              open_only=open_only, kind=kind_, overdue_only=overdue)
    counts = await service.read(queries.order_counts, now, unit=unit_id, kind=kind_)
    return {"items": [asdict(o) for o in rows], "counts": counts}


class OrderIn(Strict):
    kind: OrderKind = OrderKind.SUPERVISION
    text: NoteText = Field(min_length=1, max_length=5000)
    due_at: Instant | None = Field(
        default=None, description="Default: 2 working days (supervision), 1 (reminder)")
    unit_id: str | None = Field(default=None, description="Default: the lead unit")


@router.post("/tickets/{ticket_id}/orders", status_code=201, response_model=CommandResult,
             responses=command_problems())
async def issue_order(ticket_id: PathId, body: OrderIn, service: ServiceDep, clock: ClockDep,
                      who: Supervisor, response: Response,
                      key: IdempotencyKey = None) -> CommandResult:
    """督办 or 催办: an order to the unit holding the ticket, with its own due date."""
    outcome = await service.issue_order(ticket_id, body.kind, body.text, body.due_at,
                                        body.unit_id, who.name, who.actor,
                                        command_id(who, key), clock())
    if outcome.duplicate:
        response.status_code = 200
    return result(outcome)


class AnswerIn(Strict):
    text: NoteText = Field(min_length=1, max_length=5000)


@router.post("/tickets/{ticket_id}/orders/{order_id:path}/answer", response_model=CommandResult,
             responses=command_problems())
async def answer_order(ticket_id: PathId, order_id: PathId, body: AnswerIn, service: ServiceDep,
                       clock: ClockDep, who: UnitKey, key: IdempotencyKey = None,
                       ) -> CommandResult:
    """The unit's answer to an order addressed to it."""
    ticket = await service.ticket(ticket_id)
    if ticket is None or unit_of(who) not in ticket.units_ever:  # not its ticket: hidden
        raise Problem(404, "ticket-unknown", "工单不存在 (no such ticket)",
                      f"No ticket {ticket_id} is visible to you.", rule="ticket-unknown")
    return result(await service.answer_order(ticket_id, order_id, unit_of(who), body.text,
                                             who.actor, command_id(who, key), clock()))
