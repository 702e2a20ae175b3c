"""The working-day calendar: the official 2025/2026 schedules and deadline arithmetic on them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from reference.calendar import MissingYear, WorkingCalendar

BEIJING = ZoneInfo("Asia/Shanghai")
# A copy of ../shared/facts/cn-holidays.md (the State Council notices), kept with the tests
# so CI checks the data against it wherever the repository is cloned.
FACTS = Path(__file__).resolve().parent / "cn-holidays.md"
DATA = resources.files("reference") / "data" / "calendars"


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.load("cn")


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Beijing wall-clock instant."""
    return datetime(y, m, d, hh, mm, tzinfo=BEIJING)


def close(y: int, m: int, d: int) -> datetime:
    """The close of working hours on a day."""
    return at(y, m, d, 17, 30)


# ---------------------------------------------------------------- the facts file vs the JSON


@dataclass(frozen=True)
class FactRow:
    year: int
    source: str
    name_zh: str
    name_en: str
    first: date
    last: date
    work: tuple[date, ...]


def fact_rows() -> list[FactRow]:
    """The holiday tables of the facts file, one row per holiday."""
    rows: list[FactRow] = []
    year, source = 0, ""
    for line in FACTS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\d{4}) — (.+?) \(published", line)
        if heading:
            year, source = int(heading[1]), heading[2]
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not year or len(cells) != 3 or cells[0] in ("holiday", "---"):
            continue
        name_zh, name_en = cells[0].split(" ", 1)
        span = [date.fromisoformat(f"{year}-{md.strip()}") for md in cells[1].split("…")]
        work = []
        for md, weekday in re.findall(r"(\d\d-\d\d) \((\w{3})\)", cells[2]):
            d = date.fromisoformat(f"{year}-{md}")
            assert d.strftime("%a") == weekday, f"the facts file itself: {d} is not a {weekday}"
            work.append(d)
        assert work or cells[2] == "—", f"unparsed work cell {cells[2]!r}"
        rows.append(FactRow(year, source, name_zh, name_en, span[0], span[-1], tuple(work)))
    assert {r.year for r in rows} == {2025, 2026}, "the facts file's tables were not found"
    return rows


def test_json_files_hold_exactly_the_facts() -> None:
    rows = fact_rows()
    for year in sorted({r.year for r in rows}):
        doc = json.loads((DATA / f"cn-{year}.json").read_text(encoding="utf-8"))
        assert doc["jurisdiction"] == "cn" and doc["year"] == year
        facts = [r for r in rows if r.year == year]
        assert facts[0].source in doc["source"]
        assert [(h["name_zh"], h["name_en"], date.fromisoformat(h["off"][0]),
                 date.fromisoformat(h["off"][-1]), tuple(map(date.fromisoformat, h["work"])))
                for h in doc["holidays"]] == [
            (r.name_zh, r.name_en, r.first, r.last, r.work) for r in facts]


def test_every_day_of_the_fact_years(cal: WorkingCalendar) -> None:
    """Each listed date, and every other day: weekends rest, weekdays work."""
    rows = fact_rows()
    off = {date.fromordinal(o): r.name_zh for r in rows
           for o in range(r.first.toordinal(), r.last.toordinal() + 1)}
    work = {d for r in rows for d in r.work}
    for year in {r.year for r in rows}:
        day = date(year, 1, 1)
        while day.year == year:
            expected = day in work or (day not in off and day.weekday() < 5)
            assert cal.is_working_day(day) is expected, day
            assert cal.holiday_of(day) == off.get(day), day
            day += timedelta(days=1)


def test_json_is_readable_chinese() -> None:
    text = (DATA / "cn-2026.json").read_text(encoding="utf-8")
    assert "春节" in text and "\\u" not in text


# ---------------------------------------------------------------------------- working days


def test_spring_festival_2026_five_working_days(cal: WorkingCalendar) -> None:
    # Friday 02-13; Saturday 02-14 is an adjusted working day; 02-15…02-23 are off
    days, day = [], date(2026, 2, 13)
    for _ in range(5):
        day = cal.next_working_day(day)
        days.append(day)
    assert days == [date(2026, 2, d) for d in (14, 24, 25, 26, 27)]
    assert cal.add_working_days(at(2026, 2, 13), 5) == close(2026, 2, 27)


def test_deadline_ending_on_the_adjusted_working_saturday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2026, 2, 13), 6) == close(2026, 2, 28)
    assert cal.add_working_days(at(2026, 2, 23), 5) == close(2026, 2, 28)  # from a holiday
    assert cal.add_working_days(at(2026, 2, 27), 1) == close(2026, 2, 28)
    assert cal.add_working_days(at(2026, 2, 28), 1) == close(2026, 3, 2)


