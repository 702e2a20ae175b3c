"""A generated month of the hotline for tests/analytics/test_month.py: March 2026 of contacts
and whole tickets, four weeks of February before it (the detector's seasonal baseline: the
same hour or day of the previous four weeks), and ten weeks around the same time of 2025
(last year, for 未诉先办), with a planted burst and a planted seasonal rise.

`plan` is pure (a seed → every contact, ticket and what becomes of it); `write` sends it
through the real write path: each contact through intake's use case
(`services.intake.service.receive_contact`), each ticket registered and dispatched through
dispatch's use cases (`DispatchService`: the contact read back from the log, the day's
number, the clocks from the deadline policy on the working calendar), every other step as
a command to the ticket desk (acknowledge, return and reassign, extension, reply, survey,
redo, close), where the decider applies its rules.

The detector judges by event time and takes a record more than `max_skew_s` older than its
partition's latest as late, as a real log never holds it: `write` appends the contacts and
the registrations of each partition in time order (one writer per partition, the
partitions in parallel); the rest of a ticket's life comes after, tickets in parallel.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from contracts import commands as c
from contracts.ids import name_id
from contracts.topics import CONTACTS, TICKETS
from contracts.vocabulary import (
    Channel,
    CloseReason,
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
    SurveySkipReason,
)
from hotline.log.partitioning import partition_for
from hotline.runtime import Platform
from reference.bundle import reference_of
from services.dispatch.service import DispatchService
from services.intake import domain as intake
from services.intake.service import receive_contact
from tests.analytics.hotspot_stream import variant
from ticketing.client import TicketCommands, tickets_of
from ticketing.domain import Ticket

BJ = ZoneInfo("Asia/Shanghai")
MONTH_FROM, MONTH_TO = datetime(2026, 3, 1, tzinfo=BJ), datetime(2026, 4, 1, tzinfo=BJ)
WARMUP_FROM = datetime(2026, 2, 1, tzinfo=BJ)  # four whole weeks before March 1st
LAST_YEAR = (datetime(2025, 2, 3, tzinfo=BJ), datetime(2025, 4, 14, tzinfo=BJ))
CUTOFF = datetime(2026, 4, 1, 8, 0, tzinfo=BJ)  # nothing happens after: open tickets stay open
OPERATOR, SUPERVISOR = "op-1", "sup-1"


@dataclass(frozen=True)
class Demand:
    """What citizens ask of one district and category, and who is sent it (None: the
    operators answer it on the spot)."""

    district: str
    category1: str
    category2: str
    unit: str | None
    rate: float  # tickets per working day; weekends half
    ticket_type: str = "request"
    topic: str = "问题"  # a few words a caller would use

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.district, self.category1, self.category2)


FLAT = (
    Demand("990101", "urban-management", "street-lights", "d01-urban-squad", 3.0,
           topic="路灯不亮"),
    Demand("990102", "urban-management", "garbage-sanitation", "d02-urban-squad", 3.0,
           topic="垃圾清运不及时"),
    Demand("990103", "urban-management", "street-vendors", "d03-urban-squad", 2.5,
           topic="占道经营"),
    Demand("990104", "urban-management", "construction-noise", "d04-urban-squad", 2.5,
           "complaint", "夜间施工噪音"),
    Demand("990105", "urban-management", "manhole-covers", "d05-urban-squad", 2.0,
           topic="井盖缺失"),
    Demand("990101", "public-security-household-registration", "neighbourhood-noise",
           "d01-police-station", 2.0, "complaint", "邻居噪音扰民"),
    Demand("990102", "public-security-household-registration", "hukou",
           "d02-police-station", 1.5, "consultation", "户口迁移"),
    Demand("990106", "transport", "road-damage", "road-maintenance-3", 1.5, topic="路面坑洼"),
    Demand("990108", "market-regulation", "consumer-disputes", "d08-market-office", 2.0,
           "complaint", "预付卡退费"),
    Demand("990101", "housing-provident-fund", "hpf-withdrawal", "city-hpf", 2.0,
           "consultation", "公积金提取"),
    Demand("990105", "labour-social-security", "social-insurance", "city-hrss", 1.5,
           "consultation", "社保缴费"),
    Demand("990103", "government-services", "online-services", None, 3.0, "consultation",
           "网上办事"),
    Demand("990102", "transport", "bus-service", "city-transport", 2.0, "complaint",
           "公交晚点"),
    Demand("990107", "health", "hospital-services", "city-health", 1.5, "complaint",
           "医院排队"),
    Demand("990109", "utilities", "heating", "heating-station-5", 1.0, topic="暖气不热"),
)
# the planted burst: a water main breaks in 新城区 on Wednesday 18 March, 10:00-11:00
BURST = Demand("990106", "utilities", "water-supply", "water-branch-3", 2.0,
               "emergency_repair", "停水")
BURST_FROM = datetime(2026, 3, 18, 10, 0, tzinfo=BJ)
BURST_SIZE = 24
# the planted season: school enrolment questions in 北塘区 rose in the week of 17 March 2025
SEASONAL = Demand("990104", "education", "school-enrolment", "city-education", 1.5,
                  "consultation", "入学报名")
RISE_FROM = datetime(2025, 3, 17, tzinfo=BJ)  # a Monday; 364 days later: Monday 16 March 2026
RISE_DAYS, RISE_PER_DAY = 7, 10
THIS_YEAR = (*FLAT, BURST, SEASONAL)
LAST_YEARS = (FLAT[0], FLAT[9], SEASONAL)  # last year's log: the season and two flat keys
HOURS = (1, .5, .3, .3, .3, .5, 1, 3, 6, 9, 9, 8, 6, 7, 8, 8, 7, 6, 5, 5, 4, 3, 2, 1.5)
CHANNELS = ((Channel.PHONE, 55), (Channel.WECHAT, 22), (Channel.WEB, 9), (Channel.APP, 8),
            (Channel.SMS, 6))
PLACES = ("幸福小区", "长安街", "东湖公园", "西城市场", "南站", "北苑", "新华路", "人民医院",
          "青年路", "光明里")


@dataclass(frozen=True)
class Profile:
    """How a unit works: shares of late acknowledgements and replies, of satisfied and
    solved answers, of tickets it returns, of extensions, of redos after a complaint."""

    ack_late: float = 0.08
    reply_late: float = 0.10
    good: float = 0.82
    solved: float = 0.85
    returns: float = 0.0
    extension: float = 0.05
    redo: float = 0.4


PROFILES = {
    "d01-urban-squad": Profile(0.0, 0.02, 0.97, 0.95, 0.0, 0.03, 0.0),
    "d02-urban-squad": Profile(0.05, 0.06, 0.88, 0.85, 0.03),
    "d03-urban-squad": Profile(0.10, 0.12, 0.80, 0.80, 0.04),
    "d04-urban-squad": Profile(0.40, 0.45, 0.45, 0.40, 0.10, 0.10, 0.6),
    "d05-urban-squad": Profile(0.06, 0.08, 0.85, 0.85),
    "d01-police-station": Profile(0.05, 0.05, 0.90, 0.90, 0.04),
    "d02-police-station": Profile(0.15, 0.20, 0.70, 0.70),
    "road-maintenance-3": Profile(0.20, 0.30, 0.65, 0.60),
    "d08-market-office": Profile(0.10, 0.15, 0.75, 0.65, 0.05),
}
FALLBACK = {"urban-management": "city-urban-mgmt",
            "public-security-household-registration": "city-police",
            "market-regulation": "city-market"}  # where a returned ticket is sent next


@dataclass(frozen=True)
class Survey:
    """A callback survey's answer (None: the survey expired unanswered)."""

    hotline_service: HotlineServiceRating
    handling: HandlingRating | None
    solved: bool | None


