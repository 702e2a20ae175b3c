"""Personal numbers in every written form, inside Chinese text, and a scanner that finds them.

`numbers()` draws a phone or ID number as a citizen or a clerk would type it
(+86 / 86 / 0086 prefixes, spaces, dashes, dots, full-width digits, landlines
with area codes in brackets, 18-digit IDs ending in X or x, old 15-digit IDs);
`typed_text()` hides one inside random Chinese. `leaks(blob, number)` says
whether the number survives in a text (for a landline, its local number),
whatever separators or full-width forms it is written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import strategies as st

FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
FOLD = str.maketrans("０１２３４５６７８９Ｘｘ－．（）\u3000", "0123456789Xx-.() ")
CHINESE = "市民反映小区门口路灯坏了晚上很黑请尽快维修联系电话身份证号码住址楼单元室已处理回复"
LONGEST = 24  # digits in a run that can still be someone's number (0086 + a mobile + slack)
_RUN = re.compile(r"[\dX](?:[ .()\-]{0,2}[\dX])*")


@dataclass(frozen=True)
class Number:
    """One personal number: the digits that identify it, and how it was written this time."""

    digits: str  # a mobile's 11, an ID's 15 or 18, a landline's local 7 or 8
    written: str


def _separated(digits: str, groups: tuple[int, ...], sep: str) -> str:
    out, at = [], 0
    for size in groups:
        out.append(digits[at:at + size])
        at += size
    out.append(digits[at:])
    return sep.join(part for part in out if part)


@st.composite
def mobiles(draw: st.DrawFn) -> Number:
    digits = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9,
                                                                   max_size=9))
    prefix = draw(st.sampled_from(["", "+86", "86", "0086", "+86 ", "+86-", "０８６"]))
    sep = draw(st.sampled_from(["", " ", "-", ".", "－"]))
    body = _separated(digits, (3, 4), sep)
    if draw(st.booleans()):
        body = body.translate(FULL_WIDTH)
    return Number(digits, prefix + body)


@st.composite
def landlines(draw: st.DrawFn) -> Number:
    area = draw(st.sampled_from(["010", "020", "0755", "0757", "0769", "021"]))
    local = draw(st.sampled_from("2345678")) + draw(st.text("0123456789", min_size=7,
                                                            max_size=7))
    form = draw(st.sampled_from(["{a}-{l}", "({a}){l}", "（{a}）{l}", "{a} {l}", "{a}{l}"]))
    written = form.format(a=area, l=local)
    if draw(st.booleans()):
        written = written.translate(FULL_WIDTH)
    return Number(local, written)


@st.composite
def id_numbers(draw: st.DrawFn) -> Number:
    region = draw(st.sampled_from(["440301", "110105", "441900", "440604"]))
    year = draw(st.integers(1950, 2005))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    if draw(st.booleans()):  # an old 15-digit number
        digits = f"{region}{year % 100:02d}{month:02d}{day:02d}{seq}"
    else:
        check = draw(st.sampled_from("0123456789Xx"))
        digits = f"{region}{year}{month:02d}{day:02d}{seq}{check}"
    written = digits.translate(FULL_WIDTH) if draw(st.booleans()) else digits
    return Number(digits.upper(), written)


def numbers() -> st.SearchStrategy[Number]:
    return st.one_of(mobiles(), landlines(), id_numbers())


@st.composite
def typed_text(draw: st.DrawFn, number: Number) -> str:
    """Random Chinese with `number` somewhere inside."""
    before = draw(st.text(CHINESE, min_size=1, max_size=12))
    after = draw(st.text(CHINESE, min_size=0, max_size=12))
    return f"{before}{number.written}{after}"


def leaks(blob: str, number: Number) -> bool:
    """Whether `number` appears in `blob` in clear, in any written form."""
    folded = blob.translate(FOLD).upper()
    runs = (re.sub(r"[^\dX]", "", m.group()) for m in _RUN.finditer(folded))
    text = " ".join(r for r in runs if len(r) <= LONGEST)  # longer: a hash, not a number
    return number.digits in text
