"""The reports API (统计报告): generate a report, list them, read one's entry, download it
as HTML, PDF, CSV or XLSX, or one of its charts as SVG.

Analysts and supervisors generate, and make again or withdraw a report that could not be
made; auditors, like them, list and download (an auditor checks what was reported, and does
not file reports). A made report is never deleted: it is what was reported. Reports hold no
personal data: the same figures the KPI API gives, by code and Chinese name. A download is
named after the report's Chinese title (RFC 6266/5987 `filename*`, with an ASCII `filename`
for clients that predate it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.vocabulary import Channel, TicketType
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import CODE_PATTERN
from hotline.web import Problem, from_state, problems
from services.analytics.reports.content import check_filters
from services.analytics.reports.jobs import Conflict, Order, ReportMaker
from services.analytics.reports.orders import MAKING, Ordered
from services.analytics.reports.periods import BadPeriod, Kind, last_complete, parse, special
from services.analytics.reports.periods import special_of as special_period
from services.analytics.reports.render import TYPES
from services.analytics.reports.store import Stored
from ticketing.web import IdempotencyKey

router = APIRouter(prefix="/v1/analytics/reports", tags=["analytics 数据分析"],
                   responses=problems(401, 403, 422))

Reader = Annotated[Principal, Depends(roles("analyst", "supervisor", "auditor"))]
Author = Annotated[Principal, Depends(roles("analyst", "supervisor"))]
MakerDep = Annotated[ReportMaker, Depends(from_state("reports"))]
ClockDep = Annotated[Callable[[], datetime], Depends(from_state("clock"))]
ReportId = Annotated[str, Path(pattern=CODE_PATTERN, description="a report's id")]


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    SPECIAL = "special"


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"
    XLSX = "xlsx"


Code = Annotated[str | None, Field(pattern=CODE_PATTERN)]


class ReportFilters(BaseModel):
    """What a report is limited to (a special report's subject, or a district's monthly
    report): every ticket must match all of them."""

    model_config = ConfigDict(extra="forbid")
    unit: Code = None
    district: Code = None
    category1: Code = None
    channel: Channel | None = None
    ticket_type: TicketType | None = None

    def values(self) -> dict[str, str]:
        return {k: str(v.value if isinstance(v, StrEnum) else v)
                for k, v in self.model_dump().items() if v is not None}


class ReportBody(BaseModel):
    """A report to make: a periodic kind and its period (default: the latest complete
    one), or a special report over a period or a range of whole local days [from, to)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    kind: ReportKind
    period: Annotated[str | None, Field(max_length=32, examples=["2026-11", "2026-W48",
                                                                "2026-11-23", "2026-Q4"])] = None
    since: Annotated[date | None, Field(alias="from")] = None
    until: Annotated[date | None, Field(alias="to", description="exclusive")] = None
    filters: ReportFilters = Field(default_factory=ReportFilters)


def _bad(detail: str) -> Problem:
    return Problem(422, "invalid-request", "报告期无效 (bad report period)", detail,
                   errors=[{"field": "period", "reason": detail}])


def _order(body: ReportBody, maker: ReportMaker, now: datetime) -> Order:
    kind: Kind = body.kind.value  # type: ignore[assignment]
    try:
        if kind == "special":
            if body.period is not None and (body.since or body.until):
                raise BadPeriod("give a period or a range (from, to), not both")
            if body.period is not None:
                span = special_period(body.period)
            elif body.since is None or body.until is None:
                raise BadPeriod("a special report needs a period or a range (from, to)")
            else:
                span = special(body.since, body.until)
        else:
            if body.since or body.until:
                raise BadPeriod(f"a {kind} report takes a period; a range is a special report")
            span = parse(kind, body.period) if body.period else last_complete(
                kind, now, maker.zone)
    except BadPeriod as exc:
        raise _bad(str(exc)) from exc
    filters = body.filters.values()
    try:
        check_filters(maker.reference, filters)
    except KeyError as exc:
        raise Problem(422, "invalid-request", "筛选条件无效 (unknown filter value)",
                      f"Not in the directory: {exc.args[0]}.",
                      errors=[{"field": "filters", "reason": str(exc.args[0])}]) from exc
    return Order(kind, span, filters)


