"""回访 over HTTP, staff side: the callback staff's work list and phone answers, closes, the
reviewer's redo decisions, the supervisor's reopen, and satisfaction.

Who may do what:
- callback staff (and supervisors) read the work list, record phone answers, open surveys
  and close tickets; the task detail shows the citizen's phone in clear to them only;
- supervisors review redo requests (the hotline management centre's review, seed 000) and
  are the only ones who reopen a closed ticket;
- satisfaction is read by staff; a unit key reads its own figures only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from contracts.free_text import NoteText
from contracts.vocabulary import (
    LABELS_ZH,
    CloseReason,
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
)
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import CodeQuery, InstantQuery, PathId
from hotline.web import Problem, from_state, problems
from reference.directory import ReferenceData, UnknownUnit
from services.callback import queries
from services.callback.messages import phone_script
from services.callback.service import Answered, CallbackService, Ratings
from ticketing.web import (
    CommandResult,
    IdempotencyKey,
    Strict,
    command_id,
    command_problems,
    result,
    unit_of,
)

router = APIRouter(prefix="/v1", tags=["callback 回访"])

ServiceDep = Annotated[CallbackService, Depends(from_state("service"))]
ClockDep = Annotated[Callable[[], datetime], Depends(from_state("clock"))]
RefDep = Annotated[ReferenceData, Depends(from_state("reference"))]
CallbackStaff = Annotated[Principal, Depends(roles("callback", "supervisor"))]
Supervisor = Annotated[Principal, Depends(roles("supervisor"))]
Reader = Annotated[Principal, Depends(roles("callback", "supervisor", "analyst", "auditor",
                                            "unit"))]

STAGE_ZH = {"to_survey": "待回访", "survey_open": "回访中", "unanswered": "回访未应答",
            "answered": "已评价待结案", "redo_review": "重办待审核"}
# reasons staff may close with; the others follow from the survey (the worker sends them)
STAFF_CLOSES = (CloseReason.CITIZEN_UNREACHABLE, CloseReason.WITHDRAWN, CloseReason.DUPLICATE,
                CloseReason.SOLVED, CloseReason.ANSWERED, CloseReason.SURVEY_UNANSWERED)


def _unit_zh(reference: ReferenceData, unit_id: str | None) -> str | None:
    try:
        return reference.directory.get(unit_id).name_zh if unit_id else None
    except UnknownUnit:
        return unit_id


def _task(task: queries.Task, reference: ReferenceData) -> dict[str, Any]:
    return {**asdict(task), "stage_zh": STAGE_ZH.get(task.stage, task.stage),
            "replied_by_zh": _unit_zh(reference, task.replied_by)}


@router.get("/callback/tasks")
async def work_list(service: ServiceDep, clock: ClockDep, reference: RefDep,
                    who: CallbackStaff, stage: str | None = None, unit: CodeQuery = None,
                    channel: SurveyChannel | None = None, overdue: bool | None = None,
                    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
                    offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> dict[str, Any]:
    """回访工作台: tickets waiting for the callback, earliest due first, with per-stage
    counts (waiting, overdue). `channel=phone&stage=survey_open` is the calls to make."""
    if stage is not None and stage not in queries.WAITING:
        raise Problem(422, "invalid-request", "未知的回访阶段 (unknown stage)",
                      f"stage is one of {', '.join(queries.WAITING)}.")
    now = clock()
    rows = await service.read(queries.tasks, now, stage=stage, unit=unit,
                              channel=channel.value if channel else None, overdue=overdue,
                              limit=limit, offset=offset)
    counts = await service.read(queries.task_counts, now, unit)
    return {"items": [_task(t, reference) for t in rows], "offset": offset, "limit": limit,
            "counts": {s: {**n, "stage_zh": STAGE_ZH[s]} for s, n in counts.items()}}


@router.get("/callback/tasks/{ticket_id}", responses=problems(404))
async def task_detail(ticket_id: PathId, service: ServiceDep, clock: ClockDep,
                      reference: RefDep, who: CallbackStaff) -> dict[str, Any]:
    """One ticket's callback: the reply to read out, the script, and the citizen's contact
    (in clear for callback staff and supervisors: they must call)."""
    row = await service.read(queries.case_row, ticket_id)
    ticket = await service.tickets.get(ticket_id)
    if row is None or ticket is None:
        raise Problem(404, "ticket-unknown", "工单不存在 (no such ticket)",
                      f"No ticket {ticket_id}.", rule="ticket-unknown")
    task = queries.as_task(row, clock())
    caller = await service.caller(ticket, who.role)
    unit_zh = _unit_zh(reference, row.replied_by) or ""
    return {**_task(task, reference), "reply_text": row.reply_text, "caller": caller,
            "script": phone_script(row.ticket_number, row.summary, unit_zh,
                                   row.reply_text or "")}


class RatingsIn(Strict):
    hotline_service: HotlineServiceRating = Field(description="对热线服务: 满意 … 对相关政策不满意")
    handling: HandlingRating = Field(description="对办理情况: 满意 … 对事项办理效果不满意")
    comment: NoteText | None = Field(default=None, max_length=5000,
                                description="The citizen's words; the redo's reason")
    solved: bool | None = Field(default=None, description="Is the problem actually solved?")

    def ratings(self) -> Ratings:
        return Ratings(self.hotline_service, self.handling, self.comment, self.solved)


class AnswerResult(CommandResult):
    follow_up: CommandResult | None = Field(description="The close or redo request it led to")


def answered(outcome: Answered) -> AnswerResult:
    follow = result(outcome.follow_up) if outcome.follow_up is not None else None
    last = outcome.follow_up or outcome.answer
    return AnswerResult(**{**result(outcome.answer).model_dump(),
                           "status": last.ticket.status, "status_zh": last.ticket.status.zh},
                        follow_up=follow)


@router.post("/tickets/{ticket_id}/surveys/{survey_id}/answer", response_model=AnswerResult,
             responses=command_problems())
async def record_answer(ticket_id: PathId, survey_id: PathId, body: RatingsIn, service: ServiceDep,
                        clock: ClockDep, who: CallbackStaff,
                        key: IdempotencyKey = None) -> AnswerResult:
    """The answer the citizen gave on the callback call (回访员录入)."""
    return answered(await service.answer(ticket_id, survey_id, body.ratings(),
                                         SurveyChannel.PHONE, who.actor, command_id(who, key),
                                         clock()))


class OpenSurveyIn(Strict):
    channel: SurveyChannel = SurveyChannel.PHONE


@router.post("/tickets/{ticket_id}/surveys", status_code=201, response_model=CommandResult,
             responses=command_problems())
async def open_survey(ticket_id: PathId, body: OpenSurveyIn, service: ServiceDep,
                      clock: ClockDep, who: CallbackStaff, response: Response,
                      key: IdempotencyKey = None) -> CommandResult:
    """Open a survey by hand (a call the citizen asked for, or another try)."""
    outcome = await service.open_survey(ticket_id, body.channel, who.actor,
                                        command_id(who, key), clock())
    if outcome.duplicate:
        response.status_code = 200
    return result(outcome)


class CloseIn(Strict):
    reason: CloseReason
    note: NoteText | None = Field(default=None, max_length=2000)


@router.post("/tickets/{ticket_id}/close", response_model=CommandResult,
             responses=command_problems())
async def close(ticket_id: PathId, body: CloseIn, service: ServiceDep, clock: ClockDep,
                who: CallbackStaff, key: IdempotencyKey = None) -> CommandResult:
    """结案 by hand: unreachable after the calls, withdrawn, duplicate… A closed ticket is
    read-only until a supervisor reopens it."""
    if body.reason not in STAFF_CLOSES:
        raise Problem(422, "close-reason-not-manual", "该结案原因由回访结果决定 "
                      "(this close follows from the survey)",
                      f"Staff close with one of {', '.join(r.value for r in STAFF_CLOSES)}.")
    return result(await service.close(ticket_id, body.reason, body.note, who.actor,
                                      command_id(who, key), clock()))


@router.get("/callback/redo-requests")
async def redo_requests(service: ServiceDep, clock: ClockDep, reference: RefDep,
                        who: CallbackStaff) -> dict[str, Any]:
    """重办审核: dissatisfied citizens' redo requests waiting for review, oldest first."""
    rows = await service.read(queries.tasks, clock(), stage="redo_review",
                              limit=queries.MAX_PAGE)
    return {"items": [_task(t, reference) for t in rows]}


