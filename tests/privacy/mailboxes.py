"""E-mail addresses as people type them into a note, and a check that the mailbox is gone."""

from __future__ import annotations

from hypothesis import strategies as st

PROVIDERS = ("163.com", "qq.com", "126.com", "sina.com.cn", "outlook.com", "gov.cn")


@st.composite
def emails(draw: st.DrawFn) -> tuple[str, str]:
    """(the address as typed, its mailbox: what must not be read in clear)."""
    first = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
    rest = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=4, max_size=14))
    at = draw(st.sampled_from("@＠"))
    mailbox = first + rest
    return f"{mailbox}{at}{draw(st.sampled_from(PROVIDERS))}", mailbox


def leaks_email(blob: str, mailbox: str) -> bool:
    """Whether the mailbox appears in `blob` right before an @ (half- or full-width)."""
    return f"{mailbox}@" in blob or f"{mailbox}＠" in blob
