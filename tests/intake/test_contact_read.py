"""Reading one contact back: operators and supervisors see the caller and address in clear,
other roles are refused, an unknown id is a 404 problem; the queue state follows claims,
dismissals and the ticket that takes the contact in.

On the embedded log only: reading is the same code on either engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.log.port import EventLog
from tests.dispatch.conftest import LOCATION, Hotline, open_hotline
from tests.dispatch.test_access import LAMP, problem
from tests.dispatch.test_scenario import register_lamp
from tests.intake.conftest import CALLER

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
RECEIVED = datetime.fromisoformat("2026-11-23T09:15:00+08:00")  # tests.intake.conftest.contact


@pytest.fixture
async def hotline(log: EventLog, tmp_path: Path) -> AsyncIterator[Hotline]:
    async with open_hotline(log, tmp_path) as h:
        yield h


async def read(h: Hotline, cid: str, who: str = "operator") -> httpx.Response:
    await h.settle()  # the queue board (its table made by its runner) has seen the log
    return await h.intake.get(f"/v1/contacts/{cid}", headers=h.auth(who))


async def body_of(h: Hotline, cid: str, who: str = "operator") -> dict[str, Any]:
    r = await read(h, cid, who)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_operator_reads_the_contact_with_the_caller_in_clear(hotline: Hotline) -> None:
    h = hotline
    cid = await h.contact("wx-read-1", location=LOCATION, content=LAMP)
    for who in ("operator", "supervisor"):
        body = await body_of(h, cid, who)
        assert body["contact_id"] == cid and body["channel"] == "wechat"
        assert body["channel_zh"] and body["content"] == LAMP
        assert body["district_code"] == LOCATION["district_code"]
        assert datetime.fromisoformat(body["received_at"]) == RECEIVED
        assert body["caller"] == CALLER
        assert body["address"] == {"address": LOCATION["address"]}
        assert body["queue"] == {"holder": None, "held_until": None, "dismissed": False,
                                 "taken": False, "ticket_id": None}


@pytest.mark.parametrize("who", ["analyst", "auditor", "callback", "d01-urban-squad",
                                 "wechat"])
async def test_other_roles_are_refused(hotline: Hotline, who: str) -> None:
    h = hotline
    cid = await h.contact("wx-read-2", location=LOCATION, content=LAMP)
    problem(await read(h, cid, who), 403, "forbidden")


async def test_an_unknown_contact_is_a_404(hotline: Hotline) -> None:
    body = problem(await read(hotline, "no-such-contact"), 404, "contact-unknown")
    assert body["rule"] == "contact-unknown"
    problem(await read(hotline, "bad id"), 422, "invalid-request")


async def test_the_queue_state_follows_claim_ticket_and_dismissal(hotline: Hotline) -> None:
    h = hotline
    cid = await h.contact("wx-read-3", location=LOCATION, content=LAMP)
    r = await h.intake.post(f"/v1/contacts/{cid}/claim", headers=h.auth("operator"))
    assert r.status_code == 200, r.text
    queue = (await body_of(h, cid, "supervisor"))["queue"]
    assert queue["holder"] == r.json()["operator"] and queue["held_until"]
    h.clock.advance(hours=2)  # the claim has run out
    assert (await body_of(h, cid))["queue"]["holder"] is None

    tid = (await register_lamp(h, cid))["ticket_id"]
    queue = (await body_of(h, cid))["queue"]
    assert queue == {"holder": None, "held_until": None, "dismissed": False, "taken": True,
                     "ticket_id": tid}

    spam = await h.contact("wx-read-4", location=LOCATION, content="测试消息")
    for action, body in (("claim", None), ("dismiss", {"reason": "test"})):
        r = await h.intake.post(f"/v1/contacts/{spam}/{action}", json=body,
                                headers=h.auth("operator"))
        assert r.status_code == 200, r.text
    queue = (await body_of(h, spam))["queue"]
    assert queue["dismissed"] is True and queue["holder"] is None and not queue["taken"]
