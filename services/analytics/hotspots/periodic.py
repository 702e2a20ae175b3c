"""Periodic demand (周期性诉求, for 未诉先办): the same category and district rose at the same
time last year, so the units can act before the calls come.

Pure. When a day window closes, the period starting `periodic_lead_days` ahead is looked
up 52 weeks earlier (the same weekdays): last year's count over `periodic_span_days` is
tested against last year's own baseline, the `periodic_base_days` before it, scaled to the
span (services/analytics/hotspots/burst.py). A key signalled is quiet until its foreseen period
has passed, so a season rising over two weeks gives one signal, not fourteen.

Only last year's days the log has anything from count (`covered`, the detector's days):
a day with nothing at all is a gap (the months between last year's imported tickets and
live data, an outage), and a baseline of zeros from a gap would make any ordinary week
after it look like a rise. Both sides are compared over their covered days, and when
either is mostly gap nothing is said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from services.analytics.hotspots.burst import BurstPolicy, Verdict, judge

DAY = 86400
YEAR = 364 * DAY  # 52 weeks: last year's same weekdays
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Signal:
    """This year's period expected to rise, and what last year showed."""

    expected_from: int  # epoch seconds, a local day's start
    last_year_from: int
    verdict: Verdict  # last year's count against last year's baseline


def foresee(counts: Mapping[K, Mapping[int, int]], by_start: Mapping[int, set[K]],
            quiet_until: dict[K, int], closed: int, history: int,
            policy: BurstPolicy, covered: Callable[[int], bool]) -> Iterator[tuple[K, Signal]]:
    """The keys whose period starting `lead` days after the day `closed` rose last year
    (`history`: the first day counted; nothing is said before a year and a baseline;
    `covered`: whether the log has anything from a day)."""
    p = policy
    target = closed + p.periodic_lead_days * DAY
    then = target - YEAR
    base_from = then - p.periodic_base_days * DAY
    if base_from < history:
        return
    days = [d for i in range(p.periodic_span_days) if covered(d := then + i * DAY)]
    base = [d for i in range(p.periodic_base_days) if covered(d := base_from + i * DAY)]
    if 2 * len(days) < p.periodic_span_days or 2 * len(base) < p.periodic_base_days:
        return  # last year's period or its baseline is mostly a gap
    keys: set[K] = set()
    for day in days:
        keys |= by_start.get(day, set())
    for key in sorted(keys, key=str):
        if quiet_until.get(key, 0) > target:
            continue
        series = counts.get(key, {})
        count = sum(series.get(d, 0) for d in days)
        before = sum(series.get(d, 0) for d in base)
        verdict = judge(count, before / len(base) * len(days), p)
        if verdict.burst:
            quiet_until[key] = target + p.periodic_span_days * DAY
            yield key, Signal(target, then, verdict)