@dataclass(frozen=True)
class Fate:
    """What becomes of a ticket sent to a unit; times are shares of the clock in force
    (above 1: late)."""

    dispatch_min: int
    returned: bool
    ack: float
    extension: bool
    reply: float
    surveyed: bool  # False: no survey (no way to reach the citizen)
    answer: Survey | None
    redo: bool
    after_redo: Survey | None


@dataclass(eq=False)
class Case:
    """One contact, and the ticket it became (unless `registered_at` is None)."""

    n: int
    demand: Demand
    channel: Channel
    received_at: datetime
    content: str
    registered_at: datetime | None
    fate: Fate | None = None  # None: answered directly
    planted: str | None = None  # "burst" or "season"
    repeat: Case | None = field(default=None, repr=False)  # the same matter again, merged
    repeat_of: Case | None = field(default=None, repr=False)
    # known once written
    ticket_id: str | None = None
    ticket_number: str | None = None
    final_unit: str | None = None  # the last lead unit
    merged: bool = False  # a repeat contact, merged into its ticket

    @property
    def message_id(self) -> str:
        return f"m-{self.n:06d}"

    @property
    def contact_id(self) -> str:
        return intake.contact_id_for(self.channel.value, self.message_id)

    @property
    def command_id(self) -> str:
        return f"register-{self.n:06d}"