def test_deadline_starting_on_a_holiday(cal: WorkingCalendar) -> None:
    # dispatched 2025-10-03: counting starts 10-09; Saturday 10-11 is a working day
    start = at(2025, 10, 3, 15)
    assert cal.next_working_day(start.date()) == date(2025, 10, 9)
    assert cal.add_working_days(start, 1) == close(2025, 10, 9)
    assert cal.add_working_days(start, 3) == close(2025, 10, 11)
    assert cal.add_working_days(start, 5) == close(2025, 10, 14)


def test_national_day_and_mid_autumn_2025(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2025, 9, 28))  # Sunday, adjusted
    assert not cal.is_working_day(date(2025, 9, 27))  # an ordinary Saturday
    for d in range(1, 9):
        assert not cal.is_working_day(date(2025, 10, d))
        assert cal.holiday_of(date(2025, 10, d)) == "国庆节、中秋节"
    assert cal.is_working_day(date(2025, 10, 11))  # Saturday, adjusted
    assert cal.holiday_of(date(2025, 10, 11)) is None
    assert not cal.is_working_day(date(2025, 10, 12))
    # Friday 09-26 + 1: the adjusted Sunday; + 3: after the Tuesday 09-30, the holiday
    assert cal.add_working_days(at(2025, 9, 26), 1) == close(2025, 9, 28)
    assert cal.add_working_days(at(2025, 9, 26), 3) == close(2025, 9, 30)
    assert cal.add_working_days(at(2025, 9, 26), 4) == close(2025, 10, 9)


def test_spring_festival_2025(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2025, 1, 24), 1) == close(2025, 1, 26)  # Sunday, adjusted
    assert cal.add_working_days(at(2025, 1, 24), 3) == close(2025, 2, 5)
    assert cal.add_working_days(at(2025, 2, 7), 1) == close(2025, 2, 8)  # Saturday, adjusted
    assert cal.holiday_of(date(2025, 1, 28)) == "春节"


def test_the_time_of_dispatch_within_its_day_does_not_matter(cal: WorkingCalendar) -> None:
    due = close(2026, 3, 13)  # Friday 03-06 + 5 across an ordinary weekend
    for hh, mm in ((0, 0), (8, 0), (17, 30), (23, 59)):
        assert cal.add_working_days(at(2026, 3, 6, hh, mm), 5) == due
    assert cal.add_working_days(at(2026, 3, 8), 1) == close(2026, 3, 9)  # from a Sunday


