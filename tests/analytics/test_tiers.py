"""Unit evaluation in tiers: a small case computed by hand, the shipped policy covering
every unit of the directory, and the HTTP route on the scenario's units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reference.directory import Unit
from reference.documents import load_reference_data
from services.analytics.kpi import Figure
from services.analytics.tiers import POLICY_FILE, Policy, evaluate

HAND = {
    "min_tickets": 3,
    "weights": [{"kpi": "on_time_reply_rate", "weight": 60, "better": "higher"},
                {"kpi": "return_rate", "weight": 40, "better": "lower"}],
    "peer_groups": [{"id": "squads", "label_zh": "城管中队", "level": 3,
                     "kinds": ["urban-management-squad"]}],
    "tiers": [{"id": "A", "label_zh": "第一档", "min_score": 90},
              {"id": "B", "label_zh": "第二档", "min_score": 80},
              {"id": "C", "label_zh": "第三档", "min_score": 0}],
}


def squad(n: int) -> Unit:
    return Unit(f"u{n}", f"第{n}中队", 3, "city-urban-mgmt", "urban-management-squad",
                ("990101",), ("urban-management",), "kafka", "0999-81000001")


def figures(tickets: int, on_time: tuple[int, int], returned: tuple[int, int]
            ) -> dict[str, Figure]:
    def share(n: int, d: int) -> Figure:
        return Figure(n, d, round(100 * n / d, 2) if d else None)
    return {"tickets": Figure(tickets, None, tickets), "on_time_reply_rate": share(*on_time),
            "return_rate": share(*returned)}


def test_a_small_case_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "scoring.json"
    path.write_text(json.dumps(HAND), encoding="utf-8")
    policy = Policy.load(path)
    now = {
        "u1": figures(10, (9, 10), (1, 10)),  # 0.6 x 90 + 0.4 x (100 - 10) = 90
        "u2": figures(8, (6, 8), (0, 8)),  # 0.6 x 75 + 0.4 x 100 = 85
        "u3": figures(5, (4, 5), (1, 5)),  # 0.6 x 80 + 0.4 x 80 = 80
        "u6": figures(5, (4, 5), (1, 5)),  # the same: the same rank
        "u4": figures(4, (0, 0), (2, 4)),  # no reply yet: return rate alone, 100 - 50 = 50
        "u5": figures(2, (2, 2), (0, 2)),  # too few tickets: scored, not ranked
    }
    before = {"u1": figures(10, (8, 10), (0, 10))}  # 0.6 x 80 + 0.4 x 100 = 88
    [rows] = evaluate(policy, [squad(n) for n in range(1, 8)], now, before).values()
    got = [(r.unit_id, r.score, r.rank, r.tier.id if r.tier else None) for r in rows]
    assert got == [("u1", 90.0, 1, "A"), ("u2", 85.0, 2, "B"), ("u3", 80.0, 3, "B"),
                   ("u6", 80.0, 3, "B"), ("u4", 50.0, 5, "C"), ("u5", 100.0, None, None)]
    assert (rows[0].previous_score, rows[0].change) == (88.0, 2.0)
    assert rows[-1].note_zh is not None and "样本不足" in rows[-1].note_zh
    u4 = rows[4].components  # the line-by-line explanation
    assert [(c.kpi, c.value, c.points) for c in u4] == [("on_time_reply_rate", None, None),
                                                        ("return_rate", 50.0, 50.0)]


def test_the_shipped_policy_places_every_unit_in_one_peer_group() -> None:
    policy = Policy.load()
    units = load_reference_data().directory.units()
    assert len(units) > 100
    for unit in units:
        assert sum(g.holds(unit) for g in policy.peer_groups) == 1, unit.id


@pytest.mark.parametrize("broken", [
    {"weights": [{"kpi": "avg_reply_work_hours", "weight": 1, "better": "lower"}]},
    {"weights": [{"kpi": "no_such_kpi", "weight": 1, "better": "higher"}]},
    {"tiers": [{"id": "A", "label_zh": "甲", "min_score": 60}]},  # nothing below 60
])
def test_a_broken_policy_is_refused(tmp_path: Path, broken: dict[str, object]) -> None:
    path = tmp_path / "scoring.json"
    path.write_text(json.dumps({**json.loads(POLICY_FILE.read_text("utf-8")), **broken}),
                    encoding="utf-8")
    with pytest.raises(ValueError):
        Policy.load(path)
