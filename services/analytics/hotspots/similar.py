"""Near-duplicate contact texts (相似诉求聚类): MinHash LSH over Chinese character shingles.

Many citizens reporting the same thing (a burst water main, a smell over an estate) write
it in different words but share most short character runs. Each contact's masked content
(personal numbers already masked by contracts.free_text) becomes a MinHash signature of its
character 3-shingles; signatures are grouped with datasketch's MinHash LSH (the issue
measured 500 of 500 planted near-duplicates found among 20,000 texts at 128 permutations).

The text itself is never kept: only the signature (which cannot be read back) lives in
memory while its window is open and as the baseline of later ones. Evidence is contact ids
and counts. Clustering is deterministic for a given set of contacts, whatever order they
arrived in: a closed window is clustered in contact-id order, so the embedded runner and the
Kafka job agree although they read the partitions in different orders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from datasketch import MinHash, MinHashLSH

_NOISE = re.compile(r"[\s\W_*＊0-9０-９]+", re.UNICODE)  # spaces, punctuation, masked digits
SEED = 12345  # a fixed seed: every process computes the same signature for the same text


def shingles(text: str, size: int) -> set[str]:
    """The character shingles of a text with spaces, punctuation and digits taken out
    (masked numbers are runs of *, which would make unrelated texts look alike)."""
    clean = _NOISE.sub("", text.lower())
    if len(clean) <= size:
        return {clean} if clean else set()
    return {clean[i:i + size] for i in range(len(clean) - size + 1)}


@cache
def _template(perm: int) -> Any:
    """An empty MinHash of the seed: its permutations are drawn once per process, not once
    per text, and copied with its scheme into each signature."""
    return MinHash(num_perm=perm, seed=SEED)


def signature(text: str, size: int = 3, perm: int = 128) -> MinHash | None:
    """A text's MinHash (None for a text with nothing left to compare)."""
    grams = shingles(text, size)
    if not grams:
        return None
    template = _template(perm)
    sig = MinHash(num_perm=perm, seed=SEED, permutations=template.permutations,
                  scheme=template.scheme)
    sig.update_batch([g.encode("utf-8") for g in sorted(grams)])
    return sig


@dataclass(frozen=True, slots=True)
class Member:
    """One contact of a window: its id, district and signature (never its text)."""

    contact_id: str
    district: str | None
    sig: MinHash


@dataclass(frozen=True, slots=True)
class Cluster:
    """Near-duplicate contacts of one window: the first by id names it."""

    rep: Member
    members: tuple[Member, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(m.contact_id for m in self.members)

    def district(self) -> str | None:
        """The district most of its members are in (ties: the smallest code)."""
        counts: dict[str, int] = {}
        for m in self.members:
            if m.district:
                counts[m.district] = counts.get(m.district, 0) + 1
        if not counts:
            return None
        return min(counts, key=lambda d: (-counts[d], d))


@cache
def bands(threshold: float, perm: int) -> tuple[int, int]:
    """LSH's bands and rows for a threshold: datasketch integrates for them, slowly, so
    once per process rather than once per window."""
    probe = MinHashLSH(threshold=threshold, num_perm=perm)
    return probe.b, probe.r


def clusters(members: Iterable[Member], threshold: float, perm: int) -> list[Cluster]:
    """Group a window's contacts by single linkage: two contacts LSH finds near each other
    are in one cluster, and so is everything near either (union-find, in id order, so the
    clusters and their names do not depend on the order the contacts came in)."""
    ordered = sorted(members, key=lambda m: m.contact_id)
    index = MinHashLSH(threshold=threshold, num_perm=perm, params=bands(threshold, perm))
    parent = list(range(len(ordered)))
    position = {m.contact_id: i for i, m in enumerate(ordered)}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    inserted: set[str] = set()
    for i, m in enumerate(ordered):
        if m.contact_id in inserted:
            continue  # the same contact twice
        inserted.add(m.contact_id)
        for other in index.query(m.sig):
            a, b = root(i), root(position[other])
            parent[max(a, b)] = min(a, b)
        index.insert(m.contact_id, m.sig)
    groups: dict[int, list[Member]] = {}
    for i, m in enumerate(ordered):
        groups.setdefault(root(i), []).append(m)
    return [Cluster(g[0], tuple(g)) for _, g in sorted(groups.items())]


def similar(a: MinHash, b: MinHash, threshold: float) -> bool:
    """Whether two signatures are near-duplicates (estimated Jaccard at the threshold)."""
    return bool(a.jaccard(b) >= threshold)


def count_similar(sig: MinHash, past: Sequence[MinHash], threshold: float) -> int:
    """How many of `past` are near `sig`: a cluster's baseline (past windows are small
    enough after the event-time expiry that a linear scan beats keeping an index in step)."""
    return sum(1 for p in past if similar(sig, p, threshold))
