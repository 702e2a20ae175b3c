"""Who may do what: 401 without a valid key, 403 for the wrong role, a unit sees only the
tickets sent to it, personal data masked by role, and the keyless endpoints.

On the embedded log only: access rules are the same code on either engine (see
tests/dispatch/test_bad_input.py for why).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from contracts.topics import TICKETS
from tests.dispatch.conftest import LOCATION, Hotline
from tests.dispatch.test_scenario import register_lamp
from tests.intake.conftest import CALLER

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
LEAD, ASSISTING, WATER, STRANGER = ("d01-urban-squad", "d01-street-1", "city-water",
                                    "d02-urban-squad")
LAMP = "幸福路18号小区门口路灯坏了一个多月, 晚上很黑, 老人出行不便, 请尽快维修。"


# ----------------------------------------------------------------------------------- helpers


def problem(r: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert `r` is an RFC 9457 problem of `status` whose type ends in /problems/<kind>."""
    assert r.status_code == status, (r.request.method, r.request.url.path, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"]
    assert body["type"].endswith(f"/problems/{kind}"), body
    return body


async def lamp(h: Hotline, message_id: str = "wx-lamp-1") -> str:
    """A lamp ticket registered from a WeChat contact (caller 王小明, 13812345678); its id."""
    cid = await h.contact(message_id, location=LOCATION, content=LAMP)
    return str((await register_lamp(h, cid))["ticket_id"])


async def send(h: Hotline, tid: str, lead: str, *assisting: str) -> None:
    h.clock.advance(minutes=5)
    r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator",
                     {"lead_unit": lead, "assisting_units": list(assisting)})
    assert r.status_code == 200, r.text


async def reassign(h: Hotline, tid: str, lead: str) -> None:
    h.clock.advance(minutes=10)
    r = await h.post(f"/v1/tickets/{tid}/reassign", "operator",
                     {"lead_unit": lead, "note": "改由城管执法中队主办"})
    assert r.status_code == 200, r.text


