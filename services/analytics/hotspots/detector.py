"""Hotspot and burst detection (热点与突增), the pure logic both runners share.

Tickets (from their `TicketRegistered`) and contacts (from their `ContactReceived`) come in
as `Sighting`s; `Detector.observe` counts them in tumbling windows per key — (district,
level-1 category), (district, level-1/level-2 category) and, for contacts, clusters of
near-duplicate texts (services/analytics/hotspots/similar.py) — and returns what closing windows
found: a hotspot detected, a hotspot cleared, a periodic demand foreseen (未诉先办).

Everything runs on event time, never the wall clock. A window closes when the watermark
passes its end: the least, over the log partitions still delivering, of the latest event
time each delivered (a partition read behind the others holds the windows open), or once
every partition has been read to its end (`rest`), the latest time seen; less `max_skew_s`
either way, the disorder allowed within a partition (a letter entered after later calls).
Counts older than the baseline needs are dropped by the same clock. A
replay of old events therefore finds the same hotspots as the live run, and the embedded
runner and the Kafka job find the same ones although they read partitions in different
orders. A sighting for a window already closed is late: counted in `late`, not applied.

Ids are derived from what they name (key, window size, window start; or key and the
foreseen period), so appending them twice is a no-op (the stream already exists).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field

from datasketch import MinHash

from services.analytics.hotspots.burst import BurstPolicy, judge
from services.analytics.hotspots.model import Finding, Key, Sighting, at, derived_id
from services.analytics.hotspots.periodic import foresee
from services.analytics.hotspots.similar import (
    Member,
    clusters,
    count_similar,
    signature,
    similar,
)

DAY = 86400
__all__ = ["DAY", "Detector", "Finding", "Key", "Sighting", "Windows", "at", "derived_id"]


@dataclass
class Windows:
    """One window size's counts, open text windows and active hotspots."""

    size: int
    counts: dict[Key, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    by_start: dict[int, set[Key]] = field(default_factory=lambda: defaultdict(set))
    refs: dict[tuple[Key, int], list[str]] = field(default_factory=dict)
    seen: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    texts: dict[int, list[Member]] = field(default_factory=lambda: defaultdict(list))
    past: list[tuple[int, MinHash]] = field(default_factory=list)
    active: dict[Key, str] = field(default_factory=dict)
    text_active: dict[str, tuple[str, Member]] = field(default_factory=dict)
    next_start: int | None = None
    closed_any: bool = False
    foreseen_until: dict[Key, int] = field(default_factory=dict)


class Detector:
    """The windows of every size, the watermark, and what closing a window finds."""

    def __init__(self, policy: BurstPolicy) -> None:
        self.policy = policy
        self.windows = [Windows(size) for size in policy.windows]
        self.text_size = min(policy.windows)
        self.latest: dict[Hashable, int | None] = {}  # per source partition, latest time
        self.idle: set[Hashable] = set()
        self.first: int | None = None
        # the local days on which anything at all came: a day of the city's hotline without
        # one contact is a gap in the log (an outage, a migration), not a day of no demand,
        # so no baseline counts it as zero
        self.days: set[int] = set()
        self.late = 0

    def align(self, epoch: int, size: int) -> int:
        off = self.policy.zone_offset_s
        return (epoch + off) // size * size - off

    def expect(self, source: Hashable) -> None:
        """A source (log partition) with records still to come: it holds the watermark
        until it delivers."""
        self.latest.setdefault(source, None)
        self.idle.discard(source)

    def rest(self, source: Hashable) -> None:
        """A source read to its end: it no longer holds the watermark."""
        self.idle.add(source)

    def watermark(self) -> int | None:
        """The least latest time of the sources still delivering (once all rest, the latest
        time seen anywhere), less `max_skew_s`: a record may come that much out of order."""
        busy = [t for src, t in self.latest.items() if src not in self.idle]
        if any(t is None for t in busy):
            return None
        seen = [t for t in (busy or self.latest.values()) if t is not None]
        if not seen:
            return None
        return (min(seen) if busy else max(seen)) - self.policy.max_skew_s

    def observe(self, s: Sighting, source: Hashable = 0) -> list[Finding]:
        """Count one sighting (from `source`, its log partition), then close the windows the
        watermark has passed."""
        epoch = int(s.at.timestamp())
        if not any(w.closed_any for w in self.windows):  # history starts by the first close
            self.first = epoch if self.first is None else min(self.first, epoch)
        sig = (signature(s.text, self.policy.text_shingle, self.policy.text_perm)
               if s.text else None)
        for w in self.windows:
            start = self.align(epoch, w.size)
            if w.next_start is None or (not w.closed_any and start < w.next_start):
                w.next_start = start
            if start < w.next_start:
                self.late += 1
                continue
            if s.ref in w.seen[start]:
                continue  # delivered twice (a producer's retry): counted once
            w.seen[start].add(s.ref)
            for key in self.keys_of(s):
                w.counts[key][start] = w.counts[key].get(start, 0) + 1
                w.by_start[start].add(key)
                refs = w.refs.setdefault((key, start), [])
                bisect.insort(refs, s.ref)  # the smallest refs: the same whatever the order
                del refs[self.policy.samples:]
            if sig is not None and w.size == self.text_size:
                w.texts[start].append(Member(s.ref, s.district, sig))
        self.days.add(self.align(epoch, DAY))
        self.latest[source] = max(self.latest.get(source) or epoch, epoch)
        self.idle.discard(source)
        return self.close()

    @staticmethod
    def keys_of(s: Sighting) -> list[Key]:
        if s.category1 is None:
            return []  # a contact: counted in text clusters only
        keys = [Key("category1", s.district, s.category1)]
        if s.category2:
            keys.append(Key("category2", s.district, s.category1, s.category2))
        return keys

    def close(self, until: int | None = None) -> list[Finding]:
        """Close every window ending at or before the watermark (or `until`)."""
        mark = until if until is not None else self.watermark()
        found: list[Finding] = []
        if mark is None:
            return found
        for w in self.windows:
            while w.next_start is not None and w.next_start + w.size <= mark:
                found += self._evaluate(w, w.next_start)
                w.closed_any = True
                w.next_start += w.size
        return found

    def _history(self, w: Windows) -> int:
        assert self.first is not None
        return self.align(self.first, w.size)

    def baseline(self, w: Windows, key: Key, start: int) -> float | None:
        """The seasonal mean (same hour or day of earlier weeks) when history holds enough
        seasons, else the trailing mean; None while history is too short for either. Only
        windows on days the log has anything from count (`days`): a gap is left out."""
        p, hist = self.policy, self._history(w)
        counts = w.counts.get(key, {})
        lags = [lag for k in range(1, p.seasons + 1)
                if (lag := start - k * p.season_s) >= hist and self._covered(lag)]
        if len(lags) >= p.min_seasons:
            return sum(counts.get(lag, 0) for lag in lags) / len(lags)
        if start - p.recent * w.size < hist:
            return None
        trailing = [then for j in range(1, p.recent + 1)
                    if self._covered(then := start - j * w.size)]
        if 2 * len(trailing) < p.recent:
            return None  # mostly a gap: too little to judge by
        return sum(counts.get(then, 0) for then in trailing) / len(trailing)

    def _covered(self, start: int) -> bool:
        return self.align(start, DAY) in self.days

    def _finding(self, kind: str, hid: str, key: Key, w: Windows, start: int, count: int,
                 base: float, score: float, z: float, refs: tuple[str, ...],
                 name: str | None = None) -> Finding:
        return Finding(kind, hid, key.dimension, name or key.name(), key.district,
                       key.category1, key.category2, w.size, at(start), at(start + w.size),
                       count, base, score, z, refs)

    def _evaluate(self, w: Windows, start: int) -> list[Finding]:
        found: list[Finding] = []
        for key in sorted(w.by_start.get(start, set()) | set(w.active), key=Key.name):
            count = w.counts.get(key, {}).get(start, 0)
            base = self.baseline(w, key, start)
            if base is None:
                continue
            v = judge(count, base, self.policy)
            refs = tuple(w.refs.get((key, start), ()))
            if v.burst and key not in w.active:
                w.active[key] = derived_id(key.name(), w.size, start)
                found.append(self._finding("detected", w.active[key], key, w, start, count,
                                           v.baseline, v.score, v.z, refs))
            elif not v.burst and key in w.active:
                found.append(self._finding("cleared", w.active.pop(key), key, w, start,
                                           count, v.baseline, v.score, v.z, refs))
        if w.size == self.text_size:
            found += self._texts(w, start)
        if w.size == DAY:
            found += self._foreseen(w, start)
        self._expire(w, start)
        return found

    def _foreseen(self, w: Windows, start: int) -> list[Finding]:
        """未诉先办: the periods coming up whose same time last year rose (periodic.py)."""
        found = []
        for key, sign in foresee(w.counts, w.by_start, w.foreseen_until, start,
                                 self._history(w), self.policy, self._covered):
            span = self.policy.periodic_span_days * DAY
            hid = derived_id(key.name(), "foreseen", sign.expected_from)
            found.append(Finding("foreseen", hid, key.dimension, key.name(), key.district,
                                 key.category1, key.category2, span, at(sign.expected_from),
                                 at(sign.expected_from + span), sign.verdict.count,
                                 sign.verdict.baseline, sign.verdict.score, sign.verdict.z,
                                 (), at(sign.last_year_from)))
        return found

    def _texts(self, w: Windows, start: int) -> list[Finding]:
        """Clusters of near-duplicate contacts in the window, tested against how many near
        the cluster's first contact the trailing windows held."""
        p = self.policy
        members = w.texts.pop(start, [])
        found: list[Finding] = []
        continued: set[str] = set()
        warm = start - p.recent * w.size >= self._history(w)
        past = [sig for s, sig in w.past if s >= start - p.recent * w.size]
        for c in clusters(members, p.text_threshold, p.text_perm):
            if len(c.members) < p.min_count or not warm:
                continue
            v = judge(len(c.members), count_similar(c.rep.sig, past, p.text_threshold)
                      / p.recent, p)
            if not v.burst:
                continue
            same = [k for k, (_, m) in w.text_active.items()
                    if similar(m.sig, c.rep.sig, p.text_threshold)]
            if same:
                continued.update(same)
                continue
            name = f"text:{c.rep.contact_id}"
            hid = derived_id(name, w.size, start)
            w.text_active[name] = (hid, c.rep)
            continued.add(name)
            found.append(self._finding("detected", hid, Key("text", c.district(), None), w,
                                       start, len(c.members), v.baseline, v.score, v.z,
                                       c.ids[:p.samples], name))
        for name in sorted(set(w.text_active) - continued):
            hid, rep = w.text_active.pop(name)
            count = count_similar(rep.sig, [m.sig for m in members], p.text_threshold)
            found.append(self._finding("cleared", hid, Key("text", rep.district, None), w,
                                       start, count, 0.0, 0.0, 0.0, (), name))
        w.past += [(start, m.sig) for m in members]
        return found

    def _expire(self, w: Windows, start: int) -> None:
        """Drop what no later window's baseline needs (by event time)."""
        p = self.policy
        keep = max(p.seasons * p.season_s, p.recent * w.size)
        if w.size == DAY:
            keep = max(keep, (364 + p.periodic_lead_days + p.periodic_base_days + 1) * DAY)
        horizon = start - keep
        if w.size == DAY:  # the longest memory: the days it needs are kept
            self.days = {d for d in self.days if d >= horizon}
        for old in [s for s in w.by_start if s < horizon]:
            for key in w.by_start.pop(old):
                w.counts[key].pop(old, None)
                w.refs.pop((key, old), None)
                if not w.counts[key]:
                    del w.counts[key]
        w.seen.pop(start, None)
        w.past = [(s, sig) for s, sig in w.past if s >= start - p.recent * w.size]
