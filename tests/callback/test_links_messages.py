"""Survey links and texts without I/O: a signed link verifies until its expiry and not a
second after, any change to it or another key makes it forged; an SMS reply's two digits map
to the seed's options in order; the texts carry the ticket number and the options, never the
citizen's data."""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.vocabulary import HandlingRating, HotlineServiceRating, SurveyChannel
from services.callback.links import BadLink, SurveyLink, link_key, sign, verify
from services.callback.messages import (
    SmsAnswer,
    parse_sms_reply,
    phone_script,
    sms_text,
    survey_code,
    wechat_text,
)

BJ = ZoneInfo("Asia/Shanghai")
SECOND = timedelta(seconds=1)
KEY = link_key(b"platform pepper secret")
SURVEY, TICKET = "5f0c3a9e-1b2d-4c6e-8f70-a1b2c3d4e5f6", "0b7e4c2a-9d18-4f3b-a6e5-3c2d1e0f9a8b"
EXPIRES = datetime(2026, 11, 27, 10, 1, tzinfo=BJ)
LINK = SurveyLink(SURVEY, TICKET, SurveyChannel.WECHAT, EXPIRES)
NOW = EXPIRES - timedelta(hours=47)
TOKEN = sign(KEY, LINK)
URL_SAFE = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"  # 0..63
H, D = HotlineServiceRating, HandlingRating
NUMBER, URL = "12345-20261123-000001", "https://12345.example.gov.cn/s/" + TOKEN


def forged(token: str, key: bytes = KEY, now: datetime = NOW) -> bool:
    try:
        verify(key, token, now)
    except BadLink as bad:
        return bad.reason == "forged"
    return False


# ------------------------------------------------------------------------------------ links


@pytest.mark.parametrize("channel", list(SurveyChannel))
def test_a_signed_link_verifies_to_itself(channel: SurveyChannel) -> None:
    link = SurveyLink(SURVEY, TICKET, channel, EXPIRES)
    assert verify(KEY, sign(KEY, link), NOW) == link


def test_a_token_is_short_and_url_safe() -> None:
    print(len(TOKEN), TOKEN)
    assert len(TOKEN) <= 70 and set(TOKEN) <= set(URL_SAFE)
    assert sign(KEY, LINK) == TOKEN  # deterministic: the same link, the same URL


def test_a_link_is_good_until_its_expiry_exclusive() -> None:
    assert verify(KEY, TOKEN, EXPIRES - SECOND) == LINK
    for late in (EXPIRES, EXPIRES + timedelta(days=30)):
        with pytest.raises(BadLink) as bad:
            verify(KEY, TOKEN, late)
        assert bad.value.reason == "expired" and str(bad.value) == "expired"


def test_expiry_is_kept_to_the_second_and_compared_across_time_zones() -> None:
    link = SurveyLink(SURVEY, TICKET, SurveyChannel.SMS, EXPIRES + timedelta(microseconds=900))
    got = verify(KEY, sign(KEY, link), NOW)
    assert got.expires_at == EXPIRES and got.expires_at.utcoffset() == timedelta(0)


def changed(char: str) -> str:
    """Another URL-safe character whose two high bits differ, so the decoded bytes differ even
    in the last, partly padded, position."""
    return URL_SAFE[(URL_SAFE.index(char) + 32) % 64]


@pytest.mark.parametrize("position", [0, 1, 10, 21, 22, 31, 40, 48, 49, 60, 64, 65])
def test_changing_any_character_forges_the_link(position: int) -> None:
    token = TOKEN[:position] + changed(TOKEN[position]) + TOKEN[position + 1:]
    assert token != TOKEN and len(token) == len(TOKEN)
    assert forged(token)


def test_every_position_and_every_other_url_safe_character_is_refused() -> None:
    """All but the last character carry six bits of signed data each."""
    for i in range(len(TOKEN) - 1):
        for char in URL_SAFE.replace(TOKEN[i], ""):
            assert forged(TOKEN[:i] + char + TOKEN[i + 1:]), (i, char)


def test_only_the_exact_signed_token_verifies() -> None:
    last = TOKEN[-1]
    same_bits = [ch for ch in URL_SAFE if ch != last
                 and URL_SAFE.index(ch) >> 4 == URL_SAFE.index(last) >> 4]
    variants = [TOKEN[:-1] + ch for ch in same_bits] + [TOKEN + "=", TOKEN + "=="]
    assert "-" in TOKEN
    variants.append(TOKEN.replace("-", "+"))  # the standard alphabet's 62
    assert len(set(variants)) == len(variants) and TOKEN not in variants
    assert [v for v in variants if not forged(v)] == []


def test_another_key_forges_the_link() -> None:
    assert forged(TOKEN, key=link_key(b"another platform"))
    assert forged(sign(link_key(b"another platform"), LINK))


def test_keys_differ_by_secret_and_are_not_the_secret() -> None:
    keys = {link_key(b"secret-a"), link_key(b"secret-b"), link_key(b"")}
    assert len(keys) == 3 and all(len(k) == 32 for k in keys)
    assert link_key(b"secret-a") == link_key(b"secret-a") != b"secret-a"


