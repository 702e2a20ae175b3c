"""Call facts and the call KPIs (话务: 呼入量, 接通率, 15秒接通率, 放弃率, 平均等待时长), and the
repeat-complaint rate (重复投诉率) on the ticket facts.

- Calls posted through intake's `POST /v1/calls` (both engines) become `an_call_facts` rows
  and every call KPI of `GET /v1/analytics/calls` equals a count by hand, for the whole
  range, by day and by queue; the rows behind a figure; definitions; what answers 422.
- Property-based (SQLite and PostgreSQL): hypothesis draws call histories, appends them
  through intake's write path, and each call KPI the query computes equals a recount
  straight from the `CallRecorded` events on the log (tests/analytics/recount.py); a
  rebuild gives the same rows.
- The repeat-complaint rate counted by hand through the real ticket desk (its recount is in
  the property test of tests/analytics/test_facts.py, which checks every ticket KPI).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import commands as c
from contracts.topics import CALLS
from contracts.vocabulary import (
    CallOutcome,
    Channel,
    HandlingRating,
    HotlineServiceRating,
    TicketType,
    Urgency,
)
from hotline.log.embedded import EmbeddedEventLog
from hotline.runner import ProjectionRunner
from hotline.runtime import Platform
from reference.calendar import WorkingCalendar
from services.analytics import queries
from services.analytics.bootstrap import projections
from services.analytics.calls import CallFacts, call_facts
from services.analytics.kpi import BY_ID, CALL_BY_ID, CALL_KPIS, tally
from services.analytics.projections import TicketFacts
from services.analytics.reports.render import from_csv
from services.intake import domain as intake_domain
from services.intake.service import record_calls
from tests.analytics.conftest import an_get, made_report
from tests.analytics.recount import recount, recount_calls, stored_calls
from tests.analytics.test_facts import Bench, History
from tests.dispatch.conftest import Hotline
from tests.dispatch.test_projection import assert_rebuilds_the_same
from tests.intake.conftest import make_platform
from ticketing.client import tickets_of

BJ = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar.load("cn")
PUTONGHUA, BUSINESS = "普通话", "企业专线"


def call(call_id: str, offered: str, outcome: str, wait: float, queue: str | None = None,
         seat: str | None = None, talk: float | None = None) -> dict[str, Any]:
    """One call record as the phone system posts it (times consistent with the wait)."""
    at = datetime.fromisoformat(offered)
    body: dict[str, Any] = {"call_id": call_id, "offered_at": offered, "outcome": outcome,
                            "wait_seconds": wait, "queue": queue, "seat_id": seat}
    if outcome == "answered":
        answered = at + timedelta(seconds=wait)
        body |= {"answered_at": answered.isoformat(), "talk_seconds": talk,
                 "ended_at": (answered + timedelta(seconds=talk or 0)).isoformat()}
    else:
        body["ended_at"] = (at + timedelta(seconds=wait)).isoformat()
    return body


# Monday 2026-11-23 (local) and the next morning; c-6 is given in UTC: 00:30 local, the 23rd
CALLS_BY_HAND = [
    call("c-1", "2026-11-23T09:00:00+08:00", "answered", 9, PUTONGHUA, "A017", 180),
    call("c-2", "2026-11-23T09:01:00+08:00", "abandoned", 41, PUTONGHUA),
    call("c-3", "2026-11-23T09:02:00+08:00", "answered", 15, BUSINESS, "A018", 60),
    call("c-4", "2026-11-23T09:03:00+08:00", "answered", 16, BUSINESS, "A017", 30),
    call("c-5", "2026-11-23T09:04:00+08:00", "overflow", 60),
    call("c-6", "2026-11-22T16:30:00+00:00", "answered", 2, PUTONGHUA, "A019", 20),
    call("c-7", "2026-11-24T08:00:00+08:00", "abandoned", 5, PUTONGHUA),
]
DAY = {"from": "2026-11-23T00:00:00+08:00", "to": "2026-11-24T00:00:00+08:00"}
TWO_DAYS = {"from": "2026-11-23T00:00:00+08:00", "to": "2026-11-25T00:00:00+08:00"}


def figures(group: dict[str, Any]) -> dict[str, tuple[float, int | None, float | None]]:
    return {k: (f["numerator"], f["denominator"], f["value"])
            for k, f in group["figures"].items()}


async def test_calls_posted_to_intake_become_facts_and_kpis(hotline_an: Hotline) -> None:
    h = hotline_an
    r = await h.intake.post("/v1/calls", json={"calls": CALLS_BY_HAND}, headers=h.auth("phone"))
    assert r.status_code == 202 and r.json() == {"recorded": 7, "duplicates": 0}, r.text
    again = await h.intake.post("/v1/calls", json={"calls": CALLS_BY_HAND[:2]},
                                headers=h.auth("phone"))
    assert again.json() == {"recorded": 0, "duplicates": 2}  # a retry counts nothing twice
    await h.settle()

    # the fact rows: one per call, local day, queue, seat, outcome, durations, the 15 s mark
    async with h.platform.db.connect() as conn:
        rows = {r.call_id: r._mapping for r in await conn.execute(select(call_facts))}
    assert sorted(rows) == [f"c-{i}" for i in range(1, 8)]
    assert rows["c-6"]["reg_day"] == "2026-11-23" and rows["c-6"]["reg_hour"] == 0
    assert rows["c-7"]["reg_day"] == "2026-11-24"
    assert (rows["c-1"]["queue"], rows["c-1"]["seat_id"], rows["c-1"]["outcome"],
            rows["c-1"]["wait_seconds"], rows["c-1"]["talk_seconds"]) == (
        PUTONGHUA, "A017", "answered", 9.0, 180.0)
    assert [rows[f"c-{i}"]["answered_in_target"] for i in range(1, 8)] == [
        True, False, True, False, False, True, False]  # 15 s is within, 16 s is not
    assert rows["c-5"]["queue"] is None and not rows["c-5"]["answered"] \
        and not rows["c-5"]["abandoned"]

    # by hand, Monday: offered 6 (c-1..c-6), answered 4 (c-1, c-3, c-4, c-6), within 15 s 3
    # (9, 15, 2 s), abandoned 1 (c-2), waits of the answered 9 + 15 + 16 + 2 = 42 s
    day = (await an_get(h, "/v1/analytics/calls", "analyst", **DAY)).json()
    [whole] = day["groups"]
    assert figures(whole) == {
        "calls_offered": (6, None, 6), "connect_rate": (4, 6, 66.67),
        "answered_15s_rate": (3, 4, 75.0), "abandon_rate": (1, 6, 16.67),
        "avg_wait_seconds": (42.0, 4, 10.5)}
    assert whole["figures"]["connect_rate"]["meets"] is False  # the norm: ≥ 95 %
    assert [k["id"] for k in day["kpis"]] == [k.id for k in CALL_KPIS]
    assert {k["id"]: k["target"] for k in day["kpis"]}["connect_rate"] == 95.0

    # two days by day: Tuesday holds c-7 only (abandoned)
    by_day = (await an_get(h, "/v1/analytics/calls", "analyst", period="day",
                           **TWO_DAYS)).json()["groups"]
    assert [g["period"] for g in by_day] == ["2026-11-23", "2026-11-24"]
    assert figures(by_day[0]) == figures(whole)
    assert figures(by_day[1]) == {
        "calls_offered": (1, None, 1), "connect_rate": (0, 1, 0.0),
        "answered_15s_rate": (0, 0, None), "abandon_rate": (1, 1, 100.0),
        "avg_wait_seconds": (0.0, 0, None)}

    # Monday by queue: 普通话 c-1, c-2, c-6; 企业专线 c-3, c-4; no queue: c-5 (overflow)
    by_queue = (await an_get(h, "/v1/analytics/calls", "analyst", by="queue",
                             kpi=["connect_rate", "answered_15s_rate", "avg_wait_seconds"],
                             **DAY)).json()["groups"]
    assert {g["key"]: figures(g) for g in by_queue} == {
        None: {"connect_rate": (0, 1, 0.0), "answered_15s_rate": (0, 0, None),
               "avg_wait_seconds": (0.0, 0, None)},
        BUSINESS: {"connect_rate": (2, 2, 100.0), "answered_15s_rate": (1, 2, 50.0),
                   "avg_wait_seconds": (31.0, 2, 15.5)},
        PUTONGHUA: {"connect_rate": (2, 3, 66.67), "answered_15s_rate": (2, 2, 100.0),
                    "avg_wait_seconds": (11.0, 2, 5.5)}}
    assert {g["key"]: g["figures"]["connect_rate"]["meets"] for g in by_queue} == {
        None: False, BUSINESS: True, PUTONGHUA: False}
    one = (await an_get(h, "/v1/analytics/calls", "analyst", queue=BUSINESS, **DAY)).json()
    assert figures(one["groups"][0])["calls_offered"] == (2, None, 2)

    # the calls behind a figure: the numerator of the 15-second rate
    behind = (await an_get(h, "/v1/analytics/facts/calls", "analyst", kpi="answered_15s_rate",
                           side="numerator", **DAY)).json()
    assert behind["total"] == 3
    assert [i["call_id"] for i in behind["items"]] == ["c-6", "c-1", "c-3"]  # by offer time
    everything = (await an_get(h, "/v1/analytics/facts/calls", "auditor", **TWO_DAYS)).json()
    assert everything["total"] == 7

    # definitions: the call KPIs beside the ticket KPIs, with the norm said in words too
    defs = (await an_get(h, "/v1/analytics/kpis/definitions", "supervisor")).json()
    calls = {d["id"]: d for d in defs["call_kpis"]}
    assert set(calls) == set(CALL_BY_ID) and defs["call_dimensions"] == ["queue"]
    assert calls["connect_rate"]["label_zh"] == "接通率"
    assert "不低于95%" in calls["connect_rate"]["definition_zh"]
    assert "repeat_complaint_rate" in {d["id"] for d in defs["kpis"]}
    assert not set(calls) & {d["id"] for d in defs["kpis"]}

    # what a call figure cannot be: a ticket dimension, a ticket KPI; nor the other way round
    for path, params in (("calls", {"by": "unit"}), ("calls", {"by": "district"}),
                         ("calls", {"kpi": "tickets"}), ("calls", {"period": "decade"}),
                         ("calls", {"from": DAY["to"], "to": DAY["from"]}),
                         ("kpis", {"kpi": "connect_rate"}), ("facts/calls", {"kpi": "x"}),
                         ("facts/calls", {"limit": 0}), ("calls", {"queue": "a\x01b"})):
        r = await an_get(h, f"/v1/analytics/{path}", "analyst", **params)
        assert r.status_code == 422, (path, params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await an_get(h, "/v1/analytics/kpis", "analyst", kpi="connect_rate")
    assert "/v1/analytics/calls" in r.json()["detail"]  # says where call KPIs are
    for who in ("operator", "d01-urban-squad", "phone"):
        assert (await an_get(h, "/v1/analytics/calls", who)).status_code == 403, who
    assert (await an_get(h, "/v1/analytics/facts/calls", None)).status_code == 401


@pytest.mark.parametrize("log", ["embedded"], indirect=True)  # the report reads the facts
async def test_the_daily_report_has_a_call_table(hotline_an: Hotline) -> None:
    """A city-wide report holds 话务: the call KPIs as the API gives them, beside the day
    before's; a report filtered by district (calls have none) does not."""
    h = hotline_an
    r = await h.intake.post("/v1/calls", json={"calls": CALLS_BY_HAND}, headers=h.auth("phone"))
    assert r.status_code == 202, r.text
    await h.settle()
    transport = httpx.ASGITransport(app=h.apps["analytics"])
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics") as client:
        made = await made_report(client, h.auth("analyst"),
                                 {"kind": "daily", "period": "2026-11-23"})
        rid = made["report_id"]
        page = (await client.get(f"/v1/analytics/reports/{rid}.html",
                                 headers=h.auth("analyst"))).text
        tables = from_csv((await client.get(f"/v1/analytics/reports/{rid}.csv",
                                            headers=h.auth("analyst"))).content)
        district = await made_report(client, h.auth("analyst"), {
            "kind": "special", "from": "2026-11-23", "to": "2026-11-24",
            "filters": {"district": "990101"}})
        other = from_csv((await client.get(
            f"/v1/analytics/reports/{district['report_id']}.csv",
            headers=h.auth("analyst"))).content)
    assert "<h3>话务</h3>" in page and "接通率" in page and "10.50 秒" in page
    assert "考核标准: 不低于95%" in page  # the definition, in the appendix
    assert list(tables)[:2] == ["核心指标", "话务"]
    calls = {row[0]: row for row in tables["话务"][1:]}
    assert list(calls) == [k.id for k in CALL_KPIS]
    day = (await an_get(h, "/v1/analytics/calls", "analyst", **DAY)).json()["groups"][0]
    for kpi_id, f in day["figures"].items():
        now, den, before = calls[kpi_id][3], calls[kpi_id][5], calls[kpi_id][6]
        assert (float(now) if now != "" else None) == f["value"], kpi_id
        assert (int(den) if den != "" else None) == f["denominator"], kpi_id
        assert before == "" or float(before) == 0  # no call the day before
    assert "话务" not in other


