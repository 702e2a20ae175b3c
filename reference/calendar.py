"""Working-day calendars: weekends, public holidays and adjusted working days (调休) as data.

Deadlines are counted on the jurisdiction's calendar. The source of truth is human-editable
UTF-8 JSON in `data/calendars/` beside this module: `jurisdictions.json` (timezone, weekend
days, optional working hours) and one `<jurisdiction>-<year>.json` per year, transcribed from
that year's State Council notice. Adding a year is adding a file; a year without a file is
`MissingYear`, never a weekend-only guess. Apart from reading those files, this is pure.

Conventions (all times are shown in the jurisdiction's zone; any aware zone is accepted):

- A working day is a day whose weekday is not a weekend day and which is not a holiday
  "off" day, or an adjusted "work" day (a weekend day made a working day).
- n working days after a start on day D end at the close of working hours (17:30 in "cn")
  of the n-th working day strictly after D. D itself never counts, so a start on a holiday
  counts from the next working day (dispatched 2025-10-03: day 1 is 2025-10-09).
- Working hours count only inside the working hours of working days; a count that uses up
  a morning exactly ends at 12:00, not at 13:30. A jurisdiction without working hours
  counts whole days (00:00-24:00), and its working day closes at the following midnight.
- Only the years the arithmetic needs are checked: the start day's own status never
  matters to `add_working_days`, so a start on 2024-12-31 needs only 2025.
"""

from __future__ import annotations

import functools
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATA_FOLDER = "reference/data/calendars"
_YEAR_FILE = re.compile(r"^(?P<jurisdiction>[a-z0-9_-]+)-(?P<year>[0-9]{4})\.json$")
_HHMM = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
_MIDNIGHT = time()
_WHOLE_DAY = ((timedelta(0), timedelta(days=1)),)
_MICROSECOND = timedelta(microseconds=1)
_DAY_US = 86_400_000_000


class MissingYear(LookupError):
    """The calculation touches a year the jurisdiction has no calendar file for."""

    def __init__(self, jurisdiction: str, year: int) -> None:
        self.jurisdiction = jurisdiction
        self.year = year
        super().__init__(
            f"no working-day calendar for {jurisdiction!r} {year}: add "
            f"{DATA_FOLDER}/{jurisdiction}-{year}.json from that year's official holiday "
            f"notice (deadlines are never counted on weekends alone)")


