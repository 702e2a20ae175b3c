"""The hotline with analytics: intake, dispatch, supervision and callback over one log (the
loop a ticket goes through), the analytics fact projections running beside their boards,
and the analytics app, all driven over HTTP at the test's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from services.analytics.app import create_app
from services.analytics.bootstrap import projections
from tests.dispatch.conftest import Hotline, open_hotline


@pytest.fixture
async def hotline_an(log: EventLog, tmp_path: Path) -> AsyncIterator[Hotline]:
    """`open_hotline` with callback and supervision, plus the fact projections (their
    runners join the hotline's, so `settle` waits for them too) and the analytics app in
    `h.apps["analytics"]`."""
    async with open_hotline(log, tmp_path, supervised=True, callback=True) as h:
        for facts in projections(h.platform):  # the service's own: tickets and contacts
            runner = ProjectionRunner(log, h.platform.db, facts, batch_size=200)
            h.runners.append(runner)  # the hotline stops and awaits its runners on exit
            h.tasks.append(asyncio.create_task(runner.run()))
            await runner.started.wait()  # its tables exist
        h.apps["analytics"] = create_app(h.platform, h.apps["dispatch"].state.api_keys,
                                         clock=h.clock, manage_platform=False)
        yield h
        await h.apps["analytics"].state.reports.close()  # reports still drawn: stopped


# a SQLite trigger that refuses reports' files as a full disk would (a fault of the real
# database, for the tests of a report that could not be made), and its removal
REFUSE_FILES = ("CREATE TRIGGER disk_full BEFORE INSERT ON an_report_files "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
ACCEPT_FILES = "DROP TRIGGER disk_full"


async def an_get(h: Hotline, path: str, who: str | None, **params: Any) -> httpx.Response:
    """A GET on the analytics app as `who` (no credentials when None)."""
    transport = httpx.ASGITransport(app=h.apps["analytics"])
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics") as client:
        return await client.get(path, params=params, headers=h.auth(who) if who else {})


async def made_report(client: httpx.AsyncClient, headers: dict[str, str],
                      body: dict[str, Any]) -> dict[str, Any]:
    """Ask for a report as a client does: 202 and `making`, then its entry (`Location`)
    asked for until it is ready (the app draws it in a task of the same event loop)."""
    r = await client.post("/v1/analytics/reports", headers=headers, json=body)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "making" and r.json()["status_zh"] == "生成中"
    for _ in range(2400):  # 120 s: a loaded test machine draws a month in seconds
        entry = (await client.get(r.headers["location"], headers=headers)).json()
        if entry["status"] != "making":
            assert entry["status"] == "ready", entry
            return dict(entry)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the report {r.headers['location']} was not made in 120 s")
