"""Public endpoints: the citizen's progress query and the directory.

The progress query needs no key, so it proves ownership with the last four
digits of the caller's phone, and guessing them is slowed per client and per
ticket without locking the citizen out (services/dispatch/guesses.py).
What it shows is public by construction: status, the unit's name, public
steps with phone and ID numbers masked; never the citizen's data.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.ticket_events import TICKET_NUMBER
from contracts.vocabulary import TicketType
from hotline.params import CODE_PATTERN, CodeQuery
from hotline.web import Problem, problems
from reference.directory import NoRoute, UnknownDistrict
from services.dispatch.api_common import ClockDep, Reader, ServiceDep
from services.dispatch.guesses import GuessLimit

router = APIRouter(prefix="/v1")


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_number: str = Field(pattern=TICKET_NUMBER, description="e.g. 12345-20261122-000123")
    phone_last4: str = Field(pattern=r"^[0-9]{4}$", description="Last four digits of your phone")


@router.post("/public/progress", tags=["citizens 市民"], responses=problems(404, 429))
async def citizen_progress(body: ProgressIn, request: Request, service: ServiceDep,
                           clock: ClockDep) -> dict[str, Any]:
    """工单进度查询: by ticket number and the last four digits of the caller's phone (POST,
    so the digits stay out of URLs and access logs)."""
    limit: GuessLimit = request.app.state.guesses
    now = clock()
    client = request.client.host if request.client else "?"  # the proxy's view, when trusted
    wait = limit.wait(body.ticket_number, client, now)
    if wait is not None:
        raise Problem(429, "too-many-attempts", "查询过于频繁, 请稍后再试 (too many attempts)",
                      headers={"Retry-After": str(math.ceil(wait.total_seconds()))})
    found = await service.progress(body.ticket_number, body.phone_last4)
    if found is None:
        limit.failed(body.ticket_number, client, now)
        raise Problem(404, "progress-not-found", "未找到工单 (no such ticket)",
                      "No ticket matches this number and phone.")
    row, directory = found.row, service.ref.directory
    unit = row.lead_unit
    return {
        "ticket_number": row.ticket_number,
        "status": row.status,
        "status_zh": row.status_zh,
        "ticket_type_zh": row.ticket_type_zh,
        "category_zh": service.ref.taxonomy.label_zh(row.category1, row.category2),
        "registered_at": row.registered_at,
        "unit_zh": directory.get(unit).name_zh if unit else None,
        "steps": [{"at": s.at, "step_zh": s.step_zh, "text": s.text} for s in found.steps],
    }


@router.get("/directory/districts", tags=["directory 单位名录"])
async def districts(service: ServiceDep, who: Reader) -> list[dict[str, str]]:
    return [{"code": d.code, "name_zh": d.name_zh} for d in service.ref.directory.districts()]


@router.get("/directory/categories", tags=["directory 单位名录"])
async def categories(service: ServiceDep, who: Reader) -> list[dict[str, Any]]:
    tax = service.ref.taxonomy
    return [{"code": n.code, "name_zh": n.name_zh,
             "children": [{"code": k.code, "name_zh": k.name_zh} for k in tax.children(n.code)]}
            for n in tax.level1()]


DISTRICT = r"^[0-9]{6,12}$"  # 行政区划代码, as contracts.base.DistrictCode


@router.get("/directory/units", tags=["directory 单位名录"])
async def units(service: ServiceDep, who: Reader,
                district: Annotated[str | None, Query(pattern=DISTRICT)] = None,
                level: Annotated[int | None, Query(ge=1, le=3)] = None,
                kind: CodeQuery = None,
                ) -> list[dict[str, Any]]:
    """单位名录: the member units, filtered by district coverage, level or kind."""
    directory = service.ref.directory
    try:
        found = directory.covering(district, kind=kind, level=level) if district else [
            u for u in directory.units()
            if (level is None or u.level == level) and (kind is None or u.kind == kind)]
    except UnknownDistrict:
        raise Problem(422, "invalid-reference", "引用的对象不存在 (unknown reference)",
                      "No district has this code; see /v1/directory/districts.",
                      errors=[{"field": "query.district", "reason": "unknown district"}],
                      ) from None
    return [{"id": u.id, "name_zh": u.name_zh, "level": u.level, "parent": u.parent,
             "kind": u.kind, "districts": u.districts, "categories": u.categories,
             "channel": u.channel, "phone": u.phone} for u in found]


@router.get("/directory/route", tags=["directory 单位名录"])
async def route(service: ServiceDep, who: Reader, ticket_type: TicketType,
                district: Annotated[str, Query(pattern=DISTRICT)],
                category1: Annotated[str, Query(pattern=CODE_PATTERN)],
                category2: CodeQuery = None,
                ) -> dict[str, Any]:
    """派单目录: the unit the catalogue names for a category, type and district."""
    try:
        found = service.ref.catalogue.route(category1, category2, ticket_type, district)
    except (NoRoute, ValueError, KeyError) as exc:
        raise Problem(422, "no-route", "派单目录无匹配规则 (no catalogue rule)", str(exc)) from None
    unit = service.ref.directory.get(found.unit_id)
    return {"unit_id": found.unit_id, "unit_zh": unit.name_zh, "level": found.level,
            "rule_id": found.rule_id, "reason_zh": found.reason_zh}
