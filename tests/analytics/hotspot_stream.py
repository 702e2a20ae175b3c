"""A generated stream for the hotspot tests: Poisson noise of tickets per (district,
category) and of contact texts, with a planted burst and a planted near-duplicate cluster.

Shared by the pure tests, the runner tests on both engines and the faust test, so every one
of them judges the same events.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from contracts.base import Category, EventData
from contracts.events import ContactReceived, TicketRegistered
from contracts.vocabulary import Channel, TicketType
from hotline.eventstore import Context, EventStore
from services.analytics.hotspots.detector import Sighting

T0 = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # Monday 2026-03-02 00:00 in Asia/Shanghai
KEYS = [("990101", "urban-management", "street-lights"), ("990101", "transport", "bus-service"),
        ("990102", "urban-management", "street-lights"),
        ("990102", "housing-provident-fund", "hpf-withdrawal"),
        ("990105", "urban-management", "garbage-sanitation")]  # the directory's codes
BURST_KEY = ("990102", "housing-provident-fund", "hpf-withdrawal")
TOPICS = ["停车难", "噪音扰民", "路灯不亮", "公交晚点", "垃圾清运", "供暖不热", "绿化修剪",
          "占道经营", "井盖缺失", "宠物扰民"]
PLACES = ["幸福小区", "长安街", "东湖公园", "西城市场", "南站", "北苑", "新华路", "人民医院"]
CLUSTER_TEXT = "东风路三号院自来水管爆裂，整栋楼停水已经半天，地下室进水，请尽快派人抢修"


@dataclass(frozen=True)
class Plan:
    """What a stream holds: its length, noise rate and what was planted where."""

    weeks: int = 5
    hours: int = 0  # instead of weeks, when given
    rate: float = 1.0  # tickets per key and hour
    contacts_rate: float = 3.0  # noise contacts per hour
    burst_hour: int | None = None  # hours after T0
    burst_size: int = 20
    cluster_hour: int | None = None
    cluster_size: int = 15
    seed: int = 7


def number(at: datetime, n: int) -> str:
    return f"12345-{at.astimezone(UTC).strftime('%Y%m%d')}-{n:06d}"


def noise_text(rng: random.Random) -> str:
    """An unrelated complaint: a topic, a place and words of its own."""
    words = "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(rng.randint(15, 40)))
    return f"{rng.choice(PLACES)}{rng.choice(TOPICS)}，{words}，号码1**********"


def variant(rng: random.Random) -> str:
    """The planted complaint in a caller's own words: a few characters changed."""
    chars = list(CLUSTER_TEXT)
    for _ in range(3):
        chars[rng.randrange(len(chars))] = rng.choice("的了呢啊吧")
    return "".join(chars) + rng.choice(["", "谢谢", "，急"])


def stream(plan: Plan) -> list[Sighting]:
    """The sightings in event-time order (ties in generation order)."""
    gen = np.random.default_rng(plan.seed)
    rng = random.Random(plan.seed)
    out: list[Sighting] = []
    seq = 0
    for hour in range(plan.hours or plan.weeks * 7 * 24):
        start = T0 + timedelta(hours=hour)
        for district, c1, c2 in KEYS:
            n = int(gen.poisson(plan.rate))
            if hour == plan.burst_hour and (district, c1, c2) == BURST_KEY:
                n += plan.burst_size
            for _ in range(n):
                seq += 1
                at = start + timedelta(seconds=rng.randrange(3600))
                out.append(Sighting(number(at, seq), at, district, c1, c2))
        n = int(gen.poisson(plan.contacts_rate))
        for i in range(n + (plan.cluster_size if hour == plan.cluster_hour else 0)):
            seq += 1
            at = start + timedelta(seconds=rng.randrange(3600))
            text = variant(rng) if i >= n else noise_text(rng)
            out.append(Sighting(f"c-{seq:07d}", at, "990105", text=text))
    return sorted(out, key=lambda s: s.at)


def event_of(s: Sighting) -> tuple[str, EventData]:
    """The event a sighting stands for, as a writer would append it: (stream, event)."""
    if s.category1 is None:
        return f"contact-{s.ref}", ContactReceived(
            contact_id=s.ref, channel=Channel.WECHAT, channel_message_id=f"wx-{s.ref}",
            received_at=s.at, content=s.text or "-", district_code=s.district,
            body_digest=hashlib.sha256(s.ref.encode()).hexdigest())
    tid = s.ref.replace("12345-", "t")
    return f"ticket-{tid}", TicketRegistered(
        ticket_id=tid, ticket_number=s.ref, contact_ids=(f"c-of-{tid}",),
        ticket_type=TicketType.COMPLAINT, category=Category(level1=s.category1,
                                                            level2=s.category2),
        summary="诉求摘要", district_code=s.district or "990101",
        registered_by="operator:wang.li", channel=Channel.WECHAT)


async def append_all(store: EventStore, sightings: list[Sighting], chunk: int = 50) -> None:
    """Append every sighting's event at its own time (a few at once: Kafka is a round trip
    per append)."""
    context = Context.new("operator:wang.li", "urn:hotline:test")

    async def one(s: Sighting) -> None:
        stream, event = event_of(s)
        await store.append(stream, [event], expected_version=0, context=context, now=s.at)

    for i in range(0, len(sightings), chunk):
        await asyncio.gather(*(one(s) for s in sightings[i:i + chunk]))
