"""Dispatch's pure rules: duplicate candidates, routing suggestions, command ids.

(Deadlines at dispatch come from the supervision service's policy: services/supervision.)

No I/O: the service layer reads the projection and the directory and hands the
rows in; everything here is a function of its arguments (and an injected now).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# --------------------------------------------------------------------------- similarity


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the text's letters and digits: Chinese needs no word segmenter
    for near-duplicate detection, and bigrams tolerate the small rewordings of repeat calls."""
    chars = [ch for ch in text.lower() if ch.isalnum()]
    return frozenset(a + b for a, b in zip(chars, chars[1:], strict=False))


def similarity(a: str, b: str) -> float:
    """Share of the shorter text's bigrams found in the other, 0..1 (an overlap coefficient:
    a short ticket summary against a long contact still scores high when it is the same)."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / min(len(x), len(y))


class Past(Protocol):
    """An open ticket as the projection lists it, for duplicate ranking."""

    ticket_id: str
    ticket_number: str
    summary: str
    citizen_ref: str | None
    district_code: str
    registered_at: datetime


class Handled(Protocol):
    """A ticket a unit handled, for routing suggestions."""

    ticket_id: str
    summary: str
    lead_unit: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible duplicate of a new contact, with why it was proposed."""

    ticket: Past
    score: float
    reasons: tuple[str, ...]


def duplicate_candidates(text: str, citizen_ref: str | None, district_code: str | None,
                         past: Iterable[Past], threshold: float,
                         limit: int = 10) -> list[Candidate]:
    """Open tickets that may be the same issue: same caller, or similar text in the district."""
    found = []
    for p in past:
        reasons, sim = [], similarity(text, p.summary)
        same_caller = citizen_ref is not None and p.citizen_ref == citizen_ref
        if same_caller:
            reasons.append("同一来电人 (same caller)")
        if district_code == p.district_code and sim >= threshold:
            reasons.append(f"同区域内容相似 (similar text in the district, {sim:.0%})")
        if reasons:  # the same caller ranks first, then the closer text
            found.append(Candidate(p, sim + (1.0 if same_caller else 0.0), tuple(reasons)))
    found.sort(key=lambda c: (-c.score, c.ticket.registered_at))
    return found[:limit]


# --------------------------------------------------------------------------- suggestions


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A unit the operator may dispatch to, and why."""

    unit_id: str
    source: str  # "catalogue" or "history"
    reason_zh: str
    score: float


def history_suggestions(text: str, handled: Sequence[Handled], counts: dict[str, int],
                        exclude: str | None, limit: int = 3) -> list[Suggestion]:
    """Units that handled the most similar past tickets (and the most of this category)."""
    best: dict[str, float] = {}
    closest: dict[str, float] = {}
    for p in handled:
        score = similarity(text, p.summary)
        best[p.lead_unit] = best.get(p.lead_unit, 0.0) + score
        closest[p.lead_unit] = max(score, closest.get(p.lead_unit, 0.0))
    for unit, n in counts.items():
        # category volume breaks ties between equally similar units
        best[unit] = best.get(unit, 0.0) + 0.01 * n
    out = []
    for unit, score in sorted(best.items(), key=lambda kv: -kv[1]):
        if unit == exclude or score <= 0:
            continue
        n = counts.get(unit, 0)
        reason = f"本区同类工单办结 {n} 件"
        if closest.get(unit, 0.0) > 0:
            reason += f"; 办过的最相似工单相似度 {closest[unit]:.0%}"
        out.append(Suggestion(unit, "history", reason, round(score, 4)))
        if len(out) == limit:
            break
    return out
