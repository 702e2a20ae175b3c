"""Public self-service (no key): search and read the public articles valid today.

Drafts, internal articles, retired and expired ones never reach these routes: they
read only what the search index holds for the `public` audience and valid today.
Each answer carries the article's validity and owning unit, so a citizen knows
whose answer it is and until when. Each client address may ask `PER_MINUTE` times a
minute (per process; behind configured proxies the address is the citizen's).
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from hotline.web import Problem, problems
from reference.directory import ReferenceData, UnknownUnit
from services.knowledge import queries
from services.knowledge.api import ArticleId, ClockDep, RefDep, ServiceDep
from services.knowledge.api_read import hit_json, local_day, not_found
from services.knowledge.search import Filters
from services.knowledge.usage import most_used

router = APIRouter(prefix="/v1/public/knowledge", tags=["citizens 市民"])
PER_MINUTE = 60
WINDOW = timedelta(minutes=1)


class Throttle:
    """A sliding minute of requests per client address."""

    def __init__(self, per_minute: int = PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[datetime]] = {}

    def wait(self, client: str, now: datetime) -> timedelta | None:
        """None: go ahead (and counted); else how long to wait."""
        seen = self._seen.setdefault(client, deque())
        while seen and seen[0] <= now - WINDOW:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return seen[0] + WINDOW - now
        seen.append(now)
        if len(self._seen) > 100_000:  # forget idle clients rather than grow for ever
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - WINDOW}
        return None


async def throttled(request: Request, clock: ClockDep) -> None:
    """429 with Retry-After for a client over its minute."""
    client = request.client.host if request.client else "?"
    wait = request.app.state.throttle.wait(client, clock())
    if wait is not None:
        raise Problem(429, "too-many-requests", "请求过于频繁, 请稍后再试 (too many requests)",
                      headers={"Retry-After": str(max(1, math.ceil(wait.total_seconds())))})


Limited = Annotated[None, Depends(throttled)]


def _unit_zh(ref: ReferenceData, unit: str | None) -> str | None:
    try:
        return ref.directory.get(unit).name_zh if unit else None
    except UnknownUnit:
        return None


@router.get("/search", responses=problems(422, 429))
async def public_search(service: ServiceDep, clock: ClockDep, ref: RefDep, _: Limited,
                        q: Annotated[str, Query(min_length=1, max_length=100)],
                        limit: Annotated[int, Query(ge=1, le=20)] = 10) -> dict[str, Any]:
    """知识自助查询: public articles valid today, best first."""
    hits = await service.search(q, Filters(audiences=("public",)), local_day(clock()),
                                limit)
    return {"query": q, "items": [hit_json(h) | {"owning_unit_zh": _unit_zh(ref, h.owning_unit)}
                                  for h in hits]}


@router.get("/hot", responses=problems(429))
async def hot(service: ServiceDep, clock: ClockDep, ref: RefDep, _: Limited,
              limit: Annotated[int, Query(ge=1, le=20)] = 10) -> dict[str, Any]:
    """热点问答: this week's most used public articles (cited in answers, offered on chat
    channels, marked helpful), valid today."""
    today = local_day(clock())
    used = await service.read(most_used, today)
    items = []
    for row in used:
        live = await service.index.public_row(row["article_id"], today)
        if live is not None:
            items.append({"article_id": live["article_id"], "version": live["version"],
                          "title": live["title"], "kind": live["kind"],
                          "owning_unit_zh": _unit_zh(ref, live["owning_unit"]),
                          "uses": row["uses"]})
        if len(items) == limit:
            break
    return {"week_ending": today.isoformat(), "items": items}


@router.get("/articles/{article_id}", responses=problems(404, 422, 429))
async def public_article(article_id: ArticleId, service: ServiceDep, clock: ClockDep,
                         ref: RefDep, _: Limited) -> dict[str, Any]:
    """A public article as published now, with its validity and owning unit."""
    live = await service.index.public_row(article_id, local_day(clock()))
    text = await service.read(queries.version_text, article_id, live["version"]) if live else None
    if live is None or text is None:
        raise not_found(article_id)
    return {"article_id": article_id, "version": live["version"], "title": text["title"],
            "body": text["body"], "kind": text["kind"], "category": text["category"],
            "owning_unit": live["owning_unit"],
            "owning_unit_zh": _unit_zh(ref, live["owning_unit"]),
            "effective_from": live["effective_from"], "expires_at": live["expires_at"],
            "source_ref": live["source_ref"], "published_at": text["published_at"]}