def test_a_deadline_counts_at_least_one_day(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(at(2026, 3, 6), 0)


# --------------------------------------------------------------------------- working hours


@pytest.mark.parametrize(("start", "hours", "due"), [
    (at(2026, 3, 6, 16, 30), 2, at(2026, 3, 9, 10)),  # Friday → Monday across a weekend
    (at(2026, 2, 13, 16, 30), 2, at(2026, 2, 14, 10)),  # the Saturday is a working day
    (at(2025, 10, 10, 16, 30), 2, at(2025, 10, 11, 10)),  # so is this one
    (at(2025, 12, 31, 16, 30), 2, at(2026, 1, 4, 10)),  # New Year off, Sunday 01-04 works
    (at(2026, 1, 2, 10), 2, at(2026, 1, 4, 11)),  # from a holiday
    (at(2026, 3, 9, 11, 30), 1, at(2026, 3, 9, 14)),  # across lunch
    (at(2026, 3, 9, 11), 1, at(2026, 3, 9, 12)),  # a morning used up ends at 12:00
    (at(2026, 3, 9, 17), 0.5, at(2026, 3, 9, 17, 30)),  # and a day at 17:30
    (at(2026, 3, 9, 7), 1, at(2026, 3, 9, 10)),  # before hours
    (at(2026, 3, 9, 12, 30), 1, at(2026, 3, 9, 14, 30)),  # during lunch
    (at(2026, 3, 9, 20), 0.25, at(2026, 3, 10, 9, 15)),  # after hours
    (at(2026, 2, 13), 20, close(2026, 2, 24)),  # 6 h + 7 h (Sat 02-14) + 7 h
    (at(2026, 2, 13), 21, at(2026, 2, 25, 10)),
    (at(2026, 2, 13), 0, at(2026, 2, 13)),
])
def test_add_working_hours(cal: WorkingCalendar, start: datetime, hours: float,
                           due: datetime) -> None:
    assert cal.add_working_hours(start, hours) == due


def test_adding_hours_and_measuring_them_agree(cal: WorkingCalendar) -> None:
    starts = [at(2026, 2, 13, hh, mm) for hh in range(0, 24, 3) for mm in (0, 45)]
    starts += [at(2025, 9, 30, 16), at(2025, 12, 31, 12, 15), at(2026, 1, 3, 9)]
    for start in starts:
        for hours in (0.25, 1, 3.5, 7, 7.5, 24, 40):
            due = cal.add_working_hours(start, hours)
            assert cal.working_time_between(start, due) == timedelta(hours=hours), (start, hours)
            assert due.tzinfo == BEIJING


def test_negative_hours_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_hours(at(2026, 3, 9), -1)


# ---------------------------------------------------------------------------- elapsed time


def test_elapsed_working_time_across_a_holiday(cal: WorkingCalendar) -> None:
    # 02-13 10:00-17:30 is 6 h, Saturday 02-14 is 7 h, 02-24 until 10:00 is 1 h
    assert cal.working_time_between(at(2026, 2, 13), at(2026, 2, 24)) == timedelta(hours=14)
    assert cal.working_days_between(at(2026, 2, 13), at(2026, 2, 24)) == 2.0
    # 09-30 is the only working day from 2025-09-30 09:00 to 10-09 09:00
    assert cal.working_days_between(at(2025, 9, 30, 9), at(2025, 10, 9, 9)) == 1.0


def _worked_day_by_day(cal: WorkingCalendar, a: datetime, b: datetime) -> timedelta:
    """The working time from a to b the slow way: each local day in turn, its working
    hours cut to [a, b] (the oracle for the counted version)."""
    a, b = a.astimezone(cal.zone), b.astimezone(cal.zone)
    total, day = timedelta(0), a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=cal.zone)
            for begin, end in cal.working_hours:
                lo, hi = max(midnight + begin, a), min(midnight + end, b)
                total += max(hi - lo, timedelta(0))
        day += timedelta(days=1)
    return total


@given(st.datetimes(datetime(2025, 1, 1), datetime(2026, 12, 20)),
       st.timedeltas(timedelta(0), timedelta(days=40)))
def test_elapsed_working_time_is_the_sum_of_each_days_hours(start: datetime,
                                                             span: timedelta) -> None:
    cal = WorkingCalendar.load("cn")
    a = start.replace(tzinfo=UTC)
    b = a + span
    assume(b.astimezone(BEIJING).year <= 2026)  # 2027 has no calendar file yet
    assert cal.working_time_between(a, b) == _worked_day_by_day(cal, a, b)
    assert cal.working_time_between(b, a) == -_worked_day_by_day(cal, a, b)


