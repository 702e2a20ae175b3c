"""A report's content (报告内容): every figure and table of one daily, weekly, monthly,
quarterly, annual or special report, read from the fact tables through the KPI queries
(`queries.figures`, `queries.contact_counts`), so a report says exactly what the KPI API
says for the same scope, and any figure in it can be recounted from `facts/tickets`.

Content is plain data (no charts, no markup): the charts (charts.py) and the HTML,
PDF, CSV and XLSX (render.py) are all drawn from the same `Report`, so the tables
exported are the tables behind the charts and the text.

Adding a section: read its figures in `gather` (a `queries.figures` breakdown), give it a
`Table` in `tables_of` (then it is in the CSV and XLSX), a chart in charts.CHARTS if
it has one, and its heading in templates/report.html. Adding a kind of report: its period
syntax, label and comparison period in periods.py (and `PERIODIC` if the schedule
makes it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.vocabulary import Channel, TicketType
from reference.directory import ReferenceData, UnknownUnit
from services.analytics import queries
from services.analytics.kpi import BY_ID, CALL_KPIS, KPIS, Figure
from services.analytics.reports.hotspot_section import hotspot_rows
from services.analytics.reports.periods import KINDS_ZH, Span, grain_keys, trend_grain

CITY_ZH = "示例市"
TOP = 10  # categories listed
RANKED = 5  # units at the top and at the bottom of a ranking
MIN_BASE = 3  # a unit is ranked on a rate only with at least this many tickets behind it
FILTERS_ZH = {"unit": "承办单位", "district": "区县", "category1": "诉求分类",
              "channel": "渠道", "ticket_type": "工单类型"}
RATE_KPIS = ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_reply_rate")


@dataclass(frozen=True, slots=True)
class Headline:
    """One KPI of the report period beside the previous period's."""

    id: str
    label_zh: str
    unit: str
    definition_zh: str
    now: Figure
    before: Figure

    @property
    def change(self) -> float | None:
        """Points (rates), hours or tickets more than the previous period."""
        if self.now.value is None or self.before.value is None:
            return None
        return round(self.now.value - self.before.value, 2)


@dataclass(frozen=True, slots=True)
class Table:
    """A table behind a section: what the CSV and XLSX exports hold, one sheet each."""

    key: str
    title_zh: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Report:
    """Everything a report says, ready to draw and render."""

    kind: str
    span: Span
    before: Span
    filters: dict[str, str]
    filters_zh: dict[str, str]
    generated_at: datetime
    headline: list[Headline]
    contacts: int
    trend: list[tuple[str, int, float | None, float | None]]  # key, tickets, on-time, 满意
    channels: list[tuple[str, str, int, int]]  # code, 名称, tickets, contacts
    categories: list[tuple[str, str, int, float | None, float | None]]
    districts: list[tuple[str, str, int, float | None, float | None, float | None]]
    units: list[tuple[str, str, int, Figure, Figure]]  # by volume: 按时办结, 满意率
    hotspots: list[dict[str, Any]] | None = None  # None: no hotspot read model here
    tables: list[Table] = field(default_factory=list)
    calls: list[Headline] = field(default_factory=list)  # 话务; empty: no call in either period

    @property
    def title(self) -> str:
        return title_of(self.kind, self.span, self.filters_zh)

    def ranked(self, rate: str, best: bool) -> list[tuple[str, str, Figure]]:
        """Units with enough tickets behind the rate (`reply`: on-time reply, else
        satisfaction), best or worst first."""
        rated = []
        for code, name, _, reply, satisfaction in self.units:
            fig = reply if rate == "reply" else satisfaction
            if fig.value is not None and (fig.denominator or 0) >= MIN_BASE:
                rated.append((code, name, fig))
        rated.sort(key=lambda r: (r[2].value or 0, r[2].denominator or 0), reverse=best)
        return rated[:RANKED]


def title_of(kind: str, span: Span, filters_zh: Mapping[str, str]) -> str:
    """A report's Chinese title: the city, the kind, what it is limited to, the period."""
    scope = "".join(f"·{v}" for v in filters_zh.values())
    return f"{CITY_ZH}12345热线{KINDS_ZH[kind]}{scope}({span.label_zh})"


