"""The member units' side (承办单位): the inbox, its feed, and the unit's actions.

A unit's key names its unit; it acts as that unit only, and every ticket it
was never sent to is 404 to it. The feed is the unit's dispatch topic
(`hotline.dispatch.<unit>`) over HTTP, for units without Kafka.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from contracts import commands as c
from contracts.base import Attachment
from contracts.free_text import NoteText
from contracts.ids import new_id
from contracts.vocabulary import TicketStatus
from hotline.params import MAX_OFFSET, Cursor, Instant, Offset, PathId
from hotline.web import SSE_KEEPALIVE
from services.dispatch import queries
from services.dispatch.api_common import (
    ClockDep,
    ServiceDep,
    UnitKey,
    jsonable,
    visible_ticket,
)
from ticketing.web import (
    CommandResult,
    IdempotencyKey,
    Strict,
    command_id,
    command_problems,
    result,
    unit_of,
)

router = APIRouter(prefix="/v1", tags=["member units 承办单位"])


@router.get("/inbox")
async def inbox(service: ServiceDep, clock: ClockDep, who: UnitKey,
                status: Annotated[list[TicketStatus] | None, Query()] = None,
                sort: queries.Sort = queries.Sort.DUE_ASC,
                limit: Annotated[int, Query(ge=1, le=100)] = 20,
                cursor: Cursor = None) -> dict[str, object]:
    """待办: the unit's open tickets (lead or assisting), most urgent deadline first."""
    statuses = tuple(status) if status else queries.INBOX_STATUSES
    page = await service.read(queries.inbox, unit_of(who), statuses=statuses, sort=sort,
                              limit=limit, cursor=cursor, now=clock())
    return jsonable(page)  # type: ignore[no-any-return]


@router.get("/inbox/feed")
async def inbox_feed(service: ServiceDep, who: UnitKey,
                     after: Offset = 0,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     wait: Annotated[float, Query(ge=0, le=30, description="Long-poll seconds")
                                     ] = 0) -> dict[str, object]:
    """The unit's dispatch stream from an offset: the same CloudEvents as its Kafka topic."""
    page = await service.feed(unit_of(who), after, limit, wait)
    return jsonable(page)  # type: ignore[no-any-return]


SSE_EVENT = {  # before OpenAPI 3.2 the schema of an event stream describes one event
    "type": "object", "required": ["id", "event", "data"], "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The topic offset"},
        "event": {"type": "string", "description": "The CloudEvent's type"},
        "data": {"type": "string", "description": "The CloudEvent, as JSON"}}}


@router.get("/inbox/stream", response_class=StreamingResponse, responses={200: {
    "description": "Server-sent events of the unit's dispatch stream",
    "content": {"text/event-stream": {"schema": SSE_EVENT}}}})
async def inbox_stream(request: Request, service: ServiceDep, who: UnitKey,
                       last_event_id: Annotated[str | None, Header(
                           alias="Last-Event-ID", pattern=r"^[0-9]{1,19}$",
                           description="The id of the last event received")] = None,
                       ) -> StreamingResponse:
    """Server-sent events of the dispatch stream; reconnects resume after Last-Event-ID.
    A `: keep-alive` comment every 15 s while nothing comes keeps proxies from cutting it."""
    after = min(int(last_event_id) + 1, MAX_OFFSET) if last_event_id else 0
    stop = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        try:
            async for item in service.follow(unit_of(who), after, stop):
                if item is None:
                    yield SSE_KEEPALIVE.encode()
                else:
                    data = json.dumps(item.envelope, ensure_ascii=False)
                    kind = item.envelope["type"]
                    yield f"id: {item.offset}\nevent: {kind}\ndata: {data}\n\n".encode()
                if await request.is_disconnected():
                    break
        finally:
            stop.set()

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post("/tickets/{ticket_id}/acknowledge",
             response_model=CommandResult, responses=command_problems())
