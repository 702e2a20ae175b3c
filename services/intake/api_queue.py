"""The operators' contact queue over HTTP: what waits, oldest first and coloured when late;
claim, release and dismiss; the operators' figures for supervisors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from contracts.base import Note
from contracts.vocabulary import Channel, DismissReason
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import InstantQuery, PathId
from hotline.projection import ReadSide
from hotline.runtime import Platform
from hotline.web import Problem, from_state, problems
from services.intake import queue_queries
from services.intake.queue import QueueRefused
from services.intake.service import QueueAction
from services.intake.writer import IntakeWriter

router = APIRouter(prefix="/v1", tags=["contact queue 来件队列"])

STATUS = {"contact-unknown": 404, "contact-claimed": 409, "contact-dismissed": 409,
          "not-holder": 409, "contact-busy": 503}
TITLE = {"contact-unknown": "来件不存在 (no such contact)",
         "contact-claimed": "该来件已被其他话务员认领 (claimed by another operator)",
         "contact-dismissed": "该来件已作无效处理 (dismissed)",
         "not-holder": "请先认领该来件 (claim it first)",
         "contact-busy": "来件正在被处理, 请重试 (busy, retry)"}


class ContactDesk(ReadSide):
    """The queue's reads and the writer that claims, releases and dismisses."""

    def __init__(self, platform: Platform, writer: IntakeWriter) -> None:
        self.db, self.writer = platform.db, writer

    async def act(self, action: QueueAction, now: datetime) -> dict[str, Any]:
        try:
            event = await self.writer.act(action, now)
        except QueueRefused as refused:
            raise Problem(STATUS[refused.rule], refused.rule, TITLE[refused.rule],
                          refused.detail, rule=refused.rule) from None
        return {"contact_id": action.contact_id, "event": type(event).__name__,
                **event.model_dump(mode="json", exclude={"contact_id"})}


DeskDep = Annotated[ContactDesk, Depends(from_state("desk"))]
ClockDep = Annotated[Callable[[], datetime], Depends(from_state("clock"))]
Operator = Annotated[Principal, Depends(roles("operator", "supervisor"))]
Supervisor = Annotated[Principal, Depends(roles("supervisor"))]
REFUSALS = {409: ["contact-claimed", "contact-dismissed", "not-holder"]}


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DismissReason
    note: Note | None = None


@router.get("/contact-queue", responses=problems(401, 403, 422))
async def contact_queue(desk: DeskDep, clock: ClockDep, who: Operator,
                        channel: Channel | None = None,
                        limit: Annotated[int, Query(ge=1, le=queue_queries.MAX_PAGE)] = 50,
                        ) -> dict[str, Any]:
    """来件队列: contacts not yet in a ticket nor dismissed, oldest first, each against its
    channel's answer-time target (`late` past it) and with who holds it."""
    now, targets = clock(), desk.writer.targets
    page, total = await desk.read(queue_queries.waiting, now,
                                  channel.value if channel else None, limit)
    items = []
    for w in page:
        age, target = (now - w.received_at).total_seconds(), targets.of(w.channel)
        items.append({**asdict(w), "channel_zh": Channel(w.channel).zh,
                      "age_seconds": int(age), "target_seconds": target,
                      "late": age > target, "held_by_me": w.holder == who.actor})
    return {"items": items, "waiting": total, "late": sum(1 for i in items if i["late"])}


@router.post("/contacts/{contact_id}/claim", responses=problems(401, 403, 404, 409, 503,
                                                                 rules=REFUSALS))
async def claim(contact_id: PathId, desk: DeskDep, clock: ClockDep,
                who: Operator) -> dict[str, Any]:
    """认领: take the contact; others see who holds it until the claim expires."""
    return await desk.act(QueueAction("claim", contact_id, who.actor), clock())


@router.post("/contacts/{contact_id}/release", responses=problems(401, 403, 404, 409, 503,
                                                                   rules=REFUSALS))
async def release(contact_id: PathId, desk: DeskDep, clock: ClockDep,
                  who: Operator) -> dict[str, Any]:
    """释放: give the contact back to the queue."""
    return await desk.act(QueueAction("release", contact_id, who.actor), clock())


@router.post("/contacts/{contact_id}/dismiss", responses=problems(401, 403, 404, 409, 422,
                                                                   503, rules=REFUSALS))
async def dismiss(contact_id: PathId, body: DismissIn, desk: DeskDep, clock: ClockDep,
                  who: Operator) -> dict[str, Any]:
    """无效来件: spam, a test, a repeat, not for the hotline (the holder only)."""
    action = QueueAction("dismiss", contact_id, who.actor, body.reason.value, body.note)
    return await desk.act(action, clock())


@router.get("/contact-queue/operators", responses=problems(401, 403, 422))
async def operators(desk: DeskDep, clock: ClockDep, who: Supervisor,
                    since: InstantQuery = None, until: InstantQuery = None) -> dict[str, Any]:
    """话务员工作量: per operator, contacts brought to an outcome (a day unless told), per
    hour of the window and per day they worked (with the count for each Beijing day; the
    seed's benchmark is 67 a day), and the mean time from arrival to their claim and to
    the outcome."""
    until = until or clock()
    since = since or until - timedelta(days=1)
    hours = max((until - since).total_seconds() / 3600, 1 / 60)
    figures = await desk.read(queue_queries.operator_figures, since, until)
    return {"since": since.isoformat(), "until": until.isoformat(),
            "operators": [{**asdict(f), "per_hour": round(f.handled / hours, 2),
                           "per_day": round(f.handled / max(len(f.by_day), 1), 1)}
                          for f in figures]}
