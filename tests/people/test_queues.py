"""The queues and views people work from (issue 13 §3), over HTTP on both engines: the
supervisors' extension requests, a unit's redo marker, the citizen's steps through a
return, and reading one's own write."""

from __future__ import annotations

from typing import Any

from tests.dispatch.conftest import LOCATION, Hotline
from tests.people.conftest import People

UNIT, OTHER = "d01-urban-squad", "city-urban-mgmt"
REGISTER = {"ticket_type": "request", "summary": "路灯不亮",
            "category": {"level1": "urban-management", "level2": "street-lights"}}


async def ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


async def held_ticket(h: Hotline, message_id: str) -> str:
    cid = await h.contact(message_id, location=LOCATION)
    tid = (await ok(await h.post("/v1/tickets", "operator",
                                 {**REGISTER, "contact_ids": [cid]}), 201))["ticket_id"]
    await ok(await h.post(f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": UNIT}))
    await ok(await h.post(f"/v1/tickets/{tid}/acknowledge", UNIT))
    return str(tid)


async def test_supervisors_see_the_extension_requests_waiting(people: People) -> None:
    h = people.h
    tid = await held_ticket(h, "wx-ext-1")
    asked = await ok(await h.post(f"/v1/tickets/{tid}/extension-requests", UNIT, {
        "reason": "需协调燃气公司共同处理", "requested_due_at": "2026-12-10T18:00:00+08:00"}),
        201)
    await h.settle()
    listed = await ok(await h.dispatch.get("/v1/extension-requests",
                                           headers=h.auth("supervisor")))
    [item] = listed["items"]
    assert listed["waiting"] == 1
    assert (item["ticket_id"], item["unit_id"], item["request_id"]) == (
        tid, UNIT, asked["request_id"])
    assert item["reason"] == "需协调燃气公司共同处理" and item["seconds_left"] > 0
    assert (await h.dispatch.get("/v1/extension-requests", params={"unit": OTHER},
                                 headers=h.auth("supervisor"))).json()["waiting"] == 0
    await ok(await h.post(f"/v1/tickets/{tid}/extension-requests/{asked['request_id']}/approve",
                          "supervisor", {}))
    await h.settle()
    assert (await h.dispatch.get("/v1/extension-requests",
                                 headers=h.auth("supervisor"))).json()["items"] == []
    r = await h.dispatch.get("/v1/extension-requests", headers=h.auth("operator"))
    assert r.status_code == 403


async def test_the_citizen_follows_a_return_and_the_reader_sees_their_own_write(
        people: People) -> None:
    h = people.h
    cid = await h.contact("wx-ret-1", location=LOCATION)
    tid = (await ok(await h.post("/v1/tickets", "operator",
                                 {**REGISTER, "contact_ids": [cid]}), 201))["ticket_id"]
    await ok(await h.post(f"/v1/tickets/{tid}/dispatch", "operator", {"lead_unit": UNIT}))
    await ok(await h.post(f"/v1/tickets/{tid}/return", UNIT, {"reason": "非本单位职责"}))
    done = await ok(await h.post(f"/v1/tickets/{tid}/reassign", "operator",
                                 {"lead_unit": OTHER}))
    # read-your-writes: the detail waits for the version the command answered
    detail = await ok(await h.dispatch.get(f"/v1/tickets/{tid}", params={
        "min_version": done["version"]}, headers=h.auth("operator")))
    row = detail["ticket"]
    assert row["lead_unit"] == OTHER and row["version"] >= done["version"]
    r = await h.dispatch.get(f"/v1/tickets/{tid}", params={"min_version": 999},
                             headers=h.auth("operator"))
    assert r.status_code == 422  # a version no command answered
    steps = [s["step_zh"] for s in await public_steps(h, row["ticket_number"])]
    assert steps == ["已受理登记", "已转交承办单位", "承办单位退回, 热线重新派单",
                     "已改派其他承办单位"]


async def public_steps(h: Hotline, number: str) -> list[dict[str, Any]]:
    r = await h.dispatch.post("/v1/public/progress", json={
        "ticket_number": number, "phone_last4": "5678"})
    return list((await ok(r))["steps"])


async def test_the_units_inbox_rows_say_redo_and_waiting_extension(people: People) -> None:
    """The fields the inbox marks a redo and a waiting request with (their values through
    a redo: tests/dispatch/test_projection.py)."""
    h = people.h
    tid = await held_ticket(h, "wx-redo-1")
    await h.settle()
    [row] = (await ok(await h.dispatch.get("/v1/inbox", headers=h.auth(UNIT))))["items"]
    assert row["ticket_id"] == tid and row["redone"] is False and row["ext_request_id"] is None
    await ok(await h.post(f"/v1/tickets/{tid}/extension-requests", UNIT, {
        "reason": "需协调燃气公司", "requested_due_at": "2026-12-10T18:00:00+08:00"}), 201)
    await h.settle()
    [row] = (await ok(await h.dispatch.get("/v1/inbox", headers=h.auth(UNIT))))["items"]
    assert row["ext_unit"] == UNIT and row["ext_request_id"] is not None
