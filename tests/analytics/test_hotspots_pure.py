"""Hotspot detection, pure: bursts in Poisson noise, no false alarm on flat noise,
near-duplicate texts clustered, periodic demand foreseen, event-time windows."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from services.analytics.hotspots.burst import BurstPolicy, load_policy, poisson_tail
from services.analytics.hotspots.detector import Detector, Finding, Sighting
from services.analytics.hotspots.similar import Member, clusters, signature
from tests.analytics.hotspot_stream import (
    BURST_KEY,
    CLUSTER_TEXT,
    T0,
    Plan,
    noise_text,
    stream,
    variant,
)

POLICY = load_policy()


def run(sightings: list[Sighting], policy: BurstPolicy = POLICY,
        sources: int = 1) -> list[Finding]:
    detector = Detector(policy)
    found: list[Finding] = []
    for i, s in enumerate(sightings):
        found += detector.observe(s, i % sources)
    return found


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - 2.718281828 ** -2.0)
    assert poisson_tail(10, 2.0) == pytest.approx(4.6498e-05, rel=1e-3)
    assert poisson_tail(2100, 2000.0) < poisson_tail(2050, 2000.0) < 0.5


def test_flat_noise_raises_nothing() -> None:
    assert run(stream(Plan(weeks=5))) == []


def test_a_planted_burst_is_reported_in_its_window_and_cleared_after() -> None:
    hour = 4 * 7 * 24 + 10  # week 5, Monday 10:00 local
    found = run(stream(Plan(weeks=5, burst_hour=hour)))
    hourly = [f for f in found if f.window_s == 3600]
    detected = [f for f in hourly if f.kind == "detected"]
    assert [(f.district, f.category1, f.category2) for f in detected
            if f.dimension == "category2"] == [BURST_KEY]
    burst = next(f for f in detected if f.dimension == "category2")
    assert burst.start == T0 + timedelta(hours=hour)
    assert burst.count >= 20 and burst.baseline < 3 and burst.score > 6
    assert len(burst.refs) == 10 and all(r.startswith("12345-") for r in burst.refs)
    cleared = [f for f in hourly if f.kind == "cleared" and f.hotspot_id == burst.hotspot_id]
    assert [f.start for f in cleared] == [burst.start + timedelta(hours=1)]
    # the level-1 key of the same district is hot too; nothing else is
    assert {f.key for f in detected} == {
        "category1:990102/housing-provident-fund",
        "category2:990102/housing-provident-fund/hpf-withdrawal"}


def test_a_gap_in_the_log_is_no_baseline_of_zero() -> None:
    """Three weeks with nothing at all (an outage, a migration): the weeks after are judged
    by the days the log has, not by zeros, so ordinary demand raises nothing."""
    gap = (T0 + timedelta(days=7), T0 + timedelta(days=28))
    sightings = [s for s in stream(Plan(weeks=5)) if not gap[0] <= s.at < gap[1]]
    assert run(sightings) == []
    # a real burst two days after the gap is still found (its hours are judged by the
    # trailing day; ten hours after the gap, mostly gap behind it, it would not be judged)
    hour = 4 * 7 * 24 + 2 * 24 + 10
    planted = [s for s in stream(Plan(weeks=5, burst_hour=hour)) if not gap[0] <= s.at < gap[1]]
    assert {f.key for f in run(planted) if f.kind == "detected" and f.window_s == 3600} == {
        "category1:990102/housing-provident-fund",
        "category2:990102/housing-provident-fund/hpf-withdrawal"}


def test_the_same_events_in_another_order_give_the_same_findings() -> None:
    sightings = stream(Plan(weeks=5, burst_hour=4 * 7 * 24 + 10))
    rng = random.Random(1)
    shuffled = sorted(sightings, key=lambda s: (s.at.replace(minute=0, second=0),
                                                rng.random()))  # out of order within an hour
    assert set(run(shuffled, sources=4)) == set(run(sightings))


def test_near_duplicates_cluster_and_burst() -> None:
    rng = random.Random(3)
    members = [Member(f"dup-{i:02d}", "110105", signature(variant(rng))) for i in range(30)]
    members += [Member(f"n-{i:03d}", "110105", signature(noise_text(rng))) for i in range(200)]
    found = clusters([m for m in members if m.sig is not None], 0.5, 128)
    big = max(found, key=lambda c: len(c.members))
    assert set(big.ids) == {f"dup-{i:02d}" for i in range(30)}
    hour = 4 * 7 * 24 + 15
    texts = [f for f in run(stream(Plan(weeks=5, cluster_hour=hour)))
             if f.dimension == "text"]
    assert [(f.kind, f.start, f.count >= 12) for f in texts] == [  # LSH misses a few
        ("detected", T0 + timedelta(hours=hour), True),
        ("cleared", T0 + timedelta(hours=hour + 1), False)]
    assert texts[0].district == "990105" and all(r.startswith("c-") for r in texts[0].refs)
    assert CLUSTER_TEXT not in repr(texts)


def daily(days: int, rise_from: int | None = None,
          gap: range = range(0)) -> list[Sighting]:
    """Three heating contacts a day (fifteen for a week from day `rise_from`), nothing at
    all on the days of `gap`, in time order."""
    rng = random.Random(5)
    sightings, seq = [], 0
    for day in (d for d in range(days) if d not in gap):
        start = T0 + timedelta(days=day)
        n = 3 + (12 if rise_from is not None and rise_from <= day < rise_from + 7 else 0)
        for _ in range(n):
            seq += 1
            at = start + timedelta(seconds=rng.randrange(86400))
            sightings.append(Sighting(f"12345-x-{seq:06d}", at, "110102", "housing", "heating"))
    return sorted(sightings, key=lambda s: s.at)


def foreseen(sightings: list[Sighting]) -> list[Finding]:
    return [f for f in run(sightings, BurstPolicy(windows=(86400,)))
            if f.kind == "foreseen" and f.dimension == "category2"]


def test_a_rise_at_the_same_time_last_year_is_foreseen() -> None:
    """Daily noise for a year and a bit; last year a week-long heating season rise."""
    found = foreseen(daily(400, rise_from=40))
    assert len(found) == 1
    signal, rise = found[0], T0 + timedelta(days=40)
    year = timedelta(days=364)  # the same weekdays, 52 weeks on
    # said a week ahead of a period whose twin last year held the rise's start, once
    assert signal.start - year <= rise < signal.end - year
    assert signal.count > 2 * signal.baseline and signal.baseline == pytest.approx(21, abs=6)
    assert signal.last_year_from == signal.start - year
    # a gap of a few days in last year's baseline leaves the rise foreseen all the same
    assert [f.start for f in foreseen(daily(400, rise_from=40, gap=range(20, 27)))] == [
        signal.start]


def test_a_gap_last_year_foresees_nothing() -> None:
    """Last year's log has a month with nothing at all (live data began after imported
    tickets): the ordinary weeks after it are no rise against a baseline of zeros."""
    assert foreseen(daily(420, gap=range(10, 45))) == []
    assert foreseen(daily(420, gap=range(40, 45))) == []  # the period itself mostly gap


def test_windows_close_by_event_time_and_late_events_are_dropped() -> None:
    detector = Detector(BurstPolicy(windows=(3600,)))
    t = T0 + timedelta(minutes=5)
    assert detector.observe(Sighting("a", t, "1", "c"), 0) == []
    assert detector.windows[0].next_start is not None
    start = detector.windows[0].next_start
    detector.observe(Sighting("b", t + timedelta(hours=3), "1", "c"), 0)
    assert detector.windows[0].next_start == start + 3 * 3600  # closed by event time
    detector.observe(Sighting("late", t, "1", "c"), 0)
    assert detector.late == 1
    detector.observe(Sighting("b", t + timedelta(hours=3), "1", "c"), 0)  # a redelivery
    assert detector.windows[0].counts[next(iter(detector.windows[0].counts))][
        start + 3 * 3600] == 1


def test_policy_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="alhpa"):
        BurstPolicy.from_dict({"alhpa": 0.1})
