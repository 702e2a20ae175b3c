"""A month of the hotline through the real pieces, on both engines (issue 16, "Done means").

tests/analytics/month_stream.py generates March 2026 (with February before it and ten weeks
of 2025) and sends it through intake, dispatch and the ticket desk: about 900 tickets in the
month, a burst planted (24 tickets about one water main in 新城区 within one hour of
18 March) and a season planted (school enrolment questions in 北塘区 rose in the week of
17 March 2025). Then the analytics service's own projections fold the log, the embedded
hotspot runner reads it from offset zero, and:

- the burst is reported in the hour and the day windows that contain it, with its count,
  its baseline (the same hour or day of the four weeks before, recounted from the plan),
  the ticket numbers the detector keeps as evidence, and it clears at the next window; its
  contacts, near-duplicates, are one text cluster of planted contacts;
- the seasonal rise is foreseen (PeriodicDemandForeseen) for the same weeks this year,
  at both levels of the category, a signal for each week the rise fell in, with last
  year's count and baseline recounted from the plan;
- no other key is a hotspot in March (in February, the warm-up, at most a few: see
  `check_hotspots`); last year, only the season;
- the monthly report for 2026-03, made over HTTP, lists in its HTML and its PDF the
  figures a recount of the tickets' events gives (tests/analytics/recount.py): the
  headline KPIs beside February's, the channels, the top categories, the districts, the
  units and their rankings, the daily trend (CSV), the hotspots; the contacts behind it
  (what became of each) equal the plan's;
- the unit tiers of the 站所 peer group: the top and the bottom unit's score recomputed
  from their fact rows with the weights of data/scoring.json, and their tier.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

from contracts.topics import ANALYTICS, CONTACTS, TICKETS
from contracts.vocabulary import Channel
from hotline.apikeys import Principal
from hotline.eventstore import Stored
from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from reference.bundle import reference_of
from services.analytics import queries
from services.analytics.app import create_app
from services.analytics.bootstrap import projections
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.detector import Detector, Finding
from services.analytics.hotspots.runner import HotspotRunner, settle
from services.analytics.kpi import BY_ID, tally
from services.analytics.reports.render import from_csv
from services.analytics.tiers import POLICY_FILE
from tests.analytics.conftest import made_report
from tests.analytics.month_stream import (
    BJ,
    BURST,
    BURST_FROM,
    MONTH_FROM,
    MONTH_TO,
    RISE_DAYS,
    RISE_FROM,
    SEASONAL,
    WARMUP_FROM,
    Case,
    Plan,
    Writer,
    plan,
)
from tests.analytics.recount import recount
from tests.intake.conftest import make_platform, open_test_api_keys
from ticketing.client import TicketCommands

REPORT_AT = datetime(2026, 4, 1, 10, 0, tzinfo=BJ)
HOUR, DAY, WEEK = timedelta(hours=1), timedelta(days=1), timedelta(days=7)
POLICY = load_policy()
TITLE = "示例市12345热线月报(2026年3月)"


class Histories:
    """The ticket desk's `history`, each stream read once (recount.py reads it per ticket,
    and the test recounts many groups of the same tickets)."""

    def __init__(self, desk: TicketCommands) -> None:
        self.desk = desk
        self.read: dict[str, list[Stored]] = {}

    async def history(self, ticket_id: str) -> list[Stored]:
        if ticket_id not in self.read:
            self.read[ticket_id] = await self.desk.history(ticket_id)
        return self.read[ticket_id]

    async def load(self, ids: Iterable[str], at_once: int = 32) -> None:
        todo = [i for i in ids if i not in self.read]
        for i in range(0, len(todo), at_once):
            await asyncio.gather(*(self.history(t) for t in todo[i:i + at_once]))


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def headed(self, *header: str) -> list[list[list[str]]]:
        """The tables with this header row, without it."""
        return [t[1:] for t in self.tables if t and tuple(t[0]) == header]


def pct(num: float, den: int | None) -> str:
    """A share as the report prints it (— without a base)."""
    return f"{round(100 * num / den, 2):.2f}%" if den else "—"


def value(kpi: str, num: float, den: int | None) -> float | None:
    """A KPI's value from its two counts: a share in %, a mean, or the count."""
    unit = BY_ID[kpi].unit
    if unit == "count":
        return num
    if not den:
        return None
    return round(100 * num / den if unit == "%" else num / den, 2)