class ReviewIn(Strict):
    reason: NoteText = Field(min_length=1, max_length=2000)
    unit_id: str | None = Field(default=None, description="Accepting: default the last unit")


@router.post("/tickets/{ticket_id}/redo/accept", response_model=CommandResult,
             responses=command_problems())
async def accept_redo(ticket_id: PathId, body: ReviewIn, service: ServiceDep, clock: ClockDep,
                      who: Supervisor, key: IdempotencyKey = None) -> CommandResult:
    """重办: the dissatisfaction is justified; back to the unit with the redo's deadline."""
    return result(await service.accept_redo(ticket_id, who.name, body.reason, body.unit_id,
                                            who.actor, command_id(who, key), clock()))


class ReasonIn(Strict):
    reason: NoteText = Field(min_length=1, max_length=2000)


@router.post("/tickets/{ticket_id}/redo/reject", response_model=CommandResult,
             responses=command_problems())
async def reject_redo(ticket_id: PathId, body: ReasonIn, service: ServiceDep, clock: ClockDep,
                      who: Supervisor, key: IdempotencyKey = None) -> CommandResult:
    """重办驳回: not justified; the ticket closes with the reviewer's reason."""
    return result(await service.reject_redo(ticket_id, who.name, body.reason, who.actor,
                                            command_id(who, key), clock()))


@router.post("/tickets/{ticket_id}/reopen", response_model=CommandResult,
             responses=command_problems())
async def reopen(ticket_id: PathId, body: ReasonIn, service: ServiceDep, clock: ClockDep,
                 who: Supervisor, key: IdempotencyKey = None) -> CommandResult:
    """重启: reopen a closed ticket (audited: the event names the supervisor and why)."""
    return result(await service.reopen(ticket_id, who.name, body.reason, who.actor,
                                       command_id(who, key), clock()))


@router.get("/callback/satisfaction")
async def satisfaction(service: ServiceDep, reference: RefDep, who: Reader,
                       by: queries.GroupBy = "overall", unit: CodeQuery = None,
                       since: InstantQuery = None,
                       until: InstantQuery = None) -> dict[str, Any]:
    """满意度: per dimension, overall or by unit, agent, district or category."""
    if who.role == "unit":
        unit, by = unit_of(who), "unit"
    groups = await service.read(queries.satisfaction, by, unit=unit, since=since, until=until)
    for g in groups:
        if by == "unit":
            g["name_zh"] = _unit_zh(reference, g["key"])
    return {"by": by, "groups": groups, "labels_zh": {
        "hotline_service": LABELS_ZH[HotlineServiceRating],
        "handling": LABELS_ZH[HandlingRating]}}