def _links(entry: Stored) -> dict[str, Any]:
    base = f"{router.prefix}/{entry.report_id}"
    return {**entry.public(), "links": {fmt: f"{base}.{fmt}" for fmt in entry.public()[
        "formats"]} | {f"chart:{c}": f"{base}/charts/{c}.svg" for c in entry.public()["charts"]}}


def _shown(standing: Stored | Ordered) -> dict[str, Any]:
    """A made report with its links, or an order with the link to ask again."""
    if isinstance(standing, Stored):
        return _links(standing)
    return standing.public() | {"links": {"self": f"{router.prefix}/{standing.report_id}"}}


async def _standing(maker: ReportMaker, report_id: str) -> Stored | Ordered:
    """The report made, or else its order; 404 when neither exists."""
    standing = await maker.standing(report_id)
    if standing is None:
        raise Problem(404, "report-unknown", "报告不存在 (no such report)",
                      f"No report has the id {report_id}.")
    return standing


async def _entry(maker: ReportMaker, report_id: str) -> Stored:
    """A made report; 409 while it is being made or when it failed, 404 when unknown."""
    standing = await _standing(maker, report_id)
    if isinstance(standing, Stored):
        return standing
    if standing.status == MAKING:
        raise Problem(409, "report-making", "报告生成中 (the report is being made)",
                      "Ask for its entry until its status is ready.")
    raise Problem(409, "report-failed", "报告生成失败 (the report could not be made)",
                  f"{standing.error}; make it again: POST {router.prefix}/"
                  f"{standing.report_id}/retry.")


def _not_failed(standing: Stored | Ordered) -> Problem:
    """Why a report that is not a failed order can be neither made again nor withdrawn."""
    if isinstance(standing, Stored):
        return Problem(409, "report-made", "报告已生成 (the report is made)",
                       "A made report stays on record; ask for a new one instead.")
    return Problem(409, "report-making", "报告生成中 (the report is being made)",
                   "Ask for its entry until its status is ready.")


_ORDER_ID = uuid.UUID("0b5e2f3c-7d41-4a8e-9c62-12345a0f0016")


def _report_id(who: Principal, key: str | None) -> str:
    """Stable for a client's retry (same actor, same Idempotency-Key), fresh otherwise."""
    if key:
        return uuid.uuid5(_ORDER_ID, f"{who.actor}\n{key}").hex
    return uuid.uuid4().hex


@router.post("", status_code=202, responses=problems(401, 403, 409, 422))
async def make_report(body: ReportBody, maker: MakerDep, clock: ClockDep, who: Author,
                      response: Response, key: IdempotencyKey = None) -> dict[str, Any]:
    """Ask for a report: written down and answered at once (202, status `making`), drawn in
    the background; its entry (`Location`) says `ready` when it can be downloaded. A retry
    with the same Idempotency-Key gets the same report."""
    now = clock()
    try:
        standing = await maker.request(_order(body, maker, now), now, who.actor,
                                       _report_id(who, key))
    except Conflict as exc:
        raise Problem(409, "idempotency-conflict",
                      "幂等键已用于其他请求 (Idempotency-Key reused)",
                      "This Idempotency-Key asked for a different report.") from exc
    response.headers["Location"] = f"{router.prefix}/{standing.report_id}"
    return _shown(standing)


@router.post("/{report_id}/retry", status_code=202, responses=problems(401, 403, 404, 409, 422))
async def make_again(report_id: ReportId, maker: MakerDep, who: Author,
                     response: Response) -> dict[str, Any]:
    """重新生成: a report that could not be made (`failed`) is made again, as it was asked
    for (202, status `making`); 409 for one made or being made."""
    ordered = await maker.again(report_id)
    if ordered is None:
        raise _not_failed(await _standing(maker, report_id))
    response.headers["Location"] = f"{router.prefix}/{report_id}"
    return _shown(ordered)


