"""The knowledge workflow over HTTP: draft, submit, return, approve (publish), retire.

Operators and unit staff propose (a unit's staff only for their own unit's
articles); knowledge editors and supervisors review, publish and retire. Every
answer names the article's stream version: pass it as `min_version` to a read to
see the article as the command left it. A refusal is problem+json naming its rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from contracts.ids import new_id
from contracts.vocabulary import ArticleKind, Audience
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import Instant
from hotline.web import Problem, from_state, problems
from reference.directory import ReferenceData, UnknownCategory, UnknownUnit
from services.knowledge.article_in import ArticleIn, Strict, checked_write
from services.knowledge.domain import (
    RULES,
    STAGE_ZH,
    Approve,
    Article,
    Command,
    Refused,
    Retire,
    Return,
    Submit,
    Write,
)
from services.knowledge.service import KnowledgeService, imported_id

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge 知识库"])

ServiceDep = Annotated[KnowledgeService, Depends(from_state("service"))]
ClockDep = Annotated[Callable[[], datetime], Depends(from_state("clock"))]
RefDep = Annotated[ReferenceData, Depends(from_state("reference"))]
Proposer = Annotated[Principal, Depends(roles("operator", "unit", "editor", "supervisor"))]
Reviewer = Annotated[Principal, Depends(roles("editor", "supervisor"))]
ArticleId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
RULE_STATUSES: dict[int, list[str]] = {}
for _rule, (_status, _zh, _en) in RULES.items():
    RULE_STATUSES.setdefault(_status, []).append(_rule)


class VersionIn(Strict):
    version: int = Field(ge=1, le=1_000_000, description="The version under review")


class ReturnIn(VersionIn):
    reason: str = Field(min_length=1, max_length=2000, examples=["请补充办理时限"])


class ApproveIn(VersionIn):
    publish_at: Instant | None = Field(default=None, description="Omit to publish at once")


class RetireIn(Strict):
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


def invalid(detail: str) -> Problem:
    return Problem(422, "invalid-request", "请求内容不合法 (invalid request)", detail)


def write_of(body: ArticleIn, who: Principal, ref: ReferenceData) -> Write:
    """The domain's Write for a person: unit staff write for their own unit only."""
    unit = body.owning_unit or (who.unit if who.role == "unit" else None)
    if who.role == "unit" and unit != who.unit:
        raise Problem(403, "other-unit", "只能起草本单位的知识 (own unit only)",
                      "Unit staff draft articles of their own unit only.")
    try:
        return checked_write(body, unit, ref)
    except (ValueError, UnknownCategory, UnknownUnit) as exc:
        raise invalid(str(exc)) from None


def refused(exc: Refused) -> Problem:
    return Problem(exc.status, exc.rule, f"{exc.zh} ({exc.rule})", exc.en)


def answer(article: Article) -> dict[str, Any]:
    """What a command answers: where the article stands now."""
    draft = article.draft
    return {"article_id": article.article_id, "stream_version": article.stream_version,
            "stage": draft.stage.value if draft else None,
            "stage_zh": STAGE_ZH[draft.stage] if draft else None,
            "draft_version": draft.version if draft else None,
            "published_version": article.published.version if article.published else None,
            "publish_at": draft.publish_at.isoformat() if draft and draft.publish_at else None,
            "retired": article.retired}


async def run(service: KnowledgeService, article_id: str, command: Command, who: Principal,
              now: datetime) -> dict[str, Any]:
    """One command on one article, as its answer or its refusal."""
    try:
        return answer(await service.act(article_id, command, who.actor, now))
    except Refused as exc:
        raise refused(exc) from None


async def _mine(service: KnowledgeService, article_id: str, who: Principal) -> None:
    """An article that exists, and for unit staff one of their own unit (404 for another's:
    not theirs to know of), told by the article's own stream, not a read model that may lag."""
    article = await service.load(article_id)
    if not article.exists or (who.role == "unit" and article.owning_unit != who.unit):
        raise refused(Refused("article-unknown", *RULES["article-unknown"]))


