"""The whole loop over HTTP with every service in its own process on the real broker: two
decider replicas (`hotline serve tickets`), two dispatch replicas, one of each other service.
Every ticket command a service takes travels on hotline.commands to the decider replica
that owns the ticket's partition; the requests alternate between the dispatch replicas."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cluster import Cluster, cluster
from tests.intake.conftest import contact

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

LOCATION = {"address": "东湖区幸福路18号", "district_code": "990101"}
RETRIES = 3  # a command's sends when its decider replica is slow to answer (503)


class Loop:
    """HTTP calls to the cluster's services; dispatch calls alternate between replicas."""

    def __init__(self, c: Cluster, client: httpx.AsyncClient) -> None:
        self.c, self.client = c, client
        self.dispatch = cycle(c.of("dispatch"))

    async def call(self, method: str, url: str, who: str | None,
                   body: dict[str, Any] | None = None, ok: int = 200) -> Any:
        """One call; a command answered 503 (its decider replica did not answer within the
        command timeout: on two cores shared with the rest of the suite it happened) is sent
        again under the same Idempotency-Key after its Retry-After, as the API tells clients
        to, and applies once."""
        headers = {**(self.c.auth(who) if who else {}), "Idempotency-Key": str(uuid.uuid4())}
        for _ in range(RETRIES):
            r = await self.client.request(method, url, json=body, headers=headers)
            if r.status_code != 503 or method != "POST":
                break
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
        assert r.status_code == ok, f"{method} {url}: {r.status_code} {r.text}"
        return r.json()

    async def desk(self, path: str, who: str, body: dict[str, Any] | None = None,
                   ok: int = 200) -> Any:
        return await self.call("POST", f"{next(self.dispatch).url}/v1{path}", who, body or {}, ok)

    async def until(self, url: str, who: str, check: Any, timeout_s: float = 30) -> Any:
        """GET `url` until `check(body)` holds (read models catch up within moments)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            r = await self.client.get(url, headers=self.c.auth(who))
            if r.status_code == 200 and check(r.json()):
                return r.json()
            assert asyncio.get_running_loop().time() < deadline, f"{url}: {r.text}"
            await asyncio.sleep(0.1)

    async def survey_link(self, number: str, round_: int) -> str:
        """The link of the `round_`-th survey message the callback sender wrote for a ticket."""
        outbox = self.c.of("callback")[0].data_dir / "outbox.jsonl"
        for _ in range(300):
            if outbox.exists():
                sent = [json.loads(line) for line in outbox.read_text().splitlines()]
                mine = [m for m in sent if number in m["text"]]
                if len(mine) >= round_:
                    return str(mine[round_ - 1]["link"])
            await asyncio.sleep(0.1)
        raise AssertionError(f"no survey {round_} for {number}")


async def test_the_whole_loop_with_each_service_in_its_own_process(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    """As on Kubernetes: the replicas of every service share one PostgreSQL database for
    their read models (the two dispatch replicas take turns writing the work orders)."""
    async with cluster(tmp_path, kafka_bootstrap, shared_db=True) as c:
        for name, count in (("tickets", 2), ("intake", 1), ("dispatch", 2),
                            ("supervision", 1), ("callback", 1)):
            for _ in range(count):
                c.start(name)
        await c.ready()
        async with httpx.AsyncClient(timeout=30) as client:
            await whole_loop(Loop(c, client))
        deciders = [json.loads(httpx.get(f"{r.url}/v1/decider/partitions",
                                         headers=c.auth("auditor")).text)
                    for r in c.of("tickets")]
        # the two replicas split the ticket partitions between them, and both answered
        assert sorted(p for d in deciders for p in d["answering"]) == list(range(24))
        assert all(d["answering"] for d in deciders)
        for replica in c.replicas:
            assert "Traceback" not in replica.output(), replica.output()
        holders = await c.lease_holders()
        assert {"workorders", "supervision", "callback"} <= set(holders)
        dispatch_pids = {r.proc.pid for r in c.of("dispatch")}
        assert int(holders["workorders"].rsplit(":", 1)[1]) in dispatch_pids


async def whole_loop(loop: Loop) -> None:
    c = loop.c
    intake = c.of("intake")[0].url
    posted = await loop.call("POST", f"{intake}/v1/contacts", "wechat", contact(
        "wx-whole-1", location=LOCATION,
        content="幸福路18号小区门口路灯坏了一个多月, 晚上很黑, 请尽快维修。"), ok=202)
    ticket = await loop.desk("/tickets", "operator", {
        "contact_ids": [posted["contact_id"]], "ticket_type": "emergency_repair",
        "category": {"level1": "urban-management", "level2": "street-lights"},
        "summary": "幸福路18号小区门口路灯不亮"}, ok=201)
    tid, number = ticket["ticket_id"], ticket["ticket_number"]
    await loop.desk(f"/tickets/{tid}/dispatch", "operator", {
        "lead_unit": "d01-street-1", "assisting_units": ["d01-urban-squad"], "urgent": True})
    returned = await loop.desk(f"/tickets/{tid}/return", "d01-street-1",
                               {"reason": "路灯维护属城管执法中队职责"})
    assert returned["status"] == "returned"
    await loop.desk(f"/tickets/{tid}/reassign", "operator", {"lead_unit": "d01-urban-squad"})
    await loop.desk(f"/tickets/{tid}/acknowledge", "d01-urban-squad")
    # supervision's board, in its own process, follows the log
    board = f"{c.of('supervision')[0].url}/v1/supervision/tickets"
    await loop.until(board, "supervisor", lambda b: [row["ticket_id"] for row in b["items"]]
                     == [tid])
    wanted = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    asked = await loop.desk(f"/tickets/{tid}/extension-requests", "d01-urban-squad", {
        "reason": "需采购专用线缆", "requested_due_at": wanted}, ok=201)
    await loop.desk(f"/tickets/{tid}/extension-requests/{asked['request_id']}/approve",
                    "supervisor")
    await loop.desk(f"/tickets/{tid}/reply", "d01-urban-squad",
                    {"text": "已更换线缆并恢复照明。", "solved": True})

    # the callback worker opens a WeChat survey, the citizen is unhappy with the result
    callback = c.of("callback")[0].url
    token = (await loop.survey_link(number, 1)).rsplit("/", 1)[1]
    unhappy = await loop.call("POST", f"{callback}/v1/surveys/{token}/answer", None, {
        "hotline_service": "satisfied", "handling": "dissatisfied_with_result",
        "comment": "修好两天又不亮了", "solved": False})
    assert unhappy["follow_up"]["events"][0]["type"] == "hotline.RedoRequested.v1"
    redo = await loop.call("POST", f"{callback}/v1/tickets/{tid}/redo/accept", "supervisor",
                           {"reason": "市民反映属实, 同意重办"})
    assert redo["status"] == "acknowledged"
    await loop.desk(f"/tickets/{tid}/reply", "d01-urban-squad",
                    {"text": "已更换整套灯具并检修线路。", "solved": True})
    token = (await loop.survey_link(number, 2)).rsplit("/", 1)[1]
    happy = await loop.call("POST", f"{callback}/v1/surveys/{token}/answer", None, {
        "hotline_service": "satisfied", "handling": "satisfied", "solved": True})
    assert happy["status"] == "closed"

    # both dispatch replicas' read models show the whole history, closed
    for replica in c.of("dispatch"):
        detail = await loop.until(f"{replica.url}/v1/tickets/{tid}", "auditor",
                                  lambda d: d["ticket"]["status"] == "closed")
        assert detail["ticket"]["lead_unit"] == "d01-urban-squad"
    history = await loop.call("GET", f"{next(loop.dispatch).url}/v1/tickets/{tid}/history",
                              "auditor")
    names = [e["type"].split(".")[1] for e in history]
    assert names[:9] == ["TicketRegistered", "TicketDispatched", "DeadlinesSet",
                         "TicketReturned", "TicketReassigned", "DeadlinesSet",
                         "TicketAcknowledged", "ExtensionRequested", "ExtensionApproved"]
    assert names[-1] == "TicketClosed" and "RedoAccepted" in names


async def test_intake_replicas_hand_each_other_what_they_do_not_own(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    """Two intake replicas split hotline.contacts and hotline.calls: whichever receives a post
    answers it, handing over what the other owns; a repeat is one contact either way."""
    async with cluster(tmp_path, kafka_bootstrap) as c:
        replicas = [c.start("intake"), c.start("intake")]
        await c.ready()
        async with httpx.AsyncClient(timeout=30) as client:
            ids = {}
            for n in range(24):  # the contacts land on every partition, half on the other
                r = await client.post(f"{replicas[n % 2].url}/v1/contacts",
                                      headers=c.auth("wechat"), json=contact(f"wx-two-{n}"))
                assert r.status_code == 202, r.text
                ids[n] = r.json()["contact_id"]
            for n in range(24):  # the same message at the other replica: the same contact
                r = await client.post(f"{replicas[(n + 1) % 2].url}/v1/contacts",
                                      headers=c.auth("wechat"), json=contact(f"wx-two-{n}"))
                assert (r.status_code, r.json()["contact_id"]) == (200, ids[n])
            offered = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).isoformat()
            calls = {"calls": [{"call_id": f"call-two-{n}", "offered_at": offered,
                                "outcome": "abandoned", "wait_seconds": 12.5}
                               for n in range(30)]}
            r = await client.post(f"{replicas[0].url}/v1/calls", headers=c.auth("phone"),
                                  json=calls)
            assert r.json() == {"recorded": 30, "duplicates": 0}, r.text
            r = await client.post(f"{replicas[1].url}/v1/calls", headers=c.auth("phone"),
                                  json=calls)
            assert r.json() == {"recorded": 0, "duplicates": 30}, r.text
        owned = [line for r in replicas for line in r.output().splitlines()
                 if "answering hotline.contacts.requests for partitions" in line]
        assert len(owned) >= 2 and "[]" not in owned[-1]


async def test_two_analytics_replicas_on_one_database_serve_every_report(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    """The analytics Deployment: two replicas, one PostgreSQL database. One writes the fact
    tables (their lease), both answer; a report asked for at one is downloaded at the other
    (its files are in the database, not in the replica that drew it)."""
    async with cluster(tmp_path, kafka_bootstrap, shared_db=True) as c:
        c.start("tickets")
        replicas = [c.start("analytics"), c.start("analytics")]
        await c.ready()
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.post(f"{replicas[0].url}/v1/analytics/reports",
                                  headers=c.auth("analyst"),
                                  json={"kind": "daily", "period": "2026-11-23"})
            assert r.status_code == 202, r.text
            entry = await Loop(c, client).until(f"{replicas[1].url}{r.headers['location']}",
                                                "auditor", lambda e: e["status"] != "making",
                                                timeout_s=120)
            assert entry["status"] == "ready", entry
            pdf = await client.get(f"{replicas[1].url}{entry['links']['pdf']}",
                                   headers=c.auth("auditor"))
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            for replica in replicas:
                r = await client.get(f"{replica.url}/v1/analytics/kpis?period=month",
                                     headers=c.auth("analyst"))
                assert r.status_code == 200, r.text
        holders = await c.lease_holders()
        pids = {r.proc.pid for r in replicas if r.proc is not None}
        assert int(holders["analytics_ticket_facts"].rsplit(":", 1)[1]) in pids
        for replica in replicas:
            assert "Traceback" not in replica.output(), replica.output()
