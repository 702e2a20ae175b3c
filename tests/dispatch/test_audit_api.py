"""The audit reads: a ticket as it stood at an instant (the decider's fold over its stored
events) and the integrity check of its stream, with the history's visibility rules; a
forged or truncated stream (the embedded log's SQLite file edited by hand) shows findings.

On the embedded log only: the file is what a test can tamper with.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

import pytest

from contracts.topics import TICKETS
from tests.dispatch.conftest import Hotline
from tests.dispatch.test_access import LEAD, STRANGER, lamp, problem, send

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)


async def acknowledged_lamp(h: Hotline) -> tuple[str, datetime, datetime, datetime]:
    """A lamp ticket registered, dispatched to LEAD 5 minutes later and acknowledged 10
    minutes after that; its id and the three instants."""
    registered = h.clock.now
    tid = await lamp(h)
    await send(h, tid, LEAD)
    dispatched = h.clock.now
    h.clock.advance(minutes=10)
    r = await h.post(f"/v1/tickets/{tid}/acknowledge", LEAD)
    assert r.status_code == 200, r.text
    return tid, registered, dispatched, h.clock.now


async def as_of(h: Hotline, tid: str, at: datetime, who: str = "operator") -> dict[str, Any]:
    r = await h.get(f"/v1/tickets/{tid}/as-of", who, at=at.isoformat())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_as_of_folds_the_history_up_to_each_instant(hotline: Hotline) -> None:
    h = hotline
    tid, registered, dispatched, acknowledged = await acknowledged_lamp(h)
    minute = timedelta(minutes=1)
    expected = [(registered, "registered"), (dispatched - minute, "registered"),
                (dispatched, "dispatched"), (acknowledged - minute, "dispatched"),
                (acknowledged, "acknowledged"), (acknowledged + timedelta(days=3), "acknowledged")]
    seen = [await as_of(h, tid, at) for at, _ in expected]
    assert [b["state"]["status"] for b in seen] == [status for _, status in expected]
    versions = [b["version"] for b in seen]
    assert versions == sorted(versions) and versions[0] >= 1
    history = (await h.get(f"/v1/tickets/{tid}/history", "operator")).json()
    assert versions[-1] == len(history)
    for (at, _), body in zip(expected, seen, strict=True):
        assert datetime.fromisoformat(body["last_event_at"]) <= at
    first, now = seen[0]["state"], seen[-1]["state"]
    assert first["lead_unit"] is None and first["units_ever"] == []
    assert now["lead_unit"] == LEAD and now["units_ever"] == [LEAD]
    assert now["category"]["level2"] == "street-lights" and now["summary"]
    assert now["deadlines"] and not first["deadlines"]


async def test_as_of_before_registration_is_refused(hotline: Hotline) -> None:
    h = hotline
    tid, registered, _, _ = await acknowledged_lamp(h)
    r = await h.get(f"/v1/tickets/{tid}/as-of", "operator",
                    at=(registered - timedelta(seconds=1)).isoformat())
    assert problem(r, 404, "not-yet-registered")["rule"] == "not-yet-registered"
    problem(await h.get(f"/v1/tickets/{tid}/as-of", "operator", at="2026-11-23T10:00:00"),
            422, "invalid-request")  # no UTC offset
    problem(await h.get(f"/v1/tickets/{tid}/as-of", "operator"), 422, "invalid-request")


@pytest.mark.parametrize("route", ["as-of", "verification"])
async def test_visible_as_the_history_is(hotline: Hotline, route: str) -> None:
    h = hotline
    tid, _, _, acknowledged = await acknowledged_lamp(h)
    params = {"at": acknowledged.isoformat()} if route == "as-of" else {}
    for who in ("operator", "supervisor", "auditor", "analyst", "callback", LEAD):
        r = await h.get(f"/v1/tickets/{tid}/{route}", who, **params)
        assert r.status_code == 200, (who, r.text)
    for path in (f"/v1/tickets/{tid}/{route}", f"/v1/tickets/{tid}/history",
                 f"/v1/tickets/no-such-ticket/{route}"):
        problem(await h.get(path, STRANGER, **params), 404, "ticket-unknown")
    problem(await h.get(f"/v1/tickets/{tid}/{route}", "wechat", **params), 403, "forbidden")


async def test_an_intact_stream_verifies(hotline: Hotline) -> None:
    h = hotline
    tid, *_ = await acknowledged_lamp(h)
    r = await h.get(f"/v1/tickets/{tid}/verification", "auditor")
    assert r.status_code == 200, r.text
    body = r.json()
    history = (await h.get(f"/v1/tickets/{tid}/history", "auditor")).json()
    head = await h.platform.log.stream_head(TICKETS, f"ticket-{tid}")
    assert body["stream"] == f"ticket-{tid}" and body["intact"] is True
    assert body["events"] == len(history) == head.version and body["findings"] == []
    assert body["head_hash"] == head.head_hash
    assert datetime.fromisoformat(body["checked_at"]) == h.clock.now


def log_file(h: Hotline) -> sqlite3.Connection:
    return sqlite3.connect(h.platform.log.path, isolation_level=None)  # type: ignore[attr-defined]


async def test_a_forged_event_shows_as_a_finding(hotline: Hotline) -> None:
    h = hotline
    tid, *_ = await acknowledged_lamp(h)
    db = log_file(h)
    offset, value = db.execute(
        'SELECT r."offset", r.value FROM stream_records s JOIN records r ON r.topic = s.topic '
        'AND r.partition = s.partition AND r."offset" = s."offset" '
        "WHERE s.topic=? AND s.key=? AND s.version=1", (TICKETS, f"ticket-{tid}")).fetchone()
    forged = value.replace("路灯不亮".encode(), "路灯已修好".encode())
    assert forged != value
    db.execute('UPDATE records SET value=? WHERE topic=? AND "offset"=?',
               (forged, TICKETS, offset))
    db.close()
    body = (await h.get(f"/v1/tickets/{tid}/verification", "auditor")).json()
    assert body["intact"] is False
    assert {"version": 2, "problem": body["findings"][0]["problem"]} == body["findings"][0]
    assert "altered, removed or moved" in body["findings"][0]["problem"]


async def test_a_truncated_stream_shows_as_a_finding(hotline: Hotline) -> None:
    h = hotline
    tid, *_ = await acknowledged_lamp(h)
    head = await h.platform.log.stream_head(TICKETS, f"ticket-{tid}")
    db = log_file(h)
    db.execute("DELETE FROM stream_records WHERE topic=? AND key=? AND version=?",
               (TICKETS, f"ticket-{tid}", head.version))
    db.close()
    body = (await h.get(f"/v1/tickets/{tid}/verification", "auditor")).json()
    assert body["intact"] is False and body["events"] == head.version - 1
    assert any(f"records {head.version} events" in f["problem"] for f in body["findings"])
