"""A report's charts, drawn on the server with matplotlib as SVG.

Why on the server, when the web console will draw the same figures with ECharts: a report
is a document that is filed, mailed and printed, so its charts must exist without a
browser — in the PDF (WeasyPrint draws SVG, runs no JavaScript) and in the archived HTML
opened years later offline. SVG keeps them sharp in print and small; matplotlib writes
text as outlines (`svg.fonttype: path`), so a chart shows its Chinese labels on a machine
without the font. The web console shows these same SVGs (through its own routes), so a
page and the filed report never draw a figure two ways. The CJK font (Noto Sans CJK, Debian's
fonts-noto-cjk) is installed by the Makefile; a glyph missing from every font is a
matplotlib warning, which the tests turn into a failure, so a tofu box cannot ship.

Figures are made with `matplotlib.figure.Figure` (no pyplot: no global figure registry,
safe off the event loop's thread).
"""

from __future__ import annotations

import functools
import io
import json
import math
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

import matplotlib
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator

from services.analytics.reports.content import Report

FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "Source Han Sans SC",
         "DejaVu Sans"]
STYLE: Any = {  # rc settings (typed loosely: matplotlib types them as literal keys)
    "font.family": "sans-serif", "font.sans-serif": FONTS, "axes.unicode_minus": False,
    "svg.fonttype": "path", "svg.hashsalt": "hotline-report", "font.size": 9,
    "axes.spines.top": False, "axes.spines.right": False}
BLUE, ORANGE, GREEN, GREY = "#2f6db5", "#e07b2a", "#3a9a5b", "#9aa5b1"
# matplotlib's settings are process-wide: one drawing at a time, or a thread leaving its
# rc_context resets the fonts under another (which then draws tofu in DejaVu Sans)
_STYLED = threading.Lock()


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]  # no XML prolog: embeddable as it is


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "本期无数据", ha="center", va="center", transform=ax.transAxes,
            color=GREY, fontsize=12)
    ax.set_axis_off()


def _gap(v: float | None) -> float:
    return math.nan if v is None else v  # a period without a base: a gap in the line


