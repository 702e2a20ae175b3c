"""Who may read the supervision board and issue or answer orders: 401 without a key, 403 for
the wrong role, a unit confined to its own rows, bad orders refused by rule with nothing
appended, idempotent orders, and no personal data on the board.

On the embedded log only: access rules are the same code on either engine (see
tests/dispatch/test_bad_input.py for why).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from contracts import events as e
from contracts.events import from_envelope
from contracts.topics import TICKETS
from tests.dispatch.conftest import LOCATION, Hotline
from tests.intake.conftest import ADDRESS, CALLER
from tests.supervision.conftest import new_ticket, sv_get, sv_post
from ticketing.client import tickets_of

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
BJ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=BJ)
SQUAD, STREET, WATER, STRANGER = ("d01-urban-squad", "d01-street-1", "city-water",
                                  "d02-urban-squad")
LAMP = "小区门口路灯不亮, 请尽快维修。"
PIPE = "小区停水一整天, 没有通知, 请尽快恢复供水。"


# ----------------------------------------------------------------------------------- helpers


def problem(r: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert `r` is an RFC 9457 problem of `status` whose type ends in /problems/<kind>."""
    assert r.status_code == status, (r.request.method, r.request.url.path, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"]
    assert body["type"].endswith(f"/problems/{kind}"), body
    return body


async def two_tickets(h: Hotline) -> tuple[str, str]:
    """A lamp ticket at the urban squad and a water ticket at the water company."""
    h.clock.now = MONDAY
    lamp = await new_ticket(h, "wx-lamp-1", "request", LAMP, SQUAD)
    water = await new_ticket(h, "wx-water-1", "request", PIPE, WATER)
    await h.settle()
    return lamp, water


async def order(h: Hotline, tid: str, **body: Any) -> str:
    """A supervisor's order on the ticket (to its lead unit unless `unit_id`); its id."""
    r = await sv_post(h, f"/v1/tickets/{tid}/orders", "supervisor",
                      {"text": "请尽快办理并回复。", **body})
    assert r.status_code == 201, r.text
    history = await tickets_of(h.platform).history(tid)
    issued = [ev for s in history
              if isinstance(ev := from_envelope(s.envelope), e.SupervisionOrderIssued)]
    return issued[-1].order_id


async def assisted_ticket(h: Hotline) -> str:
    """A lamp ticket led by the urban squad with the street office assisting."""
    h.clock.now = MONDAY
    cid = await h.contact("wx-lamp-9", location=LOCATION, content=LAMP,
                          received_at=MONDAY.isoformat())
    r = await h.post("/v1/tickets", "operator", {
        "contact_ids": [cid], "ticket_type": "request",
        "category": {"level1": "urban-management", "level2": "street-lights"},
        "summary": "路灯不亮"})
    assert r.status_code == 201, r.text
    tid = str(r.json()["ticket_id"])
    r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator",
                     {"lead_unit": SQUAD, "assisting_units": [STREET]})
    assert r.status_code == 200, r.text
    return tid


