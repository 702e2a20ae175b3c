"""The masking rules themselves (contracts.personal: numbers, e-mail addresses) and the
log's use of them."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.free_text import masked_copy, text_fields
from contracts.personal import (
    _masked,
    few_digits,
    mask_emails,
    mask_numbers,
    personal_numbers,
)
from contracts.ticket_events import TicketReplied
from hotline import redact
from tests.privacy.numbers import (
    CHINESE,
    Number,
    id_numbers,
    landlines,
    leaks,
    mobiles,
    numbers,
    typed_text,
)


@settings(max_examples=2000, derandomize=True)
@given(numbers().flatmap(lambda n: st.tuples(st.just(n), typed_text(n))))
def test_every_written_form_is_masked_never_longer_and_stays_masked(
        drawn: tuple[Number, str]) -> None:
    number, text = drawn
    assert leaks(text, number)  # the scanner sees it before
    masked = mask_numbers(text)
    assert not leaks(masked, number), masked
    assert len(masked) <= len(text)  # length rules of the contracts still hold
    assert mask_numbers(masked) == masked


# digits in all their forms, separators and a few words
NUMBERISH = "0123456789０１２３４５６７８９XxＸ+-.() （）号楼电话"


@settings(max_examples=1000, derandomize=True)
@given(st.text(st.sampled_from(NUMBERISH), max_size=40))
def test_the_few_digits_shortcut_changes_no_answer(text: str) -> None:
    """A text let through for having too few digits is one the full scan leaves alone."""
    if few_digits(text):
        assert _masked(text) == text


@pytest.mark.parametrize(("written", "shown"), [
    ("+8613812345678", "138****5678"), ("0086 138 1234 5678", "138****5678"),
    ("１３８－１２３４－５６７８", "138****5678"), ("(010)12345678", "010****5678"),
    ("44030119900101123x", "440301********123X"), ("440301900101123", "440301*****1123"),
])
def test_the_masked_forms(written: str, shown: str) -> None:
    assert mask_numbers(f"电话{written}谢谢") == f"电话{shown}谢谢"


@settings(max_examples=1000, derandomize=True)
@given(st.one_of(mobiles(), id_numbers()).flatmap(lambda n: st.tuples(st.just(n),
                                                                      typed_text(n))))
def test_a_mobile_or_id_in_any_written_form_is_a_personal_number(
        drawn: tuple[Number, str]) -> None:
    """What a knowledge article refuses: found however it is written, and named masked."""
    number, text = drawn
    [found] = personal_numbers(text)
    assert not leaks(found, number) and found == mask_numbers(number.digits)


@settings(max_examples=300, derandomize=True)
@given(landlines().flatmap(typed_text))
def test_a_landline_is_no_personal_number(text: str) -> None:
    """Offices publish their landlines; an article may carry them."""
    assert personal_numbers(text) == []


@settings(max_examples=300, derandomize=True)
@given(st.text(CHINESE + "0123456789 年月日号楼室元", max_size=40))
def test_short_numbers_dates_and_ticket_numbers_are_left_alone(text: str) -> None:
    kept = f"{text} 已于2026-11-25 10:00上门, 见工单12345-20261123-000042, 3号楼502室"
    if all(len(run) < 7 for run in "".join(c if c.isdigit() else " " for c in text).split()):
        assert mask_numbers(kept) == kept


def test_nested_free_text_is_found_and_masked() -> None:
    assert dict(text_fields(TicketReplied)) == {"text": True, "attachments": False}
    event = TicketReplied(unit_id="u", text="回电13812345678", attachments=[{
        "uri": "s3://a", "media_type": "image/jpeg", "filename": "身份证44030119900101123X.jpg"}])
    found: dict[str, str] = {}
    clean = masked_copy(event, "", found)
    assert clean.text == "回电138****5678"
    assert clean.attachments[0].filename == "身份证440301********123X.jpg"
    assert found == {"text": "回电13812345678",
                     "attachments.0.filename": "身份证44030119900101123X.jpg"}


@pytest.mark.parametrize(("typed", "shown"), [
    ("邮箱zhangsan@163.com谢谢", "邮箱z*******@163.com谢谢"),
    ("li.si_2024＠outlook.com.cn", "l*********＠outlook.com.cn"),
    ("ab@qq.com", "**@qq.com"),
    ("见@张三的回复, 抄送@运维", "见@张三的回复, 抄送@运维"),  # a mention, no address
])
def test_e_mail_addresses_lose_their_mailbox(typed: str, shown: str) -> None:
    assert mask_emails(typed) == shown


class UnknownDistrict(Exception):
    pass


def test_log_records_exceptions_and_survey_tokens_are_masked() -> None:
    redact.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)  # added after install, like uvicorn's own handlers
    logging.getLogger().addHandler(handler)
    try:
        log = logging.getLogger("services.example")
        log.warning("caller %s asked", "+86 139 8765 4321")
        try:
            raise UnknownDistrict("'13987654321' is no district")
        except UnknownDistrict:
            log.exception("lookup failed for 110105199003071234")
        log.warning("GET /s/%s from the WeChat menu", "AbCdEf0123456789xyz_-AbCd")
        sys.excepthook(RuntimeError, RuntimeError("call 13987654321"), None)  # uncaught
    finally:
        logging.getLogger().removeHandler(handler)
    written = out.getvalue()
    assert "139****4321" in written and "UnknownDistrict" in written and "Traceback" in written
    for clear in ("13987654321", "8765 4321", "110105199003071234", "AbCdEf0123456789"):
        assert clear not in written, written
    assert "/s/[token]" in written and "RuntimeError" in written