def test_years_with_a_gap_count_each_run_alone() -> None:
    """Spans within consecutive years are counted from the run's cumulative working time;
    one that crosses a missing year still needs it."""
    docs = [year_doc(), year_doc(year=2031, holidays=[]), year_doc(year=2033, holidays=[])]
    cal = WorkingCalendar.from_dicts("t", SETTINGS | {"working_hours": [
        ["09:00", "12:00"], ["13:30", "17:30"]]}, docs)
    for a, b in [(datetime(2030, 12, 31, 10, tzinfo=BEIJING),  # across 2030 -> 2031
                  datetime(2031, 1, 2, 15, tzinfo=BEIJING)),
                 (datetime(2033, 3, 1, tzinfo=BEIJING), datetime(2033, 3, 9, 11, tzinfo=BEIJING))]:
        assert cal.working_time_between(a, b) == _worked_day_by_day(cal, a, b)
    with pytest.raises(MissingYear) as caught:
        cal.working_time_between(datetime(2031, 12, 30, tzinfo=BEIJING),
                                 datetime(2033, 1, 5, tzinfo=BEIJING))
    assert caught.value.year == 2032


def test_elapsed_time_is_negative_when_overdue(cal: WorkingCalendar) -> None:
    assert cal.working_time_between(at(2026, 2, 24), at(2026, 2, 13)) == -timedelta(hours=14)


def test_no_working_time_outside_hours(cal: WorkingCalendar) -> None:
    assert cal.working_time_between(at(2026, 3, 7), at(2026, 3, 8, 23)) == timedelta(0)
    assert cal.working_time_between(at(2026, 3, 9, 18), at(2026, 3, 10, 8)) == timedelta(0)
    assert cal.working_time_between(at(2026, 3, 9, 12), at(2026, 3, 9, 13, 30)) == timedelta(0)


# ------------------------------------------------------------------------------ missing years


def test_a_deadline_reaching_into_2027_fails_loudly(cal: WorkingCalendar) -> None:
    with pytest.raises(MissingYear) as caught:
        cal.add_working_days(at(2026, 12, 28), 10)
    assert caught.value.year == 2027
    assert "cn-2027.json" in str(caught.value)
    assert isinstance(caught.value, LookupError)
    with pytest.raises(MissingYear):
        cal.add_working_hours(at(2026, 12, 31, 17), 1)
    with pytest.raises(MissingYear):
        cal.working_time_between(at(2026, 12, 30), at(2027, 1, 4))
    with pytest.raises(MissingYear):
        cal.next_working_day(date(2026, 12, 31))


def test_a_deadline_within_the_known_year_still_works(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2026, 12, 28), 3) == close(2026, 12, 31)
    assert cal.working_time_between(at(2026, 12, 31), at(2027, 1, 1, 0)) == timedelta(hours=6)


def test_2024_is_missing(cal: WorkingCalendar) -> None:
    with pytest.raises(MissingYear, match="cn-2024.json"):
        cal.is_working_day(date(2024, 10, 1))
    with pytest.raises(MissingYear):
        cal.holiday_of(date(2024, 2, 10))
    with pytest.raises(MissingYear):
        cal.add_working_days(at(2024, 12, 20), 3)
    # the start day itself never counts, so a start on 2024-12-31 needs only 2025
    assert cal.add_working_days(at(2024, 12, 31), 1) == close(2025, 1, 2)


# -------------------------------------------------------------------------------- timezones


def test_utc_input_is_counted_in_beijing(cal: WorkingCalendar) -> None:
    # UTC+8: 15:00Z is still Friday 02-13 (23:00); from 16:00Z it is Saturday 02-14 in Beijing
    friday = datetime(2026, 2, 13, 15, 0, tzinfo=UTC)
    saturday = datetime(2026, 2, 13, 16, 0, tzinfo=UTC)
    assert friday.astimezone(BEIJING).date() == date(2026, 2, 13)
    assert saturday.astimezone(BEIJING).date() == date(2026, 2, 14)
    assert cal.add_working_days(friday, 1) == close(2026, 2, 14)
    assert cal.add_working_days(saturday, 1) == close(2026, 2, 24)  # not 02-14: a UTC count
    assert cal.is_working_day(saturday)
    assert not cal.is_working_day(datetime(2026, 2, 14, 16, 0, tzinfo=UTC))  # Sunday 02-15
    assert cal.add_working_days(saturday, 1).tzinfo == BEIJING