async def acknowledge(ticket_id: PathId, service: ServiceDep, clock: ClockDep, who: UnitKey,
                      key: IdempotencyKey = None) -> CommandResult:
    """签收: the lead unit accepts the ticket."""
    await visible_ticket(service, who, ticket_id)
    cmd = c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=unit_of(who))
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class ReturnIn(Strict):
    reason: NoteText = Field(min_length=1, max_length=2000, description="退单理由")


@router.post("/tickets/{ticket_id}/return",
             response_model=CommandResult, responses=command_problems())
async def return_ticket(ticket_id: PathId, body: ReturnIn, service: ServiceDep, clock: ClockDep,
                        who: UnitKey, key: IdempotencyKey = None) -> CommandResult:
    """退单: not ours — back to the hotline, which reassigns or answers it."""
    await visible_ticket(service, who, ticket_id)
    cmd = c.ReturnTicket(ticket_id=ticket_id, unit_id=unit_of(who), reason=body.reason)
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class ProgressIn(Strict):
    note: NoteText = Field(min_length=1, max_length=20000)
    public: bool = Field(default=False, description="Shown to the citizen's progress query")


@router.post("/tickets/{ticket_id}/progress",
             response_model=CommandResult, responses=command_problems())
async def progress(ticket_id: PathId, body: ProgressIn, service: ServiceDep, clock: ClockDep,
                   who: UnitKey, key: IdempotencyKey = None) -> CommandResult:
    """办理进展: a progress note (lead or assisting unit)."""
    await visible_ticket(service, who, ticket_id)
    cmd = c.NoteProgress(ticket_id=ticket_id, unit_id=unit_of(who), **body.model_dump())
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class ReplyIn(Strict):
    text: NoteText = Field(min_length=1, max_length=20000, description="办理结果")
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    solved: bool | None = None


@router.post("/tickets/{ticket_id}/reply",
             response_model=CommandResult, responses=command_problems())
async def reply(ticket_id: PathId, body: ReplyIn, service: ServiceDep, clock: ClockDep,
                who: UnitKey, key: IdempotencyKey = None) -> CommandResult:
    """办结反馈: the lead unit's result, with attachments (photos of the repaired lamp…)."""
    await visible_ticket(service, who, ticket_id)
    cmd = c.ReplyTicket(ticket_id=ticket_id, unit_id=unit_of(who), **body.model_dump())
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class AssistIn(Strict):
    text: NoteText = Field(min_length=1, max_length=20000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


@router.post("/tickets/{ticket_id}/assist-reply",
             response_model=CommandResult, responses=command_problems())
async def assist_reply(ticket_id: PathId, body: AssistIn, service: ServiceDep, clock: ClockDep,
                       who: UnitKey, key: IdempotencyKey = None) -> CommandResult:
    """协办反馈: an assisting unit's part, for the lead unit."""
    await visible_ticket(service, who, ticket_id)
    cmd = c.ReplyAsAssistingUnit(ticket_id=ticket_id, unit_id=unit_of(who), **body.model_dump())
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class ExtensionIn(Strict):
    reason: NoteText = Field(min_length=1, max_length=2000, description="延期理由")
    requested_due_at: Instant


@router.post("/tickets/{ticket_id}/extension-requests", status_code=201,
             response_model=CommandResult, responses=command_problems())
async def request_extension(ticket_id: PathId, body: ExtensionIn, service: ServiceDep,
                            clock: ClockDep, who: UnitKey,
                            key: IdempotencyKey = None) -> CommandResult:
    """延期申请: ask a supervisor for a later reply deadline."""
    await visible_ticket(service, who, ticket_id)
    request_id = command_id(who, key) if key else new_id()
    cmd = c.RequestExtension(ticket_id=ticket_id, request_id=request_id, unit_id=unit_of(who),
                             **body.model_dump())
    answer = result(await service.execute(cmd, who.actor, command_id(who, key), clock()))
    return answer.model_copy(update={"request_id": request_id})
