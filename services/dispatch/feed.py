"""A unit's dispatch stream over HTTP: pages of its topic, with long-poll and a follow mode.

For units without Kafka. The position is the topic's offset: `after` is the
next offset to read (0 = from the start), and a page's `next_offset` is what
to ask for next, so a unit that stores it resumes where it stopped. The
records are the relay's (`services.dispatch.relay`): at-least-once, so a unit
dedupes by the envelope's `id`. `FeedItem.envelope` is the stored event minus
its absent (null) attributes: `canonical_json(item.envelope)` gives back the
stored bytes, so a unit can check them against the ticket's hash chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from contracts.envelope import DecodeError, decode
from contracts.topics import dispatch_topic
from hotline.log.port import EventLog, Record, UnknownTopic
from hotline.web import SSE_KEEPALIVE_S
from services.dispatch.relay import ROLE_HEADER

log = logging.getLogger(__name__)

MAX_LIMIT = 1000
POLL_S = 0.2  # how often an idle long-poll looks again


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One record of the unit's stream: its offset, the unit's role, the decoded CloudEvent."""

    offset: int
    role: str  # lead, assisting or former (see the relay)
    envelope: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Up to `limit` items, and the offset to ask for next."""

    items: list[FeedItem]
    next_offset: int


async def read_feed(
    log: EventLog, unit_id: str, after: int, limit: int = 100, wait_s: float = 0.0
) -> FeedPage:
    """Items of the unit's stream from offset `after`; when there are none, wait up to `wait_s`
    for some (long-poll). A unit that never had a ticket (no topic yet) gets an empty page.

    ValueError for a unit id unusable in a topic name, a negative `after`, or a `limit`
    outside 1..MAX_LIMIT.
    """
    topic = dispatch_topic(unit_id)
    if after < 0:
        raise ValueError(f"after must be 0 or more, not {after}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(wait_s, 0.0)
    while True:
        records = await _read(log, topic, after, limit)
        if records:
            return FeedPage(_items(records), records[-1].offset + 1)
        left = deadline - loop.time()
        if left <= 0:
            return FeedPage([], after)
        await asyncio.sleep(min(POLL_S, left))


async def follow(
    log: EventLog, unit_id: str, after: int, stop: asyncio.Event, idle_s: float = SSE_KEEPALIVE_S
) -> AsyncIterator[FeedItem | None]:
    """Every item from offset `after` on, as it arrives, until `stop` is set (for SSE); None
    after each `idle_s` without one, for the stream to say it is alive."""
    topic = dispatch_topic(unit_id)
    if after < 0:
        raise ValueError(f"after must be 0 or more, not {after}")
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while not stop.is_set():
        records = await _read(log, topic, after, MAX_LIMIT)
        if records:
            after = records[-1].offset + 1
            for item in _items(records):
                yield item
            quiet_since = loop.time()
            continue
        if loop.time() - quiet_since >= idle_s:
            yield None
            quiet_since = loop.time()
        with contextlib.suppress(TimeoutError):  # idle: look again, or leave once stopped
            await asyncio.wait_for(stop.wait(), POLL_S)


async def _read(log: EventLog, topic: str, after: int, limit: int) -> list[Record]:
    try:
        return await log.read(topic, 0, after, limit)
    except UnknownTopic:  # created by the relay with the unit's first ticket
        return []


def _items(records: list[Record]) -> list[FeedItem]:
    items = []
    for r in records:
        try:
            envelope = decode(r.value).model_dump(mode="json", exclude_none=True)
        except DecodeError as exc:
            # only the relay writes here, from decoded envelopes: this is a bug or tampering;
            # skipping keeps the unit's inbox moving, the log line keeps the evidence
            log.error("%s offset %d: not a CloudEvent, skipped: %s", r.topic, r.offset, exc)
            continue
        items.append(FeedItem(r.offset, r.headers.get(ROLE_HEADER, ""), envelope))
    return items
