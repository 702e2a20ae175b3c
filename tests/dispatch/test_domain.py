"""Dispatch's pure rules: duplicate candidates, routing suggestions, command ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hotline.apikeys import Principal
from services.dispatch import domain
from ticketing.web import command_id

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass(frozen=True)
class Row:
    ticket_id: str
    ticket_number: str
    summary: str
    citizen_ref: str | None
    district_code: str
    registered_at: datetime
    lead_unit: str = ""


def test_similarity_tolerates_rewording_of_a_repeat_call() -> None:
    first = "幸福路18号小区门口路灯坏了一个多月, 晚上很黑"
    again = "幸福路18号门口的路灯还是坏的, 晚上很黑"
    other = "建设路菜市场占道经营, 早上堵车严重"
    assert domain.similarity(first, again) > 0.5 > domain.similarity(first, other)
    assert domain.similarity("", first) == 0.0


def test_duplicates_same_caller_first_then_similar_text_in_the_district() -> None:
    past = [
        Row("t1", "12345-20261120-000001", "幸福路18号路灯不亮", "c-1", "990102", NOW),
        Row("t2", "12345-20261121-000002", "幸福路18号小区门口路灯坏了", None, "990101", NOW),
        Row("t3", "12345-20261122-000003", "建设路占道经营", None, "990101", NOW),
    ]
    found = domain.duplicate_candidates("幸福路18号小区门口路灯坏了很久", "c-1", "990101", past,
                                        threshold=0.5)
    assert [c.ticket.ticket_id for c in found] == ["t1", "t2"]
    assert found[0].reasons == ("同一来电人 (same caller)",)
    assert "同区域内容相似" in found[1].reasons[0]


def test_history_suggestions_rank_units_by_similar_handled_tickets() -> None:
    handled = [
        Row("a", "n", "幸福路路灯不亮已修复", None, "990101", NOW, "d01-street-1"),
        Row("b", "n", "路灯不亮, 灯杆倾斜", None, "990101", NOW, "d01-urban-squad"),
        Row("c", "n", "垃圾清运不及时", None, "990101", NOW, "city-urban-mgmt"),
    ]
    counts = {"d01-street-1": 4, "d01-urban-squad": 9, "city-urban-mgmt": 30}
    found = domain.history_suggestions("幸福路路灯不亮", handled, counts,
                                       exclude="d01-urban-squad")
    assert [s.unit_id for s in found][:1] == ["d01-street-1"]
    assert "d01-urban-squad" not in [s.unit_id for s in found]  # the catalogue already named it
    assert "本区同类工单办结 4 件" in found[0].reason_zh and found[0].source == "history"


def test_command_ids_are_stable_per_client_and_key() -> None:
    op1, op2 = Principal("op-1", "operator"), Principal("op-2", "operator")
    a = command_id(op1, "retry-1")
    assert a == command_id(op1, "retry-1")
    assert a != command_id(op2, "retry-1")
    assert command_id(op1, None) != command_id(op1, None)
