"""Every invalid command is refused with a problem+json naming the rule it broke, and leaves
`hotline.tickets` exactly as it was.

On the embedded log only: how a rejection is answered does not depend on the engine
(the decider and the API are the same code), and each Kafka test costs the shared test
broker a namespace of topics. What does depend on the engine — races, retries, the
scenario — runs on both (tests/tickets/test_concurrency.py, test_idempotency.py,
test_scenario.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.topics import TICKETS
from hotline.apikeys import ApiKeyStore, Principal
from tests.dispatch.conftest import LOCATION, Hotline
from tests.dispatch.test_scenario import register_lamp

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
LEAD, ASSISTING, STRANGER = "d01-urban-squad", "d01-street-1", "city-water"
REPLY = {"text": "已更换线缆并恢复照明, 经现场核实路灯工作正常。", "solved": True}


# ----------------------------------------------------------------------------------- helpers


def problem(r: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert `r` is an RFC 9457 problem of `status` whose type ends in /problems/<kind>."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"]
    assert body["type"].endswith(f"/problems/{kind}"), body
    return body


def rejected(r: httpx.Response, status: int, rule: str) -> dict[str, Any]:
    """A decider rejection: the problem also names the rule."""
    body = problem(r, status, rule)
    assert body["rule"] == rule, body
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


@asynccontextmanager
async def appends_nothing(h: Hotline) -> AsyncIterator[None]:
    """The ticket topic's end offsets are the same after the block as before it."""
    before = await h.platform.log.end_offsets(TICKETS)
    yield
    assert await h.platform.log.end_offsets(TICKETS) == before


async def registered(h: Hotline, message_id: str = "wx-lamp-1") -> dict[str, Any]:
    """A lamp ticket registered from one WeChat contact with the caller's address."""
    cid = await h.contact(message_id, location=LOCATION,
                          content="幸福路18号小区门口路灯坏了一个多月, 晚上很黑, 请尽快维修。")
    return await register_lamp(h, cid)


async def dispatched(h: Hotline, lead: str = LEAD, *assisting: str) -> str:
    """A registered ticket sent to `lead`, with `assisting` units; its id."""
    tid = str((await registered(h))["ticket_id"])
    h.clock.advance(minutes=5)
    r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator",
                     {"lead_unit": lead, "assisting_units": list(assisting),
                      "note": "请尽快安排人员现场查看"})
    assert r.status_code == 200, r.text
    return tid


async def acknowledged(h: Hotline, *assisting: str) -> str:
    """A ticket the lead unit has acknowledged; its id."""
    tid = await dispatched(h, LEAD, *assisting)
    h.clock.advance(minutes=20)
    r = await h.post(f"/v1/tickets/{tid}/acknowledge", LEAD)
    assert r.status_code == 200, r.text
    return tid


async def reply_due(h: Hotline, tid: str) -> datetime:
    """The ticket's current reply deadline, read from its history."""
    history = (await h.get(f"/v1/tickets/{tid}/history", "supervisor")).json()
    due = [d["due_at"] for e in history if e["type"].startswith("hotline.DeadlinesSet.")
           for d in e["data"]["deadlines"] if d["kind"] == "reply"]
    return datetime.fromisoformat(due[-1])


async def another_operator(h: Hotline) -> str:
    """A key for a second operator on the desk (the fixture has one per role)."""
    transport = h.dispatch._transport
    assert isinstance(transport, httpx.ASGITransport)
    keys: ApiKeyStore = transport.app.state.api_keys  # type: ignore[attr-defined]
    h.keys["operator-2"] = await keys.create(Principal("operator-02", "operator"))
    return "operator-2"


# ----------------------------------------------------------------------------- unknown ticket


@pytest.mark.parametrize(("action", "who", "body"), [
    ("acknowledge", LEAD, {}),
    ("dispatch", "operator", {"lead_unit": LEAD, "note": "请尽快处理"}),
    ("answer", "operator", {"answer": "路灯维修请联系城管执法中队, 电话已告知市民。"}),
])
async def test_a_command_on_an_unknown_ticket_is_404(
        hotline: Hotline, action: str, who: str, body: dict[str, Any]) -> None:
    """No stream, no ticket: 404 ticket-unknown."""
    h = hotline
    await registered(h)  # the topic is not empty: something could move
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{uuid.uuid4()}/{action}", who, body)
        rejected(r, 404, "ticket-unknown")


# -------------------------------------------------------------------------------- wrong state


async def test_dispatching_twice_is_wrong_state(hotline: Hotline) -> None:
    """A dispatched ticket is moved by a reassignment, not a second dispatch."""
    h = hotline
    tid = await dispatched(h)
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": "city-water"})
        rejected(r, 409, "wrong-state")


async def test_answering_directly_while_a_unit_holds_it_is_wrong_state(hotline: Hotline) -> None:
    """The desk answers a ticket only while it is at the hotline."""
    h = hotline
    tid = await dispatched(h)
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/answer", "operator",
                         {"answer": "路灯维修已转城管部门, 请耐心等待。"})
        rejected(r, 409, "wrong-state")