@dataclass(frozen=True)
class WorkingCalendar:
    """One jurisdiction's working days and hours, for the years it has data for."""

    jurisdiction: str
    zone: ZoneInfo
    weekend: frozenset[int]  # date.weekday(): Monday 0 … Sunday 6
    working_hours: tuple[tuple[timedelta, timedelta], ...]  # offsets from local midnight
    years: frozenset[int]
    off: Mapping[date, str] = field(hash=False)  # holiday day -> Chinese holiday name
    work: frozenset[date]  # adjusted working days
    # sorted ordinals of each year's working days: bisect answers "the n-th working day
    # after" and "how many between" without walking the days
    _working: Mapping[int, tuple[int, ...]] = field(
        init=False, repr=False, compare=False, hash=False)
    # the working hours in whole microseconds from midnight: elapsed working time is
    # counted in integers (a fact replay and the escalation search count it per event)
    _hours_us: tuple[tuple[int, int], ...] = field(
        init=False, repr=False, compare=False, hash=False)
    # every day of the years it has data for, by ordinal: (run of consecutive years, working
    # days before it in that run, whether it works); working time between two instants of
    # one run is then a difference of two cumulative counts (`_cumulative`)
    _days: Mapping[int, tuple[int, int, bool]] = field(
        init=False, repr=False, compare=False, hash=False)
    _day_us: int = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_working", MappingProxyType({
            year: tuple(d.toordinal() for d in _days_of(year) if self._works(d))
            for year in self.years}))
        object.__setattr__(self, "_hours_us", tuple(
            (begin // _MICROSECOND, end // _MICROSECOND) for begin, end in self.working_hours))
        object.__setattr__(self, "_day_us", sum(end - begin for begin, end in self._hours_us))
        object.__setattr__(self, "_days", MappingProxyType(self._ranked_days()))

    @classmethod
    def load(cls, jurisdiction: str = "cn") -> WorkingCalendar:
        """The packaged calendar of a jurisdiction, loaded and checked once per process."""
        return _load(jurisdiction)

    @classmethod
    def from_dicts(cls, jurisdiction: str, settings: Mapping[str, Any],
                   years: Iterable[Mapping[str, Any]]) -> WorkingCalendar:
        """A calendar from parsed documents; `ValueError` names every problem found."""
        problems: list[str] = []
        zone, weekend, hours = _parse_settings(jurisdiction, settings, problems)
        covered: set[int] = set()
        off: dict[date, str] = {}
        work: set[date] = set()
        for doc in years:
            year = _parse_year(jurisdiction, doc, off, work, problems)
            if year in covered:
                problems.append(f"{jurisdiction} {year}: the year is given twice")
            covered.add(year)
        for d in sorted(work):
            if d in off:
                problems.append(f"{d}: both a holiday day and an adjusted working day")
            if d.weekday() not in weekend:
                problems.append(f"{d}: adjusted working day is not a weekend day")
        if problems:
            raise ValueError(f"calendar {jurisdiction!r}: " + "; ".join(problems))
        assert zone is not None
        return cls(jurisdiction, zone, weekend, hours, frozenset(covered),
                   MappingProxyType(off), frozenset(work))

    # ------------------------------------------------------------------------- days

    def is_working_day(self, d: date) -> bool:
        """Whether d is a working day (a datetime is first taken to the local date)."""
        d = self._date(d)
        self._require(d.year)
        return self._works(d)

    def holiday_of(self, d: date) -> str | None:
        """The Chinese name of the holiday d is a day off of, else None."""
        d = self._date(d)
        self._require(d.year)
        return self.off.get(d)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after d."""
        return self._nth_after(self._date(d), 1)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The close of working hours on the n-th working day strictly after start's day."""
        if n < 1:
            raise ValueError(f"a deadline counts at least one working day, not {n}")
        return self._at(self._nth_after(self._local(start).date(), n), self.working_hours[-1][1])

    # ------------------------------------------------------------------------ hours

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day (7 h in "cn")."""
        return sum((end - begin for begin, end in self.working_hours), timedelta(0))

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The earliest instant with `hours` of working time between start and it."""
        if hours < 0:
            raise ValueError(f"working hours to add must not be negative, not {hours}")
        local = self._local(start)
        left = timedelta(hours=hours)
        if not left:
            return local
        day, now = local.date(), timedelta(microseconds=_micros(local))
        if any(now < end for _, end in self.working_hours) and self.is_working_day(day):
            for begin, end in self.working_hours:
                since = max(begin, now)
                if since < end:
                    if left <= end - since:
                        return self._at(day, since + left)
                    left -= end - since
        # whole working days are skipped at once; the rest falls inside the last day
        whole, rest = divmod(left, self.day_length)
        if not rest:
            return self._at(self._nth_after(day, whole), self.working_hours[-1][1])
        day = self._nth_after(day, whole + 1)
        for begin, end in self.working_hours:
            if rest <= end - begin:
                return self._at(day, begin + rest)
            rest -= end - begin
        raise AssertionError("unreachable: rest is shorter than a working day")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time elapsed from a to b; negative when b is before a (overdue).

        Both in years of one run the calendar has: the difference of their cumulative
        working times, 5 µs for a span over days (a fact replay counts three spans a
        ticket, the blue-threshold search some twenty a clock); else day by day as below,
        9 µs (measured on one machine, alternated)."""
        a, b = self._local(a), self._local(b)
        at_a, at_b = self._cumulative(a), self._cumulative(b)
        if at_a is not None and at_b is not None and at_a[0] == at_b[0]:
            return timedelta(microseconds=at_b[1] - at_a[1])
        if b < a:
            return -self.working_time_between(b, a)
        da, db = a.date(), b.date()
        since, until = _micros(a), _micros(b)
        if da == db:
            return timedelta(microseconds=self._worked(da, since, until))
        whole_days = self._count_between(da, db) * self._day_us
        return timedelta(microseconds=self._worked(da, since, _DAY_US)
                         + self._worked(db, 0, until) + whole_days)

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Working time from a to b in working days (7 h of "cn" working time is 1.0)."""
        return self.working_time_between(a, b) / self.day_length

    # --------------------------------------------------------------------- internals

    def _ranked_days(self) -> dict[int, tuple[int, int, bool]]:
        days: dict[int, tuple[int, int, bool]] = {}
        run, before = 0, 0
        for year in sorted(self.years):
            if year - 1 not in self.years:  # a new run of consecutive years
                run, before = year, 0
            working = set(self._working[year])
            for day in _days_of(year):
                ordinal = day.toordinal()
                works = ordinal in working
                days[ordinal] = (run, before, works)
                before += works
        return days

    def _cumulative(self, local: datetime) -> tuple[int, int] | None:
        """The run of years a local time lies in, and the working microseconds from the
        run's start to it; None outside the calendar's years."""
        day = self._days.get(local.toordinal())
        if day is None:
            return None
        run, before, works = day
        worked = self._hours_within(0, _micros(local)) if works else 0
        return run, before * self._day_us + worked

    def _hours_within(self, since: int, until: int) -> int:
        """Working-hour microseconds between two offsets from a working day's midnight."""
        total = 0
        for begin, end in self._hours_us:
            lo, hi = max(begin, since), min(end, until)
            if lo < hi:
                total += hi - lo
        return total

    def _works(self, d: date) -> bool:
        return d in self.work or (d not in self.off and d.weekday() not in self.weekend)

    def _require(self, year: int) -> tuple[int, ...]:
        try:
            return self._working[year]
        except KeyError:
            raise MissingYear(self.jurisdiction, year) from None

    def _nth_after(self, d: date, n: int) -> date:
        """The n-th working day strictly after d, crossing into later years as needed."""
        after, year = d.toordinal(), d.year
        if d.month == 12 and d.day == 31:
            year += 1  # nothing of d's year is left: don't require its file
        while True:
            days = self._require(year)
            i = bisect_right(days, after)
            if n <= len(days) - i:
                return date.fromordinal(days[i + n - 1])
            n -= len(days) - i
            year += 1

    def _count_between(self, a: date, b: date) -> int:
        """How many working days lie strictly between a and b."""
        after, before = a.toordinal() + 1, b.toordinal() - 1
        count = 0
        for year in range(a.year, b.year + 1):
            lo = max(after, date(year, 1, 1).toordinal())
            hi = min(before, date(year, 12, 31).toordinal())
            if lo <= hi:  # only the years that hold days in between are required
                days = self._require(year)
                count += bisect_right(days, hi) - bisect_left(days, lo)
        return count

    def _worked(self, d: date, since: int, until: int) -> int:
        """Working microseconds on day d between two offsets from its midnight."""
        total = self._hours_within(since, until)
        # a stretch outside working hours needs no calendar, so it can't raise MissingYear
        if not total:
            return 0
        self._require(d.year)
        return total if self._works(d) else 0

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{moment.isoformat()} has no timezone: the count needs an "
                             f"instant, not a {self.zone.key} wall-clock guess")
        return moment.astimezone(self.zone)

    def _date(self, d: date) -> date:
        return self._local(d).date() if isinstance(d, datetime) else d

    def _at(self, d: date, offset: timedelta) -> datetime:
        # wall-clock arithmetic in the zone: 17:30 stays 17:30; 24:00 is the next midnight
        return datetime.combine(d, _MIDNIGHT, tzinfo=self.zone) + offset


def _micros(local: datetime) -> int:
    """A local time's wall-clock offset from its midnight, in microseconds."""
    return (((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000
            + local.microsecond)


def _days_of(year: int) -> Iterable[date]:
    first = date(year, 1, 1).toordinal()
    return (date.fromordinal(o) for o in range(first, date(year, 12, 31).toordinal() + 1))


def _parse_settings(jurisdiction: str, settings: Mapping[str, Any], problems: list[str]
                    ) -> tuple[ZoneInfo | None, frozenset[int],
                               tuple[tuple[timedelta, timedelta], ...]]:
    """Timezone, weekend days and working hours of one jurisdictions.json entry."""
    zone = None
    try:
        zone = ZoneInfo(str(settings.get("timezone")))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{jurisdiction}: unknown timezone {settings.get('timezone')!r}")
    weekend = settings.get("weekend")
    if not (isinstance(weekend, list) and all(w in range(7) for w in weekend)
            and len(set(weekend)) == len(weekend) < 7):
        problems.append(f"{jurisdiction}: weekend must list distinct weekdays 0-6, Monday 0")
        weekend = []
    if "working_hours" not in settings:
        return zone, frozenset(weekend), _WHOLE_DAY
    hours: list[tuple[timedelta, timedelta]] = []
    for pair in settings["working_hours"] or [None]:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(t, str) and _HHMM.match(t) for t in pair)):
            problems.append(f"{jurisdiction}: working hours {pair!r} are not two 'HH:MM' times")
            continue
        begin, end = (timedelta(hours=int(t[:2]), minutes=int(t[3:])) for t in pair)
        if begin >= end or (hours and begin < hours[-1][1]):
            problems.append(f"{jurisdiction}: working hours {pair!r} are not in ascending order")
        hours.append((begin, end))
    return zone, frozenset(weekend), tuple(hours) or _WHOLE_DAY


def _parse_year(jurisdiction: str, doc: Mapping[str, Any], off: dict[date, str],
                work: set[date], problems: list[str]) -> int:
    """Check one year's document and add its holiday and adjusted working days."""
    year = doc.get("year")
    where = f"{jurisdiction} {year}"
    if not isinstance(year, int) or not 1900 < year < 9999:
        problems.append(f"{where}: year must be a number")
        return -1
    if doc.get("jurisdiction") != jurisdiction:
        problems.append(f"{where}: the file is for jurisdiction {doc.get('jurisdiction')!r}")
    if not (isinstance(doc.get("source"), str) and doc["source"].strip()):
        problems.append(f"{where}: source (the notice the dates come from) is missing")

    def day(text: Any) -> date | None:
        try:
            d = date.fromisoformat(text)
        except (TypeError, ValueError):
            problems.append(f"{where}: {text!r} is not a YYYY-MM-DD date")
            return None
        # a New Year holiday may start in late December of the year before
        if not (d.year == year or (d.year == year - 1 and d.month == 12)):
            problems.append(f"{where}: {d} is outside the year")
        return d

    holidays = doc.get("holidays")
    if not isinstance(holidays, list) or not all(isinstance(h, Mapping) for h in holidays):
        problems.append(f"{where}: holidays must be a list of objects")
        holidays = []
    for holiday in holidays:
        name = holiday.get("name_zh")
        if not (isinstance(name, str) and name and isinstance(holiday.get("name_en"), str)):
            problems.append(f"{where}: holiday {holiday!r} needs name_zh and name_en")
            continue
        span = [day(t) for t in holiday.get("off") or []]
        if not 1 <= len(span) <= 2 or None in span:
            problems.append(f"{where} {name}: off must be [first, last] dates, inclusive")
            continue
        first, last = span[0], span[-1]
        assert first is not None and last is not None
        if first > last:
            problems.append(f"{where} {name}: off starts {first} after it ends {last}")
        for o in range(first.toordinal(), last.toordinal() + 1):
            if date.fromordinal(o) in off:
                problems.append(f"{where} {name}: {date.fromordinal(o)} is already a holiday")
            off[date.fromordinal(o)] = name
        for d in map(day, holiday.get("work") or []):
            if d is not None and d in work:
                problems.append(f"{where} {name}: {d} is already an adjusted working day")
            if d is not None:
                work.add(d)
    return year


@functools.cache
def _load(jurisdiction: str) -> WorkingCalendar:
    folder = resources.files(__package__ or "services.supervision") / "data" / "calendars"
    settings = json.loads((folder / "jurisdictions.json").read_text(encoding="utf-8"))
    if jurisdiction not in settings:
        raise LookupError(f"no jurisdiction {jurisdiction!r} in {DATA_FOLDER}/jurisdictions.json")
    years = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        named = _YEAR_FILE.match(entry.name)
        if named and named["jurisdiction"] == jurisdiction:
            doc = json.loads(entry.read_text(encoding="utf-8"))
            if doc.get("year") != int(named["year"]):
                raise ValueError(f"{DATA_FOLDER}/{entry.name} holds year {doc.get('year')!r}")
            years.append(doc)
    return WorkingCalendar.from_dicts(jurisdiction, settings[jurisdiction], years)