def test_the_call_kpis_read_real_columns_and_say_what_they_count() -> None:
    columns = set(call_facts.c.keys())
    for kpi in CALL_KPIS:
        for part in (kpi.numerator, kpi.denominator):
            if part is None:
                continue
            assert {cond.column for cond in part.where} <= columns, kpi.id
            assert getattr(part, "column", "call_id") in columns, kpi.id
        assert kpi.label_zh and kpi.definition_zh
        assert kpi.unit != "%" or "分子" in kpi.definition_zh and "分母" in kpi.definition_zh
    assert {"reg_day", "reg_week", "reg_month", "reg_quarter", "reg_year"} <= columns
    assert [k.label_zh for k in CALL_KPIS] == ["呼入量", "接通率", "15秒接通率", "放弃率",
                                              "平均等待时长"]
    assert CALL_BY_ID["connect_rate"].target == 95.0
    assert BY_ID["repeat_complaint_rate"].label_zh == "重复投诉率"


def test_the_readme_defines_every_call_kpi() -> None:
    readme = (Path(__file__).parents[2] / "services" / "analytics" / "README.md").read_text(
        encoding="utf-8")
    for kpi in CALL_KPIS:
        assert f"| `{kpi.id}` | {kpi.label_zh} | {kpi.unit} | {kpi.definition_zh} |" in readme


