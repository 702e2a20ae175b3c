"""The KPI catalogue and the fact fold's pure parts: every condition names a real fact
column, every KPI has its Chinese label and definition, figures are computed (and rounded)
as defined, the period keys follow the city's local calendar (ISO weeks across a year's
end), and the `/kpis` body is the JSON FastAPI's own path wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from reference.calendar import WorkingCalendar
from services.analytics.api import figures_json
from services.analytics.facts import period_keys
from services.analytics.kpi import (
    BY_ID,
    DIMENSIONS,
    KPIS,
    PERIODS,
    Cond,
    Count,
    Dimension,
    Kpi,
    Period,
    Total,
    counter,
    definitions,
    tally,
    two_places,
    value_of,
)
from services.analytics.projections import ticket_facts
from services.analytics.queries import Group

CAL = WorkingCalendar.load("cn")


def test_every_kpi_reads_real_columns_and_says_what_it_counts() -> None:
    columns = set(ticket_facts.c.keys())
    for kpi in KPIS:
        parts: list[Count | Total] = [kpi.numerator]
        if kpi.denominator is not None:
            parts.append(kpi.denominator)
        for part in parts:
            assert {c.column for c in part.where} <= columns, kpi.id
            if isinstance(part, Total):
                assert part.column in columns, kpi.id
        assert kpi.label_zh and kpi.definition_zh and kpi.unit in ("%", "hours", "count")
        assert kpi.unit != "%" or "分子" in kpi.definition_zh and "分母" in kpi.definition_zh
    assert set(DIMENSIONS.values()) | set(PERIODS.values()) <= columns
    for wanted in ("direct_answer_rate", "dispatch_accuracy", "on_time_ack_rate",
                   "on_time_reply_rate", "extension_rate", "redo_rate", "response_rate",
                   "resolution_rate", "satisfaction_rate", "unsatisfied_after_redo",
                   "avg_reply_work_hours"):
        assert wanted in BY_ID


def test_figures_as_defined() -> None:
    share = BY_ID["dispatch_accuracy"]
    assert value_of(share, 2, 3).value == 66.67
    assert value_of(share, 0, 0).value is None  # nothing to count: no figure, not 0 %
    hours = BY_ID["avg_reply_work_hours"]
    figure = value_of(hours, 3.5 * 3600, 2)
    assert (figure.numerator, figure.value) == (3.5, 1.75)
    rows = [{"dispatched": True, "returns": 0}, {"dispatched": True, "returns": 1},
            {"dispatched": False, "returns": 0}]
    assert tally(share, rows) == value_of(share, 1, 2)


@given(st.integers(0, 10**9), st.integers(1, 10**9), st.floats(0, 1e12))
def test_two_places_is_round(numerator: int, denominator: int, any_value: float) -> None:
    """The figures' rounding is Python's round to two places, float for float (its fast
    path must never disagree, at a half least of all)."""
    for x in (numerator / denominator, numerator / denominator * 100, any_value,
              numerator / 200, -numerator / denominator):
        assert repr(two_places(x)) == repr(round(x, 2)), x
    for half in (0.125, 0.375, 0.285, 2.675, 1.005, 0.005, 0.015, 1e-300, 9_999_999.995):
        assert repr(two_places(half)) == repr(round(half, 2)), half


def test_periods_are_the_citys_local_ones() -> None:
    # 2026-12-31 16:30 UTC is already 2027-01-01 00:30 in the city, in ISO week 2026-W53
    keys = period_keys(datetime(2026, 12, 31, 16, 30, tzinfo=UTC), CAL)
    assert keys == {"reg_day": "2027-01-01", "reg_week": "2026-W53", "reg_month": "2027-01",
                    "reg_quarter": "2027-Q1", "reg_year": "2027", "reg_hour": 0}


def test_the_readme_defines_every_kpi() -> None:
    readme = (Path(__file__).parents[2] / "services" / "analytics" / "README.md").read_text(
        encoding="utf-8")
    for kpi in KPIS:
        assert f"| `{kpi.id}` | {kpi.label_zh} | {kpi.unit} | {kpi.definition_zh} |" in readme


def test_each_condition_and_what_a_row_adds() -> None:
    """Each operator on the values a fact column holds (a NULL never meets eq, in or gt),
    and a row's part of a share (count over count) and of a mean (a total's column)."""
    cases = [(Cond("c", "eq", "complaint"), "complaint", True), (Cond("c", "eq", 0), 1, False),
             (Cond("c", "eq", 0), None, False), (Cond("c", "in", ("a", "b")), "b", True),
             (Cond("c", "in", ("a", "b")), None, False), (Cond("c", "true"), True, True),
             (Cond("c", "true"), 1, False), (Cond("c", "false"), False, True),
             (Cond("c", "false"), None, False), (Cond("c", "not_null"), 0, True),
             (Cond("c", "not_null"), None, False), (Cond("c", "gt", 0), 2, True),
             (Cond("c", "gt", 0), 0, False), (Cond("c", "gt", 0), None, False)]
    for cond, value, meets in cases:
        assert cond.test()({"c": value}) is meets, (cond, value)
    accuracy, mean = BY_ID["dispatch_accuracy"], Kpi(
        "m", "测试", "hours", "测试", Total("secs", (Cond("done", "true"),)),
        Count((Cond("done", "true"),)))
    assert counter(accuracy)({"dispatched": True, "returns": 0}) == (1, 1)
    assert counter(accuracy)({"dispatched": True, "returns": 2}) == (0, 1)
    assert counter(accuracy)({"dispatched": False, "returns": 0}) == (0, 0)
    assert counter(mean)({"done": True, "secs": 7200}) == (7200, 1)
    assert counter(mean)({"done": True, "secs": None}) == (0, 1)
    assert counter(mean)({"done": False, "secs": 50}) == (0, 0)


def test_the_kpi_answer_is_the_json_fastapi_wrote() -> None:
    """`/kpis` writes its body with msgspec: the same bytes as FastAPI's own path (pydantic's
    JSON dump, then Starlette's json.dumps) for times, enums, names and figures."""
    kpis = [BY_ID["tickets"], BY_ID["dispatch_accuracy"], BY_ID["avg_reply_work_hours"]]
    groups = [Group("2026-11", "d01-urban-squad", {
        "tickets": value_of(kpis[0], 3, None), "dispatch_accuracy": value_of(kpis[1], 2, 3),
        "avg_reply_work_hours": value_of(kpis[2], 12_345, 4)}),
        Group("2026-12", None, {"tickets": value_of(kpis[0], 0, None),
                                "dispatch_accuracy": value_of(kpis[1], 0, 0),
                                "avg_reply_work_hours": value_of(kpis[2], 0, 0)})]
    asked = {"from": datetime(2026, 11, 1, 4, 5, 6, 789, tzinfo=UTC), "to": None,
             "period": Period.MONTH, "by": Dimension.UNIT, "filters": {"district": "990101"}}

    def name(key: str | None) -> str | None:
        return None if key is None else "东湖区城管执法中队"

    ids = {k.id for k in kpis}
    fastapi_way = {**asked, "kpis": [d for d in definitions() if d["id"] in ids],
                   "groups": [{"period": g.period, "key": g.key, "key_zh": name(g.key),
                               "figures": {i: f._asdict() for i, f in g.figures.items()}}
                              for g in groups]}
    plain = TypeAdapter(dict[str, Any]).dump_python(fastapi_way, mode="json")
    expected = json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()
    assert figures_json(groups, kpis, name, asked) == expected
