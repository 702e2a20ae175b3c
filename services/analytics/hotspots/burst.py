"""The burst test (突增判定): is one window's count too high for its baseline?

Pure arithmetic, no I/O. A window's count is compared with the mean of earlier windows of
the same key (the baseline, computed by services/analytics/hotspots/detector.py): under "nothing
happened" the count is a Poisson draw with that mean, so the upper tail probability
P(X >= count) says how surprising it is. Small counts are never a hotspot, whatever the
tail says (three noise complaints in a street that never calls are not an incident):
`min_count` and `min_ratio` guard that. The thresholds are data (`BurstPolicy`, loaded
from services/analytics/data/hotspot-policy.json), so a city tunes them without code.

The Poisson tail is summed directly in log space rather than taken from scipy (one
dependency fewer); above `NORMAL_ABOVE` the normal approximation with continuity
correction is used, where the direct sum would be slow and the approximation is exact
enough for a threshold of 1e-4.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

NORMAL_ABOVE = 1000.0  # baseline above which the normal approximation is used
POLICY_FILE = Path(__file__).parent.parent / "data" / "hotspot-policy.json"


@dataclass(frozen=True, slots=True)
class BurstPolicy:
    """Thresholds and window settings of hotspot detection (热点与突增的判定口径)."""

    windows: tuple[int, ...] = (3600, 86400)  # tumbling window sizes, seconds
    zone_offset_s: int = 8 * 3600  # windows start at local (Asia/Shanghai) midnight
    season_s: int = 7 * 86400  # the seasonal lag: the same hour or day of the week
    seasons: int = 4  # how many earlier seasons the seasonal baseline averages
    min_seasons: int = 2  # fewer seasons in history: the trailing baseline instead
    recent: int = 24  # the trailing baseline's windows; fewer in history: no test yet
    floor: float = 0.5  # the least baseline assumed (a key that was always silent)
    min_count: int = 5  # fewer in a window is never a hotspot
    min_ratio: float = 2.0  # nor is a count under this multiple of the baseline
    alpha: float = 1e-6  # the Poisson tail probability at or below which it is a burst
    samples: int = 10  # ticket numbers / contact ids kept as evidence per window and key
    max_skew_s: int = 300  # event-time disorder allowed: windows close this much later
    periodic_lead_days: int = 7  # 未诉先办: how far ahead the same time last year is looked at
    periodic_span_days: int = 7  # the period compared last year
    periodic_base_days: int = 28  # last year's baseline: the days before that period
    text_threshold: float = 0.5  # MinHash LSH Jaccard threshold of near-duplicate texts
    text_perm: int = 128  # MinHash permutations
    text_shingle: int = 3  # Chinese character shingles

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BurstPolicy:
        """A policy from its JSON form; unknown keys are an error (a typo is not ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"comment"})
        if unknown:
            raise ValueError(f"unknown hotspot policy keys: {', '.join(unknown)}")
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in data.items() if k in known}
        return cls(**given)


def load_policy(path: Path = POLICY_FILE) -> BurstPolicy:
    """The city's hotspot policy file."""
    return BurstPolicy.from_dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Verdict:
    """A window's test: its tail probability, -log10 of it (the score), z-score, result."""

    count: int
    baseline: float
    p: float
    score: float
    z: float
    burst: bool


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean)."""
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if mean > NORMAL_ABOVE:
        z = (count - 0.5 - mean) / math.sqrt(mean)
        return 0.5 * math.erfc(z / math.sqrt(2))
    log_mean = math.log(mean)

    def log_pmf(k: int) -> float:
        return -mean + k * log_mean - math.lgamma(k + 1)

    if count > mean:  # the tail itself is small: sum it from `count` upward
        total, k = 0.0, count
        while True:
            term = math.exp(log_pmf(k))
            total += term
            if term < total * 1e-16 or term == 0.0:
                return min(1.0, total)
            k += 1
    head = sum(math.exp(log_pmf(k)) for k in range(count))  # 1 - P(X < count)
    return max(0.0, 1.0 - head)


def judge(count: int, baseline: float, policy: BurstPolicy) -> Verdict:
    """Whether `count` is a burst over `baseline` under the policy (see the module doc)."""
    mean = max(baseline, policy.floor)
    p = poisson_tail(count, mean)
    score = 300.0 if p <= 0 else -math.log10(p)
    z = (count - mean) / math.sqrt(mean)
    burst = (count >= policy.min_count and count >= policy.min_ratio * mean
             and p <= policy.alpha)
    return Verdict(count, round(baseline, 6), p, round(score, 6), round(z, 6), burst)
