"""The household part of an address in the forms people type it, and a check that it is gone.

`dwellings()` draws a building / entrance / floor / room as a citizen or a clerk writes it
(3号楼502室, 5栋2单元301, A座1203, 三号楼二单元, 6楼602, 18-3-502; half- or full-width
digits) after a road and its door number; `leaks_dwelling(blob, d)` says whether its numbers
survive in a text.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

FULL_WIDTH = str.maketrans("0123456789AB", "０１２３４５６７８９ＡＢ")
FOLD = str.maketrans("０１２３４５６７８９ＡＢ－", "0123456789AB-")
ROADS = ("幸福路", "和平街", "东湖大道", "文化路", "人民北路")
CN = "一二三四五六七八九十"


@dataclass(frozen=True)
class Dwelling:
    """One home: the road and door number that stay, the household part that must not."""

    road: str  # 幸福路18号: kept
    household: str  # 3单元502室, as typed: never in clear for a unit

    @property
    def written(self) -> str:
        return self.road + self.household


@st.composite
def dwellings(draw: st.DrawFn) -> Dwelling:
    door = draw(st.integers(1, 999))
    building, entrance = draw(st.integers(1, 40)), draw(st.integers(1, 6))
    floor, room = draw(st.integers(1, 33)), draw(st.integers(1, 8))
    number = f"{floor}{room:02d}"
    letter = draw(st.sampled_from("AB"))
    household = draw(st.sampled_from([
        f"{building}号楼{number}室", f"{building}栋{entrance}单元{number}",
        f"{building}栋{entrance}单元{number}室", f"{entrance}单元{number}室",
        f"{letter}座{number}", f"{building}幢{floor}楼{number}", f"{floor}楼{number}",
        f"{building}-{entrance}-{number}", f"{number}户", f"{building}号楼{entrance}单元",
        f"{CN[building % 10 - 1] if building % 10 else '十'}号楼{CN[entrance - 1]}单元{number}室",
    ]))
    if draw(st.booleans()):
        household = household.translate(FULL_WIDTH)
    return Dwelling(f"{draw(st.sampled_from(ROADS))}{door}号", household)


def leaks_dwelling(blob: str, dwelling: Dwelling) -> bool:
    """Whether the household part appears in `blob` in clear (half- or full-width)."""
    return dwelling.household.translate(FOLD) in blob.translate(FOLD)
