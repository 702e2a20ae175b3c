"""The part of an address typed in free text that points at one household: masked.

A structured address is sealed and shown masked to units, analysts and auditors
(`contracts.personal.mask_address`), but people also type addresses into summaries, notes
and replies: "东湖区幸福路18号3单元502室". What identifies a household there is the tail below
the street number: the building (3号楼, 5栋, A座, 三号楼), the entrance (2单元, 二单元), the
floor when it comes with them (6楼, 12层) and the room (502室, 1203, 1801户, the 18-3-502 of
building-entrance-room). Those numbers are masked one character for one (3号楼502室 →
*号楼***室), so the markers stay readable and a text never grows; the originals are sealed
under the citizen's key like every masked number (contracts/free_text.py), for the roles
that see personal data in clear, and erased with that key.

The road and its door number stay (幸福路18号): they name a building or a compound, the place a
unit is sent to, as the structured address keeps its district and street for them. A floor
alone (住6楼), a count (一户一表, 两栋楼, 3室1厅: one digit before 室) and Chinese numerals
before 栋, 座 or 室 read as ordinary words and are left alone; a false mask costs a reader
little, a household found from a note costs its people a lot, so the rule leans to masking.
"""

from __future__ import annotations

import re

# `\d` reads full-width digits too (input methods type them); letters and dashes both ways
_L = "[A-Za-zＡ-Ｚａ-ｚ]"
_CN_DIGIT = "[一二三四五六七八九十]"
_CN = _CN_DIGIT + "{1,3}"
_PART = "|".join((
    rf"{_L}?\d{{1,4}}{_L}?(?:号楼|号栋|栋|幢|号座|座|单元)",  # building or entrance
    rf"{_L}(?:栋|幢|座)",  # A座, B栋
    _CN + "(?:号楼|单元)",  # 三号楼, 二单元
    r"\d{2,4}(?:室|号房|房间)|\d{3,4}户",  # the room
))
_FLOOR = rf"(?:\d{{1,2}}|{_CN})(?:层|楼)(?!下|上|道|梯|顶)"  # 6楼, 十二层; not 楼下, 楼道
_ROOM = r"\d{3,4}(?![\d.%万千百个人天年月日元米号多余平块])"  # a bare room, not an amount
_RUN = re.compile(
    rf"(?=\d|{_L}|{_CN_DIGIT})"  # where a number starts: elsewhere the rest fails fast
    rf"(?:(?:{_FLOOR})*(?:{_PART})(?:{_PART}|{_FLOOR})*(?:{_ROOM})?"  # 3号楼2单元502室, 2单元301
    rf"|(?:{_FLOOR})+{_ROOM}"  # 6楼602: a floor counts with its room
    r"|(?<![\d\-－])\d{1,3}[-－]\d{1,2}[-－]\d{2,4}(?![\d\-－]))"  # 18-3-502; not a date
)
_MASKED = re.compile(rf"\d|{_L}|{_CN_DIGIT}")
_HINT = re.compile(r"[楼栋幢座单室户房层\-－]")


def mask_dwellings(text: str) -> str:
    """`text` with every building, entrance, floor and room number of an address masked."""
    if not _HINT.search(text):  # most text names no dwelling: one scan for a marker
        return text
    out, last = [], 0
    for run in _RUN.finditer(text):
        out.append(text[last:run.start()])
        out.append(_MASKED.sub("*", run.group()))
        last = run.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)
