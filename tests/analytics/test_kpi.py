"""The KPI catalogue and the fact fold's pure parts: every condition names a real fact
column, every KPI has its Chinese label and definition, figures are computed as defined,
and the period keys follow the city's local calendar (ISO weeks across a year's end)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reference.calendar import WorkingCalendar
from services.analytics.facts import period_keys
from services.analytics.kpi import (
    BY_ID,
    DIMENSIONS,
    KPIS,
    PERIODS,
    Count,
    Total,
    counter,
    parts,
    tally,
    value_of,
)
from services.analytics.projections import ticket_facts

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


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_cubes_bound_counters_count_as_the_conditions_say(data: st.DataObject) -> None:
    """`counter(kpi)` (what the cube runs per changed ticket) gives `parts(kpi, row)` for
    any fact row: each column a KPI reads drawn from values that meet and miss its tests."""
    columns = {c.column for k in KPIS for p in (k.numerator, k.denominator) if p is not None
               for c in p.where} | {k.numerator.column for k in KPIS
                                    if isinstance(k.numerator, Total)}
    values = st.sampled_from([None, True, False, 0, 1, 3, 2.5, "complaint", "satisfied",
                              "dissatisfied_with_result", "basically_satisfied", "x"])
    row = {c: data.draw(values, label=c) for c in sorted(columns)}
    for kpi in KPIS:
        try:
            expected = parts(kpi, row)
        except TypeError:  # a number compared with a string: no real fact row holds one
            continue
        assert counter(kpi)(row) == expected, kpi.id