def ids(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {row["ticket_id"] for row in r.json()["items"]}


# ----------------------------------------------------------------------------- 401: no key


def routes(tid: str, order_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/v1/supervision/tickets", None),
        ("GET", "/v1/supervision/first", None),
        ("GET", "/v1/supervision/summary", None),
        ("GET", "/v1/supervision/units", None),
        ("GET", "/v1/supervision/orders", None),
        ("POST", f"/v1/tickets/{tid}/orders", {"text": "请尽快办理。"}),
        ("POST", f"/v1/tickets/{tid}/orders/{order_id}/answer", {"text": "已办理。"}),
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer hk_not-a-key-anyone-was-given-00000"],
                         ids=["none", "unknown-key"])
async def test_every_supervision_route_wants_a_key(supervised: Hotline,
                                                   authorization: str | None) -> None:
    """401 problem+json with `WWW-Authenticate: Bearer`; nothing is appended."""
    h = supervised
    tid, _ = await two_tickets(h)
    order_id = await order(h, tid)
    before = await h.platform.log.end_offsets(TICKETS)
    headers = {"Authorization": authorization} if authorization else {}
    assert h.supervision is not None
    for method, path, body in routes(tid, order_id):
        r = await h.supervision.request(method, path, json=body, headers=headers)
        problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"] == "Bearer", path
    assert await h.platform.log.end_offsets(TICKETS) == before


# ----------------------------------------------------------------------- 403: wrong role


@pytest.mark.parametrize(("who", "method", "path", "body"), [
    ("operator", "POST", "/v1/tickets/{tid}/orders", {"text": "请尽快办理。"}),
    (SQUAD, "POST", "/v1/tickets/{tid}/orders", {"text": "请尽快办理。"}),
    ("analyst", "POST", "/v1/tickets/{tid}/orders", {"text": "请尽快办理。"}),
    ("wechat", "GET", "/v1/supervision/tickets", None),
    ("phone", "GET", "/v1/supervision/orders", None),
    (SQUAD, "GET", "/v1/supervision/summary", None),
    ("supervisor", "POST", "/v1/tickets/{tid}/orders/{oid}/answer", {"text": "已办理。"}),
    ("operator", "POST", "/v1/tickets/{tid}/orders/{oid}/answer", {"text": "已办理。"}),
], ids=["operator-orders", "unit-orders", "analyst-orders", "channel-reads-board",
        "channel-reads-orders", "unit-reads-summary", "supervisor-answers",
        "operator-answers"])
async def test_the_wrong_role_is_forbidden(supervised: Hotline, who: str, method: str,
                                           path: str, body: dict[str, Any] | None) -> None:
    """403 problem+json and nothing appended; the order stays open for its unit."""
    h = supervised
    tid, _ = await two_tickets(h)
    oid = await order(h, tid)
    before = await h.platform.log.end_offsets(TICKETS)
    assert h.supervision is not None
    r = await h.supervision.request(method, path.format(tid=tid, oid=oid), json=body,
                                    headers=h.auth(who))
    problem(r, 403, "forbidden")
    assert await h.platform.log.end_offsets(TICKETS) == before
    answered = await sv_post(h, f"/v1/tickets/{tid}/orders/{oid}/answer", SQUAD,
                             {"text": "已办理。"})
    assert answered.status_code == 200, answered.text


# ------------------------------------------------------------------------ a unit's own rows


async def test_a_unit_reads_its_own_board_rows_whatever_unit_it_asks_for(
        supervised: Hotline) -> None:
    h = supervised
    lamp, water = await two_tickets(h)
    assert ids(await sv_get(h, "/v1/supervision/tickets", "supervisor")) == {lamp, water}
    assert ids(await sv_get(h, "/v1/supervision/tickets", "supervisor", unit=WATER)) == {water}
    assert ids(await sv_get(h, "/v1/supervision/tickets", SQUAD, unit=WATER)) == {lamp}
    assert ids(await sv_get(h, "/v1/supervision/tickets", SQUAD)) == {lamp}
    assert ids(await sv_get(h, "/v1/supervision/tickets", STRANGER)) == set()


async def test_a_unit_reads_its_own_tally_only(supervised: Hotline) -> None:
    h = supervised
    await two_tickets(h)

    async def units(who: str, **params: str) -> list[str]:
        r = await sv_get(h, "/v1/supervision/units", who, **params)
        assert r.status_code == 200, r.text
        return [u["unit_id"] for u in r.json()["units"]]

    assert set(await units("supervisor")) >= {SQUAD, WATER}
    assert await units("supervisor", unit=WATER) == [WATER]
    assert await units(SQUAD, unit=WATER) == [SQUAD]


async def test_a_unit_lists_only_the_orders_addressed_to_it(supervised: Hotline) -> None:
    h = supervised
    lamp, water = await two_tickets(h)
    mine, theirs = await order(h, lamp), await order(h, water)
    await h.settle()

    async def orders(who: str, **params: str) -> set[str]:
        r = await sv_get(h, "/v1/supervision/orders", who, **params)
        assert r.status_code == 200, r.text
        return {o["order_id"] for o in r.json()["items"]}

    assert await orders("supervisor") == {mine, theirs}
    assert await orders("supervisor", unit=WATER) == {theirs}
    assert await orders(SQUAD, unit=WATER) == {mine}
    assert await orders(SQUAD) == {mine}
    # one ticket's orders (the console's ticket page): still only the unit's own
    assert await orders("supervisor", ticket=water) == {theirs}
    assert await orders(SQUAD, ticket=water) == set()


async def test_first_to_handle_is_the_units_own_list(supervised: Hotline) -> None:
    """A unit gets its own list without ?unit (and whatever it names); staff must name one."""
    h = supervised
    lamp, water = await two_tickets(h)
    oid = await order(h, lamp)
    await h.settle()
    for params in ({}, {"unit": WATER}):
        r = await sv_get(h, "/v1/supervision/first", SQUAD, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["unit_id"] == SQUAD
        assert [row["ticket_id"] for row in body["tickets"]] == [lamp]
        assert [o["order_id"] for o in body["orders"]] == [oid]
    staff = await sv_get(h, "/v1/supervision/first", "supervisor", unit=WATER)
    assert [row["ticket_id"] for row in staff.json()["tickets"]] == [water]
    problem(await sv_get(h, "/v1/supervision/first", "supervisor"), 422, "invalid-request")


# ------------------------------------------------------------------------ orders: bad input


async def refused(h: Hotline, r_coro: Any, status: int, kind: str) -> dict[str, Any]:
    """The request's problem, with nothing appended to the tickets topic."""
    before = await h.platform.log.end_offsets(TICKETS)
    body = problem(await r_coro, status, kind)
    assert await h.platform.log.end_offsets(TICKETS) == before
    return body


async def test_an_order_due_in_the_past_is_refused(supervised: Hotline) -> None:
    h = supervised
    tid, _ = await two_tickets(h)
    past = (MONDAY - timedelta(hours=1)).isoformat()
    body = await refused(h, sv_post(h, f"/v1/tickets/{tid}/orders", "supervisor",
                                    {"text": "请办理。", "due_at": past}),
                         422, "deadline-in-past")
    assert body["rule"] == "deadline-in-past"


async def test_an_order_on_an_unknown_ticket_is_404(supervised: Hotline) -> None:
    h = supervised
    await two_tickets(h)
    await refused(h, sv_post(h, "/v1/tickets/no-such-ticket/orders", "supervisor",
                             {"text": "请办理。"}), 404, "ticket-unknown")


async def test_an_order_to_a_unit_not_on_the_ticket_is_refused(supervised: Hotline) -> None:
    h = supervised
    tid, _ = await two_tickets(h)
    body = await refused(h, sv_post(h, f"/v1/tickets/{tid}/orders", "supervisor",
                                    {"text": "请办理。", "unit_id": WATER}),
                         403, "not-assigned")
    assert body["rule"] == "not-assigned"


async def test_an_order_with_an_unknown_field_is_422(supervised: Hotline) -> None:
    h = supervised
    tid, _ = await two_tickets(h)
    await refused(h, sv_post(h, f"/v1/tickets/{tid}/orders", "supervisor",
                             {"text": "请办理。", "priority": "high"}), 422, "invalid-request")


async def test_answering_an_unknown_order_is_404(supervised: Hotline) -> None:
    h = supervised
    tid, _ = await two_tickets(h)
    await refused(h, sv_post(h, f"/v1/tickets/{tid}/orders/supervision/nope/answer", SQUAD,
                             {"text": "已办理。"}), 404, "no-such-order")


async def test_an_order_is_answered_once(supervised: Hotline) -> None:
    h = supervised
    tid, _ = await two_tickets(h)
    oid = await order(h, tid)
    path = f"/v1/tickets/{tid}/orders/{oid}/answer"
    first = await sv_post(h, path, SQUAD, {"text": "已办理。"})
    assert first.status_code == 200, first.text
    await refused(h, sv_post(h, path, SQUAD, {"text": "已办理完毕。"}), 409, "order-answered")


async def test_a_unit_never_sent_the_ticket_cannot_see_its_orders(supervised: Hotline) -> None:
    """404 `ticket-unknown`, as for a ticket that does not exist."""
    h = supervised
    tid, _ = await two_tickets(h)
    oid = await order(h, tid)
    await refused(h, sv_post(h, f"/v1/tickets/{tid}/orders/{oid}/answer", STRANGER,
                             {"text": "已办理。"}), 404, "ticket-unknown")


async def test_a_unit_cannot_answer_an_order_sent_to_another_unit(supervised: Hotline) -> None:
    """The lead unit answering the order addressed to the assisting unit: 409."""
    h = supervised
    tid = await assisted_ticket(h)
    oid = await order(h, tid, unit_id=STREET)
    path = f"/v1/tickets/{tid}/orders/{oid}/answer"
    await refused(h, sv_post(h, path, SQUAD, {"text": "已办理。"}), 409, "order-not-for-unit")
    answered = await sv_post(h, path, STREET, {"text": "已配合办理。"})
    assert answered.status_code == 200, answered.text


# ---------------------------------------------------------------------------- idempotency


async def test_an_order_retried_with_its_key_is_issued_once(supervised: Hotline) -> None:
    h = supervised
    tid, _ = await two_tickets(h)
    path, key = f"/v1/tickets/{tid}/orders", {"Idempotency-Key": "order-lamp-1"}
    first = await sv_post(h, path, "supervisor", {"text": "请尽快办理。"}, **key)
    assert first.status_code == 201 and first.json()["duplicate"] is False, first.text
    again = await sv_post(h, path, "supervisor", {"text": "请尽快办理。"}, **key)
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    history = await tickets_of(h.platform).history(tid)
    issued = [s for s in history
              if isinstance(from_envelope(s.envelope), e.SupervisionOrderIssued)]
    assert len(issued) == 1
    await refused(h, sv_post(h, path, "supervisor", {"text": "另一条督办意见。"}, **key),
                  409, "idempotency-conflict")


# ---------------------------------------------------------------------------- personal data


async def test_the_board_carries_no_personal_data(supervised: Hotline) -> None:
    h = supervised
    lamp, water = await two_tickets(h)
    for who in ("supervisor", SQUAD):
        r = await sv_get(h, "/v1/supervision/tickets", who)
        assert lamp in ids(r)
        text = json.dumps(r.json(), ensure_ascii=False)
        for personal in (CALLER["phone"], CALLER["name"], CALLER["id_number"],
                         str(LOCATION["address"]), "幸福路18号", ADDRESS):
            assert personal not in text, (who, personal)


async def test_an_order_retried_on_a_later_day_is_the_same_order(supervised: Hotline) -> None:
    """Its due date is counted from the day it is issued; a retry under the same key on a
    later day is answered from the log (one order), not refused as another body."""
    h = supervised
    lamp, _ = await two_tickets(h)
    key = {"Idempotency-Key": "order-lamp-1"}
    first = await sv_post(h, f"/v1/tickets/{lamp}/orders", "supervisor",
                          {"text": "请尽快办理并回复。"}, **key)
    assert first.status_code == 201, first.text
    h.clock.advance(days=2)
    again = await sv_post(h, f"/v1/tickets/{lamp}/orders", "supervisor",
                          {"text": "请尽快办理并回复。"}, **key)
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    history = await tickets_of(h.platform).history(lamp)
    assert sum(isinstance(from_envelope(s.envelope), e.SupervisionOrderIssued)
               for s in history) == 1
