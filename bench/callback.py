"""Callback: the citizens' survey answers through their signed links, beside the raw append.

Setup (untimed): tickets registered, dispatched (a reply clock), acknowledged, replied and
with a WeChat survey opened (expiring in 48 h), all through `TicketDesk.execute`; each
ticket's signed link made by `Links.url` (`survey_links`, keyed on the platform's pepper).
Ours: a fresh `CallbackService` over a fresh `EventStore` — its `TicketDesk` cold, every
ticket loaded from the log once, as after a restart — and 64 concurrent tasks calling
`answer_by_link(token, ratings, now)`: the link's HMAC checked, the answer recorded
(`RecordSurveyAnswer`, its command id derived from the survey and the ratings), then the
follow-up it leads to sent with the worker's step id — a realistic mix: 80 % satisfied
(closed `solved`), 10 % basically satisfied but not solved (closed `answered`), 10 %
dissatisfied with the result, with a reason (a redo request for the reviewer). The events
counted are those of the outcomes (answer + follow-up).
Raw: the very records ours appended, read back from the log and appended again to a fresh
topic with `EventLog.append_stream`, one call per command (the answer, then the follow-up,
with their expected versions), 64-way: the engine's price for those events without the
link, the decider, the envelopes and the hash chain.
Target: ours >= 50 % of raw on the embedded log, >= 30 % on Kafka (the performance issue);
best of 3 interleaved reps.
Kafka answers a quarter as many tickets: there a cold load without a snapshot is
`read_stream` through one of the log's four stream readers (one per partition slot; each
read fetches from the stream's first record onwards, seeking over wide gaps), so the
desk's cold loads, not the appends, set the pace, and they slow down as the partition
fills. The desks keep ticket snapshots as the platform does by default (in a SQLite file
shared by the setup's desk and the service, as replicas share the platform's database),
so a cold load is the log's head (from the owner's memory on Kafka) and one snapshot row;
`BENCH_TICKET_SNAPSHOTS=off` measures without them.

    python -m bench callback                          # 2,000 tickets per rep (Kafka: 500)
    BENCH_TICKET_SNAPSHOTS=off python -m bench callback
    BENCH_CALLBACK_TICKETS=500 python -m bench callback
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.broker import on_both_logs
from bench.common import (
    SERVICE_TARGETS,
    Result,
    Timer,
    bench_platform,
    cold_loads,
    platform_database,
    rate,
    say,
    unique,
)
from bench.decider import CONCURRENCY, REPS, raw, registration
from contracts import commands as c
from contracts.base import Deadline
from contracts.ids import name_id, new_id
from contracts.topics import CATALOGUE
from contracts.topics import TICKETS as TOPIC
from contracts.vocabulary import (
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
)
from hotline.log.port import EventLog, Record, TopicSpec
from hotline.runtime import Platform
from reference.bundle import reference_of
from services.callback.app import callback_policy_of, survey_links
from services.callback.links import Links, SurveyLink
from services.callback.service import Answered, CallbackService, Ratings
from ticketing.client import LocalTickets
from ticketing.handler import stream_of

TICKETS_ENV = "BENCH_CALLBACK_TICKETS"
TICKETS = 2_000  # per rep on the embedded log
KAFKA_SHARE = 4  # Kafka answers a quarter as many (its cold loads are slow: see the docstring)
REGISTERED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
REPLIED = REGISTERED + timedelta(days=1)
SURVEYED = REPLIED + timedelta(minutes=10)
ANSWERED = SURVEYED + timedelta(hours=3)  # when the citizens tap their links
SURVEY_HOURS = 48
UNIT = "d01-urban-squad"
SECRET = b"bench pepper: 32 bytes, not used for anything else"
BASE_URL = "https://12345.example.gov.cn/callback"
_SURVEYS = uuid.UUID("0b3e7d5c-2a19-4c84-9f6e-12345a0fbe0c")

SATISFIED = Ratings(HotlineServiceRating.SATISFIED, HandlingRating.SATISFIED, solved=True)
NOT_SOLVED = Ratings(HotlineServiceRating.BASICALLY_SATISFIED,
                     HandlingRating.BASICALLY_SATISFIED, solved=False)
REDO = Ratings(HotlineServiceRating.SATISFIED, HandlingRating.DISSATISFIED_WITH_RESULT,
               comment="换了灯泡两天又不亮了, 晚上小区门口还是很黑, 请派人彻底检修线路")


def ratings_of(n: int) -> Ratings:
    """The mix: 8 in 10 satisfied, 1 basically satisfied but not solved, 1 asks for a redo."""
    return REDO if n % 10 == 9 else NOT_SOLVED if n % 10 == 4 else SATISFIED


def service_of(platform: Platform) -> CallbackService:
    """Built as services/callback/app.py builds it."""
    ref = reference_of(platform)
    return CallbackService(platform, callback_policy_of(platform), survey_links(platform),
                           ref.policy, ref.calendar)


@dataclass(frozen=True)
class Opened:
    """A replied ticket with its survey open: its link, and the answer its citizen gives."""

    ticket_id: str
    token: str
    ratings: Ratings


def lifecycle(ticket_id: str, survey_id: str, n: int
              ) -> list[tuple[c.TicketCommand, datetime]]:
    due = Deadline(kind=DeadlineKind.REPLY, due_at=REGISTERED + timedelta(days=5),
                   policy_id="bench")
    return [
        (registration(ticket_id, n), REGISTERED),
        (c.DispatchTicket(ticket_id=ticket_id, lead_unit=UNIT, note="请尽快处理",
                          deadlines=(due,)), REGISTERED + timedelta(minutes=5)),
        (c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=UNIT),
         REGISTERED + timedelta(minutes=40)),
        (c.ReplyTicket(ticket_id=ticket_id, unit_id=UNIT, text="已更换灯泡, 恢复照明",
                       solved=True), REPLIED),
        (c.OpenSurvey(ticket_id=ticket_id, survey_id=survey_id, channel=SurveyChannel.WECHAT,
                      expires_at=SURVEYED + timedelta(hours=SURVEY_HOURS)), SURVEYED),
    ]


async def opened(platform: Platform, links: Links, tickets: int, first: int) -> list[Opened]:
    """Tickets up to their open survey through a desk of their own, and their links; its
    snapshots written when the platform keeps them."""
    tickets_here = LocalTickets.of(platform)
    desk = tickets_here.desk
    ids = [new_id() for _ in range(tickets)]
    it = iter(enumerate(ids, first))
    out: dict[str, Opened] = {}

    async def worker() -> None:
        for n, ticket_id in it:
            survey_id = name_id(_SURVEYS, ticket_id)
            for command, at in lifecycle(ticket_id, survey_id, n):
                await desk.execute(command, actor="operator:op-017",
                                   command_id=new_id(), now=at)
            url = await links.url(SurveyLink(survey_id, ticket_id, SurveyChannel.WECHAT,
                                             SURVEYED + timedelta(hours=SURVEY_HOURS)))
            out[ticket_id] = Opened(ticket_id, url.rsplit("/s/", 1)[1], ratings_of(n))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await tickets_here.close()
    return [out[t] for t in ids]


@dataclass
class Ours:
    answers_per_s: float
    events_per_s: float
    sizes: dict[str, tuple[int, int]]  # ticket id -> events of the answer, of the follow-up
    follow_ups: Counter[str]


async def answers(platform: Platform, todo: Sequence[Opened]) -> Ours:
    """Every link answered through a fresh service (cold desk), 64 at once."""
    service = service_of(platform)
    it = iter(todo)
    sizes: dict[str, tuple[int, int]] = {}
    follow_ups: Counter[str] = Counter()

    async def worker() -> None:
        for item in it:
            answered: Answered = await service.answer_by_link(item.token, item.ratings,
                                                              ANSWERED)
            follow = answered.follow_up
            assert follow is not None, f"follow-up refused for {item.ticket_id}"
            assert not answered.answer.duplicate and not follow.duplicate
            sizes[item.ticket_id] = (len(answered.answer.events), len(follow.events))
            follow_ups[follow.events[-1].type.removeprefix("hotline.")] += 1

    with Timer() as t:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await platform.close_shared()  # its desk's last snapshots written, within the time
    events = sum(a + f for a, f in sizes.values())
    return Ours(rate(len(todo), t.seconds), rate(events, t.seconds), sizes, follow_ups)


async def appended(log: EventLog, topic: str, before: dict[int, int], todo: Sequence[Opened],
                   sizes: dict[str, tuple[int, int]]
                   ) -> list[tuple[list[Record], tuple[int, int]]]:
    """The records ours appended (everything after `before`), per ticket, with their sizes."""
    by_key: dict[str, list[Record]] = {}
    for partition, end in (await log.end_offsets(topic)).items():
        start = before.get(partition, 0)
        for record in await log.read(topic, partition, start, end - start):
            by_key.setdefault(record.key, []).append(record)
    out = []
    for item in todo:
        records = by_key.pop(stream_of(item.ticket_id))
        assert len(records) == sum(sizes[item.ticket_id]), item.ticket_id
        out.append((records, sizes[item.ticket_id]))
    assert not by_key, f"{len(by_key)} streams written besides the answered tickets"
    return out


async def measure(log: EventLog, engine: str, tickets: int) -> list[Result]:
    spec = replace(CATALOGUE[TOPIC].spec, replication_factor=1)
    raw_topic = unique("bench.raw-answers")  # one for all reps, warmed like ours by rep 1
    await log.create_topics([spec, TopicSpec(raw_topic, spec.partitions, -1, 1)])
    await log.claim(TOPIC)
    await log.claim(raw_topic)
    async with platform_database(f"callback-{engine}") as db:
        return await _measure(log, engine, tickets, raw_topic, db)


async def _measure(log: EventLog, engine: str, tickets: int, raw_topic: str,
                   db: AsyncEngine) -> list[Result]:
    def platform() -> Platform:  # a fresh one: a fresh desk, the same database
        return bench_platform(log, db, pepper=SECRET, survey_base_url=BASE_URL)

    links = survey_links(platform())
    source_of_state = cold_loads(platform())
    ours_runs: list[tuple[float, float]] = []
    raw_runs: list[float] = []
    mix: Counter[str] = Counter()
    for rep in range(REPS):  # interleaved, best of each: the machine's noise hits both sides
        with Timer() as setup:
            todo = await opened(platform(), links, tickets, rep * tickets)  # not timed
        before = await log.end_offsets(TOPIC)
        ours = await answers(platform(), todo)
        source = await appended(log, TOPIC, before, todo, ours.sizes)
        raw_runs.append(await raw(log, source, raw_topic))
        ours_runs.append((ours.events_per_s, ours.answers_per_s))
        mix = ours.follow_ups
        say(f"  {engine} rep {rep + 1}: {tickets:,} answers by link {ours.answers_per_s:,.0f}/s "
            f"= {ours.events_per_s:,.0f} events/s; raw append_stream of the same events "
            f"{raw_runs[-1]:,.0f} events/s (setup {setup.seconds:.1f} s)")
    ev_rate, ans_rate = max(ours_runs)
    say(f"    follow-ups: {', '.join(f'{n:,} {kind}' for kind, n in sorted(mix.items()))}")
    return [Result(
        f"callback answers ({engine})", ev_rate, max(raw_runs), "events/s", SERVICE_TARGETS[engine],
        f"{ans_rate:,.0f} answers/s; {tickets:,} tickets, {CONCURRENCY} at once: "
        "answer_by_link = link HMAC check + RecordSurveyAnswer + its follow-up (80 % close "
        "solved, 10 % close answered, 10 % redo request), 2 commands per answer through a "
        f"cold desk (each ticket loaded once, from {source_of_state}), "
        "idempotency ids; raw: "
        "append_stream of the same records, one call per command")]


async def run(tickets: int | None = None) -> list[Result]:
    n = tickets or int(os.environ.get(TICKETS_ENV, TICKETS))
    return await on_both_logs("callback", lambda log, engine: measure(
        log, engine, n if engine == "embedded" else max(1, n // KAFKA_SHARE)))