@dataclass
class Plan:
    cases: list[Case] = field(default_factory=list)

    def tickets(self, since: datetime = MONTH_FROM, until: datetime = MONTH_TO) -> list[Case]:
        return [k for k in self.cases if k.registered_at is not None
                and since <= k.registered_at < until]

    def contacts(self, since: datetime = MONTH_FROM, until: datetime = MONTH_TO) -> list[Case]:
        return [k for k in self.cases if since <= k.received_at < until]


def days(since: datetime, until: datetime) -> Iterable[datetime]:
    day = since
    while day < until:
        yield day
        day += timedelta(days=1)


def _text(rng: random.Random, demand: Demand) -> str:
    """A caller's own words: a place, the matter, and a sentence nobody else writes."""
    words = "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(rng.randint(15, 40)))
    return f"{rng.choice(PLACES)}{demand.topic}，{words}"


def _survey(rng: random.Random, p: Profile, good: float | None = None) -> Survey:
    service = rng.choices(list(HotlineServiceRating), (88, 8, 3, 1))[0]
    if rng.random() < (p.good if good is None else good):
        handling = rng.choices((HandlingRating.SATISFIED, HandlingRating.BASICALLY_SATISFIED),
                               (7, 3))[0]
        solved: bool | None = rng.random() < p.solved if rng.random() < 0.95 else None
    else:
        handling = rng.choices((HandlingRating.DISSATISFIED_WITH_RESULT,
                                HandlingRating.DISSATISFIED_WITH_STAFF), (6, 4))[0]
        solved = False if rng.random() < 0.9 else None
    return Survey(service, handling, solved)


def _fate(rng: random.Random, demand: Demand) -> Fate:
    assert demand.unit is not None
    p = PROFILES.get(demand.unit, Profile())
    returned = demand.category1 in FALLBACK and rng.random() < p.returns
    ack = rng.uniform(1.1, 4.0) if rng.random() < p.ack_late else rng.uniform(0.05, 0.9)
    reply = rng.uniform(1.05, 2.5) if rng.random() < p.reply_late else rng.uniform(0.1, 0.95)
    roll = rng.random()
    surveyed = roll < 0.92
    answer = _survey(rng, p) if roll < 0.86 else None  # 0.86-0.92: unanswered
    redo = (answer is not None and answer.handling is HandlingRating.DISSATISFIED_WITH_RESULT
            and rng.random() < p.redo)
    return Fate(rng.randint(2, 40), returned, ack, rng.random() < p.extension, reply, surveyed,
                answer, redo, _survey(rng, p, 0.5) if redo else None)