def shown(kpi: str, num: float, den: int | None) -> str:
    unit = BY_ID[kpi].unit
    if unit == "count":
        return f"{int(num)} 件"
    if not den:
        return "—"
    return pct(num, den) if unit == "%" else f"{round(num / den, 2):.2f} 小时"


def base(num: float, den: int | None) -> str:
    return f"{int(num)}/{den}" if den else "—"


async def test_a_month(log: EventLog, tmp_path: Path) -> None:
    """The whole month on one engine: written, detected, folded, reported, tiered."""
    clock = time.monotonic()
    took: dict[str, float] = {}
    platform = await make_platform(log, tmp_path)
    api_keys = await open_test_api_keys(tmp_path)
    try:
        await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))  # joins at once
        planned = plan()
        writer = Writer(platform)
        await writer.write(planned)
        took["write"] = time.monotonic() - clock

        runner = HotspotRunner(log, Detector(POLICY), lambda: REPORT_AT, batch=500)
        task = asyncio.create_task(runner.run())
        await settle(runner, 120)
        runner.stop()
        await task
        assert runner.detector.late == 0  # each partition was written in time order
        took["hotspots"] = time.monotonic() - clock - sum(took.values())

        async def caught_up(runner: ProjectionRunner) -> None:
            ends = {(topic, p): end for topic in runner.projection.topics
                    for p, end in (await log.end_offsets(topic)).items()}
            await runner.run(until=ends)

        await asyncio.gather(*(caught_up(ProjectionRunner(log, platform.db, p, batch_size=500))
                               for p in projections(platform)))
        took["projections"] = time.monotonic() - clock - sum(took.values())

        check_hotspots(planted_numbers(planned), planned, runner.stats.found)
        keys = {role: await api_keys.create(Principal(f"{role}-1", role))
                for role in ("analyst", "supervisor", "auditor")}
        app = create_app(platform, api_keys, clock=lambda: REPORT_AT, manage_platform=False,
                         run_reports=False)
        histories = Histories(writer.desk)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://analytics") as client:
            def auth(role: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {keys[role]}"}

            assert runner.stats.appended == len(runner.stats.found)
            await check_hotspot_api(client, auth, log, runner.stats.found)
            took["hotspot api"] = time.monotonic() - clock - sum(took.values())
            await check_report(client, auth, planned, histories, platform)
            took["report"] = time.monotonic() - clock - sum(took.values())
            await check_tiers(client, auth, planned, histories, platform)
            took["tiers"] = time.monotonic() - clock - sum(took.values())
    finally:
        await api_keys.close()
        await platform.close_shared()
        await platform.keys.close()
        await platform.db.dispose()
    print(f"{log.engine}: {len(planned.cases)} contacts, "
          f"{sum(k.registered_at is not None for k in planned.cases)} tickets, "
          f"{writer.commands} commands; " + ", ".join(f"{k} {v:.1f}s" for k, v in took.items()))


# ------------------------------------------------------------------------------ hotspots


def planted_numbers(planned: Plan) -> set[str]:
    return {k.ticket_number for k in planned.cases
            if k.planted == "burst" and k.ticket_number is not None}


def of_key(planned: Plan, key: tuple[str, str, str], since: datetime,
           until: datetime) -> list[Case]:
    return [k for k in planned.tickets(since, until) if k.demand.key == key]


def covered_days(planned: Plan, since: datetime, until: datetime) -> int:
    """The local days in [since, until) on which anything at all came (the detector's
    `days`: a day without one contact or ticket is a gap in the log)."""
    days = {t.astimezone(BJ).date() for k in planned.cases
            for t in (k.received_at, k.registered_at) if t is not None and since <= t < until}
    return len(days)


def seasonal_mean(planned: Plan, key: tuple[str, str, str], start: datetime,
                  size: timedelta) -> float:
    """The detector's seasonal baseline: the same window of the four weeks before."""
    counts = [len(of_key(planned, key, start - k * WEEK, start - k * WEEK + size))
              for k in range(1, POLICY.seasons + 1)]
    return round(sum(counts) / len(counts), 6)


def check_hotspots(planted: set[str], planned: Plan, found: list[Finding]) -> None:
    detected = [f for f in found if f.kind == "detected"]
    burst = [f for f in detected if (f.district, f.category1) == BURST.key[:2]
             and f.start.astimezone(BJ).date() == BURST_FROM.date()]
    # the hour and the day that hold the burst, at both levels of the category
    assert sorted((f.dimension, f.window_s, f.start) for f in burst) == sorted(
        (dim, size, start.astimezone(UTC)) for dim in ("category1", "category2")
        for size, start in ((3600, BURST_FROM), (86400, BURST_FROM.replace(hour=0))))
    for f in burst:
        size = timedelta(seconds=f.window_s)
        start = f.start.astimezone(BJ)
        cases = of_key(planned, BURST.key, start, start + size)
        numbers = sorted(k.ticket_number or "" for k in cases)
        assert f.count == len(cases) >= 24, f
        assert f.baseline == seasonal_mean(planned, BURST.key, start, size), f
        assert f.refs == tuple(numbers[:POLICY.samples]), f  # the smallest, as evidence
        if f.window_s == 3600:  # that hour: the planted tickets, and what came anyway
            background = set(numbers) - planted
            assert len(planted) == 24 and len(background) <= 2
            assert len(set(f.refs) & planted) >= POLICY.samples - len(background)
        assert f.category2 == (BURST.category2 if f.dimension == "category2" else None)
        assert f.end == f.start + size
        cleared = [g for g in found if g.kind == "cleared" and g.hotspot_id == f.hotspot_id]
        assert [g.start for g in cleared] == [f.end], f  # quiet again in the next window
    # its contacts: one cluster of near-duplicate texts, all planted
    texts = [f for f in detected if f.dimension == "text"]
    burst_contacts = {k.contact_id for k in planned.cases if k.planted == "burst"}
    assert len(texts) == 1, texts
    [text] = texts
    assert text.start == BURST_FROM.astimezone(UTC) and text.window_s == 3600
    assert set(text.refs) <= burst_contacts and text.count >= POLICY.min_count

    # 未诉先办: last year's season foreseen at both levels, for the same weeks this year:
    # the first period as soon as last year's days ahead rose enough, then (the key being
    # quiet only until a signalled period has passed) the week after it, where the rest of
    # the rise was; nothing else
    foreseen = [f for f in found if f.kind == "foreseen"]
    span = timedelta(days=POLICY.periodic_span_days)
    before = timedelta(days=POLICY.periodic_base_days)
    rise = (RISE_FROM, RISE_FROM + timedelta(days=RISE_DAYS))
    for dimension in ("category1", "category2"):
        periods = sorted((f for f in foreseen if f.dimension == dimension),
                         key=lambda f: f.start)
        assert 1 <= len(periods) <= 2, foreseen
        assert all(f.last_year_from is not None for f in periods)
        then = [f.last_year_from.astimezone(BJ) for f in periods]  # type: ignore[union-attr]
        assert then[0] <= RISE_FROM < then[0] + span  # the rise starts in the first
        assert then[-1] + span >= rise[1]  # and ends in the last
        assert all(b - a == span for a, b in zip(then, then[1:], strict=False))
        for f, last in zip(periods, then, strict=True):
            assert (f.district, f.category1) == SEASONAL.key[:2]
            assert f.category2 == (SEASONAL.category2 if dimension == "category2" else None)
            assert f.start == f.last_year_from + timedelta(days=364)  # the same weekdays
            assert MONTH_FROM <= f.start.astimezone(BJ) < MONTH_TO and f.end - f.start == span
            assert f.count == len(of_key(planned, SEASONAL.key, last, last + span))
            # last year's log is three keys: a day none of them came is a gap, left out
            base_days = covered_days(planned, last - before, last)
            assert f.baseline == round(len(of_key(planned, SEASONAL.key, last - before, last))
                                       / base_days * covered_days(planned, last, last + span),
                                       6)
    assert len(foreseen) == 2 * len({f.start for f in foreseen})

    # flat keys: no hotspot in March, whose every window has four weeks of this year behind
    # it. In February the seasonal baseline reaches back into the ten months between last
    # year's data and this year's, which the detector counts as silence (its history starts
    # at the first event it ever saw): in the first week all four lags are silent, the
    # baseline is the floor (0.5) and a day of 8 tickets is a burst (P(X >= 8) = 6e-8 under
    # Poisson(0.5)); the busiest keys (3 a day) have such a day with P = 0.012, about 0.26
    # key-days expected over the plan's keys; the second week needs 9 (about 0.02); later,
    # nothing to speak of. With the pure detector over this plan's seeds 0-11: one key-day
    # or none, in the first week, every time. So: a few at most, all day windows of those
    # two weeks (this seed has none).
    others = [f for f in detected if f.dimension != "text" and f not in burst]
    march = [f for f in others if f.start.astimezone(BJ) >= MONTH_FROM]
    assert march == [], march
    warmup = [f for f in others if WARMUP_FROM <= f.start.astimezone(BJ) < MONTH_FROM]
    assert len({(f.district, f.category1, f.start) for f in warmup}) <= 4, warmup
    assert all(f.window_s == 86400 and f.start.astimezone(BJ) < WARMUP_FROM + 2 * WEEK
               for f in warmup), warmup
    last_year = [f for f in others if f.start.astimezone(BJ) < WARMUP_FROM]
    assert all((f.district, f.category1) == SEASONAL.key[:2]
               for f in last_year), last_year  # last year, only the season itself


async def check_hotspot_api(client: httpx.AsyncClient, auth: Any, log: EventLog,
                            found: list[Finding]) -> None:
    """The board (an_hotspots, folded from hotline.analytics) lists what the runner found,
    with its evidence."""
    r = await client.get("/v1/analytics/hotspots", headers=auth("analyst"), params={
        "district": BURST.district, "category": BURST.category2,
        "from": MONTH_FROM.isoformat(), "to": MONTH_TO.isoformat()})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    expected = [f for f in found if f.kind == "detected" and f.category2 == BURST.category2
                and f.start.astimezone(BJ) >= MONTH_FROM]
    assert {i["hotspot_id"] for i in items} == {f.hotspot_id for f in expected}
    for f in expected:
        r = await client.get(f"/v1/analytics/hotspots/{f.hotspot_id}", headers=auth("auditor"))
        one = r.json()
        assert (one["count"], one["baseline"], one["window_seconds"]) == (
            f.count, f.baseline, f.window_s)
        assert one["evidence"]["ticket_numbers"] == list(f.refs)
        assert (one["district_zh"], one["status_zh"]) == ("新城区", "已消退")
        # cleared at the end of the next window, the first no longer a burst
        assert datetime.fromisoformat(one["cleared_at"]) == f.end + timedelta(
            seconds=f.window_s)
    r = await client.get("/v1/analytics/hotspots", headers=auth("supervisor"),
                         params={"kind": "foresight"})
    rows = r.json()["items"]
    assert {i["hotspot_id"] for i in rows} == {f.hotspot_id for f in found
                                                if f.kind == "foreseen"}
    assert {(i["district_zh"], i["kind_zh"]) for i in rows} == {("北塘区", "周期性诉求预警")}
    # the log holds each finding once: a detected, cleared or foreseen event per finding
    assert sum((await log.end_offsets(ANALYTICS)).values()) == len(found)


# ------------------------------------------------------------------------------ the report


async def check_report(client: httpx.AsyncClient, auth: Any, planned: Plan,
                       histories: Histories, platform: Any) -> None:
    march, february = planned.tickets(), planned.tickets(WARMUP_FROM, MONTH_FROM)
    await histories.load(k.ticket_id or "" for k in march + february)
    cal = reference_of(platform).calendar

    async def count(cases: list[Case]) -> dict[str, tuple[float, int | None]]:
        return await recount(histories, [k.ticket_id or "" for k in cases],  # type: ignore[arg-type]
                             cal)

    now, before = await count(march), await count(february)
    assert now["tickets"][0] == len(march) > 800

    entry = await made_report(client, auth("analyst"), {"kind": "monthly", "period": "2026-03"})
    rid = entry["report_id"]
    assert entry["title"] == TITLE
    for kpi, (num, den) in now.items():  # every KPI recount.py counts, and February's
        got = entry["figures"][kpi]
        assert abs(got["numerator"] - num) < 1e-6 and got["denominator"] == den, kpi
        assert got["value"] == value(kpi, num, den), kpi
        assert got["previous"] == value(kpi, *before[kpi]), kpi
    # the figures are not trivial: the units were late, unsatisfied, returned, extended
    for kpi in ("on_time_ack_rate", "on_time_reply_rate", "satisfaction_rate",
                "satisfaction_handling", "resolution_rate"):
        num, den = now[kpi]
        assert den and 0.3 < num / den < 1, (kpi, num, den)
    for kpi in ("return_rate", "extension_rate", "redo_rate", "unsatisfied_after_redo"):
        assert now[kpi][0] > 0, kpi

    r = await client.get(f"/v1/analytics/reports/{rid}.html", headers=auth("auditor"))
    assert r.status_code == 200, r.text
    page = r.text
    assert TITLE in page and f"本期登记工单 <strong>{len(march)} 件</strong>" in page
    contacts = planned.contacts()
    assert f"本期受理来电来信 {len(contacts)} 件" in page
    tables = Tables(page)
    names = reference_of(platform).data

    # the contacts behind 来电来信量, and what became of them (an_contact_facts)
    r = await client.get("/v1/analytics/contacts", headers=auth("analyst"), params={
        "from": MONTH_FROM.isoformat(), "to": MONTH_TO.isoformat(), "by": "channel"})
    assert r.status_code == 200, r.text
    got_contacts = {g["key"]: (g["contacts"], g["registered"], g["merged"], g["pending"],
                               g["answered_directly"]) for g in r.json()["groups"]}
    want_contacts: dict[str, tuple[int, ...]] = {}
    for ch in {k.channel for k in contacts}:
        mine = [k for k in contacts if k.channel == ch]
        ticketed = [k for k in mine if k.registered_at is not None]
        merged = [k for k in mine if k.merged]
        want_contacts[ch.value] = (len(mine), len(ticketed), len(merged),
                                   len(mine) - len(ticketed) - len(merged),
                                   sum(k.fate is None for k in ticketed))
    assert got_contacts == want_contacts
    assert sum(g[2] for g in got_contacts.values()) > 10  # repeats were merged

    # 一、核心指标: each KPI now, its base, and February's
    [headline] = tables.headed("指标", "本期", "分子/分母", "上期", "较上期")
    rows = {row[0]: row for row in headline}
    for kpi, (num, den) in now.items():
        label = BY_ID[kpi].label_zh
        assert rows[label][1:4] == [shown(kpi, num, den), base(num, den),
                                    shown(kpi, *before[kpi])], kpi

    # 三、渠道构成: tickets and contacts by channel
    tickets_by = Counter(k.channel for k in march)
    contacts_by = Counter(k.channel for k in contacts)
    expected = sorted(((ch.zh, tickets_by[ch], contacts_by[ch], ch.value) for ch in
                       set(tickets_by) | set(contacts_by)), key=lambda c: (-c[1], -c[2], c[3]))
    [channels] = tables.headed("渠道", "工单量", "来电来信量")
    assert channels == [[n, str(t), str(c)] for n, t, c, _ in expected]
    assert {Channel(c[3]) for c in expected} >= {Channel.PHONE, Channel.WECHAT}

    # 四、诉求分类: the top ten by tickets, with their on-time and satisfaction rates
    by_category: dict[str, list[Case]] = {}
    for k in march:
        by_category.setdefault(k.demand.category1, []).append(k)
    top = sorted(by_category, key=lambda c1: (-len(by_category[c1]), c1))[:10]
    [categories] = tables.headed("分类", "工单量", "按时办结率", "满意率")
    want = []
    for c1 in top:
        got = await count(by_category[c1])
        want.append([names.taxonomy.label_zh(c1), str(len(by_category[c1])),
                     pct(*got["on_time_reply_rate"]), pct(*got["satisfaction_rate"])])
    assert categories == want
    assert categories[0][:2] == ["城市管理", str(len(by_category["urban-management"]))]

    # 五、分区县情况: every district, its tickets and three rates
    [districts] = tables.headed("区县", "工单量", "响应率", "解决率", "满意率")
    want = []
    for d in names.directory.districts():
        cases = [k for k in march if k.demand.district == d.code]
        got = await count(cases)
        want.append([d.name_zh, str(len(cases)), *(pct(*got[k]) for k in (
            "response_rate", "resolution_rate", "satisfaction_rate"))])
    assert districts == want

    # 六、承办单位: by volume, and the rankings (a base of at least 3)
    by_unit: dict[str, list[Case]] = {}
    for k in march:
        if k.final_unit is not None:
            by_unit.setdefault(k.final_unit, []).append(k)
    order = sorted(by_unit, key=lambda u: (-len(by_unit[u]), u))
    figures = {u: await count(by_unit[u]) for u in order}
    unit_name = {u: names.directory.get(u).name_zh for u in order}
    [units] = tables.headed("单位", "工单量", "按时办结率", "满意率")
    assert units == [[unit_name[u], str(len(by_unit[u])),
                      pct(*figures[u]["on_time_reply_rate"]),
                      pct(*figures[u]["satisfaction_rate"])] for u in order]
    for kpi, header in (("on_time_reply_rate", "按时办结率"), ("satisfaction_rate", "满意率")):
        rated = [u for u in order if (figures[u][kpi][1] or 0) >= 3]

        def rank(u: str, kpi: str = kpi) -> tuple[float, int]:
            num, den = figures[u][kpi]
            return round(100 * num / (den or 1), 2), den or 0

        best = sorted(rated, key=rank, reverse=True)[:5]
        worst = sorted(rated, key=rank)[:5]
        assert tables.headed("单位", header, "分子/分母") == [
            [[unit_name[u], pct(*figures[u][kpi]), base(*figures[u][kpi])] for u in best],
            [[unit_name[u], pct(*figures[u][kpi]), base(*figures[u][kpi])] for u in worst]]

    # 七、热点问题: the burst's windows and the foreseen season, as the board holds them
    [hotspots] = [t for t in tables.tables if t and t[0][:2] == ["类型", "维度"]]
    header, lines = hotspots[0], hotspots[1:]
    seen = {(row[header.index("区县")], row[header.index("窗口开始")], row[header.index("件数")])
            for row in lines if row[header.index("类型")] == "热点"}
    hour = of_key(planned, BURST.key, BURST_FROM, BURST_FROM + HOUR)
    day = of_key(planned, BURST.key, BURST_FROM.replace(hour=0), BURST_FROM.replace(hour=0) + DAY)
    assert {("新城区", "2026-03-18 10:00", str(len(hour))),
            ("新城区", "2026-03-18 00:00", str(len(day)))} <= seen
    assert any(row[header.index("类型")] == "预见(未诉先办)"
               and row[header.index("区县")] == "北塘区" for row in lines)

    # the daily trend (behind the chart): the CSV's table
    r = await client.get(f"/v1/analytics/reports/{rid}.csv", headers=auth("analyst"))
    trend = from_csv(r.content)["趋势"][1:]
    per_day = Counter(k.registered_at.astimezone(BJ).date().isoformat() for k in march
                      if k.registered_at is not None)
    assert [(row[0], int(row[1])) for row in trend] == sorted(
        (f"2026-03-{d:02d}", per_day[f"2026-03-{d:02d}"]) for d in range(1, 32))

    # the PDF: the same page printed; its text holds the title and the figures
    r = await client.get(f"/v1/analytics/reports/{rid}.pdf", headers=auth("supervisor"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    flat = "".join(text.split())
    for phrase in (TITLE, "一、核心指标", "四、诉求分类", "七、热点问题",
                   f"本期登记工单{len(march)}件"):
        assert phrase in flat, phrase
    for kpi in ("on_time_reply_rate", "satisfaction_rate", "satisfaction_handling"):
        label, num_den = BY_ID[kpi].label_zh, now[kpi]
        assert f"{label}{shown(kpi, *num_den)}{base(*num_den)}" in flat, kpi
    for row in categories[:3]:
        assert "".join(row) in flat, row


# ------------------------------------------------------------------------------ tiers


async def check_tiers(client: httpx.AsyncClient, auth: Any, planned: Plan,
                      histories: Histories, platform: Any) -> None:
    """The 站所 group's standings: the top and the bottom unit's score is the weighted mean
    of the points of their KPIs (a rate, or 100 minus it where lower is better), as
    data/scoring.json says, recomputed from the unit's fact rows; the fact rows agree with
    a recount of the tickets' events; the tier is the first threshold the score reaches."""
    scoring = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    r = await client.get("/v1/analytics/tiers", headers=auth("analyst"), params={
        "from": MONTH_FROM.isoformat(), "to": MONTH_TO.isoformat()})
    assert r.status_code == 200, r.text
    [group] = [g for g in r.json()["groups"] if g["id"] == "stations"]
    ranked = [u for u in group["units"] if u["rank"] is not None]
    assert len(ranked) >= 6
    scores = [u["score"] for u in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [u["rank"] for u in ranked] == [1 + sum(s > x for s in scores) for x in scores]
    cal = reference_of(platform).calendar

    async def score(unit: str, since: datetime, until: datetime) -> tuple[float, list[Any]]:
        async with platform.db.connect() as conn:
            rows, total = await queries.fact_rows(
                conn, queries.Scope(since, until, {"unit": unit}), limit=1000)
        assert len(rows) == total
        mine = [k.ticket_id or "" for k in planned.tickets(since, until)
                if k.final_unit == unit]
        assert sorted(row["ticket_id"] for row in rows) == sorted(mine)
        events = await recount(histories, mine, cal)  # type: ignore[arg-type]
        weighted, parts = 0.0, []
        weights = 0.0
        for w in scoring["weights"]:
            fig = tally(BY_ID[w["kpi"]], rows)
            assert (fig.numerator, fig.denominator) == events[w["kpi"]], (unit, w)
            rate = None if not fig.denominator else round(
                100 * fig.numerator / fig.denominator, 2)
            points = None if rate is None else rate if w["better"] == "higher" else 100 - rate
            parts.append([w["kpi"], w["weight"], rate, points])
            if points is not None:
                weighted += w["weight"] * points
                weights += w["weight"]
        return round(weighted / weights, 2), parts

    for standing in (ranked[0], ranked[-1]):
        unit = standing["unit_id"]
        mine = [k for k in planned.tickets() if k.final_unit == unit]
        assert standing["tickets"] == len(mine) >= scoring["min_tickets"]
        expected, parts = await score(unit, MONTH_FROM, MONTH_TO)
        assert standing["score"] == expected, (unit, parts)
        assert [[c["kpi"], c["weight"], c["value"], c["points"]]
                for c in standing["components"]] == parts
        tier = next(t for t in scoring["tiers"] if expected >= t["min_score"])
        assert standing["tier"]["id"] == tier["id"], unit
        previous, _ = await score(unit, MONTH_FROM - (MONTH_TO - MONTH_FROM), MONTH_FROM)
        assert standing["previous_score"] == previous
        assert standing["change"] == round(expected - previous, 2)
    assert ranked[0]["unit_id"] == "d01-urban-squad" and ranked[0]["tier"]["id"] == "A"
    assert ranked[-1]["unit_id"] == "d04-urban-squad" and ranked[-1]["tier"]["id"] in "CD"