def namer(reference: ReferenceData, dimension: str) -> Callable[[str | None], str]:
    """The Chinese name of a dimension's value (the code itself when unknown)."""

    def name(key: str | None) -> str:
        if key is None:
            return "(无)"
        try:
            match dimension:
                case "unit":
                    return reference.directory.get(key).name_zh
                case "district":
                    return reference.directory.district(key).name_zh
                case "channel":
                    return Channel(key).zh
                case "ticket_type":
                    return TicketType(key).zh
                case "category1":
                    return reference.taxonomy.label_zh(key)
        except (UnknownUnit, KeyError, ValueError, LookupError):
            return key
        return key

    return name


def check_filters(reference: ReferenceData, filters: Mapping[str, str]) -> dict[str, str]:
    """The filters' Chinese names; KeyError naming the first value the reference lacks."""
    named = {}
    for dim, value in filters.items():
        if dim not in FILTERS_ZH:
            raise KeyError(dim)
        name = namer(reference, dim)(value)
        if name == value:
            raise KeyError(f"{dim}={value}")
        named[dim] = f"{FILTERS_ZH[dim]}:{name}"
    return named


def _rate(fig: Figure) -> float | None:
    return fig.value


async def gather(conn: AsyncConnection, kind: str, span: Span, before: Span,
                 filters: dict[str, str], reference: ReferenceData, zone: ZoneInfo,
                 now: datetime) -> Report:
    """Read one report's content on one connection."""
    scope = queries.Scope(span.since(zone), span.until(zone), filters, zone)  # from the cube
    [cur] = await queries.figures(conn, KPIS, scope)
    [old] = await queries.figures(conn, KPIS, queries.Scope(before.since(zone),
                                                            before.until(zone), filters, zone))
    headline = [Headline(k.id, k.label_zh, k.unit, k.definition_zh, cur.figures[k.id],
                         old.figures[k.id]) for k in KPIS]
    calls = [] if filters else await _calls(conn, span, before, zone)  # no unit etc. on calls
    contact_filters = {k: v for k, v in filters.items() if k in ("channel", "district")}
    counted = len(contact_filters) == len(filters)  # contacts have no unit or category
    by_channel = {g.key: g.contacts for g in await queries.contact_counts(
        conn, scope.since, scope.until, None, "channel", contact_filters)} if counted else {}

    grain, first = trend_grain(span)
    trend_kpis = [BY_ID["tickets"], BY_ID["on_time_reply_rate"], BY_ID["satisfaction_rate"]]
    grouped = {g.period: g for g in await queries.figures(
        conn, trend_kpis, queries.Scope(datetime.combine(first, datetime.min.time(), zone),
                                        scope.until, filters, zone), grain)}
    trend = []
    for key in grain_keys(grain, first, span.end):
        g = grouped.get(key)
        trend.append((key, int(g.figures["tickets"].value or 0) if g else 0,
                      _rate(g.figures["on_time_reply_rate"]) if g else None,
                      _rate(g.figures["satisfaction_rate"]) if g else None))

    async def by(dimension: str, ids: tuple[str, ...]) -> list[queries.Group]:
        groups = await queries.figures(conn, [BY_ID[i] for i in ids], scope, None, dimension)
        return sorted(groups, key=lambda g: (-(g.figures["tickets"].value or 0), g.key or ""))

    ch_name = namer(reference, "channel")
    tickets_by_channel = {g.key: int(g.figures["tickets"].value or 0)
                          for g in await by("channel", ("tickets",))}
    channels = [(c or "", ch_name(c), tickets_by_channel.get(c, 0), by_channel.get(c, 0))
                for c in sorted(set(tickets_by_channel) | set(by_channel), key=str)]
    channels.sort(key=lambda c: (-c[2], -c[3], c[0]))
    cat_name = namer(reference, "category1")
    categories = [(g.key or "", cat_name(g.key), int(g.figures["tickets"].value or 0),
                   _rate(g.figures["on_time_reply_rate"]), _rate(g.figures["satisfaction_rate"]))
                  for g in await by("category1", ("tickets", "on_time_reply_rate",
                                                  "satisfaction_rate"))][:TOP]
    d_name = namer(reference, "district")
    counts = {g.key: g for g in await by("district", ("tickets", *RATE_KPIS[:3]))}
    districts = []
    for d in reference.directory.districts():  # every district, the quiet ones too (the map)
        g = counts.get(d.code)
        rates = [_rate(g.figures[k]) if g else None for k in RATE_KPIS[:3]]
        districts.append((d.code, d_name(d.code), int(g.figures["tickets"].value or 0) if g
                          else 0, rates[0], rates[1], rates[2]))
    u_name = namer(reference, "unit")
    units = [(g.key, u_name(g.key), int(g.figures["tickets"].value or 0),
              g.figures["on_time_reply_rate"], g.figures["satisfaction_rate"])
             for g in await by("unit", ("tickets", "on_time_reply_rate", "satisfaction_rate"))
             if g.key is not None]
    report = Report(kind, span, before, dict(filters), check_filters(reference, filters),
                    now, headline, sum(by_channel.values()), trend, channels, categories,
                    districts, units, await hotspot_rows(
                        conn, scope.since, scope.until, zone,
                        {"district_code": d_name, "category1": cat_name}), calls=calls)
    report.tables = tables_of(report)
    return report


