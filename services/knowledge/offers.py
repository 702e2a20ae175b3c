"""Self-service on chat channels: when to offer a public FAQ's answer before an operator.

A chat contact (WeChat, web, app) whose words a public FAQ covers well enough is
offered that FAQ's answer with "是否解决了您的问题?"; "no" sends the contact on to intake
as a normal contact. Offering a wrong answer costs the citizen a round trip, so the
bar is high: the best FAQ must cover most of the message's words (`MIN_COVERAGE`)
and rank clearly above the next one (`MIN_LEAD`, BM25 scores). Pure: the service
brings the hits and the FAQ's words.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from contracts.ids import name_id
from contracts.vocabulary import Channel

CHAT_CHANNELS = frozenset({Channel.WECHAT, Channel.WEB, Channel.APP})
MIN_COVERAGE = 0.6  # share of the message's words (with their alternatives) the FAQ holds
MIN_LEAD = 1.25  # the best FAQ's score over the second's
QUESTION = "是否解决了您的问题?"
_OFFERS = uuid.UUID("0b7f3c52-8e41-5d0a-a7c6-3e9d15f2a801")


def offer_id(channel: str, channel_message_id: str) -> str:
    """One offer per chat message: a retried message finds its offer again."""
    return name_id(_OFFERS, f"{channel}\n{channel_message_id}")


def coverage(groups: Sequence[frozenset[str]], words: Iterable[str]) -> float:
    """Share of the message's word groups of which the FAQ holds at least one word."""
    if not groups:
        return 0.0
    held = set(words)
    return sum(1 for group in groups if group & held) / len(groups)


def worth_offering(scores: Sequence[float], covered: float) -> bool:
    """Whether the best of `scores` (best first) is sure enough to put to the citizen."""
    if not scores or covered < MIN_COVERAGE:
        return False
    return len(scores) == 1 or scores[0] >= MIN_LEAD * max(scores[1], 1e-9)
