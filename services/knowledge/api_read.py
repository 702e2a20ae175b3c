"""Reading the knowledge base: lists and the review queue, an article and any of its
versions, its history from the log, search, recommendations while registering, and the
maintenance figures per owning unit. Staff only; the public routes are in public.py."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from contracts.base import Category
from contracts.knowledge_events import RecommendationRated
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.web import Problem, problems
from services.knowledge import queries
from services.knowledge.api import ArticleId, ClockDep, ServiceDep, Strict
from services.knowledge.search import Filters, Hit
from services.knowledge.service import KnowledgeService

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge 知识库"])
CITY = ZoneInfo("Asia/Shanghai")

Staff = Annotated[Principal, Depends(roles(
    "operator", "unit", "editor", "supervisor", "callback", "analyst", "auditor"))]
Keeper = Annotated[Principal, Depends(roles("editor", "supervisor", "analyst", "auditor"))]
Operator = Annotated[Principal, Depends(roles("operator", "editor", "supervisor"))]
Code = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
STAGES = r"^(draft|submitted|returned|approved)$"
RECOMMENDED = 5


def not_found(article_id: str) -> Problem:
    return Problem(404, "article-unknown", "知识条目不存在 (article-unknown)",
                   f"There is no article {article_id}.")


def hit_json(hit: Hit) -> dict[str, Any]:
    """A search hit as JSON (highlights are HTML: escaped text with <mark>)."""
    return {name: getattr(hit, name) for name in Hit.__slots__}


@router.get("/articles", responses=problems(422))
async def articles(service: ServiceDep, who: Staff,
                   stage: Annotated[str | None, Query(pattern=STAGES)] = None,
                   unit: Code = None,
                   review_due_by: Annotated[date | None, Query(
                       description="published articles to review on or before this day")] = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """知识列表; `stage=submitted` is the review queue, oldest submission first. Unit staff
    see their own unit's articles."""
    if who.role == "unit":
        unit = who.unit
    rows, total = await service.read(queries.listing, queries.Listing(
        stage=stage, owning_unit=unit, review_due_by=review_due_by), limit)
    return {"items": rows, "total": total}


@router.get("/articles/{article_id}", responses=problems(404, 422, 503))
async def article(article_id: ArticleId, service: ServiceDep, who: Staff,
                  min_version: Annotated[int | None, Query(
                      ge=1, le=1_000_000, description="a command's `stream_version`: wait "
                      "(2 s at most) until the article shows it")] = None) -> dict[str, Any]:
    """知识详情: where it stands, the live version's text and the draft's."""
    row = await _row(service, article_id, who, min_version)
    texts = {}
    for key in ("published_version", "draft_version"):
        if row[key] is not None:
            texts[key.removesuffix("_version")] = await service.read(
                queries.version_text, article_id, row[key])
    return row | texts


@router.get("/articles/{article_id}/versions/{version}", responses=problems(404, 422))
async def version(article_id: ArticleId, version: Annotated[int, Path(ge=1, le=1_000_000)],
                  service: ServiceDep, who: Staff) -> dict[str, Any]:
    """One version's text as written: what a ticket citing (article, version) told the citizen."""
    await _row(service, article_id, who, None)
    found = await service.read(queries.version_text, article_id, version)
    if found is None:
        raise not_found(f"{article_id} v{version}")
    return found


@router.get("/articles/{article_id}/history", responses=problems(404, 422))
async def history(article_id: ArticleId, service: ServiceDep,
                  who: Keeper) -> list[dict[str, Any]]:
    """Every event of the article, from the log: who drafted, submitted, returned, approved."""
    stored = await service.history(article_id)
    if not stored:
        raise not_found(article_id)
    return [s.envelope.model_dump(mode="json", exclude_none=True) for s in stored]


