"""People over HTTP, on both engines: an admin makes an operator and a unit handler, both
sign in and work with their sessions, the log names them, and access ends when it should."""

from __future__ import annotations

import httpx
import pytest

from tests.dispatch.conftest import LOCATION
from tests.people.conftest import People

UNIT = "d01-urban-squad"


async def test_two_people_sign_in_work_and_the_log_names_them(people: People) -> None:
    await people.account("wang.li", ["operator"])
    await people.account("zhang.min", ["unit"], unit=UNIT)
    operator, handler = await people.sign_in("wang.li"), await people.sign_in("zhang.min")
    assert operator.session["actor"] == "operator:wang.li"
    assert handler.session["actor"] == f"unit:{UNIT}/zhang.min"
    contact = await people.h.contact("wx-people-1", location=LOCATION)
    r = await operator.post("dispatch", "/v1/tickets", {
        "contact_ids": [contact], "ticket_type": "request", "summary": "路灯不亮",
        "category": {"level1": "urban-management", "level2": "street-lights"}})
    assert r.status_code == 201, r.text
    tid = r.json()["ticket_id"]
    r = await operator.post("dispatch", f"/v1/tickets/{tid}/dispatch", {"lead_unit": UNIT})
    assert r.status_code == 200, r.text
    r = await handler.post("dispatch", f"/v1/tickets/{tid}/acknowledge")
    assert r.status_code == 200, r.text
    r = await people.h.get(f"/v1/tickets/{tid}/history", "auditor")
    actors = [e["actor"] for e in r.json()]
    assert actors[:2] == ["operator:wang.li", "operator:wang.li"]  # registered, dispatched
    assert f"unit:{UNIT}/zhang.min" in actors


async def test_a_change_with_the_cookie_but_no_csrf_token_is_refused(people: People) -> None:
    await people.account("wang.li", ["operator"])
    operator = await people.sign_in("wang.li")
    contact = await people.h.contact("wx-people-2", location=LOCATION)
    body = {"contact_ids": [contact], "ticket_type": "request", "summary": "路灯不亮",
            "category": {"level1": "urban-management", "level2": "street-lights"}}
    r = await operator.post("dispatch", "/v1/tickets", body, csrf=False)
    assert r.status_code == 403 and r.json()["type"].endswith("/csrf-failed"), r.text
    r = await operator.on["dispatch"].get("/v1/session")  # reading needs no token
    assert r.status_code == 200 and r.json()["login"] == "wang.li"


async def test_a_deactivated_account_and_a_revoked_key_stop_at_once(people: People) -> None:
    await people.account("zhang.min", ["unit"], unit=UNIT)
    handler = await people.sign_in("zhang.min")
    assert (await handler.on["dispatch"].get("/v1/inbox")).status_code == 200
    r = await people.client.patch("/v1/accounts/zhang.min", headers=people.admin,
                                  json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False, r.text
    assert (await handler.on["dispatch"].get("/v1/inbox")).status_code == 401
    r = await people.client.post("/v1/session", json={
        "login": "zhang.min", "password": "长城-Great-Wall-2026"})
    assert r.status_code == 401
    r = await people.client.post("/v1/keys", headers=people.admin,
                                 json={"holder": "city-water-system", "role": "unit",
                                       "unit": "city-water"})
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['key']}"}
    assert (await people.h.dispatch.get("/v1/inbox", headers=key)).status_code == 200
    r = await people.client.delete("/v1/keys/city-water-system", headers=people.admin)
    assert r.json()["revoked"] == 1
    assert (await people.h.dispatch.get("/v1/inbox", headers=key)).status_code == 401