def plan(seed: int = 20260318) -> Plan:
    """Every contact and ticket of last year's ten weeks, February and March, in time
    order, with the burst and the season planted."""
    rng, gen = random.Random(seed), np.random.default_rng(seed)
    out = Plan()

    def add(demand: Demand, at: datetime, planted: str | None = None,
            text: str | None = None, ticket: bool = True) -> Case:
        received = at - timedelta(minutes=rng.randint(1, 15))
        case = Case(len(out.cases), demand, rng.choices(*zip(*CHANNELS, strict=True))[0],
                    received, text or _text(rng, demand), at if ticket else None,
                    planted=planted)
        if ticket and demand.unit is not None:
            case.fate = _fate(rng, demand)
        out.cases.append(case)
        return case

    def some_time(day: datetime) -> datetime:
        hour = rng.choices(range(24), HOURS)[0]
        return day + timedelta(hours=hour, seconds=rng.randrange(3600))

    def period(since: datetime, until: datetime, demands: Sequence[Demand]) -> None:
        for day in days(since, until):
            weekend = day.weekday() >= 5
            for demand in demands:
                for _ in range(int(gen.poisson(demand.rate * (0.5 if weekend else 1)))):
                    add(demand, some_time(day))
            for _ in range(int(gen.poisson(1.0))):  # contacts no ticket came of (yet)
                add(rng.choice(demands), some_time(day), ticket=False)

    period(*LAST_YEAR, LAST_YEARS)
    for day in days(RISE_FROM, RISE_FROM + timedelta(days=RISE_DAYS)):
        for _ in range(RISE_PER_DAY):
            add(SEASONAL, some_time(day), "season")
    period(WARMUP_FROM, MONTH_TO, THIS_YEAR)
    for _ in range(BURST_SIZE):
        add(BURST, BURST_FROM + timedelta(seconds=rng.randrange(3600)), "burst",
            variant(rng))
    march = [k for k in out.cases if k.fate is not None and k.received_at >= MONTH_FROM]
    for k in rng.sample(march, len(march) // 30):  # a citizen calls again a few hours later
        repeat = add(k.demand, k.received_at + timedelta(hours=rng.uniform(3, 30)),
                     ticket=False)
        repeat.channel, repeat.repeat_of, k.repeat = k.channel, k, repeat
    out.cases.sort(key=lambda k: k.received_at)
    return out


# ------------------------------------------------------------------------------ writing


async def _by_partition(platform: Platform, topic: str, items: Sequence[Case],
                        stream: Callable[[Case], str],
                        act: Callable[[Case], Awaitable[None]]) -> None:
    """`act` on each item, in time order within each partition of `topic`, the partitions
    in parallel."""
    n = len(await platform.log.end_offsets(topic))
    lanes: defaultdict[int, list[Case]] = defaultdict(list)
    for k in items:
        lanes[partition_for(stream(k), n)].append(k)

    async def lane(cases: list[Case]) -> None:
        for k in cases:
            await act(k)

    await asyncio.gather(*(lane(cases) for cases in lanes.values()))


class Writer:
    """Sends a plan through intake, dispatch and the ticket desk."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.dispatch = DispatchService(platform, reference_of(platform))
        self.desk: TicketCommands = tickets_of(platform)
        self.commands = 0

    async def write(self, planned: Plan, concurrency: int = 48) -> None:
        cases = planned.cases
        await _by_partition(self.platform, CONTACTS, cases,
                            lambda k: intake.contact_stream(k.contact_id), self.contact)
        tickets = sorted((k for k in cases if k.registered_at is not None),
                         key=lambda k: k.registered_at or k.received_at)
        await _by_partition(self.platform, TICKETS, tickets, lambda k: f"ticket-{_tid(k)}",
                            self.register)
        gate = asyncio.Semaphore(concurrency)

        async def life(k: Case) -> None:
            async with gate:
                await self.life(k)

        await asyncio.gather(*(life(k) for k in tickets))

    async def contact(self, k: Case) -> None:
        body = intake.ContactIn(
            channel=k.channel, channel_message_id=k.message_id, received_at=k.received_at,
            content=k.content, location=intake.LocationIn(district_code=k.demand.district))
        actor = f"channel:{k.channel.value}-adapter"
        receipt = await receive_contact(self.platform, body, actor,
                                        k.received_at + timedelta(seconds=2))
        assert receipt.contact_id == k.contact_id and receipt.status == "accepted"

    async def register(self, k: Case) -> None:
        assert k.registered_at is not None
        d = k.demand
        outcome = await self.dispatch.register(
            k.command_id, [k.contact_id],
            {"ticket_type": d.ticket_type, "summary": f"市民反映{d.topic}",
             "category": {"level1": d.category1, "level2": d.category2}},
            f"operator:{OPERATOR}", OPERATOR, k.registered_at)
        k.ticket_id, k.ticket_number = outcome.ticket.ticket_id, outcome.ticket.ticket_number
        assert k.ticket_id == _tid(k)

    async def send(self, command: c.TicketCommand, actor: str, at: datetime) -> Ticket:
        self.commands += 1
        outcome = await self.desk.execute(command, actor=actor, command_id=str(uuid.uuid4()),
                                          now=at)
        return outcome.ticket

    async def life(self, k: Case) -> None:
        """The ticket's life after its registration, step by step, until CUTOFF."""
        assert k.registered_at is not None and k.ticket_id is not None
        tid, at = k.ticket_id, k.registered_at
        ops = f"operator:{OPERATOR}"
        if k.fate is None:
            at += timedelta(minutes=3)
            await self.send(c.AnswerDirectly(ticket_id=tid, answer="已当场解答"), ops, at)
            return
        f, unit = k.fate, k.demand.unit
        assert unit is not None
        merge_at = k.repeat.received_at + timedelta(minutes=10) if k.repeat else None

        async def step(when: datetime, command: c.TicketCommand, actor: str) -> Ticket | None:
            nonlocal merge_at
            if when >= CUTOFF:
                return None
            if merge_at is not None and merge_at <= when:  # the repeat comes in meanwhile
                assert k.repeat is not None
                await self.send(c.MergeContact(ticket_id=tid, contact_id=k.repeat.contact_id),
                                ops, merge_at)
                merge_at, k.repeat.merged = None, True
            return await self.send(command, actor, when)

        async def dispatch(when: datetime, command: c.DispatchTicket | c.ReassignTicket
                           ) -> Ticket | None:
            if when >= CUTOFF:
                return None
            outcome = await self.dispatch.dispatch(command, ops, str(uuid.uuid4()), when)
            self.commands += 1
            return outcome.ticket

        at += timedelta(minutes=f.dispatch_min)
        t = await dispatch(at, c.DispatchTicket(ticket_id=tid, lead_unit=unit))
        k.final_unit = unit
        if t is None:
            return
        staff = f"unit:{unit}"
        if f.returned:
            at += timedelta(minutes=25)
            if await step(at, c.ReturnTicket(ticket_id=tid, unit_id=unit,
                                             reason="不属于本单位职责"), staff) is None:
                return
            unit = FALLBACK[k.demand.category1]
            at += timedelta(minutes=20)
            t = await dispatch(at, c.ReassignTicket(ticket_id=tid, lead_unit=unit))
            if t is None:
                return
            k.final_unit, staff = unit, f"unit:{unit}"
        sent = at
        at = _share(sent, t.deadlines[DeadlineKind.ACKNOWLEDGE], f.ack)
        if await step(at, c.AcknowledgeTicket(ticket_id=tid, unit_id=unit), staff) is None:
            return
        due = t.deadlines[DeadlineKind.REPLY]
        if f.extension:
            rid = str(uuid.uuid4())
            at += timedelta(hours=1)
            if await step(at, c.RequestExtension(
                    ticket_id=tid, request_id=rid, unit_id=unit, reason="需协调施工单位",
                    requested_due_at=due + timedelta(days=5)), staff) is None:
                return
            at += timedelta(hours=2)
            t = await step(at, c.ApproveExtension(ticket_id=tid, request_id=rid,
                                                  approved_by=SUPERVISOR),
                           f"supervisor:{SUPERVISOR}")
            if t is None:
                return
            due += timedelta(days=5)
        at = max(at + timedelta(minutes=10), _share(sent, due, f.reply))
        if await step(at, c.ReplyTicket(ticket_id=tid, unit_id=unit, text="已处理完毕"),
                      staff) is None:
            return
        closing = await self.survey(k, step, at, f.surveyed, f.answer, 1)
        if closing is None:
            return
        at, reason = closing
        if f.redo and reason is CloseReason.UNSATISFIED:
            survey_id = f"s1-{tid}"
            at += timedelta(hours=2)
            if await step(at, c.RequestRedo(ticket_id=tid, survey_id=survey_id,
                                            reason="问题未解决"), "callback:cb-1") is None:
                return
            at += timedelta(hours=3)
            if await step(at, c.AcceptRedo(ticket_id=tid, reviewer=SUPERVISOR,
                                           reason="情况属实"),
                          f"supervisor:{SUPERVISOR}") is None:
                return
            at += timedelta(days=1, hours=2)
            if await step(at, c.ReplyTicket(ticket_id=tid, unit_id=unit, text="已重新处理"),
                          staff) is None:
                return
            closing = await self.survey(k, step, at, True, f.after_redo, 2)
            if closing is None:
                return
            at, reason = closing
            if reason is CloseReason.UNSATISFIED:
                reason = CloseReason.UNSATISFIED_AFTER_REDO
        await step(at + timedelta(minutes=30), c.CloseTicket(ticket_id=tid, reason=reason),
                   "callback:cb-1")

    async def survey(self, k: Case, step: Callable[..., Awaitable[Ticket | None]],
                     at: datetime, surveyed: bool, answer: Survey | None, n: int
                     ) -> tuple[datetime, CloseReason] | None:
        """The callback survey after a reply: (when it ended, the close reason it leads to),
        None when CUTOFF came first."""
        tid, who = k.ticket_id, "callback:cb-1"
        assert tid is not None
        at += timedelta(hours=2)
        if not surveyed:
            done = await step(at, c.SkipSurvey(ticket_id=tid, reason=SurveySkipReason.NO_CONTACT),
                              who)
            return None if done is None else (at, CloseReason.ANSWERED)
        survey_id = f"s{n}-{tid}"
        if await step(at, c.OpenSurvey(ticket_id=tid, survey_id=survey_id,
                                       channel=SurveyChannel.SMS,
                                       expires_at=at + timedelta(days=3)), who) is None:
            return None
        if answer is None:
            at += timedelta(days=3)
            done = await step(at, c.RecordSurveyUnanswered(ticket_id=tid, survey_id=survey_id),
                              who)
            return None if done is None else (at, CloseReason.SURVEY_UNANSWERED)
        at += timedelta(hours=1, minutes=k.n % 50)
        if await step(at, c.RecordSurveyAnswer(
                ticket_id=tid, survey_id=survey_id, hotline_service=answer.hotline_service,
                handling=answer.handling, solved=answer.solved,
                answered_via=SurveyChannel.SMS), who) is None:
            return None
        good = answer.handling in (HandlingRating.SATISFIED, HandlingRating.BASICALLY_SATISFIED)
        return at, CloseReason.SOLVED if good else CloseReason.UNSATISFIED


def _tid(k: Case) -> str:
    """The ticket id dispatch derives from the registration's command id."""
    return name_id(uuid.NAMESPACE_URL, f"hotline:ticket:{k.command_id}")


def _share(start: datetime, due: datetime, share: float) -> datetime:
    """The moment `share` of the way from `start` to `due` (past it above 1)."""
    return start + (due - start) * share
