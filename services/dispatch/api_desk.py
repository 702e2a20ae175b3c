"""The operator desk (坐席): register, answer, merge, dispatch, reassign; supervisors decide
extensions. Every command is answered once it is durable in the ticket's stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from contracts import commands as c
from contracts.base import Category
from contracts.free_text import NoteText
from contracts.vocabulary import TicketType, Urgency
from hotline.params import CodeQuery, Instant, PathId
from hotline.web import problems
from services.dispatch import queries
from services.dispatch.api_common import (
    ClockDep,
    Operator,
    ServiceDep,
    Supervisor,
    jsonable,
)
from ticketing.web import (
    RULES_BY_STATUS,
    CommandResult,
    IdempotencyKey,
    Strict,
    command_id,
    command_problems,
    result,
)

router = APIRouter(prefix="/v1", tags=["operator desk 坐席"])
COMMAND = command_problems()


class RegisterIn(Strict):
    contact_ids: list[str] = Field(min_length=1, max_length=50)
    ticket_type: TicketType
    category: Category
    urgency: Urgency = Urgency.NORMAL
    summary: NoteText = Field(min_length=1, max_length=5000,
                         description="The request in the operator's words, no personal data")
    district_code: str | None = Field(default=None, description="Default: the first contact's")


@router.post("/tickets", status_code=201, response_model=CommandResult,
             responses=problems(403, 409, 422, 503, rules=RULES_BY_STATUS))
async def register(body: RegisterIn, service: ServiceDep, clock: ClockDep, who: Operator,
                   response: Response, key: IdempotencyKey = None) -> CommandResult:
    """登记: create a ticket from one or more contacts; 201 with its number."""
    fields: dict[str, Any] = body.model_dump(exclude={"contact_ids"}, exclude_none=True)
    outcome = await service.register(command_id(who, key), body.contact_ids, fields, who.actor,
                                     who.name, clock())
    response.headers["Location"] = f"/v1/tickets/{outcome.ticket.ticket_id}"
    if outcome.duplicate:
        response.status_code = 200
    return result(outcome)


class AnswerIn(Strict):
    answer: NoteText = Field(min_length=1, max_length=20000)
    knowledge_article_id: str | None = Field(default=None, min_length=1, max_length=128)
    knowledge_article_version: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="With knowledge_article_id: the version the answer came from")


@router.post("/tickets/{ticket_id}/answer", response_model=CommandResult, responses=COMMAND)
async def answer(ticket_id: PathId, body: AnswerIn, service: ServiceDep, clock: ClockDep,
                 who: Operator, key: IdempotencyKey = None) -> CommandResult:
    """直接答复: answer from the knowledge base (citing the article's id and version, as
    the recommendation showed them) and close at once."""
    cmd = c.AnswerDirectly(ticket_id=ticket_id, **body.model_dump())
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class ClassifyIn(Strict):
    ticket_type: TicketType
    category: Category
    urgency: Urgency
    note: NoteText | None = Field(default=None, max_length=2000)


@router.post("/tickets/{ticket_id}/classify", response_model=CommandResult, responses=COMMAND)
async def classify(ticket_id: PathId, body: ClassifyIn, service: ServiceDep, clock: ClockDep,
                   who: Operator, key: IdempotencyKey = None) -> CommandResult:
    """重新分类: correct the type, category or urgency."""
    service.check_category(body.category)
    cmd = c.ClassifyTicket(ticket_id=ticket_id, **body.model_dump())
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


class MergeContactIn(Strict):
    contact_id: str = Field(min_length=1, max_length=128)


@router.post("/tickets/{ticket_id}/contacts", response_model=CommandResult, responses=COMMAND)
async def merge_contact(ticket_id: PathId, body: MergeContactIn, service: ServiceDep,
                        clock: ClockDep, who: Operator,
                        key: IdempotencyKey = None) -> CommandResult:
    """合并来电: a repeat contact joins this open ticket (the repeat count escalates it)."""
    now = clock()
    await service.takeable(body.contact_id, who.actor, now)  # 422 unknown, 409 taken
    cmd = c.MergeContact(ticket_id=ticket_id, contact_id=body.contact_id)
    return result(await service.execute(cmd, who.actor, command_id(who, key), now))


class MergeTicketIn(Strict):
    target_ticket_id: str = Field(min_length=1, max_length=128)
    note: NoteText | None = Field(default=None, max_length=2000)


@router.post("/tickets/{ticket_id}/merge", response_model=CommandResult, responses=COMMAND)
async def merge_ticket(ticket_id: PathId, body: MergeTicketIn, service: ServiceDep,
                       clock: ClockDep, who: Operator,
                       key: IdempotencyKey = None) -> CommandResult:
    """并单: this ticket duplicates the target; its contacts move there."""
    outcome = await service.merge_ticket(ticket_id, body.target_ticket_id, body.note, who.actor,
                                         command_id(who, key), clock())
    return result(outcome)


class DispatchIn(Strict):
    lead_unit: str = Field(description="主办单位")
    assisting_units: list[str] = Field(default_factory=list, max_length=20,
                                       description="协办单位")
    note: NoteText | None = Field(default=None, max_length=2000, description="派单意见")
    urgent: bool = Field(default=False, description="紧急, 请优先处理")


@router.post("/tickets/{ticket_id}/dispatch", response_model=CommandResult, responses=COMMAND)
async def dispatch(ticket_id: PathId, body: DispatchIn, service: ServiceDep, clock: ClockDep,
                   who: Operator, key: IdempotencyKey = None) -> CommandResult:
    """派单: to a lead unit and optional assisting units, with the deadlines of the policy."""
    cmd = c.DispatchTicket(ticket_id=ticket_id, **body.model_dump())
    return result(await service.dispatch(cmd, who.actor, command_id(who, key), clock()))


@router.post("/tickets/{ticket_id}/reassign", response_model=CommandResult, responses=COMMAND)
async def reassign(ticket_id: PathId, body: DispatchIn, service: ServiceDep, clock: ClockDep,
                   who: Operator, key: IdempotencyKey = None) -> CommandResult:
    """改派: move the ticket to another unit (after a return, or on the hotline's decision)."""
    cmd = c.ReassignTicket(ticket_id=ticket_id, **body.model_dump())
    return result(await service.dispatch(cmd, who.actor, command_id(who, key), clock()))


class ApproveIn(Strict):
    new_due_at: Instant | None = Field(default=None,
                                             description="Default: the date the unit asked for")


class RejectIn(Strict):
    reason: NoteText = Field(min_length=1, max_length=2000)


@router.post("/tickets/{ticket_id}/extension-requests/{request_id}/approve",
             response_model=CommandResult, responses=COMMAND, tags=["supervision 督办"])
async def approve_extension(ticket_id: PathId, request_id: PathId, body: ApproveIn,
                            service: ServiceDep, clock: ClockDep, who: Supervisor,
                            key: IdempotencyKey = None) -> CommandResult:
    """延期批准: grant the unit's extension (moves the reply deadline)."""
    cmd = c.ApproveExtension(ticket_id=ticket_id, request_id=request_id, approved_by=who.name,
                             new_due_at=body.new_due_at)
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


@router.post("/tickets/{ticket_id}/extension-requests/{request_id}/reject",
             response_model=CommandResult, responses=COMMAND, tags=["supervision 督办"])
async def reject_extension(ticket_id: PathId, request_id: PathId, body: RejectIn,
                           service: ServiceDep, clock: ClockDep, who: Supervisor,
                           key: IdempotencyKey = None) -> CommandResult:
    """延期驳回: refuse it, with the reason the unit will read."""
    cmd = c.RejectExtension(ticket_id=ticket_id, request_id=request_id, rejected_by=who.name,
                            reason=body.reason)
    return result(await service.execute(cmd, who.actor, command_id(who, key), clock()))


@router.get("/extension-requests", responses=problems(401, 403, 422),
            tags=["supervision 督办"])
async def extension_requests(service: ServiceDep, clock: ClockDep, who: Supervisor,
                             unit: CodeQuery = None,
                             limit: Annotated[int, Query(ge=1, le=100)] = 100,
                             ) -> dict[str, Any]:
    """待审批延期: the units' extension requests waiting for a supervisor, oldest first,
    each with the unit, the reason, the date asked for and the time left meanwhile."""
    items, waiting = await service.read(queries.extension_requests, clock(), unit, limit)
    return {"items": jsonable(items), "waiting": waiting}