async def test_every_grant_is_on_the_log_with_who_gave_it(people: People) -> None:
    await people.account("li.na", ["operator", "supervisor"])
    r = await people.client.patch("/v1/accounts/li.na", headers=people.admin,
                                  json={"roles": ["operator"]})
    assert r.status_code == 200, r.text
    r = await people.client.post("/v1/accounts/li.na/password-reset", headers=people.admin)
    assert len(r.json()["password"]) >= 12
    r = await people.client.get("/v1/accounts/li.na/history", headers=people.admin)
    events = [(e["type"], e["actor"]) for e in r.json()]
    assert events == [(f"hotline.{name}.v1", "admin:admin-01") for name in (
        "AccountCreated", "PasswordSet", "AccountChanged", "PasswordSet")]
    assert "password" not in r.text.replace("PasswordSet", "")  # no secret on the log


async def test_a_person_with_two_roles_picks_one(people: People) -> None:
    await people.account("li.na", ["operator", "supervisor"])
    supervisor = await people.sign_in("li.na", role="supervisor")
    assert supervisor.session["actor"] == "supervisor:li.na"
    assert supervisor.session["roles"] == ["operator", "supervisor"]
    r = await people.client.post("/v1/session", json={
        "login": "li.na", "password": "长城-Great-Wall-2026", "role": "admin"})
    assert r.status_code == 403


async def test_failed_sign_ins_slow_down_that_address_only(people: People) -> None:
    await people.account("wang.li", ["operator"])
    for _ in range(5):
        r = await people.client.post("/v1/session", json={"login": "wang.li",
                                                          "password": "not-the-password"})
        assert r.status_code == 401
    r = await people.client.post("/v1/session", json={"login": "wang.li",
                                                      "password": "长城-Great-Wall-2026"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # the same person at their own desk is not locked out by the guesses above
    elsewhere = httpx.AsyncClient(transport=httpx.ASGITransport(
        app=people.h.apps["people"], client=("10.0.0.9", 40123)), base_url="http://people")
    async with elsewhere:
        r = await elsewhere.post("/v1/session", json={"login": "wang.li",
                                                      "password": "长城-Great-Wall-2026"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("password", ["short", "wang.li-has-a-long-password"])
async def test_a_weak_password_is_refused(people: People, password: str) -> None:
    r = await people.client.post("/v1/accounts", headers=people.admin, json={
        "login": "wang.li", "display_name": "王丽", "roles": ["operator"],
        "password": password})
    assert r.status_code == 422


async def test_unit_staff_name_a_unit_of_the_directory(people: People) -> None:
    for body in ({"roles": ["unit"]}, {"roles": ["unit"], "unit": "no-such-unit"},
                 {"roles": ["operator"], "unit": UNIT}):
        r = await people.client.post("/v1/accounts", headers=people.admin, json={
            "login": "zhao.lei", "display_name": "赵磊", **body})
        assert r.status_code == 422, body
    r = await people.client.post("/v1/accounts", headers=people.admin, json={
        "login": "zhao.lei", "display_name": "赵磊", "roles": ["unit"], "unit": UNIT})
    assert r.status_code == 201 and len(r.json()["password"]) >= 12  # made, shown once


async def test_only_admins_change_access(people: People) -> None:
    body = {"login": "wang.li", "display_name": "王丽", "roles": ["admin"]}
    for who in ("operator", "supervisor", "auditor"):
        r = await people.client.post("/v1/accounts", headers=people.h.auth(who), json=body)
        assert r.status_code == 403, who
    r = await people.client.get("/v1/accounts", headers=people.h.auth("auditor"))
    assert r.status_code == 200  # auditors read who has access


async def test_a_handler_moved_off_unit_work_keeps_no_unit(people: People) -> None:
    await people.account("zhang.min", ["unit"], unit=UNIT)
    handler = await people.sign_in("zhang.min")
    r = await people.client.patch("/v1/accounts/zhang.min", headers=people.admin,
                                  json={"roles": ["operator"]})
    assert r.status_code == 200 and r.json()["unit"] is None, r.text
    # the session acted as a unit: that role is gone, and so is the session
    assert (await handler.on["dispatch"].get("/v1/inbox")).status_code == 401
