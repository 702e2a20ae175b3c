"""Unit evaluation in tiers (分类分档考核): units compared only with their peers, scored by
a policy that is data (data/scoring.json), placed in tiers by their score, each score
explained line by line.

The national guidance asks for tiered evaluation rather than one ranking of everyone: a
district government and a water branch do not answer the same demands, so a unit is
ranked only within its peer group (市直部门, 区政府, 公用事业企业, 街道, 站所, 网点), and
its tier comes from its own score against fixed thresholds, not from how many peers it
beat. Pure: the figures come from `queries.figures` by unit (the last lead unit).

Score: each weighted KPI gives points (its value in %, or 100 minus it where lower is
better); the score is their weighted mean over the KPIs the unit has a figure for (no
survey answered is no figure, not a zero). A unit with fewer than `min_tickets` tickets
in the period is listed with its score but not ranked (样本不足).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from reference.directory import Unit
from services.analytics.kpi import BY_ID, Figure

POLICY_FILE = Path(__file__).parent / "data" / "scoring.json"
Better = Literal["higher", "lower"]


@dataclass(frozen=True, slots=True)
class Weight:
    kpi: str
    weight: float
    better: Better


@dataclass(frozen=True, slots=True)
class PeerGroup:
    id: str
    label_zh: str
    level: int
    kinds: frozenset[str]

    def holds(self, unit: Unit) -> bool:
        return unit.level == self.level and unit.kind in self.kinds


@dataclass(frozen=True, slots=True)
class Tier:
    id: str
    label_zh: str
    min_score: float


@dataclass(frozen=True, slots=True)
class Policy:
    """How units are scored, grouped and tiered (see data/scoring.json)."""

    min_tickets: int
    weights: tuple[Weight, ...]
    peer_groups: tuple[PeerGroup, ...]
    tiers: tuple[Tier, ...]  # highest threshold first; the last one's is 0

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> Policy:
        """The policy file, checked: known percentage KPIs, distinct groups, tiers from the
        highest threshold down to 0 (ValueError naming what is wrong)."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        weights = tuple(Weight(w["kpi"], float(w["weight"]), w["better"]) for w in raw["weights"])
        for w in weights:
            if w.kpi not in BY_ID or BY_ID[w.kpi].unit != "%":
                raise ValueError(f"{path.name}: {w.kpi} is not a percentage KPI")
            if w.weight <= 0 or w.better not in ("higher", "lower"):
                raise ValueError(f"{path.name}: {w.kpi} needs a positive weight and a direction")
        groups = tuple(PeerGroup(g["id"], g["label_zh"], int(g["level"]), frozenset(g["kinds"]))
                       for g in raw["peer_groups"])
        if len({g.id for g in groups}) != len(groups):
            raise ValueError(f"{path.name}: peer group ids repeat")
        tiers = tuple(Tier(t["id"], t["label_zh"], float(t["min_score"])) for t in raw["tiers"])
        thresholds = [t.min_score for t in tiers]
        if not tiers or thresholds != sorted(thresholds, reverse=True) or thresholds[-1] != 0:
            raise ValueError(f"{path.name}: tiers go from the highest threshold down to 0")
        return cls(int(raw["min_tickets"]), weights, groups, tiers)

    def group_of(self, unit: Unit) -> PeerGroup | None:
        return next((g for g in self.peer_groups if g.holds(unit)), None)

    def tier_of(self, score: float) -> Tier:
        return next(t for t in self.tiers if score >= t.min_score)


@dataclass(frozen=True, slots=True)
class Component:
    """One KPI's part in a score: the figure, its points and its weight."""

    kpi: str
    label_zh: str
    weight: float
    better: Better
    numerator: float
    denominator: int | None
    value: float | None  # None: no figure in the period (left out of the mean)
    points: float | None


@dataclass(frozen=True, slots=True)
class Standing:
    """A unit's place in its peer group for a period."""

    unit_id: str
    name_zh: str
    tickets: int
    score: float | None
    rank: int | None  # None: not ranked (too few tickets, or no figure at all)
    tier: Tier | None
    components: tuple[Component, ...]
    previous_score: float | None
    change: float | None
    note_zh: str | None


def score_of(policy: Policy, figures: Mapping[str, Figure]) -> tuple[float | None,
                                                                        tuple[Component, ...]]:
    """The weighted mean of the points of the KPIs with a figure, and every component."""
    parts = []
    for w in policy.weights:
        figure = figures.get(w.kpi)
        value = figure.value if figure else None
        points = None if value is None else value if w.better == "higher" else 100 - value
        parts.append(Component(w.kpi, BY_ID[w.kpi].label_zh, w.weight, w.better,
                               figure.numerator if figure else 0,
                               figure.denominator if figure else None, value, points))
    counted = [(c.weight, c.points) for c in parts if c.points is not None]
    total = sum(weight for weight, _ in counted)
    score = round(sum(weight * p for weight, p in counted) / total, 2) if total else None
    return score, tuple(parts)


def evaluate(policy: Policy, units: Iterable[Unit],
             now: Mapping[str, Mapping[str, Figure]],
             before: Mapping[str, Mapping[str, Figure]]) -> dict[str, list[Standing]]:
    """Each peer group's standings for a period (`now`: figures by unit id, with the
    `tickets` KPI; `before`: the previous period's), best first, unranked ones last. A
    unit with no ticket in the period is left out."""
    found: dict[str, list[Standing]] = {g.id: [] for g in policy.peer_groups}
    for unit in units:
        group = policy.group_of(unit)
        figures = now.get(unit.id)
        if group is None or not figures:
            continue
        found[group.id].append(_standing(policy, unit, figures, before.get(unit.id)))
    return {gid: _ranked(policy, rows) for gid, rows in found.items()}


def _standing(policy: Policy, unit: Unit, figures: Mapping[str, Figure],
              previous: Mapping[str, Figure] | None) -> Standing:
    tickets = int(figures["tickets"].numerator)
    score, components = score_of(policy, figures)
    was = score_of(policy, previous)[0] if previous else None
    change = round(score - was, 2) if score is not None and was is not None else None
    note = None
    if tickets < policy.min_tickets:
        note = f"样本不足 (工单少于 {policy.min_tickets} 件, 不参加排名)"
    elif score is None:
        note = "无可计分指标 (不参加排名)"
    return Standing(unit.id, unit.name_zh, tickets, score, None, None, components, was, change,
                    note)


def _ranked(policy: Policy, rows: Sequence[Standing]) -> list[Standing]:
    """Ranked by score (equal scores share a rank: 1, 2, 2, 4), unit id breaking ties in
    the listing; the unranked after them."""
    ranked = sorted((r for r in rows if r.note_zh is None),
                    key=lambda r: (-(r.score or 0), r.unit_id))
    out: list[Standing] = []
    for i, row in enumerate(ranked):
        assert row.score is not None
        same = out and out[-1].score == row.score
        rank = out[-1].rank if same else i + 1
        out.append(replace(row, rank=rank, tier=policy.tier_of(row.score)))
    return out + sorted((r for r in rows if r.note_zh is not None), key=lambda r: r.unit_id)

