"""What period a report covers (报告期), and the one before it to compare with.

Pure. Periods are local (the jurisdiction's zone: a "day" is a day in Asia/Shanghai, as the
fact rows' period keys are), written as the fact rows write them (`2026-11-23`,
`2026-W48`, `2026-11`, `2026-Q4`, `2026`), so a report's period key is also what the KPI
API's `period` groups by. A special report (专题报告) covers any range of whole local days,
or one of those periods. The comparison period is the previous one of the same kind (the
previous calendar month for a monthly report), or for a range the same number of days just
before it: a report shows a trend, never a lonely figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Kind = Literal["daily", "weekly", "monthly", "quarterly", "annual", "special"]
KINDS_ZH: dict[str, str] = {"daily": "日报", "weekly": "周报", "monthly": "月报",
                            "quarterly": "季报", "annual": "年报", "special": "专题报告"}
PERIODIC: tuple[Kind, ...] = ("daily", "weekly", "monthly", "quarterly", "annual")
MAX_DAYS = 3 * 366  # a special report's longest range
FIRST_YEAR, LAST_YEAR = 2000, 2099  # what the working calendar and the params accept

_PATTERNS: dict[str, re.Pattern[str]] = {
    "daily": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "weekly": re.compile(r"^(\d{4})-W(\d{2})$"),
    "monthly": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
    "annual": re.compile(r"^(\d{4})$"),
}


class BadPeriod(ValueError):
    """The period cannot be read, or is out of range (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class Span:
    """Whole local days [first, end): a report's period, with its key and Chinese label."""

    kind: Kind
    key: str
    first: date
    end: date  # exclusive
    label_zh: str

    def since(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.first, time(), zone)

    def until(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.end, time(), zone)

    @property
    def days(self) -> int:
        return (self.end - self.first).days


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadPeriod(f"year {year} is outside {FIRST_YEAR}–{LAST_YEAR}")


def parse(kind: Kind, key: str, *, checked: bool = True) -> Span:
    """The period a periodic report's key names (`2026-11` for a monthly report); years
    outside the platform's are refused unless `checked` is off (a comparison period)."""
    pattern = _PATTERNS.get(kind)
    m = pattern.match(key) if pattern else None
    if m is None:
        raise BadPeriod(f"a {kind} report's period looks like {_example(kind)}, not {key!r}")
    year = int(m.group(1))
    if checked:
        _check_year(year)
    try:
        match kind:
            case "daily":
                d = date(year, int(m.group(2)), int(m.group(3)))
                return Span(kind, key, d, d + timedelta(days=1),
                            f"{d.year}年{d.month}月{d.day}日")
            case "weekly":
                d = date.fromisocalendar(year, int(m.group(2)), 1)
                last = d + timedelta(days=6)
                return Span(kind, key, d, d + timedelta(days=7),
                            f"{year}年第{int(m.group(2))}周({d.month}月{d.day}日至"
                            f"{last.month}月{last.day}日)")
            case "monthly":
                month = int(m.group(2))
                d = date(year, month, 1)
                return Span(kind, key, d, _month_end(year, month), f"{year}年{month}月")
            case "quarterly":
                q = int(m.group(2))
                d = date(year, 3 * q - 2, 1)
                return Span(kind, key, d, _month_end(year, 3 * q), f"{year}年第{q}季度")
            case "annual":
                return Span(kind, key, date(year, 1, 1), date(year + 1, 1, 1), f"{year}年")
    except ValueError as exc:  # 2026-02-30, week 54
        raise BadPeriod(f"no such {kind} period: {key!r}") from exc
    raise BadPeriod(f"unknown report kind {kind!r}")


def _example(kind: str) -> str:
    return {"daily": "2026-11-23", "weekly": "2026-W48", "monthly": "2026-11",
            "quarterly": "2026-Q4", "annual": "2026"}.get(kind, "2026-11")


def special(first: date, end: date, *, checked: bool = True) -> Span:
    """A special report's range of whole local days [first, end)."""
    if checked:
        _check_year(first.year)
        _check_year((end - timedelta(days=1)).year)
    if end <= first:
        raise BadPeriod("the range must end after it starts")
    if (end - first).days > MAX_DAYS:
        raise BadPeriod(f"a special report covers at most {MAX_DAYS} days")
    last = end - timedelta(days=1)
    label = (f"{first.year}年{first.month}月{first.day}日" if first == last else
             f"{first.year}年{first.month}月{first.day}日至{last.year}年{last.month}月{last.day}日")
    return Span("special", f"{first.isoformat()}..{end.isoformat()}", first, end, label)


def special_of(key: str) -> Span:
    """A special report over a period written like a periodic one's, or `first..end`."""
    if ".." in key:
        a, _, b = key.partition("..")
        try:
            return special(date.fromisoformat(a), date.fromisoformat(b))
        except ValueError as exc:
            if isinstance(exc, BadPeriod):
                raise
            raise BadPeriod(f"a range is written 2026-11-01..2026-12-01, not {key!r}") from exc
    for kind, pattern in _PATTERNS.items():
        if pattern.match(key):
            span = parse(kind, key)  # type: ignore[arg-type]
            return Span("special", key, span.first, span.end, span.label_zh)
    raise BadPeriod(f"a special report's period is a range 2026-11-01..2026-12-01 or a "
                    f"period such as 2026-11, not {key!r}")


def previous(span: Span) -> Span:
    """The period to compare with: the previous one of the same kind, or for a special
    report the same number of days just before it (before 2000 too: its figures are 0)."""
    match span.kind:
        case "daily" | "weekly":
            before = span.first - timedelta(days=span.days)
            iso = before.isocalendar()
            key = before.isoformat() if span.kind == "daily" else f"{iso[0]}-W{iso[1]:02d}"
            return parse(span.kind, key, checked=False)
        case "monthly":
            y, m = (span.first.year, span.first.month - 1) if span.first.month > 1 else (
                span.first.year - 1, 12)
            return parse("monthly", f"{y}-{m:02d}", checked=False)
        case "quarterly":
            q = (span.first.month - 1) // 3 + 1
            y, q = (span.first.year, q - 1) if q > 1 else (span.first.year - 1, 4)
            return parse("quarterly", f"{y}-Q{q}", checked=False)
        case "annual":
            return parse("annual", str(span.first.year - 1), checked=False)
    return special(span.first - timedelta(days=span.days), span.first, checked=False)


def last_complete(kind: Kind, now: datetime, zone: ZoneInfo) -> Span:
    """The latest period of a kind that has ended by `now` (what the schedule reports on:
    yesterday for the daily report, last month for the monthly one)."""
    today = now.astimezone(zone).date()
    yesterday = today - timedelta(days=1)
    match kind:
        case "daily":
            return parse("daily", yesterday.isoformat())
        case "weekly":
            iso = (today - timedelta(days=today.isoweekday())).isocalendar()
            return parse("weekly", f"{iso[0]}-W{iso[1]:02d}")
        case "monthly":
            return previous(parse("monthly", f"{today.year}-{today.month:02d}"))
        case "quarterly":
            return previous(parse("quarterly", f"{today.year}-Q{(today.month - 1) // 3 + 1}"))
        case "annual":
            return parse("annual", str(today.year - 1))
    raise BadPeriod(f"{kind} reports are not scheduled")


Grain = Literal["day", "week", "month"]


def trend_grain(span: Span) -> tuple[Grain, date]:
    """How a report's trend chart is grouped and from which day: a daily report shows the
    seven days ending with it, a quarter its weeks, a year its months."""
    if span.kind == "daily":
        return "day", span.first - timedelta(days=6)
    if span.kind == "quarterly" or (span.kind == "special" and 62 < span.days <= 190):
        return "week", span.first
    if span.kind == "annual" or span.days > 190:
        return "month", span.first
    return "day", span.first


def grain_keys(grain: Grain, first: date, end: date) -> list[str]:
    """Every period key of a grain between two days, in order (the fact rows' format), so
    a trend shows the days nothing happened on too."""
    keys: list[str] = []
    d = first
    while d < end:
        iso = d.isocalendar()
        key = {"day": d.isoformat(), "week": f"{iso[0]}-W{iso[1]:02d}",
               "month": f"{d.year}-{d.month:02d}"}[grain]
        if not keys or keys[-1] != key:
            keys.append(key)
        d += timedelta(days=1)
    return keys