async def _calls(conn: AsyncConnection, span: Span, before: Span,
                 zone: ZoneInfo) -> list[Headline]:
    """话务: the call KPIs of the period beside the previous one's, as `GET /v1/analytics/calls`
    gives them; none when the phone system reported no call in either period."""
    [cur], [old] = [await queries.call_figures(conn, CALL_KPIS, queries.CallScope(
        s.since(zone), s.until(zone))) for s in (span, before)]
    if not (cur.figures["calls_offered"].value or old.figures["calls_offered"].value):
        return []
    return [Headline(k.id, k.label_zh, k.unit, k.definition_zh, cur.figures[k.id],
                     old.figures[k.id]) for k in CALL_KPIS]


def _pct(v: float | None) -> float | str:
    return "" if v is None else v


def tables_of(r: Report) -> list[Table]:
    """The tables behind the report, as exported (values as numbers, blanks for n/a)."""
    head = Table("headline", "核心指标", ["指标代码", "指标", "单位", "本期值", "分子", "分母",
                                       "上期值", "变化", "口径"],
                 [[h.id, h.label_zh, h.unit, _pct(h.now.value), h.now.numerator,
                   "" if h.now.denominator is None else h.now.denominator,
                   _pct(h.before.value), _pct(h.change), h.definition_zh] for h in r.headline])
    trend = Table("trend", "趋势", ["期间", "工单量", "按时办结率(%)", "满意率(%)"],
                  [[k, n, _pct(a), _pct(b)] for k, n, a, b in r.trend])
    channels = Table("channels", "渠道构成", ["渠道代码", "渠道", "工单量", "来电来信量"],
                     [list(c) for c in r.channels])
    cats = Table("categories", "诉求分类前十", ["分类代码", "分类", "工单量", "按时办结率(%)",
                                          "满意率(%)"],
                 [[c[0], c[1], c[2], _pct(c[3]), _pct(c[4])] for c in r.categories])
    dists = Table("districts", "分区县", ["区县代码", "区县", "工单量", "响应率(%)",
                                        "解决率(%)", "满意率(%)"],
                  [[d[0], d[1], d[2], *(_pct(v) for v in d[3:])] for d in r.districts])
    units = Table("units", "承办单位", ["单位代码", "单位", "工单量", "按时办结率(%)",
                                      "按时办结(分子/分母)", "满意率(%)", "满意(分子/分母)"],
                  [[u[0], u[1], u[2], _pct(u[3].value), f"{int(u[3].numerator)}/"
                    f"{u[3].denominator or 0}", _pct(u[4].value),
                    f"{int(u[4].numerator)}/{u[4].denominator or 0}"] for u in r.units])
    found = [head, trend, channels, cats, dists, units]
    if r.calls:
        found.insert(1, Table("calls", "话务", head.headers, [
            [h.id, h.label_zh, h.unit, _pct(h.now.value), h.now.numerator,
             "" if h.now.denominator is None else h.now.denominator,
             _pct(h.before.value), _pct(h.change), h.definition_zh] for h in r.calls]))
    if r.hotspots:
        columns = list(r.hotspots[0])
        found.append(Table("hotspots", "热点", columns,
                           [[row.get(c) for c in columns] for row in r.hotspots]))
    return found
