"""What the pages print for stored values: Chinese labels, Beijing times, durations, names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.events import EVENTS
from reference.documents import load_reference_data
from services.console import labels
from services.console.names import Names
from services.console.upstream import Refused, one_level


def test_labels_times_and_durations() -> None:
    assert labels.zh("TicketStatus", "closed") == "已办结"
    assert labels.zh("WarningLevel", "red") == "红单"
    assert labels.zh("TicketStatus", "unheard-of") == "unheard-of"  # shown as itself
    assert labels.zh("NoSuchEnum", "x") == "x" and labels.zh("Channel", None) == ""
    assert labels.when("2026-12-04T01:15:00Z") == "2026-12-04 09:15"  # Beijing wall time
    assert labels.when(datetime(2026, 12, 31, 16, 0, 5, tzinfo=UTC), True) == \
        "2027-01-01 00:00:05"
    assert [labels.duration(s) for s in (42, 95, 600, 7200, 7260, 90000)] == [
        "42秒", "1分35秒", "10分钟", "2小时", "2小时1分", "1天1小时"]


def test_every_event_has_a_chinese_name() -> None:
    for name in EVENTS:
        label = labels.event_zh(name)
        assert label and label != name and not label.isascii(), name
    assert labels.event_zh("hotline.TicketReturned.v1") == "退单"
    assert labels.step_text("DeadlinesSet", "redo") == "重办时限"
    assert labels.step_text("TicketReturned", "属街道管辖") == "属街道管辖"


def test_every_role_lands_on_a_page_of_its_menu() -> None:
    for role in labels.ROLE_ZH:
        assert labels.home(role) == labels.menu(role)[0][0]


def test_names_from_the_reference_data() -> None:
    names = Names(load_reference_data())
    assert names.unit("d01-urban-squad") == "东湖区城管执法中队"
    assert names.district("990101") == "东湖区"
    assert names.category("urban-management", "street-lights") == "城市管理 / 路灯照明"
    assert names.unit("no-such-unit") == "no-such-unit" and names.unit(None) == ""
    assert ("urban-management/street-lights", "路灯照明") in dict(
        names.category_choices)["城市管理"]


def test_an_id_never_climbs_to_another_route() -> None:
    """`..` from a page's URL or form would make the API path another route. (Not async:
    while this package's browser is open, no other event loop can run in this thread.)"""
    for path in ("/v1/tickets/../accounts", "/v1/tickets/./x", "/v1/tickets/.."):
        with pytest.raises(Refused) as refused:
            one_level(path)
        assert refused.value.status == 404
    one_level("/v1/analytics/reports/r-1.pdf")  # a dot inside a segment is a name
