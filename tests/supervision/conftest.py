"""The hotline with supervision: intake, dispatch and the supervision app over one log, the
board projection running, and the ticker driven by hand at the test's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.log.port import EventLog
from services.supervision.ticker import TickReport
from tests.dispatch.conftest import LOCATION, Hotline, open_hotline


@pytest.fixture
async def supervised(log: EventLog, tmp_path: Path) -> AsyncIterator[Hotline]:
    async with open_hotline(log, tmp_path, supervised=True) as h:
        yield h


async def tick_at(h: Hotline, when: datetime) -> TickReport:
    """Move the clock to `when`, let the board catch up, tick, and let it catch up again."""
    assert h.ticker is not None
    h.clock.now = when
    await h.settle()
    report = await h.ticker.tick(when)
    await h.settle()
    return report


async def sv_get(h: Hotline, path: str, who: str, **params: Any) -> httpx.Response:
    assert h.supervision is not None
    return await h.supervision.get(path, params=params, headers=h.auth(who))


async def sv_post(h: Hotline, path: str, who: str, body: dict[str, Any],
                  **headers: str) -> httpx.Response:
    assert h.supervision is not None
    return await h.supervision.post(path, json=body, headers=h.auth(who) | headers)


async def new_ticket(h: Hotline, message_id: str, ticket_type: str, content: str,
                     lead_unit: str = "d01-urban-squad", acknowledge: bool = True) -> str:
    """A contact, registered as a ticket of `ticket_type`, dispatched (and acknowledged)."""
    contact = await h.contact(message_id, location=LOCATION, content=content,
                              received_at=h.clock.now.isoformat())
    r = await h.post("/v1/tickets", "operator", {
        "contact_ids": [contact], "ticket_type": ticket_type,
        "category": {"level1": "urban-management", "level2": "street-lights"},
        "summary": content[:40]})
    assert r.status_code == 201, r.text
    tid = str(r.json()["ticket_id"])
    r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": lead_unit})
    assert r.status_code == 200, r.text
    if acknowledge:
        r = await h.post(f"/v1/tickets/{tid}/acknowledge", lead_unit)
        assert r.status_code == 200, r.text
    return tid