async def test_replying_to_a_returned_ticket_is_wrong_state(hotline: Hotline) -> None:
    """Once the unit returned it, the ticket is back at the hotline: no reply is accepted."""
    h = hotline
    tid = await dispatched(h, ASSISTING)
    r = await h.post(f"/v1/tickets/{tid}/return", ASSISTING,
                     {"reason": "路灯维护属城管执法中队职责, 非街道办事项"})
    assert r.status_code == 200, r.text
    async with appends_nothing(h):
        rejected(await h.post(f"/v1/tickets/{tid}/reply", ASSISTING, REPLY), 409, "wrong-state")


async def test_acknowledging_twice_is_refused(hotline: Hotline) -> None:
    h = hotline
    tid = await acknowledged(h)
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/acknowledge", LEAD)
        rejected(r, 409, "already-acknowledged")


# --------------------------------------------------------------------------- unit not on it


@pytest.mark.parametrize(("action", "body"), [
    ("acknowledge", {}),
    ("reply", REPLY),
    ("progress", {"note": "已派人前往现场"}),
    ("return", {"reason": "非本单位职责"}),
])
async def test_a_unit_never_sent_the_ticket_gets_404(
        hotline: Hotline, action: str, body: dict[str, Any]) -> None:
    """Its existence stays hidden from a unit that never had it."""
    h = hotline
    tid = await dispatched(h, LEAD, ASSISTING)
    async with appends_nothing(h):
        rejected(await h.post(f"/v1/tickets/{tid}/{action}", STRANGER, body), 404,
                 "ticket-unknown")


@pytest.mark.parametrize(("action", "body"), [
    ("acknowledge", {}),
    ("reply", REPLY),
    ("progress", {"note": "已派人前往现场"}),
])
async def test_a_unit_reassigned_away_is_told_so(
        hotline: Hotline, action: str, body: dict[str, Any]) -> None:
    """The unit that held it before a reassignment learns it no longer handles it (409)."""
    h = hotline
    tid = await dispatched(h, ASSISTING)
    h.clock.advance(minutes=10)
    r = await h.post(f"/v1/tickets/{tid}/reassign", "operator",
                     {"lead_unit": LEAD, "note": "改由城管中队主办"})
    assert r.status_code == 200, r.text
    async with appends_nothing(h):
        rejected(await h.post(f"/v1/tickets/{tid}/{action}", ASSISTING, body), 409,
                 "reassigned-away")


async def test_an_assisting_unit_cannot_reply(hotline: Hotline) -> None:
    """Only the lead unit (主办) replies; the assisting unit posts an assisting reply."""
    h = hotline
    tid = await acknowledged(h, ASSISTING)
    async with appends_nothing(h):
        rejected(await h.post(f"/v1/tickets/{tid}/reply", ASSISTING, REPLY), 409,
                 "not-lead-unit")


async def test_replying_before_acknowledging_is_refused(hotline: Hotline) -> None:
    h = hotline
    tid = await dispatched(h)
    async with appends_nothing(h):
        rejected(await h.post(f"/v1/tickets/{tid}/reply", LEAD, REPLY), 409, "acknowledge-first")


# --------------------------------------------------------------------------------- extensions


async def test_an_extension_date_in_the_past_is_refused(hotline: Hotline) -> None:
    h = hotline
    tid = await acknowledged(h)
    h.clock.advance(hours=2)
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/extension-requests", LEAD, {
            "reason": "需采购专用线缆",
            "requested_due_at": (h.clock.now - timedelta(days=1)).isoformat()})
        rejected(r, 422, "extension-date-in-past")


@pytest.mark.parametrize("before", [0, 30], ids=["at-the-deadline", "before-the-deadline"])
async def test_an_extension_not_later_than_the_deadline_is_refused(
        hotline: Hotline, before: int) -> None:
    """The requested date must lie after the current reply deadline, not on or before it."""
    h = hotline
    tid = await acknowledged(h)
    due = await reply_due(h, tid)
    h.clock.advance(hours=2)
    wanted = due - timedelta(minutes=before)
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/extension-requests", LEAD, {
            "reason": "需采购专用线缆, 预计一周到货",
            "requested_due_at": wanted.isoformat()})
        rejected(r, 422, "extension-not-later")


@pytest.mark.parametrize("pending", [False, True], ids=["none-pending", "another-pending"])
async def test_approving_an_unknown_extension_is_404(hotline: Hotline, pending: bool) -> None:
    h = hotline
    tid = await acknowledged(h)
    if pending:
        r = await h.post(f"/v1/tickets/{tid}/extension-requests", LEAD, {
            "reason": "需采购专用线缆, 预计一周到货",
            "requested_due_at": h.clock.now.replace(day=30).isoformat()})
        assert r.status_code == 201, r.text
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/extension-requests/{uuid.uuid4()}/approve",
                         "supervisor")
        rejected(r, 404, "no-such-extension")


