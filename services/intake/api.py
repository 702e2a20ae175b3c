"""Intake's HTTP entrypoints: the door for channel adapters and the phone system."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, Field, ValidationError

from hotline.apikeys import Principal
from hotline.auth import authenticated
from hotline.log.port import NotStreamOwner
from hotline.params import times_outside
from hotline.runtime import Platform
from hotline.web import Problem, problems, validation_errors
from services.intake import service
from services.intake.domain import CallsIn, ContactIn
from services.intake.writer import IntakeWriter

CONTACTS = Counter("hotline_intake_contacts_total", "Contacts posted", ["channel", "outcome"])
APPEND_SECONDS = Histogram("hotline_intake_receive_seconds", "Time to make a contact durable")

router = APIRouter()


async def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def writer_of(request: Request) -> IntakeWriter:
    writer: IntakeWriter = request.app.state.writer
    return writer


async def clock_of(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


async def adapter(  # async: a plain def would cost a thread-pool hop per request
    principal: Annotated[Principal, Depends(authenticated)],
) -> Principal:
    """The channel adapter holding the presented key (401 without one, 403 for others)."""
    if principal.role != "channel" or principal.channel is None:
        raise Problem(403, "forbidden", "无权提交诉求 (not a channel adapter)")
    return principal


PlatformDep = Annotated[Platform, Depends(platform_of)]
WriterDep = Annotated[IntakeWriter, Depends(writer_of)]
ClockDep = Annotated[Callable[[], datetime], Depends(clock_of)]
AdapterDep = Annotated[Principal, Depends(adapter)]


def _in_platform_years(body: BaseModel) -> None:
    """422 for a time no contact or call can carry (year 1, year 9999): the models take any
    aware datetime, and such a one would be stored, or overflow on its way to UTC."""
    outside = times_outside(body)
    if outside:
        raise Problem(422, "invalid-request", "请求内容不合法 (invalid request)",
                      errors=[{"field": f, "reason": "must lie between 2000 and 2099"}
                              for f in outside])


def _own_channel(principal: Principal, channel: str) -> None:
    if channel != principal.channel:
        raise Problem(403, "wrong-channel", "不能代其他渠道提交 (not your channel)",
                      f"This key may post on channel '{principal.channel}' only.")


class ReceiptOut(BaseModel):
    contact_id: str
    status: str = Field(description="accepted: appended now; duplicate: posted before")


async def _receive(writer: IntakeWriter, contact: ContactIn, principal: Principal,
                   now: datetime) -> service.Receipt:
    _own_channel(principal, contact.channel)
    _in_platform_years(contact)
    with APPEND_SECONDS.time():
        try:
            receipt = await writer.receive_contact(contact, principal.actor, now)
        except service.IdempotencyConflict as exc:
            CONTACTS.labels(contact.channel, "conflict").inc()
            raise Problem(409, "idempotency-conflict", "消息编号已被使用 (message id reused)",
                          "This channel message id was already posted with a different body.",
                          contact_id=exc.contact_id) from None
        except NotStreamOwner:  # Kafka: another intake replica owns this contact's partition
            raise Problem(503, "not-owner", "暂时无法受理, 请重试 (retry shortly)",
                          "This instance does not own the contact's partition.",
                          headers={"Retry-After": "1"}) from None
        except service.ClockSkew:
            raise Problem(422, "invalid-request", "请求内容不合法 (invalid request)",
                          errors=[{"field": "received_at", "reason": "lies in the future"}],
                          ) from None
    CONTACTS.labels(contact.channel, receipt.status).inc()
    return receipt


@router.post("/v1/contacts", status_code=202, response_model=ReceiptOut,
             responses={200: {"model": ReceiptOut, "description": "duplicate post"},
                        **problems(409, 503)})
async def post_contact(contact: ContactIn, writer: WriterDep, clock: ClockDep,
                       principal: AdapterDep, response: Response) -> ReceiptOut:
    """受理诉求: one contact; 202 once `ContactReceived` is durable, 200 for a repeat."""
    receipt = await _receive(writer, contact, principal, clock())
    if receipt.status == "duplicate":
        response.status_code = 200
    return ReceiptOut(contact_id=receipt.contact_id, status=receipt.status)


class BatchIn(BaseModel):
    contacts: list[dict[str, Any]] = Field(min_length=1)


class ItemResult(BaseModel):
    index: int
    status: int
    contact_id: str | None = None
    problem: dict[str, Any] | None = None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


@router.post("/v1/contacts/batch", response_model=BatchOut)
async def post_contacts_batch(batch: BatchIn, platform: PlatformDep, writer: WriterDep,
                              clock: ClockDep, principal: AdapterDep) -> BatchOut:
    """Backlog forwarding: hundreds of contacts, one result per item (its own status)."""
    limit = platform.settings.max_batch_items
    if len(batch.contacts) > limit:
        raise Problem(413, "too-many-items", "批量条数过多 (too many items)",
                      f"At most {limit} contacts per batch.")
    now = clock()

    async def one(index: int, raw: dict[str, Any]) -> ItemResult:
        try:
            contact = ContactIn.model_validate(raw)
            receipt = await _receive(writer, contact, principal, now)
        except ValidationError as exc:
            problem = {"status": 422, "title": "invalid contact",
                       "errors": validation_errors(exc.errors())}
            return ItemResult(index=index, status=422, problem=problem)
        except Problem as exc:
            problem = {"status": exc.status, "title": exc.title, **exc.extra}
            if exc.detail:
                problem["detail"] = exc.detail
            return ItemResult(index=index, status=exc.status, problem=problem,
                              contact_id=exc.extra.get("contact_id"))
        return ItemResult(index=index, status=202 if receipt.status == "accepted" else 200,
                          contact_id=receipt.contact_id)

    results = await asyncio.gather(*(one(i, raw) for i, raw in enumerate(batch.contacts)))
    return BatchOut(
        accepted=sum(r.status == 202 for r in results),
        duplicates=sum(r.status == 200 for r in results),
        rejected=sum(r.status >= 400 for r in results),
        results=list(results),
    )


class CallsOut(BaseModel):
    recorded: int
    duplicates: int


@router.post("/v1/calls", status_code=202, response_model=CallsOut, responses=problems(503))
async def post_calls(body: CallsIn, writer: WriterDep, clock: ClockDep,
                     principal: AdapterDep) -> CallsOut:
    """话务数据: call records from the phone system, for connect and 15-second answer rates."""
    _own_channel(principal, "phone")
    _in_platform_years(body)
    recorded, duplicates = await writer.record_calls(body.calls, principal.actor, clock())
    return CallsOut(recorded=recorded, duplicates=duplicates)
