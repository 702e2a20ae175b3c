"""Every service's app over one embedded log, with a key for every role and a few tickets
in known states, for the tests that hold all the apps to the same rules (errors, the
OpenAPI document, redirects)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from services.analytics.app import create_app as create_analytics
from services.analytics.bootstrap import projections as analytics_projections
from tests.callback.conftest import messages, replied_ticket, token, work_at
from tests.dispatch.conftest import BEIJING, LOCATION, Hotline, open_hotline

# the key each role's runs send (tests/dispatch/conftest.py makes them)
ROLE_KEYS = {"channel": "wechat", "sms gateway": "sms", "phone system": "phone",
             "operator": "operator", "supervisor": "supervisor", "callback": "callback",
             "analyst": "analyst", "auditor": "auditor", "unit": "d01-urban-squad",
             "editor": "editor", "admin": "admin"}
UNIT = "d01-urban-squad"


@dataclass
class Seeded:
    """The apps, and the ids of what is in them: path parameters worth sending."""

    h: Hotline
    known: dict[str, list[str]]  # path parameter name -> ids that exist


@pytest.fixture
async def every_app(log: EventLog, tmp_path: Path) -> AsyncIterator[Seeded]:
    """Every service's app over one platform (intake, dispatch, supervision, callback,
    people, knowledge, analytics), projections running,
    with a ticket waiting for its survey (link sent) and one the unit holds, acknowledged,
    with an extension request pending."""
    async with open_hotline(log, tmp_path, supervised=True, callback=True, knowledge=True) as h:
        h.clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)  # a Monday
        surveyed, number = await replied_ticket(h, "wx-fuzz-1", unit=UNIT)
        await work_at(h)
        [sent] = messages(h, number)
        held = await _held_ticket(h)
        r = await h.post(f"/v1/tickets/{held}/extension-requests", UNIT, {
            "reason": "需协调燃气公司共同处理", "requested_due_at": "2026-12-10T18:00:00+08:00"})
        assert r.status_code == 201, r.text
        article = await _published_article(h)
        await _with_analytics(h, log)
        await h.settle()
        assert h.callback_service is not None
        ticket = await h.callback_service.tickets.get(surveyed)
        assert ticket is not None and ticket.survey_id is not None
        yield Seeded(h, {
            "ticket_id": [surveyed, held], "contact_id": list(ticket.contact_ids),
            "survey_id": [ticket.survey_id], "token": [token(sent)],
            "request_id": [str(r.json()["request_id"])], "article_id": [article]})
        await h.apps["analytics"].state.reports.close()  # the reports the fuzz asked for


async def _with_analytics(h: Hotline, log: EventLog) -> None:
    """The analytics fact projections beside the boards, and its app (its report schedule
    and hotspot runner are background work its lifespan would start: not run here)."""
    for facts in analytics_projections(h.platform):
        runner = ProjectionRunner(log, h.platform.db, facts, batch_size=200)
        h.runners.append(runner)
        h.tasks.append(asyncio.create_task(runner.run()))
        await runner.started.wait()
    h.apps["analytics"] = create_analytics(h.platform, h.apps["dispatch"].state.api_keys,
                                           clock=h.clock, manage_platform=False,
                                           run_reports=False)


async def _held_ticket(h: Hotline) -> str:
    """A ticket dispatched to UNIT and acknowledged; its id."""
    cid = await h.contact("wx-fuzz-2", location=LOCATION, content="路口井盖缺失, 夜间很危险。",
                          received_at=h.clock.now.isoformat())
    r = await h.post("/v1/tickets", "operator", {
        "contact_ids": [cid], "ticket_type": "request", "summary": "路口井盖缺失",
        "category": {"level1": "urban-management", "level2": "street-lights"}})
    assert r.status_code == 201, r.text
    tid = str(r.json()["ticket_id"])
    for path, who, body in ((f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": UNIT}),
                            (f"/v1/tickets/{tid}/acknowledge", UNIT, {})):
        r = await h.post(path, who, body)
        assert r.status_code == 200, r.text
    return tid


async def _published_article(h: Hotline) -> str:
    """A public article, drafted by an editor and approved by a supervisor; its id."""
    assert h.knowledge is not None
    r = await h.knowledge.post("/v1/knowledge/articles", headers=h.auth("editor"), json={
        "title": "井盖缺失怎么报修", "body": "发现井盖缺失, 请拨打12345或市政热线报修。",
        "kind": "faq", "category": {"level1": "urban-management", "level2": "manhole-covers"},
        "audience": "public", "owning_unit": "city-urban-mgmt"})
    assert r.status_code == 201, r.text
    article = str(r.json()["article_id"])
    for path, who in (("submit", "editor"), ("approve", "supervisor")):
        r = await h.knowledge.post(f"/v1/knowledge/articles/{article}/{path}",
                                   headers=h.auth(who), json={"version": 1})
        assert r.status_code == 200, r.text
    return article


def clients(h: Hotline) -> dict[str, httpx.AsyncClient]:
    """Each service's client, by the name services.SERVICES gives it."""
    assert h.supervision is not None and h.callback is not None and h.people is not None
    assert h.knowledge is not None
    return {"intake": h.intake, "dispatch": h.dispatch, "supervision": h.supervision,
            "callback": h.callback, "people": h.people, "knowledge": h.knowledge,
            "analytics": httpx.AsyncClient(transport=httpx.ASGITransport(
                app=h.apps["analytics"]), base_url="http://analytics")}


def app_of(client: httpx.AsyncClient) -> FastAPI:
    """The ASGI app behind one of the fixture's clients."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app