@pytest.mark.parametrize("token", [
    "", "A", "AAAA", "!!!!", "路灯不亮", "not a token at all", TOKEN[:-1], TOKEN[:-4], TOKEN[1:],
    TOKEN + "A", TOKEN + "AAAA", TOKEN * 2, "A" * len(TOKEN), "-" * 66, TOKEN.upper(),
])
def test_garbage_is_forged_not_an_error(token: str) -> None:
    assert forged(token)


def test_a_forged_link_is_not_reported_as_expired() -> None:
    """The signature is checked before the date: an attacker learns nothing from the time."""
    assert forged(TOKEN[:5] + changed(TOKEN[5]) + TOKEN[6:], now=EXPIRES + timedelta(days=1))


# ----------------------------------------------------------------------------- SMS replies


def reply(text: str) -> SmsAnswer | None:
    return parse_sms_reply(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("11", SmsAnswer(None, H.SATISFIED, D.SATISFIED, None)),
    ("1 4 路灯还是不亮", SmsAnswer(None, H.SATISFIED, D.DISSATISFIED_WITH_RESULT, "路灯还是不亮")),
    ("1，4,还是不亮。", SmsAnswer(None, H.SATISFIED, D.DISSATISFIED_WITH_RESULT, "还是不亮")),
    ("#A1B2 14 理由", SmsAnswer("A1B2", H.SATISFIED, D.DISSATISFIED_WITH_RESULT, "理由")),
    ("#a1b2 11", SmsAnswer("A1B2", H.SATISFIED, D.SATISFIED, None)),
    ("#0F9c：2、3", SmsAnswer("0F9C", H.BASICALLY_SATISFIED, D.DISSATISFIED_WITH_STAFF, None)),
    ("  \n23\r\n", SmsAnswer(None, H.BASICALLY_SATISFIED, D.DISSATISFIED_WITH_STAFF, None)),
    ("\n 3 2  工作人员态度不好\n第二行\n", SmsAnswer(
        None, H.DISSATISFIED_WITH_AGENT, D.BASICALLY_SATISFIED, "工作人员态度不好\n第二行")),
    ("44。", SmsAnswer(None, H.DISSATISFIED_WITH_POLICY, D.DISSATISFIED_WITH_RESULT, None)),
])
def test_an_sms_reply_is_read(text: str, expected: SmsAnswer) -> None:
    assert reply(text) == expected


@pytest.mark.parametrize("text", ["5 1", "1", "15", "01", "好评", "", "   ", "满意 11",
                                  "A1B2 11", "#A1B 11", "#GHIJ 11", "一一"])
def test_an_sms_reply_without_a_code_is_not_an_answer(text: str) -> None:
    assert reply(text) is None


@pytest.mark.parametrize("first", [1, 2, 3, 4])
@pytest.mark.parametrize("second", [1, 2, 3, 4])
def test_the_digits_follow_the_seeds_order_of_options(first: int, second: int) -> None:
    assert reply(f"{first}{second}") == SmsAnswer(
        None, list(HotlineServiceRating)[first - 1], list(HandlingRating)[second - 1], None)


def test_the_seeds_order_of_options() -> None:
    assert [o.zh for o in HotlineServiceRating] == [
        "满意", "基本满意", "对咨询员服务不满意", "对相关政策不满意"]
    assert [o.zh for o in HandlingRating] == [
        "满意", "基本满意", "对经办人员不满意", "对事项办理效果不满意"]


# ------------------------------------------------------------------------------------ texts


def test_the_survey_code_is_four_upper_case_hex_characters_of_the_id() -> None:
    assert survey_code(SURVEY) == "5F0C"
    assert survey_code("0b7e-4c2a") == "0B7E"
    code = survey_code(TICKET)
    assert re.fullmatch(r"[0-9A-F]{4}", code)
    parsed = reply(f"#{code.lower()} 11")
    assert parsed is not None and parsed.code == code


def test_the_survey_sms() -> None:
    text = sms_text(NUMBER, URL, "5F0C")
    assert NUMBER in text and URL in text and "#5F0C" in text
    for option in (*HotlineServiceRating, *HandlingRating):
        assert option.zh in text, option
    for i, option in enumerate(HandlingRating, 1):
        assert f"{i}{option.zh}" in text
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)  # no mobile number


def test_the_wechat_text() -> None:
    text = wechat_text(NUMBER, URL)
    assert NUMBER in text and text.endswith(URL)


def test_the_phone_script() -> None:
    lines = phone_script(NUMBER, "小区门口路灯不亮", "城管执法中队", "已更换灯泡")
    assert lines[0].startswith("您好") and lines[-1].startswith("感谢")
    assert any(NUMBER in line and "城管执法中队" in line and "已更换灯泡" in line
               for line in lines)
    assert any(all(o.zh in line for o in HotlineServiceRating) for line in lines)
    assert any(all(o.zh in line for o in HandlingRating) for line in lines)
