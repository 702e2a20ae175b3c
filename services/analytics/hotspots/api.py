"""热点与突增 over HTTP: the hotspots and foreseen demands the detector appended, with their
evidence and linked tickets.

Analysts, supervisors and auditors, like the rest of the analytics API. Nothing here is
personal: a hotspot carries codes, counts, a baseline, a score, ticket numbers and contact
ids; the texts that were clustered never left the detector.

`attach` puts the routes on the analytics app and gives it the runner that appends the
hotspots (services/analytics/hotspots/runner.py), to be run beside the app's other work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Response
from fastapi.concurrency import run_in_threadpool

from hotline.params import CodeQuery, InstantQuery, PathId
from hotline.runtime import Background, Platform
from hotline.web import Problem, problems
from reference.directory import ReferenceData
from services.analytics.api import Analyst, RefDep, ServiceDep, check_range, namer
from services.analytics.hotspots.board import HotspotFilter, hotspot_detail, hotspot_list
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.checkpoint import Checkpoints
from services.analytics.hotspots.detector import Detector
from services.analytics.hotspots.runner import HotspotRunner, Together
from services.analytics.kpi import Dimension
from services.analytics.reports import charts

router = APIRouter(prefix="/v1/analytics", tags=["analytics 数据分析"],
                   responses=problems(401, 403, 422))
MAX_PAGE = 500
KIND_ZH = {"hotspot": "热点", "foresight": "周期性诉求预警"}
DIMENSION_ZH = {"category1": "区域+一级分类", "category2": "区域+二级分类",
                "text": "相似诉求聚类"}


class Kind(StrEnum):
    HOTSPOT = "hotspot"
    FORESIGHT = "foresight"


def _labelled(row: dict[str, Any], reference: ReferenceData) -> dict[str, Any]:
    """A row with the Chinese names a person reads: kind, dimension, status, district and
    category (the code itself when the directory does not know it)."""
    district_zh = namer(reference, Dimension.DISTRICT)(row["district_code"])
    try:
        category_zh = (reference.taxonomy.label_zh(row["category1"], row["category2"])
                       if row["category1"] else None)
    except (KeyError, LookupError, ValueError):
        category_zh = "/".join(c for c in (row["category1"], row["category2"]) if c)
    return {**row, "kind_zh": KIND_ZH[row["kind"]],
            "dimension_zh": DIMENSION_ZH.get(row["dimension"], row["dimension"]),
            "status_zh": "持续中" if row["active"] else "已消退",
            "district_zh": district_zh, "category_zh": category_zh}


@router.get("/hotspots")
async def list_hotspots(
    service: ServiceDep, reference: RefDep, who: Analyst,
    since: Annotated[InstantQuery, Query(alias="from", description="window starts at or after")
                     ] = None,
    until: Annotated[InstantQuery, Query(alias="to", description="window starts before")
                     ] = None,
    district: CodeQuery = None,
    category: Annotated[str | None, Query(min_length=1, max_length=128,
                                          description="level-1 or level-2 category")] = None,
    kind: Kind | None = None,
    active: Annotated[bool | None, Query(description="still active (not cleared)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """热点列表: hotspots (and foreseen periodic demands) whose window starts in [from, to),
    newest first, with their counts, baselines and scores."""
    check_range(since, until)
    rows, total = await service.read(hotspot_list, HotspotFilter(
        since, until, district, category, kind.value if kind else None, active), limit, offset)
    return {"items": [_labelled(r, reference) for r in rows], "total": total, "limit": limit,
            "offset": offset}


@router.get("/hotspots/map.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
async def hotspot_map(
    service: ServiceDep, who: Analyst,
    since: Annotated[InstantQuery, Query(alias="from", description="window starts at or after")
                     ] = None,
    until: Annotated[InstantQuery, Query(alias="to", description="window starts before")
                     ] = None,
    active: Annotated[bool | None, Query(description="still active (not cleared)")] = None,
) -> Response:
    """热点分布图: the city's districts shaded by the hotspots found in [from, to)."""
    check_range(since, until)
    rows, _ = await service.read(hotspot_list, HotspotFilter(
        since, until, None, None, Kind.HOTSPOT.value, active), MAX_PAGE, 0)
    counts = Counter(r["district_code"] for r in rows if r["district_code"])
    svg = await run_in_threadpool(charts.hotspot_map, dict(counts))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/hotspots/{hotspot_id}", responses=problems(404))
async def get_hotspot(service: ServiceDep, reference: RefDep, who: Analyst,
                      hotspot_id: PathId) -> dict[str, Any]:
    """一个热点: its window, count, baseline, score, evidence (ticket numbers, contact ids)
    and the tickets linked to it."""
    found = await service.read(hotspot_detail, hotspot_id)
    if found is None:
        raise Problem(404, "hotspot-unknown", "热点不存在 (no such hotspot)",
                      f"No hotspot {hotspot_id}.")
    return _labelled(found, reference)


def background(platform: Platform, clock: Callable[[], datetime],
               alongside: Background | None) -> tuple[HotspotRunner, Background]:
    """The hotspot runner, and what the app runs in the background: it and `alongside`."""
    runner = HotspotRunner(platform.log, Detector(load_policy()), clock,
                           checkpoints=Checkpoints(platform.db))
    return runner, Together([b for b in (alongside, runner) if b is not None])


def attach(app: FastAPI, runner: HotspotRunner) -> None:
    """The routes on the app, and its runner in `app.state.hotspots` (tests wait on it)."""
    app.include_router(router)
    app.state.hotspots = runner
