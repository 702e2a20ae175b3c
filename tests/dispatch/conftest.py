"""The intake and dispatch apps over one real log (embedded or Kafka), with their projections
and the unit relay running, driven over HTTP; a settable clock moves time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from contracts.topics import KNOWLEDGE, PEOPLE, TICKETS
from hotline.apikeys import Principal, Role
from hotline.log.port import EventLog
from hotline.projection import Projection, engine_of
from hotline.runner import ProjectionRunner
from hotline.runtime import Platform
from services.callback.app import create_app as create_callback
from services.callback.app import survey_links
from services.callback.outbox import FileOutbox
from services.callback.projections import CallbackBoard
from services.callback.sender import SurveySender
from services.callback.service import CallbackService
from services.callback.worker import CallbackWorker
from services.dispatch.app import create_app as create_dispatch
from services.dispatch.knowledge_link import KnowledgeLink
from services.dispatch.projections import WorkOrders
from services.dispatch.relay import DispatchRelay
from services.intake.app import create_app as create_intake
from services.intake.projections import IntakeRegister
from services.intake.queue_board import ContactQueue
from services.knowledge.app import create_app as create_knowledge
from services.knowledge.bootstrap import projections as knowledge_projections
from services.people.app import create_app as create_people
from services.supervision.app import create_app as create_supervision
from services.supervision.projections import SupervisionBoard
from services.supervision.ticker import Ticker
from services.tickets.app import start_decider
from tests.intake.conftest import contact, make_platform, open_test_api_keys

BEIJING = ZoneInfo("Asia/Shanghai")
UNITS = ("d01-urban-squad", "city-urban-mgmt", "d01-street-1", "d02-urban-squad", "city-water",
         "d01-police-station")


@dataclass
class Clock:
    """The time every app reads; tests move it."""

    now: datetime = datetime(2026, 11, 23, 10, 0, tzinfo=BEIJING)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Hotline:
    intake: httpx.AsyncClient
    dispatch: httpx.AsyncClient
    platform: Platform
    clock: Clock
    keys: dict[str, str]
    runners: list[ProjectionRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    supervision: httpx.AsyncClient | None = None  # with `supervised` only
    ticker: Ticker | None = None
    callback: httpx.AsyncClient | None = None  # with `callback` only
    worker: CallbackWorker | None = None
    callback_service: CallbackService | None = None
    outbox: FileOutbox | None = None
    apps: dict[str, FastAPI] = field(default_factory=dict)  # by service name
    people: httpx.AsyncClient | None = None  # accounts and keys (admins)
    knowledge: httpx.AsyncClient | None = None  # with `knowledge` only

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every projection has applied everything in the log so far."""
        log = self.platform.log
        deadline = asyncio.get_running_loop().time() + timeout
        for runner in self.runners:
            for topic in runner.projection.topics:
                for p, end in (await log.end_offsets(topic)).items():
                    while runner.stats.positions.get((topic, p), 0) < end:
                        for task in self.tasks:
                            if task.done():
                                task.result()  # a runner died: show why
                        assert asyncio.get_running_loop().time() < deadline, "projection stuck"
                        await asyncio.sleep(0.02)

    async def contact(self, message_id: str, channel: str = "wechat", **overrides: Any) -> str:
        """Post a contact (WeChat unless told) through intake; its contact id."""
        body = contact(message_id, channel=channel, **overrides)
        r = await self.intake.post("/v1/contacts", json=body, headers=self.auth(channel))
        assert r.status_code in (200, 202), r.text
        return str(r.json()["contact_id"])

    async def post(self, path: str, who: str, body: dict[str, Any] | None = None,
                   **headers: str) -> httpx.Response:
        return await self.dispatch.post(path, json=body or {}, headers=self.auth(who) | headers)

    async def get(self, path: str, who: str, **params: Any) -> httpx.Response:
        return await self.dispatch.get(path, params=params, headers=self.auth(who))


LOCATION = {"address": "东湖区幸福路18号", "district_code": "990101",
            "coordinates": {"lat": 36.07, "lon": 120.38}}


def lamp_contact(**overrides: Any) -> dict[str, Any]:
    return {"location": LOCATION, **overrides}


