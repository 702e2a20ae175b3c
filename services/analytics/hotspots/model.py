"""What the hotspot detector (services/analytics/hotspots/detector.py) takes and gives: `Sighting`s
in, `Finding`s out, the `Key`s it counts, and ids derived from what they name (a replay
makes the same ids, so appending a finding twice is a no-op)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

NAMESPACE = uuid.UUID("5b0c7a51-6f43-4d43-9a5e-8c1d2a3b4c5d")


@dataclass(frozen=True, slots=True)
class Sighting:
    """A ticket (ref: its number; with its category) or a contact (ref: its id; with its
    masked text, turned into a signature at once and never kept)."""

    ref: str
    at: datetime
    district: str | None
    category1: str | None = None
    category2: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """What a closed window found. `kind`: detected, cleared or foreseen. For foreseen,
    [start, end) is the period expected this year and `count`/`baseline` last year's."""

    kind: str
    hotspot_id: str
    dimension: str  # category1, category2 or text
    key: str
    district: str | None
    category1: str | None
    category2: str | None
    window_s: int
    start: datetime
    end: datetime
    count: int
    baseline: float
    score: float
    z: float
    refs: tuple[str, ...] = ()  # ticket numbers, or contact ids for a text cluster
    last_year_from: datetime | None = None  # foreseen: where last year's period began


def derived_id(*parts: object) -> str:
    """A deterministic id from what it names (a replay makes the same one)."""
    return uuid.uuid5(NAMESPACE, "|".join(map(str, parts))).hex


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class Key:
    """A counted key: its dimension and the values that make it."""

    dimension: str
    district: str | None
    category1: str | None
    category2: str | None = None

    def name(self) -> str:
        parts = [self.district or "-", self.category1 or "-"]
        if self.category2:
            parts.append(self.category2)
        return f"{self.dimension}:{'/'.join(parts)}"
