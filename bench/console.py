"""The console's pages over a million tickets: server time per page beside the API calls it
makes, in the same run.

The work-order tables hold 1,000,000 synthetic tickets (`bench.ticket_list.load_sqlite`:
the real schema and indexes, realistic districts, units, types and ages) and 60 real
tickets written through the APIs (a ticket page reads its ticket's stream from the log,
which the synthetic rows have none of). `hotline run` serves that data directory in a
process of its own; this process is the browser: signed in through the 登录 page as
the role each page is for, one request at a time on loopback, 100 timed requests per
page after 5 warm-ups. Raw: the API call(s) the page makes, on the same session, each
timed the same way: the main call of the page (a page making several calls makes them at
once, so its floor is the slowest of them; the main one is that).
Target: page p95 < 100 ms.

    python -m bench console                  # 1,000,000 rows
    python -m bench.console --rows 100000    # smaller, alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import Result, percentile, say, temp_dir
from bench.ticket_list import ROWS_ENV, load_sqlite, world
from hotline.devbroker import free_port
from hotline.runtime import service_specs

ROWS = 1_000_000
REAL = 60
CALLS = 100
WARM = 5
TARGET_MS = 100.0
UNIT = "d01-urban-squad"
STATUSES = ("dispatched", "acknowledged", "replied", "closed", "returned")


def start(data: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`hotline run` on `data`, every service on a free port; its base URLs."""
    ports = {name: free_port() for name in service_specs()}
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data),
           **{f"HOTLINE_{name.upper()}_PORT": str(p) for name, p in ports.items()}}
    out = (data / "run.out").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "run"], env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    urls = {name: f"http://127.0.0.1:{p}" for name, p in ports.items()}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((data / "run.out").read_text())
        try:
            ready = httpx.get(urls["console"] + "/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and (data / "dev-accounts.json").exists():
            return proc, urls
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("hotline run did not become ready")


def real_tickets(data: Path, urls: dict[str, str], n: int) -> list[str]:
    """n tickets through intake and the desk, dispatched to the bench's unit."""
    keys = json.loads((data / "dev-keys.json").read_text())
    channel = {"Authorization": f"Bearer {keys['wechat']}"}
    desk = {"Authorization": f"Bearer {keys['operator']}"}
    ids = []
    with httpx.Client(timeout=30) as http:
        for i in range(n):
            contact = http.post(urls["intake"] + "/v1/contacts", headers=channel, json={
                "channel": "wechat", "channel_message_id": f"bench-console-{i}",
                "received_at": datetime.now(UTC).isoformat(), "caller": {"name": "张三"},
                "content": f"小区路灯损坏第{i}处, 请尽快维修",
                "location": {"address": "东湖区幸福路18号", "district_code": "990101"}})
            ticket = http.post(urls["dispatch"] + "/v1/tickets", headers=desk, json={
                "contact_ids": [contact.json()["contact_id"]], "ticket_type": "complaint",
                "category": {"level1": "urban-management", "level2": "street-lights"},
                "summary": f"路灯损坏第{i}处"})
            tid = ticket.json()["ticket_id"]
            http.post(urls["dispatch"] + f"/v1/tickets/{tid}/dispatch", headers=desk,
                      json={"lead_unit": UNIT})
            ids.append(tid)
    return ids


def signed_in(console: str, login: str, password: str) -> httpx.Client:
    """A client holding the session the 登录 form opened (as a browser would)."""
    client = httpx.Client(base_url=console, timeout=30)
    answer = client.post("/login", data={"login": login, "password": password})
    if answer.status_code != 303:
        raise RuntimeError(f"{login}: sign-in answered {answer.status_code}")
    return client


def timed(call: Callable[[], Any], n: int = CALLS) -> list[float]:
    """Milliseconds of n calls after the warm-ups (each must answer 200)."""
    out = []
    for i in range(WARM + n):
        t = time.perf_counter()
        call()
        if i >= WARM:
            out.append((time.perf_counter() - t) * 1000)
    return out


def ok(answer: httpx.Response) -> httpx.Response:
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.request.url} answered {answer.status_code}")
    return answer


def pages(urls: dict[str, str], password: str, ids: list[str]) -> list[tuple[str, list[float],
                                                                                  list[float]]]:
    rng = random.Random(7)
    operator = signed_in(urls["console"], "dev.operator", password)
    unit = signed_in(urls["console"], f"dev.unit.{UNIT}", password)
    api = httpx.Client(cookies=dict(operator.cookies), timeout=30)
    unit_api = httpx.Client(cookies=dict(unit.cookies), timeout=30)
    d = urls["dispatch"]

    def status() -> str:
        return rng.choice(STATUSES)

    found = [
        ("工单列表 /tickets?status=…",
         timed(lambda: ok(operator.get("/tickets", params={"status": status()}))),
         timed(lambda: ok(api.get(d + "/v1/tickets", params={"status": status(), "limit": 50})))),
        ("工单 /tickets/{id}",
         timed(lambda: ok(operator.get(f"/tickets/{rng.choice(ids)}"))),
         timed(lambda: ok(api.get(d + f"/v1/tickets/{rng.choice(ids)}")))),
        ("工单轨迹 /tickets/{id}/audit",
         timed(lambda: ok(operator.get(f"/tickets/{rng.choice(ids)}/audit"))),
         timed(lambda: ok(api.get(d + f"/v1/tickets/{rng.choice(ids)}/history")))),
        ("话务员工作台 /desk",
         timed(lambda: ok(operator.get("/desk"))),
         timed(lambda: ok(api.get(d + "/v1/tickets",
                                  params={"status": "registered", "limit": 50})))),
        ("承办单位收件箱 /inbox",
         timed(lambda: ok(unit.get("/inbox"))),
         timed(lambda: ok(unit_api.get(d + "/v1/inbox", params={"limit": 100})))),
    ]
    for client in (operator, unit, api, unit_api):
        client.close()
    return found


async def run(rows: int | None = None) -> list[Result]:
    n = rows or int(os.environ.get(ROWS_ENV, ROWS))
    with temp_dir("console") as tmp:
        say(f"  console: loading {n:,} work orders …")
        seconds = load_sqlite(str(tmp / "projections.db"), n, world())
        say(f"  loaded in {seconds:.0f} s; starting hotline run")
        proc, urls = start(tmp)
        try:
            password = json.loads((tmp / "dev-accounts.json").read_text())["password"]
            ids = real_tickets(tmp, urls, REAL)
            time.sleep(2)  # the work orders take in the real tickets
            measured = await asyncio.to_thread(pages, urls, password, ids)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    results = []
    for name, ours, raw in measured:
        say(f"  {name}: page p50 {percentile(ours, 50):.1f} p95 {percentile(ours, 95):.1f} ms;"
            f" API p50 {percentile(raw, 50):.1f} p95 {percentile(raw, 95):.1f} ms")
        results.append(Result(f"console page {name}", percentile(ours, 95),
                              percentile(raw, 95), "ms", None,
                              f"p95 over {CALLS} requests, {n:,} tickets in the work orders; "
                              "raw: the API call underneath, same session", TARGET_MS))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None)
    for result in asyncio.run(run(parser.parse_args().rows)):
        print(result)