async def _row(service: KnowledgeService, article_id: str, who: Principal,
               min_version: int | None) -> dict[str, Any]:
    """The article's row as the reader may see it (unit staff: their own unit's); with
    `min_version`, once the row shows it (422 for a version the article never had, 503
    when the row is still behind after 2 s)."""
    row = await service.read(queries.article, article_id)
    if min_version is not None and (row is None or row["stream_version"] < min_version):
        stored = len(await service.history(article_id))
        if stored == 0:
            raise not_found(article_id)
        if min_version > stored:
            raise Problem(422, "version-unknown", "知识条目没有该版本 (no such version)",
                          f"The article has {stored} events.")
        row = await _caught_up(service, article_id, min_version)
    if row is None or (who.role == "unit" and row["owning_unit"] != who.unit):
        raise not_found(article_id)
    return row


async def _caught_up(service: KnowledgeService, article_id: str,
                     version: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        row = await service.read(queries.article, article_id)
        if row and row["stream_version"] >= version:
            return row
    raise Problem(503, "not-caught-up", "数据同步中, 请稍后重试 (catching up, retry)",
                  f"The article has not reached version {version} yet.",
                  headers={"Retry-After": "1"})


@router.get("/search", responses=problems(422))
async def search(service: ServiceDep, who: Staff, clock: ClockDep,
                 q: Annotated[str, Query(min_length=1, max_length=200)],
                 level1: Code = None, level2: Code = None, kind: Code = None, unit: Code = None,
                 limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    """知识检索 for staff: public and internal articles, valid today, best first."""
    filters = Filters(audiences=("public", "internal"), level1=level1, level2=level2,
                      kind=kind, owning_unit=unit)
    hits = await service.search(q, filters, local_day(clock()), limit)
    return {"query": q, "items": [hit_json(h) for h in hits]}


class RecommendIn(Strict):
    content: str = Field(min_length=1, max_length=20000, description="The contact's text")
    category: Category | None = None


@router.post("/recommendations", responses=problems(422))
async def recommendations(body: RecommendIn, service: ServiceDep, who: Operator,
                          clock: ClockDep) -> dict[str, Any]:
    """知识推荐 while registering: the best articles for the contact's text (within its
    category once chosen), with the words that matched."""
    level1 = body.category.level1 if body.category else None
    filters = Filters(audiences=("public", "internal"), level1=level1)
    hits = await service.search(body.content, filters, local_day(clock()), RECOMMENDED)
    return {"items": [hit_json(h) for h in hits]}


class RatingIn(Strict):
    version: int = Field(ge=1, le=1_000_000)
    helpful: bool
    contact_id: str | None = Field(default=None, min_length=1, max_length=128)


@router.post("/articles/{article_id}/feedback", responses=problems(404, 422))
async def feedback(article_id: ArticleId, body: RatingIn, service: ServiceDep, who: Operator,
                   clock: ClockDep) -> dict[str, Any]:
    """推荐评价: was the recommended article helpful for this contact? Once per operator,
    article and contact; counted in the week's figures."""
    article = await service.load(article_id)
    if article.published is None or not 1 <= body.version <= article.published.version:
        raise not_found(f"{article_id} v{body.version}")
    recorded = await service.rate(RecommendationRated(article_id=article_id, **body.model_dump()),
                                  who.actor, clock())
    return {"article_id": article_id, "helpful": body.helpful, "recorded": recorded}


@router.get("/maintenance", responses=problems(422))
async def maintenance(service: ServiceDep, who: Keeper, clock: ClockDep,
                      days: Annotated[int, Query(ge=1, le=3660)] = 365) -> dict[str, Any]:
    """知识库维护及时率 per owning unit, and the reminders: articles past their review date,
    submissions waiting too long for a reviewer."""
    now = clock()
    units = await service.read(queries.maintenance, now - timedelta(days=days), local_day(now))
    waiting = await service.read(queries.waiting_too_long, now)
    return {"since_days": days, "units": units, "waiting_too_long": waiting,
            "review_within_hours": queries.REVIEW_WITHIN.total_seconds() / 3600}


def local_day(now: datetime) -> date:
    """The calendar day in the city (Asia/Shanghai): validity dates are local days."""
    return now.astimezone(CITY).date()