def test_utc_input_for_hours(cal: WorkingCalendar) -> None:
    due = cal.add_working_hours(datetime(2026, 3, 6, 8, 30, tzinfo=UTC), 2)  # Fri 16:30
    assert due == datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    assert due.tzinfo == BEIJING and due.hour == 10


def test_naive_datetimes_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="no timezone"):
        cal.add_working_days(datetime(2026, 3, 6, 10), 1)


# ------------------------------------------------------------------------------ loading data


def test_load_is_cached() -> None:
    assert WorkingCalendar.load() is WorkingCalendar.load("cn")
    assert WorkingCalendar.load().years >= {2025, 2026}
    with pytest.raises(LookupError):
        WorkingCalendar.load("xx")


SETTINGS: dict[str, Any] = {"timezone": "Asia/Shanghai", "weekend": [5, 6]}


def year_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"jurisdiction": "t", "year": 2030, "source": "test", "holidays": [
        {"name_zh": "假", "name_en": "Test", "off": ["2030-01-01"], "work": ["2030-01-05"]}]}
    return doc | changes


def test_without_working_hours_whole_days_count() -> None:
    cal = WorkingCalendar.from_dicts("t", SETTINGS, [year_doc()])
    start = datetime(2029, 12, 31, 12, tzinfo=BEIJING)  # the start day's year isn't needed
    assert cal.add_working_days(start, 1) == datetime(2030, 1, 3, tzinfo=BEIJING)  # 24:00
    with pytest.raises(MissingYear):  # … but its remaining hours would count
        cal.add_working_hours(start, 12)
    holiday = datetime(2030, 1, 1, 12, tzinfo=BEIJING)
    assert cal.add_working_hours(holiday, 12) == datetime(2030, 1, 2, 12, tzinfo=BEIJING)
    assert cal.add_working_hours(holiday, 48) == datetime(2030, 1, 4, tzinfo=BEIJING)
    assert cal.is_working_day(date(2030, 1, 5))  # a Saturday made a working day
    assert cal.day_length == timedelta(days=1)


@pytest.mark.parametrize(("settings", "doc", "problem"), [
    (SETTINGS | {"timezone": "Mars/Olympus"}, year_doc(), "unknown timezone"),
    (SETTINGS | {"weekend": [7]}, year_doc(), "weekend"),
    (SETTINGS | {"working_hours": [["13:00", "12:00"]]}, year_doc(), "ascending"),
    (SETTINGS | {"working_hours": [["9:00", "12:00"]]}, year_doc(), "HH:MM"),
    (SETTINGS, year_doc(jurisdiction="cn"), "jurisdiction"),
    (SETTINGS, year_doc(source=""), "source"),
    (SETTINGS, year_doc(holidays=[{"name_zh": "假", "name_en": "T", "off": ["2030-02-30"]}]),
     "not a YYYY-MM-DD"),
    (SETTINGS, year_doc(holidays=[{"name_zh": "假", "name_en": "T", "off": ["2031-01-01"]}]),
     "outside the year"),
    (SETTINGS, year_doc(holidays=[{"name_zh": "假", "name_en": "T",
                                   "off": ["2030-01-03", "2030-01-01"]}]), "after it ends"),
    (SETTINGS, year_doc(holidays=[{"name_zh": "假", "name_en": "T", "off": ["2030-01-01"],
                                   "work": ["2030-01-07"]}]), "not a weekend day"),
    (SETTINGS, year_doc(holidays=[{"name_zh": "假", "name_en": "T", "off": ["2030-01-05"],
                                   "work": ["2030-01-05"]}]), "both a holiday"),
    (SETTINGS, year_doc(holidays=[{"name_zh": "甲", "name_en": "A", "off": ["2030-01-01"]},
                                  {"name_zh": "乙", "name_en": "B", "off": ["2030-01-01"]}]),
     "already a holiday"),
    (SETTINGS, year_doc(holidays="none"), "list of objects"),
])
def test_broken_data_is_refused(settings: dict[str, Any], doc: dict[str, Any],
                                problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        WorkingCalendar.from_dicts("t", settings, [doc])


def test_a_year_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        WorkingCalendar.from_dicts("t", SETTINGS, [year_doc(), year_doc()])