# ------------------------------------------------------------------------- request validation


@pytest.mark.parametrize("body", [{"solved": True}, {"text": ""}, {"text": None}],
                         ids=["missing", "empty", "null"])
async def test_a_reply_without_text_is_invalid(hotline: Hotline, body: dict[str, Any]) -> None:
    h = hotline
    tid = await acknowledged(h)
    async with appends_nothing(h):
        found = problem(await h.post(f"/v1/tickets/{tid}/reply", LEAD, body), 422,
                        "invalid-request")
        assert "text" in fields(found), found


@pytest.mark.parametrize("body", [
    {"lead_unit": "d09-lamp-office"},
    {"lead_unit": LEAD, "assisting_units": ["d01-street-9"]},
], ids=["lead", "assisting"])
async def test_dispatching_to_an_unknown_unit_is_an_invalid_reference(
        hotline: Hotline, body: dict[str, Any]) -> None:
    h = hotline
    tid = (await registered(h))["ticket_id"]
    async with appends_nothing(h):
        found = problem(await h.post(f"/v1/tickets/{tid}/dispatch", "operator", body), 422,
                        "invalid-reference")
        assert fields(found) == {"lead_unit/assisting_units"}


@pytest.mark.parametrize("body", [
    {"lead_unit": LEAD, "assisting_units": [ASSISTING, LEAD]},
    {"lead_unit": LEAD, "assisting_units": [ASSISTING, ASSISTING]},
], ids=["lead-also-assisting", "assisting-twice"])
async def test_a_unit_named_twice_in_a_dispatch_is_invalid(
        hotline: Hotline, body: dict[str, Any]) -> None:
    h = hotline
    tid = (await registered(h))["ticket_id"]
    async with appends_nothing(h):
        r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator", body)
        assert problem(r, 422, "invalid-request")["errors"]


@pytest.mark.parametrize(("change", "field"), [
    ({"contact_ids": "known+unknown"}, "contact_ids"),
    ({"category": {"level1": "pet-grooming", "level2": "street-lights"}}, "category"),
    ({"category": {"level1": "urban-management", "level2": "bus-service"}}, "category"),
    ({"district_code": "990199"}, "district_code"),
], ids=["unknown-contact", "unknown-category", "level2-not-under-level1", "unknown-district"])
async def test_registering_with_an_unknown_reference_is_refused(
        hotline: Hotline, change: dict[str, Any], field: str) -> None:
    h = hotline
    cid = await h.contact("wx-lamp-1", location=LOCATION)
    body = {"contact_ids": [cid], "ticket_type": "emergency_repair",
            "category": {"level1": "urban-management", "level2": "street-lights"},
            "urgency": "normal", "summary": "幸福路18号小区门口路灯不亮, 市民要求尽快维修"}
    if change == {"contact_ids": "known+unknown"}:
        change = {"contact_ids": [cid, str(uuid.uuid4())]}
    async with appends_nothing(h):
        found = problem(await h.post("/v1/tickets", "operator", body | change), 422,
                        "invalid-reference")
        assert fields(found) == {field}


async def test_registering_with_a_bad_ticket_type_is_invalid(hotline: Hotline) -> None:
    h = hotline
    cid = await h.contact("wx-lamp-1", location=LOCATION)
    async with appends_nothing(h):
        r = await h.post("/v1/tickets", "operator", {
            "contact_ids": [cid], "ticket_type": "路灯报修",
            "category": {"level1": "urban-management", "level2": "street-lights"},
            "summary": "幸福路18号小区门口路灯不亮"})
        assert fields(problem(r, 422, "invalid-request")) == {"ticket_type"}


@pytest.mark.parametrize("raw", [
    b'{"lead_unit": "d01-urban-squad",',
    b"[1, 2]",
    b"",
    b'{"text": "\xc2\xb7\xff"}',
], ids=["truncated", "not-an-object", "empty", "not-utf8"])
async def test_a_malformed_body_is_invalid(hotline: Hotline, raw: bytes) -> None:
    """Register, dispatch and reply all refuse a body that is not a JSON object."""
    h = hotline
    tid = await dispatched(h)
    for path, who in (("/v1/tickets", "operator"), (f"/v1/tickets/{tid}/dispatch", "operator"),
                      (f"/v1/tickets/{tid}/reply", LEAD)):
        async with appends_nothing(h):
            r = await h.dispatch.post(path, content=raw,
                                      headers=h.auth(who) | {"content-type": "application/json"})
            problem(r, 422, "invalid-request")


async def test_recommendations_without_a_knowledge_service_say_so(hotline: Hotline) -> None:
    """Nothing listens where dispatch would ask: the desk answers at once, without them."""
    contact = await hotline.contact("wx-kb-none", location=LOCATION)
    r = await hotline.get(f"/v1/contacts/{contact}/recommendations", "operator")
    assert r.status_code == 200 and r.json() == {"available": False, "items": []}
    assert (await hotline.get("/v1/contacts/nope/recommendations", "operator")).status_code == 422