def ids(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {row["ticket_id"] for row in r.json()["items"]}


# ----------------------------------------------------------------------------- 401: no key


def families(tid: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """One route of each non-public family: method, path, JSON body."""
    return [
        ("GET", "/v1/tickets", None),
        ("GET", f"/v1/tickets/{tid}", None),
        ("GET", f"/v1/tickets/{tid}/history", None),
        ("POST", "/v1/tickets", {"contact_ids": ["x"], "ticket_type": "emergency_repair",
                                 "category": {"level1": "urban-management"},
                                 "summary": "路灯不亮"}),
        ("POST", f"/v1/tickets/{tid}/dispatch", {"lead_unit": LEAD}),
        ("GET", "/v1/inbox", None),
        ("POST", f"/v1/tickets/{tid}/acknowledge", None),
        ("GET", "/v1/directory/units", None),
    ]


@pytest.mark.parametrize("authorization", [
    None, "Bearer hk_not-a-key-anyone-was-given-0000000000000", "Bearer 12345-wrong",
    "Basic b3BlcmF0b3I6MTIzNDU=", "Bearer ",
], ids=["none", "unknown-key", "no-prefix", "basic-scheme", "empty-bearer"])
async def test_every_route_family_wants_a_valid_key(hotline: Hotline,
                                                    authorization: str | None) -> None:
    """401 problem+json with `WWW-Authenticate: Bearer`; nothing is appended."""
    h = hotline
    tid = await lamp(h)
    before = await h.platform.log.end_offsets(TICKETS)
    headers = {"Authorization": authorization} if authorization else {}
    for method, path, body in families(tid):
        r = await h.dispatch.request(method, path, json=body, headers=headers)
        problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"] == "Bearer", path
    assert await h.platform.log.end_offsets(TICKETS) == before


# ----------------------------------------------------------------------- 403: wrong role


@pytest.mark.parametrize(("who", "method", "path", "body"), [
    (LEAD, "POST", "/v1/tickets", "register"),
    (LEAD, "POST", "/v1/tickets/{tid}/dispatch", {"lead_unit": WATER}),
    ("analyst", "POST", "/v1/tickets/{tid}/dispatch", {"lead_unit": WATER}),
    ("auditor", "POST", "/v1/tickets/{tid}/reassign", {"lead_unit": WATER}),
    ("operator", "POST", "/v1/tickets/{tid}/acknowledge", None),
    ("supervisor", "POST", "/v1/tickets/{tid}/reply", {"text": "已修复"}),
    ("operator", "POST", "/v1/tickets/{tid}/extension-requests/{rid}/approve", None),
    (LEAD, "POST", "/v1/tickets/{tid}/extension-requests/{rid}/approve", None),
    ("wechat", "GET", "/v1/tickets", None),
    ("wechat", "GET", "/v1/tickets/{tid}", None),
    ("phone", "GET", "/v1/tickets/{tid}/history", None),
    ("wechat", "GET", "/v1/directory/units", None),
    ("operator", "GET", "/v1/inbox", None),
], ids=["unit-registers", "unit-dispatches", "analyst-dispatches", "auditor-reassigns",
        "operator-acknowledges", "supervisor-replies", "operator-approves-extension",
        "unit-approves-own-extension", "channel-lists", "channel-reads-detail",
        "channel-reads-history", "channel-reads-directory", "operator-reads-inbox"])
async def test_the_wrong_role_is_forbidden(hotline: Hotline, who: str, method: str, path: str,
                                           body: dict[str, Any] | str | None) -> None:
    """403 problem+json, and the ticket is untouched (the extension is still pending)."""
    h = hotline
    tid = await lamp(h)
    await send(h, tid, LEAD)
    assert (await h.post(f"/v1/tickets/{tid}/acknowledge", LEAD)).status_code == 200
    wanted = h.clock.now.replace(day=30).isoformat()
    r = await h.post(f"/v1/tickets/{tid}/extension-requests", LEAD,
                     {"reason": "需采购专用线缆, 预计一周到货", "requested_due_at": wanted})
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    if body == "register":
        cid = await h.contact("wx-lamp-2", location=LOCATION, content=LAMP)
        body = {"contact_ids": [cid], "ticket_type": "emergency_repair",
                "category": {"level1": "urban-management", "level2": "street-lights"},
                "summary": "幸福路18号路灯不亮"}
    before = await h.platform.log.end_offsets(TICKETS)
    r = await h.dispatch.request(method, path.format(tid=tid, rid=rid), json=body,
                                 headers=h.auth(who))
    problem(r, 403, "forbidden")
    assert await h.platform.log.end_offsets(TICKETS) == before
    approved = await h.post(f"/v1/tickets/{tid}/extension-requests/{rid}/approve", "supervisor")
    assert approved.status_code == 200, approved.text  # supervisors only, and they still can


# ------------------------------------------------------------------------ a unit's own view


async def test_a_units_list_holds_only_its_own_tickets(hotline: Hotline) -> None:
    """Whatever it filters on, a unit lists the tickets sent to it and nothing else."""
    h = hotline
    mine = await lamp(h)
    await send(h, mine, LEAD)
    cid = await h.contact("wx-water-1", location=LOCATION,
                          content="幸福路18号小区从早上开始停水, 没有任何通知, 请尽快恢复供水。")
    water = str((await register_lamp(
        h, cid, ticket_type="request",
        category={"level1": "utilities", "level2": "water-supply"},
        summary="幸福路18号小区停水未通知, 市民要求尽快恢复供水"))["ticket_id"])
    await send(h, water, WATER)
    unsent = await lamp(h, "wx-lamp-3")
    await h.settle()

    everything = {mine, water, unsent}
    assert ids(await h.get("/v1/tickets", "operator")) == everything
    assert ids(await h.get("/v1/tickets", "operator", unit=WATER)) == {water}
    assert ids(await h.get("/v1/tickets", LEAD)) == {mine}
    for params in ({"lead_unit": WATER}, {"status": "registered"}, {"text": "停水"},
                   {"category1": "utilities"}, {"district": "990101", "lead_unit": WATER}):
        assert ids(await h.get("/v1/tickets", LEAD, **params)) == set(), params
    assert ids(await h.get("/v1/tickets", LEAD, lead_unit=LEAD)) == {mine}
    assert ids(await h.get("/v1/tickets", STRANGER)) == set()


@pytest.mark.parametrize("unit", [WATER, LEAD], ids=["another-unit", "own-unit"])
async def test_a_unit_filtering_by_unit_still_lists_only_its_own(hotline: Hotline,
                                                                 unit: str) -> None:
    """`unit=<another unit>` cannot widen a unit's list; `unit=<itself>` narrows to what it
    holds now. (At 703717e this was a 500: the unit join and the ever-assigned EXISTS on the
    same table auto-correlated to no FROM.)"""
    h = hotline
    mine = await lamp(h)
    await send(h, mine, LEAD)
    theirs = await lamp(h, "wx-lamp-2")
    await send(h, theirs, WATER)
    await h.settle()
    expected = {mine} if unit == LEAD else set()
    assert ids(await h.get("/v1/tickets", LEAD, unit=unit)) == expected


async def test_a_unit_sees_only_tickets_it_was_sent(hotline: Hotline) -> None:
    """404 on a ticket never sent to it; 200 on one it held before it was reassigned away."""
    h = hotline
    tid = await lamp(h)
    await send(h, tid, ASSISTING)
    await reassign(h, tid, LEAD)
    await h.settle()
    for unit in (ASSISTING, LEAD):
        for path in (f"/v1/tickets/{tid}", f"/v1/tickets/{tid}/history"):
            assert (await h.get(path, unit)).status_code == 200, (unit, path)
    for path in (f"/v1/tickets/{tid}", f"/v1/tickets/{tid}/history"):
        found = problem(await h.get(path, STRANGER), 404, "ticket-unknown")
        assert tid in found["detail"]  # the same answer as for a ticket that does not exist
    unsent = await lamp(h, "wx-lamp-2")
    await h.settle()
    for unit in (ASSISTING, LEAD):
        problem(await h.get(f"/v1/tickets/{unsent}", unit), 404, "ticket-unknown")


async def test_personal_data_is_masked_by_role(hotline: Hotline) -> None:
    """Operators and supervisors must reach the caller; units, analysts, auditors see masks."""
    h = hotline
    tid = await lamp(h)
    await send(h, tid, LEAD)
    await h.settle()
    clear = {"name": CALLER["name"], "phone": "13812345678", "id_number": CALLER["id_number"]}
    masked = {"name": "王**", "phone": "138****5678", "id_number": "110*************2X"}
    for who, caller, address in (
            ("operator", clear, "东湖区幸福路18号"), ("supervisor", clear, "东湖区幸福路18号"),
            (LEAD, masked, "东湖区幸福路****"), ("analyst", masked, "东湖区幸福路****"),
            ("auditor", masked, "东湖区幸福路****")):
        r = await h.get(f"/v1/tickets/{tid}", who)
        assert r.status_code == 200, (who, r.text)
        contact = r.json()["contacts"][0]
        assert contact["caller"] == caller, who
        assert contact["address"] == {"address": address}, who
        if caller is masked:
            text = json.dumps(r.json(), ensure_ascii=False)
            assert "13812345678" not in text and CALLER["id_number"] not in text, who


# --------------------------------------------------------------------------- keyless routes


async def test_the_public_progress_query_is_keyless_and_slows_guessing(hotline: Hotline) -> None:
    """No key; a wrong last-4 is 404; after five wrong tries on a ticket every try waits a
    little (Retry-After seconds, at most a minute), then the right digits answer again."""
    h = hotline
    tid = await lamp(h)
    await send(h, tid, LEAD)
    await h.settle()
    number = (await h.get(f"/v1/tickets/{tid}", "operator")).json()["ticket"]["ticket_number"]

    async def ask(last4: str, ticket_number: str = number, **headers: str) -> httpx.Response:
        return await h.dispatch.post("/v1/public/progress", headers=headers,
                                     json={"ticket_number": ticket_number, "phone_last4": last4})

    right = await ask("5678")
    assert right.status_code == 200, right.text
    assert right.json()["ticket_number"] == number and right.json()["unit_zh"]
    for guess in ("0000", "1234", "8765", "5679", "6785"):
        problem(await ask(guess), 404, "progress-not-found")
    blocked = problem(await ask("5678"), 429, "too-many-attempts")
    assert blocked["status"] == 429
    retry_after = int((await ask("5678")).headers["retry-after"])
    assert 0 < retry_after <= 60  # the citizen waits seconds, not a quarter of an hour
    h.clock.advance(seconds=retry_after)
    assert (await ask("5678")).status_code == 200


async def test_one_client_gets_ten_wrong_answers_whatever_it_claims_to_be(
        hotline: Hotline) -> None:
    """The per-client limit holds across tickets, and a forwarded-for header from a client
    that is not a configured proxy changes nothing."""
    h = hotline
    await lamp(h)
    await h.settle()
    for n in range(10):
        r = await h.dispatch.post("/v1/public/progress", headers={"X-Forwarded-For": f"10.0.0.{n}"},
                                  json={"ticket_number": f"12345-20261123-99{n:04d}",
                                        "phone_last4": "5678"})
        problem(r, 404, "progress-not-found")
    r = await h.dispatch.post("/v1/public/progress", headers={"X-Forwarded-For": "10.9.9.9"},
                              json={"ticket_number": "12345-20261123-000001",
                                    "phone_last4": "5678"})
    problem(r, 429, "too-many-attempts")
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60


async def test_an_unknown_number_is_404_like_a_wrong_phone(hotline: Hotline) -> None:
    h = hotline
    await lamp(h)
    await h.settle()
    r = await h.dispatch.post("/v1/public/progress", json={
        "ticket_number": "12345-20261123-999999", "phone_last4": "5678"})
    problem(r, 404, "progress-not-found")


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
async def test_health_and_metrics_need_no_key(hotline: Hotline, path: str) -> None:
    r = await hotline.dispatch.get(path)
    assert r.status_code == 200, r.text
    if path == "/metrics":
        assert r.headers["content-type"].startswith("text/plain")
    else:
        assert r.json() == {"status": "ok"}
