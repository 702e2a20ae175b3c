"""What dispatch's routers share: dependencies, the command answer, unit visibility."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.vocabulary import TicketStatus
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.web import Problem
from services.dispatch import domain
from services.dispatch.service import DispatchService
from services.tickets.domain import Ticket
from services.tickets.handler import Outcome


class Strict(BaseModel):
    """A request body that rejects unknown fields: a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


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
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="Retry-safe: the same key from the same client applies the command once")]


def command_id(principal: Principal, key: str | None) -> str:
    return domain.command_id(principal.actor, key)


class EventRef(BaseModel):
    id: str
    type: str
    streamversion: int


class CommandResult(BaseModel):
    """The answer to a command: what was appended, and the ticket after it."""

    ticket_id: str
    ticket_number: str
    status: TicketStatus
    status_zh: str
    version: int = Field(description="Stream version after the command")
    duplicate: bool = Field(description="True: this Idempotency-Key was applied before")
    events: list[EventRef]
    request_id: str | None = Field(default=None, description="The extension request's id")


def result(outcome: Outcome) -> CommandResult:
    t = outcome.ticket
    return CommandResult(
        ticket_id=t.ticket_id, ticket_number=t.ticket_number, status=t.status,
        status_zh=t.status.zh, version=outcome.version, duplicate=outcome.duplicate,
        events=[EventRef(id=e.id, type=e.type, streamversion=e.streamversion)
                for e in outcome.events])


def unit_of(principal: Principal) -> str:
    """The unit a unit key acts for (the `roles("unit")` dependency checked it is set)."""
    assert principal.unit is not None
    return principal.unit


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