def trend(r: Report) -> Figure:
    fig = Figure(figsize=(7.2, 2.8))
    ax = fig.subplots()
    keys = [t[0][5:] if len(t[0]) == 10 else t[0] for t in r.trend]  # 11-23 for days
    ax.bar(keys, [t[1] for t in r.trend], color=BLUE, label="工单量")
    ax.set_ylim(0, max([1, *(t[1] for t in r.trend)]) * 1.1)  # from 0, and 0-1 when empty
    ax.set_ylabel("工单量(件)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    rates = ax.twinx()
    rates.plot(keys, [_gap(t[2]) for t in r.trend], color=ORANGE, marker="o", ms=3,
               label="按时办结率")
    rates.plot(keys, [_gap(t[3]) for t in r.trend], color=GREEN, marker="s", ms=3,
               label="满意率")
    rates.set_ylim(0, 105)
    rates.set_ylabel("比率(%)")
    ax.tick_params(axis="x", labelrotation=60 if len(keys) > 10 else 0, labelsize=7)
    handles = [*ax.get_legend_handles_labels()[0], *rates.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="upper center", ncols=3, frameon=False)
    return fig


def channels(r: Report) -> Figure:
    fig = Figure(figsize=(4.2, 2.8))
    ax = fig.subplots()
    shown = [c for c in r.channels if c[2] > 0]
    if not shown:
        _empty(ax)
        return fig
    ax.pie([c[2] for c in shown], labels=[f"{c[1]} {c[2]}" for c in shown],
           autopct="%1.0f%%", startangle=90, counterclock=False, pctdistance=0.75,
           wedgeprops={"width": 0.5, "edgecolor": "white"})
    ax.set_aspect("equal")
    return fig


def categories(r: Report) -> Figure:
    fig = Figure(figsize=(4.6, 2.8))
    ax = fig.subplots()
    if not r.categories:
        _empty(ax)
        return fig
    rows = list(reversed(r.categories))
    bars = ax.barh([c[1] for c in rows], [c[2] for c in rows], color=BLUE)
    ax.bar_label(bars, padding=2, fontsize=7)
    ax.set_xlabel("工单量(件)")
    return fig


def districts(r: Report) -> Figure:
    """The city's districts (data/districts.geojson), shaded by tickets, each labelled."""
    return district_map({d[0]: (d[1], d[2]) for d in r.districts}, "工单量(件)")


def hotspot_map(counts: dict[str, int]) -> str:
    """热点分布: the districts shaded by how many hotspots each has, as SVG (the console's
    hotspot page shows it beside the list)."""
    return _hotspot_map(tuple(sorted(counts.items())))


@functools.lru_cache(maxsize=64)
def _hotspot_map(counts: tuple[tuple[str, int], ...]) -> str:
    """Drawn once per set of counts: a map takes matplotlib 0.1-0.2 s, and every visit to
    the hotspot page asks for it while the counts change only when a hotspot is found."""
    with _STYLED, matplotlib.rc_context(STYLE):
        return _svg(district_map({code: ("", n) for code, n in counts}, "热点数(个)"))


def district_map(counts: dict[str, tuple[str, int]], label: str) -> Figure:
    """The districts shaded by `counts` (code → (name or "", number)), each labelled."""
    fig = Figure(figsize=(5.6, 3.6))
    ax = fig.subplots()
    top = max((n for _, n in counts.values()), default=0)
    norm, cmap = Normalize(0, max(top, 1)), matplotlib.colormaps["Blues"]
    for feature in city_map()["features"]:
        code = feature["properties"]["code"]
        name, n = counts.get(code, ("", 0))
        name = name or feature["properties"]["name_zh"]
        ring = feature["geometry"]["coordinates"][0]
        ax.add_patch(Polygon(ring, closed=True, facecolor=cmap(0.08 + 0.85 * norm(n)),
                             edgecolor="white", linewidth=1.2))
        xs, ys = [p[0] for p in ring[:-1]], [p[1] for p in ring[:-1]]
        dark = norm(n) > 0.55
        ax.text(sum(xs) / len(xs), sum(ys) / len(ys), f"{name}\n{n}", ha="center",
                va="center", fontsize=7, color="white" if dark else "#1d2b3a")
    ax.autoscale_view()
    ax.set_aspect(1.24)  # a degree of longitude is shorter than one of latitude at 36°N
    ax.set_axis_off()
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7,
                 label=label)
    return fig


def units(r: Report) -> Figure:
    fig = Figure(figsize=(7.2, 3.0))
    ax = fig.subplots()
    shown = r.units[:8]  # the busiest units
    if not shown:
        _empty(ax)
        return fig
    xs = range(len(shown))
    ax.bar([x - 0.2 for x in xs], [u[3].value or 0 for u in shown], 0.4, color=BLUE,
           label="按时办结率")
    ax.bar([x + 0.2 for x in xs], [u[4].value or 0 for u in shown], 0.4, color=GREEN,
           label="满意率")
    ax.set_xticks(list(xs), [u[1] for u in shown], rotation=20, ha="right", fontsize=7)
    ax.set_ylim(0, 110)
    ax.set_ylabel("比率(%)")
    ax.legend(frameon=False, ncols=2, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig


def city_map() -> dict[str, Any]:
    """The fictional city's district outlines (codes as in reference/data/districts.json)."""
    text = resources.files("services.analytics").joinpath("data/districts.geojson")
    return dict(json.loads(text.read_text(encoding="utf-8")))


CHARTS: dict[str, Callable[[Report], Figure]] = {
    "trend": trend, "channels": channels, "categories": categories, "districts": districts,
    "units": units}


def draw(r: Report) -> dict[str, str]:
    """Every chart of the report as SVG text, by name."""
    with _STYLED, matplotlib.rc_context(STYLE):
        return {name: _svg(make(r)) for name, make in CHARTS.items()}


def png(svg_name: str, r: Report, dpi: int = 150) -> bytes:
    """One chart as PNG (for a slide or a message; the report itself embeds the SVG)."""
    with _STYLED, matplotlib.rc_context(STYLE):
        out = io.BytesIO()
        CHARTS[svg_name](r).savefig(out, format="png", dpi=dpi, bbox_inches="tight")
        return out.getvalue()