@pytest.fixture
async def hotline(log: EventLog, tmp_path: Path) -> AsyncIterator[Hotline]:
    async with open_hotline(log, tmp_path) as h:
        yield h


@asynccontextmanager
async def open_hotline(log: EventLog, tmp_path: Path, *, supervised: bool = False,
                       callback: bool = False, knowledge: bool = False) -> AsyncIterator[Hotline]:
    """Intake and dispatch (and supervision, its board and a hand-driven ticker, when
    `supervised`; callback, its board, the survey sender to a file outbox and a hand-driven
    worker, when `callback`; the knowledge base, its read model, search index and a
    hand-driven publisher, when `knowledge`) over one platform, with their projections
    running. On Kafka
    every ticket command is routed to a decider (the tickets service's responder) over
    hotline.commands, as between services in their own processes."""
    routed = log.engine == "kafka"
    platform = await make_platform(log, tmp_path, routed=routed)
    api_keys = await open_test_api_keys(tmp_path)
    staff: tuple[Role, ...] = ("operator", "supervisor", "analyst", "auditor", "callback",
                               "editor", "admin")
    keys = {ch: await api_keys.create(Principal(f"{ch}-adapter", "channel", channel=ch))
            for ch in ("wechat", "phone", "sms")}
    keys |= {role: await api_keys.create(Principal(f"{role}-01", role)) for role in staff}
    keys |= {u: await api_keys.create(Principal(f"staff-{u}", "unit", unit=u)) for u in UNITS}
    clock = Clock()
    intake_app = create_intake(platform, api_keys, clock=clock, manage_platform=False)
    dispatch_app = create_dispatch(platform, api_keys, clock=clock, manage_platform=False)
    people_app = create_people(platform, api_keys, clock=clock, manage_platform=False)
    projections: list[Projection] = [IntakeRegister(), ContactQueue(), WorkOrders(),
                                     DispatchRelay(log, replication_factor=1)]
    if supervised:
        projections.append(SupervisionBoard())
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    if callback:
        projections += [CallbackBoard(),
                        SurveySender(platform, survey_links(platform), outbox, clock)]
    if knowledge:
        projections += list(knowledge_projections(platform))
    runners = [ProjectionRunner(log, engine_of(p, platform.db), p, batch_size=200)
               for p in projections]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    # the writer groups joined at once: on tansu each join takes half a session timeout
    await asyncio.gather(*(platform.log.claim(t) for t in (TICKETS, PEOPLE, KNOWLEDGE)))
    decider = await start_decider(platform) if routed else None
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_app),
                          base_url="http://intake") as intake_client,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=dispatch_app),
                          base_url="http://dispatch") as dispatch_client,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=people_app),
                          base_url="http://people") as people_client,
        contextlib.AsyncExitStack() as stack,
    ):
        h = Hotline(intake_client, dispatch_client, platform, clock, keys, runners, tasks,
                    people=people_client)
        h.apps |= {"intake": intake_app, "dispatch": dispatch_app, "people": people_app}
        if supervised:
            app = create_supervision(platform, api_keys, clock=clock, manage_platform=False,
                                     run_ticker=False)
            h.supervision = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://supervision"))
            h.ticker, h.apps["supervision"] = app.state.ticker, app
        if callback:
            app = create_callback(platform, api_keys, clock=clock, manage_platform=False,
                                  run_worker=False)
            h.callback = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://callback"))
            h.worker, h.outbox = app.state.worker, outbox
            h.callback_service, h.apps["callback"] = app.state.service, app
        if knowledge:
            app = create_knowledge(platform, api_keys, clock=clock, manage_platform=False,
                                   run_publisher=False)
            h.knowledge = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://knowledge"))
            h.apps["knowledge"] = app
            dispatch_app.state.knowledge = KnowledgeLink(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://knowledge"))
        yield h
    for r in runners:
        r.stop()
    await asyncio.gather(*tasks)
    if decider is not None:
        await decider.close()
    await platform.close_shared()  # after the decider: its desk is one of them
    await api_keys.close()
    await platform.keys.close()
    await platform.db.dispose()
