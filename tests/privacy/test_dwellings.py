"""The household part of an address typed in free text (contracts.dwellings): masked, and
only that."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.dwellings import mask_dwellings
from contracts.free_text import masked_copy
from contracts.personal import mask_personal_text
from contracts.ticket_events import TicketReplied
from tests.privacy.dwellings import Dwelling, dwellings, leaks_dwelling
from tests.privacy.numbers import CHINESE


@settings(max_examples=1500, derandomize=True)
@given(dwellings(), st.text(CHINESE, max_size=12), st.text(CHINESE, max_size=12))
def test_every_written_form_is_masked_the_road_kept_never_longer(
        home: Dwelling, before: str, after: str) -> None:
    text = f"{before}{home.written}，{after}"
    masked = mask_dwellings(text)
    assert not leaks_dwelling(masked, home), masked
    assert f"{before}{home.road}" in masked  # the place a unit is sent to stays
    assert len(masked) == len(text) and mask_dwellings(masked) == masked


@pytest.mark.parametrize(("typed", "shown"), [
    ("东湖区幸福路18号3单元502室漏水", "东湖区幸福路18号*单元***室漏水"),
    ("和平街5号楼1单元", "和平街*号楼*单元"),
    ("楼上502室装修, 我家402室", "楼上***室装修, 我家***室"),
    ("Ａ座１２０３", "*座****"),
    ("三号楼二单元五楼", "*号楼*单元*楼"),
    ("住在6楼602", "住在*楼***"),
    ("文化路20号18-3-502", "文化路20号**-*-***"),
    ("2单元100多人, 每月300元", "*单元100多人, 每月300元"),  # an amount is no room
])
def test_the_masked_forms(typed: str, shown: str) -> None:
    assert mask_dwellings(typed) == shown


@pytest.mark.parametrize("kept", [
    "幸福路18号小区门口路灯不亮",  # a road and its door number: the place
    "实行一户一表, 影响一栋、两栋楼",  # counts, not homes
    "3室1厅的房子, 住6楼, 第3层, 共有3户",  # a layout, a floor alone, a count
    "已于2026-11-25上门, 见工单12345-20261123-000042",  # dates and ticket numbers
    "楼道灯坏了, 楼下垃圾没人清",
])
def test_words_that_name_no_home_are_left_alone(kept: str) -> None:
    assert mask_dwellings(kept) == kept


def test_numbers_and_rooms_are_masked_together_and_the_originals_kept() -> None:
    typed = "住幸福路18号3单元502室, 电话13812345678"
    assert mask_personal_text(typed) == "住幸福路18号*单元***室, 电话138****5678"
    found: dict[str, str] = {}
    clean = masked_copy(TicketReplied(unit_id="u", text=typed), "", found)
    assert clean.text == mask_personal_text(typed) and found == {"text": typed}
