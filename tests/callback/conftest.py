"""The hotline with callback: intake, dispatch, supervision (for the redo's clock) and the
callback app over one log, the boards and the survey sender running (its outbox a file),
the worker driven by hand at the test's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.log.port import EventLog
from tests.dispatch.conftest import LOCATION, Hotline, open_hotline
from ticketing.timer import TickReport

LAMP = "小区门口的路灯坏了一个多月, 晚上很黑, 老人出行不便, 请尽快维修。"


@pytest.fixture
async def hotline_cb(log: EventLog, tmp_path: Path) -> AsyncIterator[Hotline]:
    async with open_hotline(log, tmp_path, supervised=True, callback=True) as h:
        yield h


async def work_at(h: Hotline, when: datetime | None = None) -> TickReport:
    """Move the clock (if told), let the boards catch up, run the worker, catch up again."""
    assert h.worker is not None
    if when is not None:
        h.clock.now = when
    await h.settle()
    report = await h.worker.tick(h.clock.now)
    await h.settle()
    return report


async def cb_get(h: Hotline, path: str, who: str | None = None,
                 **params: Any) -> httpx.Response:
    assert h.callback is not None
    return await h.callback.get(path, params=params, headers=h.auth(who) if who else {})


async def cb_post(h: Hotline, path: str, who: str | None, body: dict[str, Any],
                  **headers: str) -> httpx.Response:
    assert h.callback is not None
    auth = h.auth(who) if who else {}
    return await h.callback.post(path, json=body, headers=auth | headers)


async def replied_ticket(h: Hotline, message_id: str, *, channel: str = "wechat",
                         ticket_type: str = "request", unit: str = "d01-urban-squad",
                         **contact: Any) -> tuple[str, str]:
    """A contact on `channel`, registered, dispatched to `unit`, acknowledged and replied:
    the ticket's id and number."""
    cid = await h.contact(message_id, channel=channel, location=LOCATION, content=LAMP,
                          received_at=h.clock.now.isoformat(), **contact)
    r = await h.post("/v1/tickets", "operator", {
        "contact_ids": [cid], "ticket_type": ticket_type,
        "category": {"level1": "urban-management", "level2": "street-lights"},
        "summary": "小区门口路灯不亮"})
    assert r.status_code == 201, r.text
    tid, ticket_number = str(r.json()["ticket_id"]), str(r.json()["ticket_number"])
    for path, who, body in ((f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": unit}),
                            (f"/v1/tickets/{tid}/acknowledge", unit, {})):
        r = await h.post(path, who, body)
        assert r.status_code == 200, r.text
    await reply(h, tid, unit, "已更换灯泡, 路灯恢复照明。")
    return tid, ticket_number


async def reply(h: Hotline, tid: str, unit: str, text: str) -> None:
    r = await h.post(f"/v1/tickets/{tid}/reply", unit, {"text": text})
    assert r.status_code == 200, r.text


def messages(h: Hotline, ticket_number: str | None = None) -> list[dict[str, str]]:
    """What the outbox sent (to one ticket's citizen when told)."""
    assert h.outbox is not None
    return [m for m in h.outbox.read() if ticket_number is None or ticket_number in m["text"]]


def token(message: dict[str, str]) -> str:
    return message["link"].rsplit("/s/", 1)[1]