@router.delete("/{report_id}", status_code=204, response_class=Response,
               responses=problems(401, 403, 404, 409, 422))
async def withdraw(report_id: ReportId, maker: MakerDep, who: Author) -> Response:
    """移除: a report that could not be made (`failed`) taken off the list; a made report
    stays on record and one being made is left to finish (409)."""
    if not await maker.orders.withdraw(report_id):
        raise _not_failed(await _standing(maker, report_id))
    return Response(status_code=204)


@router.get("")
async def list_reports(maker: MakerDep, who: Reader, kind: ReportKind | None = None,
                       period: Annotated[str | None, Query(max_length=32)] = None,
                       limit: Annotated[int, Query(ge=1, le=100)] = 20,
                       offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> dict[str, Any]:
    """The reports made, newest first, of one kind and/or period when asked."""
    items, total = await maker.store.listing(kind.value if kind else None, period, limit,
                                             offset)
    pending = await maker.orders.listing(kind.value if kind else None, period)
    return {"items": [_links(e) for e in items], "total": total, "limit": limit,
            "offset": offset, "pending": [_shown(o) for o in pending]}


async def _download(maker: ReportMaker, entry: Stored, key: str, suffix: str,
                    media_type: str) -> Response:
    content = await maker.store.file(entry.report_id, entry.files[key])
    if content is None:
        raise Problem(404, "report-file-missing", "报告文件缺失 (the file is not kept)",
                      f"The report's {entry.files[key]} is not in the register.")
    name = f"{entry.title}{'-' + key.removeprefix('chart-') if key.startswith('chart-') else ''}"
    ascii_name = f"report-{entry.kind}-{entry.period.replace('..', '_')}.{suffix}"
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(f'{name}.{suffix}', safe='')}"})


BINARY = {"schema": {"type": "string", "format": "binary"}}
FILES: dict[int | str, dict[str, Any]] = {200: {
    "description": "the file, named in Content-Disposition",
    "content": {TYPES[f].split(";")[0]: BINARY for f in ("html", "pdf", "csv", "xlsx")}}}
SVG: dict[int | str, dict[str, Any]] = {200: {
    "description": "the chart", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}}


@router.get("/{report_id}.{fmt}", response_class=Response,
            responses={**FILES, **problems(401, 403, 404, 409, 422)})
async def download(report_id: ReportId, fmt: Format, maker: MakerDep, who: Reader) -> Response:
    """The report as HTML or PDF, or the tables behind it as CSV (UTF-8 with BOM) or XLSX."""
    entry = await _entry(maker, report_id)
    if fmt.value not in entry.files:
        raise Problem(404, "report-format-missing", "该报告无此格式 (format not kept)",
                      f"The report was not made as {fmt.value}.")
    return await _download(maker, entry, fmt.value, fmt.value, TYPES[fmt.value])


@router.get("/{report_id}/charts/{chart}.svg", response_class=Response,
            responses={**SVG, **problems(401, 403, 404, 409, 422)})
async def chart(report_id: ReportId, chart: Annotated[str, Path(pattern=CODE_PATTERN)],
                maker: MakerDep, who: Reader) -> Response:
    """One of the report's charts as SVG (as embedded in its HTML and PDF)."""
    entry = await _entry(maker, report_id)
    if f"chart-{chart}" not in entry.files:
        raise Problem(404, "report-chart-unknown", "该报告无此图表 (no such chart)",
                      f"Charts: {', '.join(entry.public()['charts'])}.")
    return await _download(maker, entry, f"chart-{chart}", "svg", "image/svg+xml")


@router.get("/{report_id}", responses=problems(401, 403, 404, 422))
async def report_entry(report_id: ReportId, maker: MakerDep, who: Reader) -> dict[str, Any]:
    """A report's entry: kind, period, parameters, when and by whom, its figures, links;
    while it is made (`making`) or when it failed (`failed`, with why), its order."""
    return _shown(await _standing(maker, report_id))
