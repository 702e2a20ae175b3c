"""The analysts' API (数据分析): KPI definitions, KPI figures by period and one dimension,
the fact rows behind a figure, and contact volumes by channel or district.

Analysts, supervisors and auditors only: operators, units and channel adapters get 403.
Nothing here is personal: fact rows carry ticket numbers, codes, times, counts and
ratings, never a name, phone, address, reason or free text, so no role sees more than
another. Every figure carries its numerator and denominator; the same scope and KPI on
`facts/tickets` lists the tickets counted, so any figure can be recounted by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from contracts.vocabulary import Channel, TicketType
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import CodeQuery, InstantQuery
from hotline.web import Problem, from_state, problems
from reference.directory import ReferenceData, UnknownUnit
from services.analytics import queries
from services.analytics.kpi import BY_ID, KPIS, PERIODS, Dimension, Kpi, Period, definitions
from services.analytics.service import AnalyticsService

router = APIRouter(prefix="/v1/analytics", tags=["analytics 数据分析"],
                   responses=problems(401, 403, 422))

Analyst = Annotated[Principal, Depends(roles("analyst", "supervisor", "auditor"))]
ServiceDep = Annotated[AnalyticsService, Depends(from_state("service"))]
RefDep = Annotated[ReferenceData, Depends(from_state("reference"))]
KPI_PATTERN = "^(" + "|".join(k.id for k in KPIS) + ")$"
From = Annotated[InstantQuery, Query(alias="from", description="registered at or after")]
To = Annotated[InstantQuery, Query(alias="to", description="registered before")]
KpiIds = Annotated[list[str] | None, Query(
    alias="kpi", description="KPI ids (repeat the parameter); default: every KPI")]
ChannelQuery = Annotated[Channel | None, Query(description="channel of the first contact")]
TypeQuery = Annotated[TicketType | None, Query(description="ticket type")]


class Filters:
    """The dimension filters every read takes (a ticket must match all of them)."""

    def __init__(self, unit: CodeQuery = None, district: CodeQuery = None,
                 category1: CodeQuery = None, channel: ChannelQuery = None,
                 ticket_type: TypeQuery = None) -> None:
        given = {"unit": unit, "district": district, "category1": category1,
                 "channel": channel.value if channel else None,
                 "ticket_type": ticket_type.value if ticket_type else None}
        self.values = {k: v for k, v in given.items() if v is not None}


FiltersDep = Annotated[Filters, Depends()]


def check_range(since: datetime | None, until: datetime | None) -> None:
    """422 for a range [from, to) that ends before it starts (every analytics read)."""
    if since is not None and until is not None and until <= since:
        raise Problem(422, "invalid-request", "结束时间须晚于开始时间 (to must be after from)",
                      "Ask for [from, to): to after from.")


def _scope(since: datetime | None, until: datetime | None, filters: Filters,
           zone: tzinfo | None = None) -> queries.Scope:
    check_range(since, until)
    return queries.Scope(since, until, filters.values, zone)


def _kpis(ids: list[str] | None) -> list[Kpi]:
    unknown = sorted(set(ids or ()) - set(BY_ID))
    if unknown:
        raise Problem(422, "invalid-request", "未知的指标 (unknown KPI)",
                      f"Unknown KPI ids: {', '.join(unknown)}; see /v1/analytics/kpis/"
                      "definitions.", errors=[{"loc": ["query", "kpi"], "msg": KPI_PATTERN}])
    return [BY_ID[i] for i in dict.fromkeys(ids)] if ids else list(KPIS)


def namer(reference: ReferenceData, by: Dimension | None) -> Callable[[str | None], str | None]:
    """The Chinese name of a dimension's value, for the table a person reads."""
    directory = reference.directory

    def name(key: str | None) -> str | None:
        if key is None:
            return None
        try:
            match by:
                case Dimension.UNIT:
                    return directory.get(key).name_zh
                case Dimension.DISTRICT:
                    return directory.district(key).name_zh
                case Dimension.CHANNEL:
                    return Channel(key).zh
                case Dimension.TICKET_TYPE:
                    return TicketType(key).zh
                case Dimension.CATEGORY1:
                    return reference.taxonomy.label_zh(key)
        except (UnknownUnit, KeyError, ValueError, LookupError):
            return key
        return key

    return name


@router.get("/kpis/definitions")
async def kpi_definitions(who: Analyst) -> dict[str, Any]:
    """Every KPI: id, Chinese label, unit, and what its numerator and denominator count."""
    return {"kpis": definitions(), "dimensions": [d.value for d in Dimension],
            "periods": list(PERIODS)}


@router.get("/kpis")
async def kpi_figures(service: ServiceDep, reference: RefDep, who: Analyst,
                      filters: FiltersDep, since: From = None, until: To = None,
                      kpi: KpiIds = None, period: Period | None = None,
                      by: Dimension | None = None) -> dict[str, Any]:
    """KPI figures of the tickets registered in [from, to) matching the filters, grouped by
    period (day, week, month, quarter, year) and/or one dimension; each figure with its
    numerator and denominator."""
    kpis = _kpis(kpi)
    scope = _scope(since, until, filters, service.zone)
    groups = await service.read(queries.figures, kpis, scope,
                                period.value if period else None, by.value if by else None)
    name = namer(reference, by)
    return {
        "from": since, "to": until, "period": period, "by": by, "filters": filters.values,
        "kpis": [d for d in definitions() if d["id"] in {k.id for k in kpis}],
        "groups": [{"period": g.period, "key": g.key, "key_zh": name(g.key),
                    "figures": {i: f._asdict() for i, f in g.figures.items()}} for g in groups],
    }


@router.get("/facts/tickets")
async def ticket_facts(service: ServiceDep, who: Analyst, filters: FiltersDep,
                       since: From = None, until: To = None,
                       kpi: Annotated[str | None, Query(pattern=KPI_PATTERN)] = None,
                       side: Annotated[queries.Side, Query(
                           description="the tickets the KPI's numerator or denominator "
                           "counts")] = "denominator",
                       limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
                       offset: Annotated[int, Query(ge=0, le=queries.MAX_OFFSET)] = 0,
                       ) -> dict[str, Any]:
    """The fact rows behind a figure (drill-down): the same scope as `/kpis`, and a KPI's
    numerator or denominator; oldest registration first, with the total."""
    scope = _scope(since, until, filters)
    items, total = await service.read(queries.fact_rows, scope, BY_ID[kpi] if kpi else None,
                                      side, limit, offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


class ContactBy(StrEnum):
    CHANNEL = "channel"
    DISTRICT = "district"


@router.get("/contacts")
async def contact_counts(service: ServiceDep, reference: RefDep, who: Analyst,
                         since: From = None, until: To = None, period: Period | None = None,
                         by: ContactBy | None = None, channel: ChannelQuery = None,
                         district: CodeQuery = None) -> dict[str, Any]:
    """来电量: contacts received in [from, to) by period and channel or district, with what
    became of them (registered, merged as a repeat, dismissed, pending, answered directly)."""
    _scope(since, until, Filters())
    filters = {k: v for k, v in (("channel", channel.value if channel else None),
                                 ("district", district)) if v is not None}
    groups = await service.read(queries.contact_counts, since, until,
                                period.value if period else None, by.value if by else None,
                                filters)
    name = namer(reference, Dimension(by.value) if by else None)
    return {"from": since, "to": until, "period": period, "by": by, "filters": filters,
            "groups": [{**asdict(g), "key_zh": name(g.key)} for g in groups]}
