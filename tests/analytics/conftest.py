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
from hotline.projection import ProjectionRunner
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


async def an_get(h: Hotline, path: str, who: str | None, **params: Any) -> httpx.Response:
    """A GET on the analytics app as `who` (no credentials when None)."""
    transport = httpx.ASGITransport(app=h.apps["analytics"])
    async with httpx.AsyncClient(transport=transport, base_url="http://analytics") as client:
        return await client.get(path, params=params, headers=h.auth(who) if who else {})
