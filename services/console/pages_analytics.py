"""数据分析, the analysts' pages: KPIs for a range of days (whole, or by period and one
dimension) with their definitions, the units' tiers, the hotspots, and the reports with
their charts and downloads.

The report files and charts pass through the console (`upstream.raw` on the person's
session), so the browser never needs the analytics port: a download keeps the service's
Content-Disposition (named after the report), and every file is sent with a CSP that lets
nothing in it run, so an SVG or HTML opened from the console's origin stays a picture.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.labels import BEIJING
from services.console.upstream import Refused
from services.console.web import Signed, back, command, need, posted, render, upstream

router = APIRouter(include_in_schema=False)
READERS = ("analyst", "supervisor", "auditor")
AUTHORS = ("analyst", "supervisor")  # auditors read reports, and make none
PERIODS = {"day": "按日", "week": "按周", "month": "按月", "quarter": "按季", "year": "按年"}
DIMENSIONS = {"unit": "承办单位", "district": "区域", "category1": "一级分类",
              "channel": "渠道", "ticket_type": "工单类型"}
REPORT_KINDS = {"daily": "日报", "weekly": "周报", "monthly": "月报", "quarterly": "季报",
                "annual": "年报", "special": "专题报告"}
FORMATS = {"html": ("HTML", "text/html; charset=utf-8"), "pdf": ("PDF", "application/pdf"),
           "csv": ("CSV", "text/csv; charset=utf-8"),
           "xlsx": ("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
CHART_ZH = {"trend": "趋势", "categories": "诉求分类", "channels": "来件渠道",
            "districts": "区域分布", "units": "承办单位"}
# the figures a grouped table shows unless others are ticked
MAIN_KPIS = ("tickets", "response_rate", "resolution_rate", "satisfaction_rate",
             "on_time_reply_rate", "return_rate", "avg_reply_work_hours")
CODE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
NO_SCRIPT = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; sandbox"


def fmt(value: float | int | None, unit: str) -> str:
    """A KPI's value as a person reads it: `95.5%`, `12`, `3.25 小时`, `—` for none."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f}%"
    if unit == "count":
        return f"{int(value):,}"
    if unit == "hours":
        return f"{value:.2f} 小时"
    if unit == "seconds":
        return f"{value:.1f} 秒"
    return f"{value}"


def _today() -> date:
    return datetime.now(BEIJING).date()


def _days(since: str, until: str, default: tuple[date, date]) -> tuple[date, date, str]:
    """The days [since, until] picked on the page (the last one included), or `default`,
    and what was wrong with them."""
    try:
        first = date.fromisoformat(since) if since else default[0]
        last = date.fromisoformat(until) if until else default[1]
    except ValueError:
        return default[0], default[1], "日期格式错误, 已显示默认期间"
    if last < first:
        return default[0], default[1], "结束日期早于开始日期, 已显示默认期间"
    return first, last, ""


def _instant(day: date) -> str:
    """The start of a Beijing day as an instant (the APIs take [from, to))."""
    return datetime.combine(day, time(0, 0), BEIJING).isoformat()


def _last_month() -> tuple[date, date]:
    first_this = _today().replace(day=1)
    last_prev = first_this - timedelta(days=1)
    return last_prev.replace(day=1), last_prev


