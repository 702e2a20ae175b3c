"""Report periods (pure): keys as the fact rows write them, Chinese labels, the period
compared with, what the schedule reports on at a given moment, and what is refused."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.analytics.reports.periods import (
    BadPeriod,
    grain_keys,
    last_complete,
    parse,
    previous,
    special,
    special_of,
    trend_grain,
)

BJ = ZoneInfo("Asia/Shanghai")


def test_periods_and_their_labels() -> None:
    assert (parse("daily", "2026-11-23").first, parse("daily", "2026-11-23").days) == (
        date(2026, 11, 23), 1)
    week = parse("weekly", "2026-W48")
    assert (week.first, week.end, week.label_zh) == (
        date(2026, 11, 23), date(2026, 11, 30), "2026年第48周(11月23日至11月29日)")
    assert parse("monthly", "2026-12").end == date(2027, 1, 1)
    assert parse("quarterly", "2026-Q4").label_zh == "2026年第4季度"
    assert parse("annual", "2026").days == 365
    assert special(date(2026, 11, 1), date(2026, 11, 16)).label_zh == \
        "2026年11月1日至2026年11月15日"
    assert special_of("2026-Q4").first == date(2026, 10, 1)
    assert special_of("2026-11-01..2026-12-01").days == 30
    # local midnight, not UTC's
    assert parse("daily", "2026-11-23").since(BJ).isoformat() == "2026-11-23T00:00:00+08:00"


def test_previous_periods() -> None:
    assert previous(parse("monthly", "2026-01")).key == "2025-12"
    assert previous(parse("monthly", "2026-03")).days == 28
    assert previous(parse("quarterly", "2026-Q1")).key == "2025-Q4"
    assert previous(parse("weekly", "2026-W01")).key == "2025-W52"
    assert previous(parse("daily", "2026-03-01")).key == "2026-02-28"
    assert previous(parse("annual", "2000")).key == "1999"  # compared with zeros, not refused
    assert previous(special(date(2026, 11, 11), date(2026, 11, 21))).key == \
        "2026-11-01..2026-11-11"


def test_what_the_schedule_reports_on() -> None:
    after_midnight = datetime(2026, 12, 1, 0, 5, tzinfo=BJ)  # 2026-11-30 16:05 UTC
    assert last_complete("daily", after_midnight, BJ).key == "2026-11-30"
    assert last_complete("weekly", after_midnight, BJ).key == "2026-W48"
    assert last_complete("monthly", after_midnight, BJ).key == "2026-11"
    assert last_complete("quarterly", after_midnight, BJ).key == "2026-Q3"
    assert last_complete("annual", after_midnight, BJ).key == "2025"
    monday = datetime(2026, 11, 30, 8, tzinfo=BJ)
    assert last_complete("weekly", monday, BJ).key == "2026-W48"


def test_trend_grains() -> None:
    grain, first = trend_grain(parse("daily", "2026-11-23"))
    assert (grain, first) == ("day", date(2026, 11, 17))
    assert trend_grain(parse("quarterly", "2026-Q4"))[0] == "week"
    assert trend_grain(parse("annual", "2026"))[0] == "month"
    assert grain_keys("month", date(2026, 1, 1), date(2027, 1, 1))[::11] == [
        "2026-01", "2026-12"]
    assert grain_keys("week", date(2026, 12, 28), date(2027, 1, 5)) == [
        "2026-W53", "2027-W01"]


@pytest.mark.parametrize(("kind", "key"), [
    ("monthly", "2026-13"), ("monthly", "2026-1"), ("daily", "2026-02-30"),
    ("weekly", "2026-W54"), ("weekly", "2026-W00"), ("quarterly", "2026-Q5"),
    ("annual", "1999"), ("annual", "2100"), ("special", "2026-11"),
])
def test_bad_periods(kind: str, key: str) -> None:
    with pytest.raises(BadPeriod):
        parse(kind, key)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["2026-11-10..2026-11-01", "2026-11-01..", "x..y",
                                 "2020-01-01..2026-01-01", "1999-12-01..2000-01-01", "11月"])
def test_bad_special_periods(key: str) -> None:
    with pytest.raises(BadPeriod):
        special_of(key)