# ------------------------------------------------------------------ property: recount from log

WINDOW = timedelta(days=3)  # each example's calls are offered in a window of days of its own
QUEUES = (PUTONGHUA, BUSINESS, "英语")


@dataclass
class CallBench:
    """One log and one projection database for every example."""

    platform: Platform
    log: EmbeddedEventLog
    runner: ProjectionRunner
    windows: itertools.count[int] = field(default_factory=lambda: itertools.count())

    async def catch_up(self) -> None:
        ends = await self.log.end_offsets(CALLS)
        await self.runner.run(until={(CALLS, p): end for p, end in ends.items()})


@pytest.fixture
async def call_bench(tmp_path: Path, db_url: str) -> AsyncIterator[CallBench]:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    platform.db = create_async_engine(db_url)
    yield CallBench(platform, log, ProjectionRunner(log, platform.db, CallFacts(CAL),
                                                    batch_size=13))
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await platform.keys.close()
    await log.close()


drawn_call = st.fixed_dictionaries({
    "second": st.integers(0, int(WINDOW.total_seconds()) - 1),
    "outcome": st.sampled_from(list(CallOutcome)),
    # around the 15-second mark often, anything up to ten minutes otherwise (half seconds)
    "wait": st.sampled_from((0.0, 14.5, 15.0, 15.5, 16.0)) | st.integers(0, 1200).map(
        lambda n: n / 2),
    "queue": st.none() | st.sampled_from(QUEUES),
    "seat": st.none() | st.sampled_from(("A017", "A018")),
    "talk": st.none() | st.integers(0, 3600).map(float),
})


