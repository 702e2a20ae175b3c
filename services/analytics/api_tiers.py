"""单位分档考核 over HTTP: the scoring policy, and each peer group's standings for a period
with every score's components and its change from the period before."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from hotline.params import Instant
from hotline.web import from_state, problems
from reference.directory import ReferenceData
from services.analytics import queries
from services.analytics.api import Analyst, RefDep, ServiceDep, check_range
from services.analytics.kpi import BY_ID
from services.analytics.service import AnalyticsService
from services.analytics.tiers import Policy, evaluate

router = APIRouter(prefix="/v1/analytics", tags=["analytics 数据分析"],
                   responses=problems(401, 403, 422))
PolicyDep = Annotated[Policy, Depends(from_state("scoring"))]


@router.get("/tiers/policy")
async def scoring_policy(policy: PolicyDep, who: Analyst) -> dict[str, Any]:
    """The scoring policy in force: KPI weights and directions, peer groups, tiers."""
    return {"min_tickets": policy.min_tickets,
            "weights": [asdict(w) for w in policy.weights],
            "peer_groups": [{"id": g.id, "label_zh": g.label_zh, "level": g.level,
                             "kinds": sorted(g.kinds)} for g in policy.peer_groups],
            "tiers": [asdict(t) for t in policy.tiers]}


@router.get("/tiers")
async def unit_tiers(service: ServiceDep, reference: RefDep, policy: PolicyDep, who: Analyst,
                     since: Annotated[Instant, Query(alias="from")],
                     until: Annotated[Instant, Query(alias="to")]) -> dict[str, Any]:
    """Every peer group's units for tickets registered in [from, to): score, rank, tier,
    the components behind the score, and the change from the period of the same length
    just before."""
    check_range(since, until)
    now = await _by_unit(service, policy, since, until)
    before = await _by_unit(service, policy, since - (until - since), since)
    standings = evaluate(policy, reference.directory.units(), now, before)
    return {"from": since, "to": until, "previous_from": since - (until - since),
            "groups": [{"id": g.id, "label_zh": g.label_zh,
                        "units": [asdict(s) for s in standings[g.id]]}
                       for g in policy.peer_groups]}


async def _by_unit(service: AnalyticsService, policy: Policy, since: datetime,
                   until: datetime) -> dict[str, dict[str, Any]]:
    kpis = [BY_ID["tickets"], *(BY_ID[w.kpi] for w in policy.weights)]
    groups = await service.read(queries.figures, kpis,
                                queries.Scope(since, until, zone=service.zone), None, "unit")
    return {g.key: g.figures for g in groups if g.key is not None}


def attach(app: Any, reference: ReferenceData) -> None:
    """The routes and the policy on an app; every unit of the directory must belong to
    exactly one peer group, or the service does not start."""
    policy = Policy.load()
    wrong = [u.id for u in reference.directory.units()
             if sum(g.holds(u) for g in policy.peer_groups) != 1]
    if wrong:
        raise ValueError(f"scoring.json: units not in exactly one peer group: {', '.join(wrong)}")
    app.state.scoring = policy
    app.include_router(router)
