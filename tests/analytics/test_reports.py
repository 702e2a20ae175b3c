"""Reports over HTTP: a generated month of tickets (and two in the month before) through
intake, dispatch, the units and callback; the monthly report's figures equal a recount of
the fact rows (kpi.tally) and the KPI API; its HTML and PDF carry the Chinese headings and
the figures; its CSV and XLSX hold the same tables; a district's special report; the
schedule makes yesterday's and last month's reports once; listing, downloads, access.

On the embedded log only: a report reads the fact tables, which the projection tests
already check on both engines.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import inspect

from hotline.log.port import EventLog
from hotline.readiness import Readiness
from services.analytics import queries
from services.analytics.hotspots.board import hotspots
from services.analytics.kpi import KPIS, Figure, tally
from services.analytics.reports import charts
from services.analytics.reports.content import Report
from services.analytics.reports.jobs import ReportMaker, ReportScheduler
from services.analytics.reports.periods import parse, previous
from services.analytics.reports.render import from_csv, value
from tests.analytics.conftest import ACCEPT_FILES, REFUSE_FILES, an_get, made_report
from tests.analytics.test_scenario import answer_survey, ok
from tests.conftest import open_engine
from tests.dispatch.conftest import BEIJING, Hotline

HEADINGS = ("一、核心指标", "二、趋势", "三、渠道构成", "四、诉求分类", "五、分区县情况",
            "六、承办单位", "附录:指标口径")
TITLE = "示例市12345热线月报(2026年11月)"
EAST = {"address": "东湖区幸福路18号", "district_code": "990101",
        "coordinates": {"lat": 36.07, "lon": 120.38}}
WEST = {"address": "西山区青年路6号", "district_code": "990102",
        "coordinates": {"lat": 36.05, "lon": 120.12}}
LIGHTS = {"level1": "urban-management", "level2": "street-lights"}
ROADS = {"level1": "transport", "level2": "road-damage"}
# (day, channel, place, category, lead unit or None: answered directly, what happens)
MONTH = [
    (datetime(2026, 10, 29), "phone", EAST, LIGHTS, "d01-urban-squad", "satisfied"),
    (datetime(2026, 10, 30), "wechat", WEST, ROADS, None, ""),
    (datetime(2026, 11, 2), "wechat", EAST, LIGHTS, "d01-urban-squad", "satisfied"),
    (datetime(2026, 11, 3), "phone", EAST, LIGHTS, "d01-urban-squad", "late"),
    (datetime(2026, 11, 4), "sms", WEST, LIGHTS, "d02-urban-squad", "dissatisfied"),
    (datetime(2026, 11, 5), "wechat", WEST, ROADS, None, ""),
    (datetime(2026, 11, 10), "phone", EAST, ROADS, "city-urban-mgmt", "replied"),
    (datetime(2026, 11, 12), "wechat", EAST, LIGHTS, "d01-urban-squad", "satisfied"),
    (datetime(2026, 11, 17), "wechat", WEST, LIGHTS, "d02-urban-squad", "open"),
    (datetime(2026, 11, 19), "phone", EAST, LIGHTS, "d01-urban-squad", "satisfied"),
    (datetime(2026, 11, 24), "sms", EAST, ROADS, None, ""),
    (datetime(2026, 11, 26), "wechat", WEST, LIGHTS, "d02-urban-squad", "satisfied"),
]


@pytest.fixture
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    engine = await open_engine("embedded", tmp_path, request)
    yield engine
    await engine.close()


async def an_post(h: Hotline, path: str, who: str | None, body: Any,
                  **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=h.apps["analytics"])
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics") as client:
        return await client.post(path, json=body,
                                 headers=(h.auth(who) if who else {}) | headers)


async def an_delete(h: Hotline, path: str, who: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=h.apps["analytics"])
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics") as client:
        return await client.delete(path, headers=h.auth(who))


async def report(h: Hotline, who: str, body: dict[str, Any]) -> dict[str, Any]:
    """A report asked for over HTTP, once it is made: its entry."""
    transport = httpx.ASGITransport(app=h.apps["analytics"])
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics") as client:
        return await made_report(client, h.auth(who), body)


async def ticket(h: Hotline, n: int, day: datetime, channel: str, place: dict[str, Any],
                 category: dict[str, str], unit: str | None, fate: str) -> None:
    """One ticket through the loop on `day`, as `fate` says."""
    h.clock.now = day.replace(hour=9, tzinfo=BEIJING)
    cid = await h.contact(f"rp-{n}", channel=channel, location=place,
                          content="路面坑洼, 请尽快处理", received_at=h.clock.now.isoformat())
    body = await ok(h, "/v1/tickets", "operator", {
        "contact_ids": [cid], "ticket_type": "request", "category": category,
        "summary": "市民反映的问题"})
    tid, number = body["ticket_id"], body["ticket_number"]
    if unit is None:
        await ok(h, f"/v1/tickets/{tid}/answer", "operator", {"answer": "已当场解答"})
        return
    await ok(h, f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": unit})
    h.clock.advance(hours=5 if fate == "late" else 1)
    await ok(h, f"/v1/tickets/{tid}/acknowledge", unit)
    if fate == "open":
        return
    h.clock.advance(hours=2)
    await ok(h, f"/v1/tickets/{tid}/reply", unit, {"text": "已处理完毕"})
    if fate in ("satisfied", "dissatisfied"):
        h.clock.advance(minutes=30)
        await answer_survey(h, number, "satisfied" if fate == "satisfied" else
                            "dissatisfied_with_result", fate == "satisfied")


@pytest.fixture
async def month(hotline_an: Hotline) -> Hotline:
    h = hotline_an
    for n, (day, channel, place, category, unit, fate) in enumerate(MONTH):
        await ticket(h, n, day, channel, place, category, unit, fate)
    await h.settle()
    h.clock.now = datetime(2026, 12, 2, 10, tzinfo=BEIJING)
    return h


def at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, tzinfo=BEIJING)


async def recount(h: Hotline, since: datetime, until: datetime,
                  **filters: str) -> dict[str, tuple[float, int | None, float | None]]:
    """Each KPI tallied in memory over the fact rows of the scope."""
    async with h.platform.db.connect() as conn:
        rows, total = await queries.fact_rows(conn, queries.Scope(since, until, filters),
                                              limit=500)
    assert len(rows) == total
    return {k.id: (f.numerator, f.denominator, f.value)
            for k in KPIS for f in [tally(k, rows)]}


def same(v: Any) -> Any:
    """A cell as both files compare: a number as a float, a blank as ""."""
    if v is None:
        return ""
    try:
        return float(v)
    except ValueError:
        return v


def figures_of(entry: dict[str, Any]) -> dict[str, tuple[float, int | None, float | None]]:
    return {k: (f["numerator"], f["denominator"], f["value"])
            for k, f in entry["figures"].items()}


async def test_monthly_report(month: Hotline) -> None:
    h = month
    entry = await report(h, "analyst", {"kind": "monthly", "period": "2026-11"})
    rid = entry["report_id"]
    assert entry["links"]["html"] == f"/v1/analytics/reports/{rid}.html"
    assert (entry["kind"], entry["period"], entry["title"]) == ("monthly", "2026-11", TITLE)
    assert entry["formats"] == ["csv", "html", "pdf", "xlsx"]
    assert "districts" in entry["charts"] and entry["requested_by"]

    # the figures are the recount of the month's fact rows, and what the KPI API says
    expected = await recount(h, at(1), at(1, 12))
    assert figures_of(entry) == expected
    assert expected["tickets"][0] == 10 and expected["direct_answer_rate"][:2] == (2, 10)
    assert expected["on_time_ack_rate"][:2] == (7, 8)  # one acknowledged late
    api = (await an_get(h, "/v1/analytics/kpis", "analyst", **{
        "from": at(1).isoformat(), "to": at(1, 12).isoformat()})).json()["groups"][0]
    assert {k: f["value"] for k, f in api["figures"].items()} == {
        k: v[2] for k, v in expected.items()}
    before = await recount(h, at(1, 10), at(1))
    assert {k: f["previous"] for k, f in entry["figures"].items()} == {
        k: v[2] for k, v in before.items()}

    # HTML: the Chinese headings, the title and every headline figure as printed
    r = await an_get(h, f"/v1/analytics/reports/{rid}.html", "auditor")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    page = r.text
    for text in (*HEADINGS, TITLE, "东湖区", "西山区", "东湖区城管执法中队", "微信"):
        assert text in page, text
    # the hotspots section only where a hotspot read model exists (none found this month)
    async with h.platform.db.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    assert ("七、热点问题" in page) == (hotspots.name in names)
    assert ("本期未发现热点" in page) == (hotspots.name in names)
    assert page.count("data:image/svg+xml;base64,") == 5
    for k in KPIS:
        f = entry["figures"][k.id]
        shown = value(Figure(f["numerator"], f["denominator"], f["value"]), k.unit)
        assert shown in page, (k.id, shown)
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="report-monthly-2026-11.html"')
    assert f"filename*=UTF-8''{quote(TITLE + '.html', safe='')}" in disposition

    # PDF: valid, its text extractable, with the Chinese headings
    r = await an_get(h, f"/v1/analytics/reports/{rid}.pdf", "supervisor")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(r.content))
    text = "".join(p.extract_text() for p in reader.pages)
    for heading in (TITLE, "一、核心指标", "五、分区县情况", "直接答复率"):
        assert heading in text, heading
    fonts = {str(font["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    assert any("Noto-Sans-CJK-SC" in f for f in fonts), fonts  # the CJK font, no fallback

    # CSV and XLSX: the same tables, the headline's figures among them
    r = await an_get(h, f"/v1/analytics/reports/{rid}.csv", "analyst")
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    tables = from_csv(r.content)
    assert list(tables) == ["核心指标", "趋势", "渠道构成", "诉求分类前十", "分区县", "承办单位"]
    r = await an_get(h, f"/v1/analytics/reports/{rid}.xlsx", "analyst")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == list(tables)
    for name, rows in tables.items():
        sheet = [[same(v) for v in row] for row in book[name].iter_rows(values_only=True)]
        assert sheet == [[same(v) for v in row] for row in rows], name
    headline = {row[0]: row for row in tables["核心指标"][1:]}
    for kpi_id, (_, den, val) in expected.items():
        assert same(headline[kpi_id][3]) == same(val)
        assert same(headline[kpi_id][5]) == same(den)
    districts = {row[1]: int(row[2]) for row in tables["分区县"][1:]}
    assert districts["东湖区"] == 6 and districts["西山区"] == 4 and len(districts) == 10
    trend = tables["趋势"][1:]
    assert len(trend) == 30 and sum(int(row[1]) for row in trend) == 10

    # a chart on its own; the entry; the listing
    r = await an_get(h, f"/v1/analytics/reports/{rid}/charts/districts.svg", "analyst")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert r.text.startswith("<svg")
    r = await an_get(h, f"/v1/analytics/reports/{rid}", "auditor")
    assert r.status_code == 200 and r.json()["figures"] == entry["figures"]
    listing = (await an_get(h, "/v1/analytics/reports", "auditor", kind="monthly")).json()
    assert listing["total"] == 1 and listing["items"][0]["report_id"] == rid
    assert (await an_get(h, "/v1/analytics/reports", "analyst", kind="daily")).json()[
        "total"] == 0


async def test_special_report_and_schedule(month: Hotline) -> None:
    h = month
    entry = await report(h, "supervisor", {
        "kind": "special", "from": "2026-11-01", "to": "2026-11-16",
        "filters": {"district": "990102"}})
    assert entry["params"] == {"district": "990102"}
    assert entry["period"] == "2026-11-01..2026-11-16" and "西山区" in entry["title"]
    assert figures_of(entry) == await recount(h, at(1), at(16), district="990102")
    assert entry["figures"]["tickets"]["value"] == 2

    maker: ReportMaker = h.apps["analytics"].state.reports
    schedule = ReportScheduler(maker, h.clock, kinds=("daily", "monthly"))
    midnight = datetime(2026, 12, 1, 0, 20, tzinfo=BEIJING)
    made = await schedule.tick(midnight)
    assert sorted((e.kind, e.period, e.origin) for e in made) == [
        ("daily", "2026-11-30", "scheduled"), ("monthly", "2026-11", "scheduled")]
    assert await schedule.tick(midnight + timedelta(hours=3)) == []  # once each
    listing = (await an_get(h, "/v1/analytics/reports", "analyst", period="2026-11")).json()
    assert [i["origin"] for i in listing["items"]] == ["scheduled"]
    monthly = listing["items"][0]
    assert figures_of(monthly) == await recount(h, at(1), at(1, 12))
    assert (await an_get(h, "/v1/analytics/reports", "analyst")).json()["total"] == 3

    # the schedule as the app runs it: ticks on its own until stopped
    running = ReportScheduler(maker, lambda: midnight + timedelta(days=1), interval_s=0.01,
                              kinds=("daily",))
    task = asyncio.create_task(running.run(Readiness.assumed()))
    for _ in range(500):
        if (await an_get(h, "/v1/analytics/reports", "analyst", period="2026-12-01")).json()[
                "total"]:
            break
        await asyncio.sleep(0.02)
    running.stop()
    await task
    listing = (await an_get(h, "/v1/analytics/reports", "analyst", kind="daily")).json()
    assert [i["period"] for i in listing["items"]] == ["2026-12-01", "2026-11-30"]


async def test_who_may_and_bad_requests(hotline_an: Hotline) -> None:
    h = hotline_an
    good = {"kind": "daily", "period": "2026-11-23"}
    for who in ("operator", "callback", "d01-urban-squad", "wechat", "auditor"):
        r = await an_post(h, "/v1/analytics/reports", who, good)
        assert r.status_code == 403, who
        assert r.headers["content-type"].startswith("application/problem+json")
    for who in ("operator", "d01-urban-squad"):
        assert (await an_get(h, "/v1/analytics/reports", who)).status_code == 403
    assert (await an_get(h, "/v1/analytics/reports", None)).status_code == 401
    assert (await an_post(h, "/v1/analytics/reports", None, good)).status_code == 401
    entry = await report(h, "analyst", good)  # an empty day is a report
    assert entry["figures"]["tickets"]["value"] == 0
    rid = entry["report_id"]
    for path in ("0123abcd", "0123abcd.pdf", "0123abcd/charts/trend.svg",
                 f"{rid}/charts/nothing.svg"):
        r = await an_get(h, f"/v1/analytics/reports/{path}", "analyst")
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/problem+json")
    for body in ({"kind": "monthly", "period": "2026-13"},
                 {"kind": "monthly", "period": "2026/11"},
                 {"kind": "weekly", "period": "2026-W60"},
                 {"kind": "annual", "period": "1999"},
                 {"kind": "daily", "period": "2026-02-30"},
                 {"kind": "daily", "from": "2026-11-01", "to": "2026-11-02"},
                 {"kind": "special"},
                 {"kind": "special", "from": "2026-11-10", "to": "2026-11-01"},
                 {"kind": "special", "period": "2026-11", "from": "2026-11-01",
                  "to": "2026-11-02"},
                 {"kind": "special", "from": "2020-01-01", "to": "2026-01-01"},
                 {"kind": "hourly", "period": "2026-11"},
                 {"kind": "monthly", "period": "2026-11", "filters": {"district": "999999"}},
                 {"kind": "monthly", "period": "2026-11", "filters": {"caller": "x"}},
                 {"kind": "monthly", "period": "2026-11", "extra": 1}):
        r = await an_post(h, "/v1/analytics/reports", "analyst", body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    for params in ({"kind": "hourly"}, {"limit": 0}, {"limit": 101}):
        r = await an_get(h, "/v1/analytics/reports", "analyst", **params)
        assert r.status_code == 422, params
    r = await an_get(h, f"/v1/analytics/reports/{rid}.docx", "analyst")
    assert r.status_code == 422


async def test_a_report_is_ordered_made_in_the_background_and_taken_up_again(
        hotline_an: Hotline) -> None:
    """202 before it is drawn, 409 for its files until then, listed as pending; a retry
    with the same Idempotency-Key is the same report, a different one with it 409; a report
    that cannot be made is `failed` with why; an order whose maker died is made by the
    next schedule tick."""
    h = hotline_an
    maker: ReportMaker = h.apps["analytics"].state.reports
    day = {"kind": "daily", "period": "2026-11-23"}
    async with maker._one_at_a_time:  # the maker is busy with another report
        r = await an_post(h, "/v1/analytics/reports", "analyst", day, **{"Idempotency-Key": "k1"})
        assert r.status_code == 202 and r.json()["status"] == "making", r.text
        rid = r.json()["report_id"]
        again = await an_post(h, "/v1/analytics/reports", "analyst", day,
                              **{"Idempotency-Key": "k1"})
        assert again.status_code == 202 and again.json()["report_id"] == rid
        other = await an_post(h, "/v1/analytics/reports", "analyst",
                              {"kind": "daily", "period": "2026-11-24"},
                              **{"Idempotency-Key": "k1"})
        assert other.status_code == 409 and other.json()["type"].endswith("idempotency-conflict")
        r = await an_get(h, f"/v1/analytics/reports/{rid}.pdf", "analyst")
        assert r.status_code == 409 and r.json()["type"].endswith("report-making")
        listing = (await an_get(h, "/v1/analytics/reports", "auditor")).json()
        assert listing["total"] == 0 and [p["report_id"] for p in listing["pending"]] == [rid]
        assert listing["pending"][0]["title"].endswith("(2026年11月23日)")
    await maker.idle()
    entry = (await an_get(h, f"/v1/analytics/reports/{rid}", "auditor")).json()
    assert entry["status"] == "ready" and entry["formats"] == ["csv", "html", "pdf", "xlsx"]
    again = await an_post(h, "/v1/analytics/reports", "analyst", day, **{"Idempotency-Key": "k1"})
    assert again.json()["report_id"] == rid and again.json()["status"] == "ready"
    listing = (await an_get(h, "/v1/analytics/reports", "analyst")).json()
    assert listing["total"] == 1 and listing["pending"] == []

    # the database refuses the report's files (a full disk): failed
    async with files_refused(h):
        r = await an_post(h, "/v1/analytics/reports", "analyst", day)
        await maker.idle()
    failed = (await an_get(h, r.headers["location"], "analyst")).json()
    assert failed["status"] == "failed" and failed["status_zh"] == "生成失败"
    assert "报告生成出错" in failed["error"]
    r = await an_get(h, f"{r.headers['location']}.html", "analyst")
    assert r.status_code == 409 and r.json()["type"].endswith("report-failed")

    # a maker claimed an order and died: once its lease runs out, a tick takes it up
    r = await an_post(h, "/v1/analytics/reports", "supervisor", day)
    orphan = r.json()["report_id"]
    async with maker._one_at_a_time:
        await maker.orders.claim(orphan, h.clock.now)  # the dead maker's claim
        for task in list(maker._tasks):
            task.cancel()
    await maker.idle()
    schedule = ReportScheduler(maker, h.clock, kinds=())
    await schedule.tick(h.clock.now)  # its lease still runs: nothing to take up
    await maker.idle()
    assert (await maker.orders.get(orphan)) is not None
    h.clock.advance(minutes=2)
    await schedule.tick(h.clock.now)
    await maker.idle()
    entry = (await an_get(h, f"/v1/analytics/reports/{orphan}", "analyst")).json()
    assert entry["status"] == "ready" and entry["requested_by"] == r.json()["requested_by"]


@asynccontextmanager
async def files_refused(h: Hotline) -> AsyncIterator[None]:
    """The service's database refuses a report's files meanwhile (as a full disk would):
    a trigger of the real database, dropped after."""
    await h.apps["analytics"].state.reports.store.ensure()
    async with h.platform.db.begin() as conn:
        await conn.exec_driver_sql(REFUSE_FILES)
    try:
        yield
    finally:
        async with h.platform.db.begin() as conn:
            await conn.exec_driver_sql(ACCEPT_FILES)


async def failed_report(h: Hotline, body: dict[str, Any], **headers: str) -> str:
    """A report asked for while the database refuses its files: its order is left
    `failed`. Returns its id."""
    maker: ReportMaker = h.apps["analytics"].state.reports
    async with files_refused(h):
        r = await an_post(h, "/v1/analytics/reports", "analyst", body, **headers)
        await maker.idle()
    entry = (await an_get(h, r.headers["location"], "analyst")).json()
    assert entry["status"] == "failed", entry
    return str(r.json()["report_id"])


async def test_a_failed_report_is_made_again_or_withdrawn(hotline_an: Hotline) -> None:
    """重新生成 (POST …/retry, or the same Idempotency-Key again) makes a failed report as
    it was asked for; 移除 (DELETE) takes it off the list; neither touches a report made
    (409: it stays on record); auditors may do neither."""
    h = hotline_an
    maker: ReportMaker = h.apps["analytics"].state.reports
    day = {"kind": "daily", "period": "2026-11-23"}
    made = (await report(h, "analyst", day))["report_id"]
    for r in (await an_post(h, f"/v1/analytics/reports/{made}/retry", "analyst", None),
              await an_delete(h, f"/v1/analytics/reports/{made}", "supervisor")):
        assert r.status_code == 409 and r.json()["type"].endswith("report-made"), r.text

    rid = await failed_report(h, day)
    r = await an_get(h, f"/v1/analytics/reports/{rid}.pdf", "analyst")
    assert f"/v1/analytics/reports/{rid}/retry" in r.json()["detail"]
    r = await an_post(h, f"/v1/analytics/reports/{rid}/retry", "auditor", None)
    assert r.status_code == 403
    assert (await an_delete(h, f"/v1/analytics/reports/{rid}", "auditor")).status_code == 403
    async with maker._one_at_a_time:  # the maker is busy: the order is seen being made
        r = await an_post(h, f"/v1/analytics/reports/{rid}/retry", "supervisor", None)
        assert r.status_code == 202 and r.json()["status"] == "making", r.text
        assert r.json()["error"] is None and r.headers["location"].endswith(rid)
        again = await an_post(h, f"/v1/analytics/reports/{rid}/retry", "supervisor", None)
        assert again.status_code == 409 and again.json()["type"].endswith("report-making")
        gone = await an_delete(h, f"/v1/analytics/reports/{rid}", "analyst")
        assert gone.status_code == 409 and gone.json()["type"].endswith("report-making")
    await maker.idle()
    entry = (await an_get(h, f"/v1/analytics/reports/{rid}", "auditor")).json()
    assert entry["status"] == "ready" and entry["requested_by"].startswith("analyst:"), entry

    # a client's retry under its Idempotency-Key makes a failed report again
    keyed = await failed_report(h, day, **{"Idempotency-Key": "k-9"})
    r = await an_post(h, "/v1/analytics/reports", "analyst", day, **{"Idempotency-Key": "k-9"})
    assert r.status_code == 202 and r.json()["report_id"] == keyed
    assert r.json()["status"] == "making", r.text
    await maker.idle()
    assert (await an_get(h, f"/v1/analytics/reports/{keyed}", "analyst")).json()[
        "status"] == "ready"

    # withdrawn: gone from the list and from its address
    dropped = await failed_report(h, {"kind": "daily", "period": "2026-11-24"})
    listing = (await an_get(h, "/v1/analytics/reports", "analyst")).json()
    assert [p["report_id"] for p in listing["pending"]] == [dropped]
    assert (await an_delete(h, f"/v1/analytics/reports/{dropped}", "analyst")).status_code == 204
    listing = (await an_get(h, "/v1/analytics/reports", "analyst")).json()
    assert listing["pending"] == [] and listing["total"] == 3
    for r in (await an_get(h, f"/v1/analytics/reports/{dropped}", "analyst"),
              await an_delete(h, f"/v1/analytics/reports/{dropped}", "analyst"),
              await an_post(h, f"/v1/analytics/reports/{dropped}/retry", "analyst", None)):
        assert r.status_code == 404 and r.json()["type"].endswith("report-unknown"), r.text


def test_the_trend_of_a_period_without_tickets_starts_at_zero() -> None:
    """Matplotlib's own limits for bars of height 0 are -0.045..0.045: a volume below zero."""
    span = parse("monthly", "2026-11")
    empty = Report("monthly", span, previous(span), {}, {}, datetime(2026, 12, 1), [], 0,
                   [(key, 0, None, None) for key in ("2026-11-01", "2026-11-02")], [], [], [],
                   [])
    assert charts.trend(empty).axes[0].get_ylim() == pytest.approx((0, 1.1))
    busy = Report(**{**vars(empty), "trend": [("2026-11-01", 40, 0.9, None)]})
    assert charts.trend(busy).axes[0].get_ylim() == pytest.approx((0, 44))