def call_in(first: datetime, draw: dict[str, Any]) -> intake_domain.CallIn:
    offered = first + timedelta(seconds=draw["second"])
    outcome = draw["outcome"].value
    body = call(str(uuid.uuid4()), offered.isoformat(), outcome, draw["wait"], draw["queue"],
                draw["seat"] if outcome == "answered" else None,
                draw["talk"] if outcome == "answered" else None)
    return intake_domain.CallIn.model_validate(body)


def assert_equal(got: queries.Group, expected: dict[str, tuple[float, int | None]],
                 where: Any) -> None:
    for kpi in CALL_KPIS:
        figure = got.figures[kpi.id]
        num, den = expected[kpi.id]
        assert figure.denominator == den, (kpi.id, where)
        assert figure.numerator == pytest.approx(num), (kpi.id, where)


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(draws=st.lists(drawn_call, min_size=0, max_size=40), resend=st.booleans())
async def test_every_call_kpi_equals_a_recount_of_the_log(
        call_bench: CallBench, draws: list[dict[str, Any]], resend: bool) -> None:
    n = next(call_bench.windows)
    first = datetime(2026, 1, 1, tzinfo=BJ) + n * WINDOW
    until = first + WINDOW
    calls = [call_in(first, d) for d in draws]
    now = datetime(2026, 12, 31, tzinfo=BJ)
    if calls:
        assert await record_calls(call_bench.platform, calls, "channel:phone-adapter", now) == (
            len(calls), 0)
    if resend and calls:  # a retry of the phone system's batch appends nothing
        assert await record_calls(call_bench.platform, calls[:3], "channel:phone-adapter", now) == (
            0, len(calls[:3]))
    await call_bench.catch_up()

    logged = await stored_calls(call_bench.log)
    scope = queries.CallScope(first, until)
    async with call_bench.platform.db.connect() as conn:
        [whole] = await queries.call_figures(conn, CALL_KPIS, scope)
        by_day = await queries.call_figures(conn, CALL_KPIS, scope, period="day")
        by_queue = await queries.call_figures(conn, CALL_KPIS, scope, by="queue")
        one_queue = await queries.call_figures(conn, CALL_KPIS,
                                               queries.CallScope(first, until, QUEUES[0]))
        rows, total = await queries.call_rows(conn, scope, limit=500)
    assert total == len(calls) == len(rows)
    assert_equal(whole, recount_calls(logged, first, until), draws)
    for kpi in CALL_KPIS:  # the SQL is the rows' pure tally
        assert tally(kpi, rows) == pytest.approx(whole.figures[kpi.id])
    # each local day is the recount of the calls offered that day
    assert sum(g.figures["calls_offered"].numerator for g in by_day) == len(calls)
    for g in by_day:
        assert g.period is not None
        day = datetime.fromisoformat(g.period).replace(tzinfo=BJ)
        assert_equal(g, recount_calls(logged, day, day + timedelta(days=1)), g.period)
    # each queue (none too) is the recount of its calls
    for g in by_queue:
        assert_equal(g, recount_calls([x for x in logged if x.queue == g.key], first, until),
                     g.key)
    [q] = one_queue
    assert_equal(q, recount_calls([x for x in logged if x.queue == QUEUES[0]], first, until),
                 QUEUES[0])


