"""What dispatch's routers share: dependencies, the command answer, unit visibility."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.web import Problem
from services.dispatch.service import DispatchService
from ticketing.domain import Ticket


async def service_of(request: Request) -> DispatchService:
    service: DispatchService = request.app.state.service
    return service


async def clock_of(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


ServiceDep = Annotated[DispatchService, Depends(service_of)]
ClockDep = Annotated[Callable[[], datetime], Depends(clock_of)]
Operator = Annotated[Principal, Depends(roles("operator", "supervisor"))]
Supervisor = Annotated[Principal, Depends(roles("supervisor"))]
UnitKey = Annotated[Principal, Depends(roles("unit"))]
Reader = Annotated[Principal, Depends(roles("operator", "supervisor", "unit", "callback",
                                            "analyst", "auditor"))]


def not_found(ticket_id: str) -> Problem:
    return Problem(404, "ticket-unknown", "工单不存在 (no such ticket)",
                   f"No ticket {ticket_id} is visible to you.", rule="ticket-unknown")


async def visible_ticket(service: DispatchService, principal: Principal, ticket_id: str) -> Ticket:
    """The ticket, or 404 — also for a unit it was never sent to (its existence stays hidden)."""
    ticket = await service.ticket(ticket_id)
    if ticket is None:
        raise not_found(ticket_id)
    if principal.role == "unit" and principal.unit not in ticket.units_ever:
        raise not_found(ticket_id)
    return ticket


def jsonable(obj: Any) -> Any:
    """Dataclass rows as JSON-ready dicts (datetimes as ISO strings by FastAPI)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, list):
        return [jsonable(x) for x in obj]
    return obj
