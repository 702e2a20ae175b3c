"""Retries keyed by Idempotency-Key apply once, and a key reused for another body is a
conflict; on both engines, since a replay is answered from the log itself."""

from __future__ import annotations

from contracts.topics import TICKETS
from tests.dispatch.conftest import LOCATION, Hotline
from tests.dispatch.test_bad_input import (
    LEAD,
    another_operator,
    appends_nothing,
    dispatched,
    problem,
    registered,
)

# ------------------------------------------------------------------------------- idempotency


async def test_a_register_replayed_with_its_key_answers_the_same_ticket(hotline: Hotline) -> None:
    """The retry is answered 200 from the stored events: same id and number, nothing new."""
    h = hotline
    cid = await h.contact("wx-lamp-1", location=LOCATION)
    key = "desk-07-20261123-0001"
    body = {"contact_ids": [cid], "ticket_type": "emergency_repair",
            "category": {"level1": "urban-management", "level2": "street-lights"},
            "summary": "幸福路18号路灯不亮, 来电人再次反映"}
    r = await h.post("/v1/tickets", "operator", body, **{"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    original = r.json()
    assert original["duplicate"] is False
    async with appends_nothing(h):
        again = await h.post("/v1/tickets", "operator", body, **{"Idempotency-Key": key})
    assert again.status_code == 200, again.text
    replay = again.json()
    assert (replay["ticket_id"], replay["ticket_number"]) == (
        original["ticket_id"], original["ticket_number"])
    assert replay["duplicate"] is True
    assert [e["id"] for e in replay["events"]] == [e["id"] for e in original["events"]]


async def test_the_same_key_from_another_operator_is_another_command(hotline: Hotline) -> None:
    """Keys are scoped to their holder: a colleague's identical key registers a new ticket."""
    h = hotline
    cid = await h.contact("wx-lamp-1", location=LOCATION)
    body = {"contact_ids": [cid], "ticket_type": "emergency_repair",
            "category": {"level1": "urban-management", "level2": "street-lights"},
            "summary": "幸福路18号小区门口路灯不亮"}
    key = {"Idempotency-Key": "20261123-lamp-1"}
    mine = await h.post("/v1/tickets", "operator", body, **key)
    assert mine.status_code == 201, mine.text
    before = await h.platform.log.end_offsets(TICKETS)
    theirs = await h.post("/v1/tickets", await another_operator(h), body, **key)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["duplicate"] is False
    assert theirs.json()["ticket_id"] != mine.json()["ticket_id"]
    assert theirs.json()["ticket_number"] != mine.json()["ticket_number"]
    after = await h.platform.log.end_offsets(TICKETS)
    assert sum(after.values()) - sum(before.values()) == 2  # number reserved + registered


async def test_a_key_reused_with_another_body_is_a_conflict(hotline: Hotline) -> None:
    """Same key, different content: 409, never a silent replay of the first answer."""
    h = hotline
    cid = await h.contact("wx-lamp-7", location=LOCATION)
    body = {"contact_ids": [cid], "ticket_type": "emergency_repair",
            "category": {"level1": "urban-management", "level2": "street-lights"},
            "summary": "幸福路18号小区门口路灯不亮"}
    key = {"Idempotency-Key": "desk-07-20261123-0002"}
    assert (await h.post("/v1/tickets", "operator", body, **key)).status_code == 201
    async with appends_nothing(h):
        r = await h.post("/v1/tickets", "operator", {**body, "summary": "另一件事"}, **key)
    problem(r, 409, "idempotency-conflict")
    tid = await dispatched(h)
    ack = {"Idempotency-Key": "ack-1"}
    assert (await h.post(f"/v1/tickets/{tid}/progress", LEAD, {"note": "已到现场"},
                         **ack)).status_code == 200
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/progress", LEAD, {"note": "已修复"}, **ack)
    problem(r, 409, "idempotency-conflict")


async def test_a_dispatch_retried_days_later_is_the_same_request(hotline: Hotline) -> None:
    """The service sets the clocks from the policy at `now`; a client's retry under the same
    key on a later day (other clocks) is answered from the log, not refused as a new body."""
    h = hotline
    tid = str((await registered(h))["ticket_id"])
    body = {"lead_unit": LEAD, "note": "请尽快安排人员现场查看"}
    key = {"Idempotency-Key": "dispatch-lamp-1"}
    first = await h.post(f"/v1/tickets/{tid}/dispatch", "operator", body, **key)
    assert first.status_code == 200, first.text
    h.clock.advance(days=3)
    async with appends_nothing(h):
        again = await h.post(f"/v1/tickets/{tid}/dispatch", "operator", body, **key)
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert [e["id"] for e in again.json()["events"]] == [e["id"] for e in first.json()["events"]]
    async with appends_nothing(h):  # the same key for another unit is still a conflict
        r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator",
                         {**body, "lead_unit": "d02-urban-squad"}, **key)
    problem(r, 409, "idempotency-conflict")