@router.get("/analytics", response_model=None)
async def kpis(request: Request, person: Signed, since: str = Query("", alias="from"),
               until: str = Query("", alias="to"), period: str = "", by: str = "",
               kpi: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:
    """指标: every KPI for the range (one card each, with its numerator and denominator);
    grouped by period and/or a dimension, a table of the chosen KPIs."""
    need(person, *READERS)
    up, who = upstream(request), person.caller()
    first, last, problem = _days(since, until, (_today().replace(day=1), _today()))
    period = period if period in PERIODS else ""
    by = by if by in DIMENSIONS else ""
    definitions = await up.get("analytics", "/v1/analytics/kpis/definitions", who)
    known = {d["id"]: d for d in definitions["kpis"]}
    chosen = [k for k in kpi or () if k in known] or list(MAIN_KPIS)
    grouped = bool(period or by)
    params: dict[str, Any] = {"from": _instant(first), "to": _instant(last + timedelta(days=1)),
                              "period": period or None, "by": by or None}
    if grouped:
        params["kpi"] = chosen
    figures, calls = await asyncio.gather(
        up.get("analytics", "/v1/analytics/kpis", who, params),
        up.get("analytics", "/v1/analytics/calls", who,
               {"from": params["from"], "to": params["to"]}))
    groups = figures["groups"]
    whole = groups[0]["figures"] if groups and not grouped else {}
    return render(request, "analytics.html", person, tab="kpis", definitions=definitions["kpis"],
                  call_definitions=definitions.get("call_kpis", []),
                  calls=calls["groups"][0]["figures"] if calls["groups"] else {},
                  known=known, chosen=chosen, grouped=grouped, groups=groups, whole=whole,
                  first=first.isoformat(), last=last.isoformat(), period=period, by=by,
                  periods=PERIODS, dimensions=DIMENSIONS, fmt=fmt, problem=problem)


@router.get("/analytics/tiers", response_model=None)
async def tiers(request: Request, person: Signed, since: str = Query("", alias="from"),
                until: str = Query("", alias="to")) -> HTMLResponse:
    """单位分档: each peer group's units ranked, with the score's parts and the change from
    the period of the same length before (default: last month)."""
    need(person, *READERS)
    up, who = upstream(request), person.caller()
    first, last, problem = _days(since, until, _last_month())
    standings, policy, definitions = await asyncio.gather(
        up.get("analytics", "/v1/analytics/tiers", who,
               {"from": _instant(first), "to": _instant(last + timedelta(days=1))}),
        up.get("analytics", "/v1/analytics/tiers/policy", who),
        up.get("analytics", "/v1/analytics/kpis/definitions", who))
    return render(request, "analytics_tiers.html", person, tab="tiers", standings=standings,
                  policy=policy, first=first.isoformat(), last=last.isoformat(),
                  problem=problem, kpi_zh={d["id"]: d["label_zh"] for d in definitions["kpis"]})


@router.get("/analytics/hotspots", response_model=None)
async def hotspots(request: Request, person: Signed, since: str = Query("", alias="from"),
                   until: str = Query("", alias="to"), active: str = "") -> HTMLResponse:
    """热点: bursts of similar contacts and foreseen periodic demands (default: 30 days)."""
    need(person, *READERS)
    today = _today()
    first, last, problem = _days(since, until, (today - timedelta(days=30), today))
    window = _hotspot_window(first, last, active)
    found = await upstream(request).get("analytics", "/v1/analytics/hotspots", person.caller(),
                                        {**window, "limit": 200})
    return render(request, "analytics_hotspots.html", person, tab="hotspots", found=found,
                  first=first.isoformat(), last=last.isoformat(), active=active,
                  problem=problem, map_query=urlencode(window))


def _hotspot_window(first: date, last: date, active: str) -> dict[str, Any]:
    return {"from": _instant(first), "to": _instant(last + timedelta(days=1)),
            "active": {"yes": "true", "no": "false"}.get(active, "")}


@router.get("/analytics/hotspots/map.svg", response_model=None)
async def hotspot_map(request: Request, person: Signed, since: str = Query("", alias="from"),
                      until: str = Query("", alias="to"), active: str = "") -> Response:
    """热点分布图 (the analytics service draws it): districts shaded by their hotspots."""
    need(person, *READERS)
    answer = await upstream(request).raw("analytics", "/v1/analytics/hotspots/map.svg",
                                         person.caller(),
                                         {"from": since, "to": until, "active": active})
    return _passed_on(answer.content, "image/svg+xml", None)


@router.get("/analytics/reports", response_model=None)
async def reports(request: Request, person: Signed, kind: str = "",
                  offset: int = Query(0, ge=0, le=100_000)) -> HTMLResponse:
    """统计报告: the reports made, newest first, and (for their authors) a report made now."""
    need(person, *READERS)
    listing = await upstream(request).get("analytics", "/v1/analytics/reports", person.caller(), {
        "kind": kind if kind in REPORT_KINDS else None, "limit": 20, "offset": offset})
    return render(request, "analytics_reports.html", person, tab="reports", listing=listing,
                  kind=kind, kinds=REPORT_KINDS, formats=FORMATS, offset=offset,
                  authoring=person.role in AUTHORS, today=_today().isoformat())


def _report_path(report_id: str) -> str:
    if not CODE.match(report_id):
        raise Refused(404, "报告不存在 (no such report)")
    return f"/v1/analytics/reports/{report_id}"


@router.get("/analytics/reports/{report_id}", response_model=None)
async def report_page(report_id: str, request: Request, person: Signed) -> HTMLResponse:
    """One report: its figures against the period before, its charts, its files."""
    need(person, *READERS)
    up, who = upstream(request), person.caller()
    entry, definitions = await asyncio.gather(
        up.get("analytics", _report_path(report_id), who),
        up.get("analytics", "/v1/analytics/kpis/definitions", who))
    return render(request, "analytics_report.html", person, tab="reports", r=entry,
                  kinds=REPORT_KINDS, formats=FORMATS, chart_zh=CHART_ZH, fmt=fmt,
                  units={d["id"]: d["unit"] for d in definitions["kpis"]},
                  authoring=person.role in AUTHORS)


@router.post("/analytics/reports", response_model=None)
async def make_report(request: Request, person: Signed) -> RedirectResponse:
    """生成报告: a periodic kind and its period (default the latest complete one), or a
    special report over the days picked; asked for, and made by the service in the
    background (the report's page shows 生成中 and refreshes itself until it is made)."""
    need(person, *AUTHORS)
    form = await posted(request, person)
    kind = form.get("kind")
    body: dict[str, Any] = {"kind": kind, "period": form.get("period") or None}
    if kind == "special" and not body["period"]:
        try:
            last = date.fromisoformat(form.get("to"))
            body |= {"from": date.fromisoformat(form.get("from")).isoformat(),
                     "to": (last + timedelta(days=1)).isoformat()}
        except ValueError:
            return back("/analytics/reports", error="专题报告需要期间 (如 2026-11) 或起止日期")
    entry = await command(request, person, form, "analytics", "/v1/analytics/reports", body,
                          back_to="/analytics/reports")
    # the page says how the making goes (生成中, 生成失败): the note stays true on a reload
    done = "已生成" if entry["status"] == "ready" else "已提交"
    return back(f"/analytics/reports/{entry['report_id']}", ok=f"{done}: {entry['title']}")


@router.post("/analytics/reports/{report_id}/retry", response_model=None)
async def make_again(report_id: str, request: Request, person: Signed) -> RedirectResponse:
    """重新生成: a report that could not be made, asked for again as it was."""
    need(person, *AUTHORS)
    form = await posted(request, person)
    entry = await command(request, person, form, "analytics", f"{_report_path(report_id)}/retry",
                          None, back_to=f"/analytics/reports/{report_id}")
    return back(f"/analytics/reports/{report_id}", ok=f"已重新提交: {entry['title']}")


@router.post("/analytics/reports/{report_id}/withdraw", response_model=None)
async def withdraw(report_id: str, request: Request, person: Signed) -> RedirectResponse:
    """移除: a report that could not be made, taken off the list."""
    need(person, *AUTHORS)
    form = await posted(request, person)
    await command(request, person, form, "analytics", _report_path(report_id), None,
                  back_to="/analytics/reports", method="DELETE")
    return back("/analytics/reports", ok="已移除生成失败的报告")


@router.get("/analytics/reports/{report_id}/download/{fmt_}", response_model=None)
async def download(report_id: str, fmt_: str, request: Request, person: Signed) -> Response:
    """The report's file, as the service named it (an attachment)."""
    need(person, *READERS)
    if fmt_ not in FORMATS:
        raise Refused(404, "该报告无此格式 (format not kept)")
    answer = await upstream(request).raw("analytics", f"{_report_path(report_id)}.{fmt_}",
                                         person.caller())
    return _passed_on(answer.content, FORMATS[fmt_][1],
                      answer.headers.get("content-disposition") or
                      f'attachment; filename="report-{report_id}.{fmt_}"')


@router.get("/analytics/reports/{report_id}/charts/{chart}", response_model=None)
async def chart(report_id: str, chart: str, request: Request, person: Signed) -> Response:
    """One of the report's charts (SVG), for the report's page to show."""
    need(person, *READERS)
    if not CODE.match(chart):
        raise Refused(404, "该报告无此图表 (no such chart)")
    answer = await upstream(request).raw(
        "analytics", f"{_report_path(report_id)}/charts/{chart}.svg", person.caller())
    return _passed_on(answer.content, "image/svg+xml", None)


def _passed_on(content: bytes, media_type: str, disposition: str | None) -> Response:
    headers = {"Content-Security-Policy": NO_SCRIPT, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "private, max-age=300"}
    if disposition:
        headers["Content-Disposition"] = disposition
    return Response(content, media_type=media_type, headers=headers)
