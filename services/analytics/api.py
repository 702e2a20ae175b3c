"""The analysts' API (数据分析): KPI definitions, KPI figures by period and one dimension,
the fact rows behind a figure, contact volumes by channel or district, and the call KPIs
(话务: 接通率, 15秒接通率, 放弃率, 平均等待时长) by period and queue with the call rows behind them.

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

import msgspec
from fastapi import APIRouter, Depends, Query, Response

from contracts.vocabulary import Channel, TicketType
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import CodeQuery, InstantQuery
from hotline.web import Problem, from_state, problems
from reference.directory import ReferenceData, UnknownUnit
from services.analytics import queries
from services.analytics.kpi import (
    BY_ID,
    CALL_BY_ID,
    CALL_DIMENSIONS,
    CALL_KPIS,
    KPIS,
    PERIODS,
    Dimension,
    Kpi,
    Period,
    call_definitions,
    definitions,
)
from services.analytics.service import AnalyticsService

router = APIRouter(prefix="/v1/analytics", tags=["analytics 数据分析"],
                   responses=problems(401, 403, 422))

Analyst = Annotated[Principal, Depends(roles("analyst", "supervisor", "auditor"))]
ServiceDep = Annotated[AnalyticsService, Depends(from_state("service"))]
RefDep = Annotated[ReferenceData, Depends(from_state("reference"))]
KPI_PATTERN = "^(" + "|".join(k.id for k in KPIS) + ")$"
CALL_KPI_PATTERN = "^(" + "|".join(k.id for k in CALL_KPIS) + ")$"
SideQuery = Annotated[queries.Side, Query(
    description="the rows the KPI's numerator or denominator counts")]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=queries.MAX_OFFSET)]
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


def _kpis(ids: list[str] | None, known: dict[str, Kpi] = BY_ID,
          every: tuple[Kpi, ...] = KPIS) -> list[Kpi]:
    """The KPIs asked for (default: all of `every`); 422 naming the unknown ids. A call KPI
    asked of the ticket figures (or the other way round) is unknown there, and says where
    it is."""
    unknown = sorted(set(ids or ()) - set(known))
    if unknown:
        elsewhere = [i for i in unknown if i in (CALL_BY_ID if known is BY_ID else BY_ID)]
        hint = "" if not elsewhere else (
            f" {', '.join(elsewhere)}: "
            + ("call KPIs, read from /v1/analytics/calls." if known is BY_ID
               else "ticket KPIs, read from /v1/analytics/kpis."))
        pattern = KPI_PATTERN if known is BY_ID else CALL_KPI_PATTERN
        raise Problem(422, "invalid-request", "未知的指标 (unknown KPI)",
                      f"Unknown KPI ids: {', '.join(unknown)}; see /v1/analytics/kpis/"
                      f"definitions.{hint}", errors=[{"field": "query.kpi", "reason": pattern}])
    return [known[i] for i in dict.fromkeys(ids)] if ids else list(every)


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
    """Every KPI: id, Chinese label, unit, and what its numerator and denominator count;
    the ticket KPIs (`kpis`, figures at `/kpis`) and the call KPIs (`call_kpis`, with their
    norm as `target` in %, figures at `/calls`, by period and `call_dimensions` only)."""
    return {"kpis": definitions(), "dimensions": [d.value for d in Dimension],
            "periods": list(PERIODS), "call_kpis": call_definitions(),
            "call_dimensions": list(CALL_DIMENSIONS)}


class _Shown(msgspec.Struct):
    """A figure as the API writes it: an object (msgspec writes a named tuple as an array)."""

    numerator: float
    denominator: int | None
    value: float | None


_JSON = msgspec.json.Encoder()


@router.get("/kpis", response_model=dict[str, Any])
async def kpi_figures(service: ServiceDep, reference: RefDep, who: Analyst,
                      filters: FiltersDep, since: From = None, until: To = None,
                      kpi: KpiIds = None, period: Period | None = None,
                      by: Dimension | None = None) -> Response:
    """KPI figures of the tickets registered in [from, to) matching the filters, grouped by
    period (day, week, month, quarter, year) and/or one dimension; each figure with its
    numerator and denominator."""
    kpis = _kpis(kpi)
    scope = _scope(since, until, filters, service.zone)
    groups = await service.read(queries.figures, kpis, scope,
                                period.value if period else None, by.value if by else None)
    return Response(figures_json(groups, kpis, namer(reference, by), {
        "from": since, "to": until, "period": period, "by": by, "filters": filters.values}),
        media_type="application/json")


def figures_json(groups: list[queries.Group], kpis: list[Kpi],
                 name: Callable[[str | None], str | None], asked: dict[str, Any]) -> bytes:
    """The `/kpis` answer: what was `asked` (from, to, period, by, filters), the KPIs'
    definitions and every group's figures, written by msgspec in one pass: a year by unit
    and month is 25,000 figures (1.8 MB), 80 ms through FastAPI's pydantic dump and
    json.dumps, 11 ms this way."""
    ids = {k.id for k in kpis}
    return _JSON.encode({
        **asked, "kpis": [d for d in definitions() if d["id"] in ids],
        "groups": [{"period": g.period, "key": g.key, "key_zh": name(g.key),
                    "figures": {i: _Shown(*f) for i, f in g.figures.items()}} for g in groups],
    })


@router.get("/facts/tickets")
async def ticket_facts(service: ServiceDep, who: Analyst, filters: FiltersDep,
                       since: From = None, until: To = None,
                       kpi: Annotated[str | None, Query(pattern=KPI_PATTERN)] = None,
                       side: SideQuery = "denominator", limit: Limit = 100, offset: Offset = 0,
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


class CallBy(StrEnum):
    """What call figures break down by: calls have no unit, district, category, channel or
    ticket type (a `by` of those is 422)."""

    QUEUE = "queue"


QueueQuery = Annotated[str | None, Query(
    pattern=r"^[^\x00-\x1f\x7f]{1,128}$", description="the queue (skill group) calls waited in")]
OfferedFrom = Annotated[InstantQuery, Query(alias="from", description="offered at or after")]
OfferedTo = Annotated[InstantQuery, Query(alias="to", description="offered before")]


def _call_scope(since: datetime | None, until: datetime | None,
                queue: str | None) -> queries.CallScope:
    check_range(since, until)
    return queries.CallScope(since, until, queue)


@router.get("/calls")
async def call_figures(service: ServiceDep, who: Analyst, since: OfferedFrom = None,
                       until: OfferedTo = None, kpi: KpiIds = None,
                       period: Period | None = None, by: CallBy | None = None,
                       queue: QueueQuery = None) -> dict[str, Any]:
    """话务: the call KPIs (呼入量, 接通率 with its norm ≥ 95 %, 15秒接通率, 放弃率,
    平均等待时长) of the calls offered in [from, to), grouped by period (day, week, month,
    quarter, year, in the city's local time) and/or queue; each figure with its numerator
    and denominator, and a share with a norm says whether it `meets` it."""
    kpis = _kpis(kpi, CALL_BY_ID, CALL_KPIS)
    scope = _call_scope(since, until, queue)
    groups = await service.read(queries.call_figures, kpis, scope,
                                period.value if period else None, by.value if by else None)
    ids = {k.id for k in kpis}

    def figure(kpi_id: str, f: Any) -> dict[str, Any]:
        target = CALL_BY_ID[kpi_id].target
        meets = None if target is None or f.value is None else f.value >= target
        return {**f._asdict(), **({"meets": meets} if target is not None else {})}

    return {
        "from": since, "to": until, "period": period, "by": by,
        "filters": {"queue": queue} if queue is not None else {},
        "kpis": [d for d in call_definitions() if d["id"] in ids],
        "groups": [{"period": g.period, "key": g.key,
                    "figures": {i: figure(i, f) for i, f in g.figures.items()}}
                   for g in groups],
    }


@router.get("/facts/calls")
async def call_facts(service: ServiceDep, who: Analyst, since: OfferedFrom = None,
                     until: OfferedTo = None, queue: QueueQuery = None,
                     kpi: Annotated[str | None, Query(pattern=CALL_KPI_PATTERN)] = None,
                     side: SideQuery = "denominator", limit: Limit = 100, offset: Offset = 0,
                     ) -> dict[str, Any]:
    """The call fact rows behind a call figure (drill-down): the same scope as `/calls`,
    and a call KPI's numerator or denominator; first offered first, with the total."""
    scope = _call_scope(since, until, queue)
    items, total = await service.read(queries.call_rows, scope,
                                      CALL_BY_ID[kpi] if kpi else None, side, limit, offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}
