"""What every service that takes ticket commands over HTTP shares: strict bodies, the
Idempotency-Key, the command's answer, and rejections as problem+json naming their rule."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import name_id, new_id
from contracts.vocabulary import TicketStatus
from hotline.apikeys import Principal
from hotline.log.port import VersionConflict
from hotline.web import problem_response, problems
from reference.calendar import MissingYear
from ticketing.handler import IdempotencyConflict, Outcome
from ticketing.rules import RULES, Rejected


class Strict(BaseModel):
    """A request body that rejects unknown fields: a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


RULES_BY_STATUS: dict[int, list[str]] = {
    status: [r.id for r in RULES.values() if r.status == status]
    for status in {r.status for r in RULES.values()}}


def command_problems(*extra: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route taking a ticket command: a rejection names the decider's rule
    (403, 404, 409, 422), an Idempotency-Key reused is 409, a busy or unowned stream or a
    missing holiday schedule 503; `extra` for the route's own."""
    return problems(403, 404, 409, 422, 503, *extra, rules=RULES_BY_STATUS)


IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="Retry-safe: the same key from the same client applies the command once")]
_IDEMPOTENCY = uuid.UUID("6f1c9a8e-3b7d-4c55-9a41-12345a0f0001")


def command_id(principal: Principal, idempotency_key: str | None) -> str:
    """The command id: stable for a client's retry (same actor and key), fresh otherwise."""
    if idempotency_key:
        return name_id(_IDEMPOTENCY, f"{principal.actor}\n{idempotency_key}")
    return new_id()


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


def install_rule_handlers(app: FastAPI) -> None:
    """Rejections name the rule broken; nothing was appended for any of these (hotline.web
    answers for every service a model refusing what the body allowed, and a stream owned
    by another replica)."""

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> JSONResponse:
        rule = exc.rule
        return problem_response(rule.status, rule.id, f"{rule.zh} ({rule.en})", exc.detail,
                                request.url.path, rule=rule.id)

    @app.exception_handler(IdempotencyConflict)
    async def _conflict(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return problem_response(409, "idempotency-conflict",
                                "幂等键已用于其他请求 (Idempotency-Key reused)",
                                "This Idempotency-Key was used before with a different body.",
                                request.url.path)

    @app.exception_handler(MissingYear)
    async def _no_calendar(request: Request, exc: MissingYear) -> JSONResponse:
        return problem_response(503, "calendar-missing-year",
                                "缺少该年度节假日安排, 无法计算时限 (no holiday schedule)",
                                str(exc), request.url.path)

    @app.exception_handler(VersionConflict)
    async def _busy(request: Request, exc: VersionConflict) -> JSONResponse:
        return problem_response(503, "contended", "工单正被频繁修改, 请重试 (retry shortly)",
                                "Too many concurrent changes to this ticket.", request.url.path,
                                headers={"Retry-After": "1"})