COMMAND_PROBLEMS = problems(403, 404, 409, 422, 503, rules=RULE_STATUSES)


@router.post("/articles", status_code=201, responses=COMMAND_PROBLEMS)
async def create(body: ArticleIn, service: ServiceDep, who: Proposer, ref: RefDep,
                 clock: ClockDep) -> dict[str, Any]:
    """起草: a new article's first draft (an imported one keeps its id for its source id)."""
    write = write_of(body, who, ref)
    article_id = imported_id(body.source_id) if body.source_id else new_id()
    return await run(service, article_id, write, who, clock())


class FromTicketIn(Strict):
    ticket_id: str = Field(min_length=1, max_length=128)
    kind: ArticleKind = ArticleKind.FAQ
    owning_unit: str | None = Field(default=None, max_length=64,
                                    description="Default: the unit that replied, else required")


@router.post("/articles/from-ticket", status_code=201, responses=COMMAND_PROBLEMS)
async def from_ticket(body: FromTicketIn, service: ServiceDep, who: Proposer, ref: RefDep,
                      clock: ClockDep) -> dict[str, Any]:
    """一键转知识: a draft from a ticket's answer in one step — its summary as the title,
    the answer (as the log holds it, numbers masked) as the body, its category; internal
    until a reviewer decides otherwise."""
    found = await service.from_ticket(body.ticket_id)
    if found is None:
        raise invalid(f"ticket {body.ticket_id} has no answer to draft from")
    draft = ArticleIn(title=found.title, body=found.body, kind=body.kind,
                      category=found.category, audience=Audience.INTERNAL,
                      owning_unit=body.owning_unit or found.replying_unit,
                      from_ticket=body.ticket_id)
    return await run(service, new_id(), write_of(draft, who, ref), who, clock())


@router.put("/articles/{article_id}/draft", responses=COMMAND_PROBLEMS)
async def edit(article_id: ArticleId, body: ArticleIn, service: ServiceDep, who: Proposer,
               ref: RefDep, clock: ClockDep) -> dict[str, Any]:
    """修改: the version under work rewritten, or a published article's next version begun."""
    await _mine(service, article_id, who)  # a PUT never makes an article of a caller's id
    return await run(service, article_id, write_of(body, who, ref), who, clock())


@router.post("/articles/{article_id}/submit", responses=COMMAND_PROBLEMS)
async def submit(article_id: ArticleId, body: VersionIn, service: ServiceDep, who: Proposer,
                 clock: ClockDep) -> dict[str, Any]:
    """提交审核."""
    await _mine(service, article_id, who)
    return await run(service, article_id, Submit(body.version), who, clock())


@router.post("/articles/{article_id}/return", responses=COMMAND_PROBLEMS)
async def send_back(article_id: ArticleId, body: ReturnIn, service: ServiceDep, who: Reviewer,
                    clock: ClockDep) -> dict[str, Any]:
    """审核退回, with the reason the drafter reads."""
    return await run(service, article_id, Return(body.version, body.reason), who, clock())


@router.post("/articles/{article_id}/approve", responses=COMMAND_PROBLEMS)
async def approve(article_id: ArticleId, body: ApproveIn, service: ServiceDep, who: Reviewer,
                  clock: ClockDep) -> dict[str, Any]:
    """审核通过: published at once, or at `publish_at`."""
    return await run(service, article_id, Approve(body.version, body.publish_at), who, clock())


@router.post("/articles/{article_id}/retire", responses=COMMAND_PROBLEMS)
async def retire(article_id: ArticleId, body: RetireIn, service: ServiceDep, who: Reviewer,
                 clock: ClockDep) -> dict[str, Any]:
    """下架: no longer found, recommended or shown to the public; its versions stay citable."""
    return await run(service, article_id, Retire(body.reason), who, clock())