async def test_the_call_facts_rebuild_the_same(tmp_path: Path, db_url: str) -> None:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    platform.db = create_async_engine(db_url)
    bench = CallBench(platform, log, ProjectionRunner(log, platform.db, CallFacts(CAL),
                                                      batch_size=3))
    calls = [intake_domain.CallIn.model_validate(body) for body in CALLS_BY_HAND]
    await record_calls(platform, calls, "channel:phone-adapter", datetime(2026, 11, 25, tzinfo=BJ))
    await bench.catch_up()
    await assert_rebuilds_the_same(log, platform.db, db_url, tmp_path, CallFacts(CAL))
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await platform.keys.close()
    await log.close()


async def test_rebuild_finds_the_call_facts(tmp_path: Path) -> None:
    """The service's projections (what `hotline rebuild analytics` rebuilds) name the call
    facts of hotline.calls, beside the ticket and contact facts."""
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    found = {p.name: p for p in projections(platform)}
    await platform.keys.close()
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await log.close()
    assert {"analytics_ticket_facts", "analytics_contact_facts",
            "analytics_call_facts"} <= set(found)
    assert found["analytics_call_facts"].topics == (CALLS,)


# ------------------------------------------------------------- the repeat-complaint rate by hand


async def test_the_repeat_complaint_rate_by_hand(tmp_path: Path, db_url: str) -> None:
    """Complaints with a repeat contact merged in count once however many repeats; a
    complaint merged into another ticket and a consultation with repeats count nowhere."""
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    platform.db = create_async_engine(db_url)
    bench = Bench(platform, log, ProjectionRunner(log, platform.db, TicketFacts(CAL),
                                                  batch_size=5))
    start = datetime(2026, 3, 2, 9, tzinfo=BJ)
    cases: list[tuple[TicketType, list[str]]] = [
        (TicketType.COMPLAINT, ["merge"]),  # repeat: counted
        (TicketType.COMPLAINT, []),  # no repeat
        (TicketType.COMPLAINT, ["merge", "dispatch", "merge"]),  # two repeats: once
        (TicketType.CONSULTATION, ["merge"]),  # not a complaint
        (TicketType.COMPLAINT, ["merge", "merge_into"])]  # merged into another ticket
    histories: list[History] = []
    for k, (kind, actions) in enumerate(cases):
        draw = {"type": kind, "urgency": Urgency.NORMAL, "channel": Channel.PHONE,
                "district": "990101", "category": "urban-management", "unit": 0,
                "steps": [(a, 5) for a in actions if a != "merge_into"],
                "ratings": [(HotlineServiceRating.SATISFIED, HandlingRating.SATISFIED,
                             True)] * 2}
        history = History(bench, draw, start)
        await history.run(f"12345-20260302-00010{k}")
        if "merge_into" in actions:
            assert await history.send(c.MergeTicket(ticket_id=history.tid,
                                                    target_ticket_id=histories[0].tid))
        histories.append(history)
    await bench.catch_up()
    ids = [h.tid for h in histories]
    kpi = BY_ID["repeat_complaint_rate"]
    async with platform.db.connect() as conn:
        [group] = await queries.figures(conn, [kpi], queries.Scope(start, start + WINDOW))
        [cubed] = await queries.figures(conn, [kpi], queries.Scope(
            start.replace(hour=0), start.replace(hour=0) + WINDOW, zone=BJ))
    assert group.figures[kpi.id] == cubed.figures[kpi.id]
    assert tuple(group.figures[kpi.id]) == (2, 3, 66.67)
    expected = await recount(tickets_of(platform), ids, CAL)
    assert expected[kpi.id] == (2, 3)
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await platform.keys.close()
    await log.close()
