"""The operators' contact queue over HTTP, on both engines, with people signed in: claims
with one winner, registering from the queue, dismissing, expiry, and the figures."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from tests.dispatch.conftest import LOCATION
from tests.people.conftest import People, Person

SHANGHAI = ZoneInfo("Asia/Shanghai")

REGISTER = {"ticket_type": "request", "summary": "路灯不亮",
            "category": {"level1": "urban-management", "level2": "street-lights"}}


async def queue(person: Person) -> dict[str, Any]:
    r = await person.on["intake"].get("/v1/contact-queue")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def two_operators(people: People) -> tuple[Person, Person]:
    await people.account("wang.li", ["operator"])
    await people.account("li.na", ["operator"])
    return await people.sign_in("wang.li"), await people.sign_in("li.na")


async def test_one_claim_wins_and_the_holder_registers_from_the_queue(people: People) -> None:
    wang, li = await two_operators(people)
    cid = await people.h.contact("wx-queue-1", location=LOCATION)
    await people.h.settle()
    [waiting] = (await queue(wang))["items"]
    assert (waiting["contact_id"], waiting["channel_zh"], waiting["holder"]) == (
        cid, "微信", None)
    assert waiting["target_seconds"] == 60 and waiting["late"]  # 45 minutes old
    r = await wang.post("intake", f"/v1/contacts/{cid}/claim")
    assert r.status_code == 200 and r.json()["operator"] == "operator:wang.li", r.text
    r = await li.post("intake", f"/v1/contacts/{cid}/claim")
    assert r.status_code == 409 and r.json()["rule"] == "contact-claimed", r.text
    await people.h.settle()
    [held] = (await queue(li))["items"]
    assert held["holder"] == "operator:wang.li" and not held["held_by_me"]
    r = await li.post("dispatch", "/v1/tickets", {**REGISTER, "contact_ids": [cid]})
    assert r.status_code == 409 and r.json()["rule"] == "contact-claimed", r.text
    r = await wang.post("dispatch", "/v1/tickets", {**REGISTER, "contact_ids": [cid]})
    assert r.status_code == 201, r.text
    await people.h.settle()
    assert (await queue(wang))["items"] == []
    r = await people.h.intake.get("/v1/contact-queue/operators",
                                  headers=people.h.auth("supervisor"))
    [figures] = r.json()["operators"]
    assert (figures["operator"], figures["handled"], figures["registered"]) == (
        "operator:wang.li", 1, 1)
    assert figures["mean_claim_s"] is not None and figures["mean_outcome_s"] > 0
    today = people.h.clock().astimezone(SHANGHAI).date().isoformat()
    assert (figures["by_day"], figures["per_day"]) == ({today: 1}, 1.0)


async def test_a_dismissed_contact_becomes_no_ticket(people: People) -> None:
    wang, li = await two_operators(people)
    cid = await people.h.contact("wx-queue-2", location=LOCATION, content="测试消息, 请忽略")
    r = await li.post("intake", f"/v1/contacts/{cid}/dismiss", {"reason": "test"})
    assert r.status_code == 409 and r.json()["rule"] == "not-holder"  # claim first
    assert (await li.post("intake", f"/v1/contacts/{cid}/claim")).status_code == 200
    r = await li.post("intake", f"/v1/contacts/{cid}/dismiss", {"reason": "test",
                                                                 "note": "渠道联调测试"})
    assert r.status_code == 200 and r.json()["reason"] == "test", r.text
    r = await wang.post("dispatch", "/v1/tickets", {**REGISTER, "contact_ids": [cid]})
    assert r.status_code == 409 and r.json()["rule"] == "contact-dismissed", r.text
    r = await wang.post("intake", f"/v1/contacts/{cid}/claim")
    assert r.status_code == 409 and r.json()["rule"] == "contact-dismissed"
    await people.h.settle()
    assert (await queue(wang))["items"] == []


async def test_a_claim_is_released_or_expires(people: People) -> None:
    wang, li = await two_operators(people)
    cid = await people.h.contact("wx-queue-3", location=LOCATION)
    assert (await wang.post("intake", f"/v1/contacts/{cid}/claim")).status_code == 200
    assert (await li.post("intake", f"/v1/contacts/{cid}/release")).status_code == 409
    assert (await wang.post("intake", f"/v1/contacts/{cid}/release")).status_code == 200
    assert (await li.post("intake", f"/v1/contacts/{cid}/claim")).status_code == 200
    people.h.clock.advance(minutes=11)  # li left it: the claim lapses
    assert (await wang.post("intake", f"/v1/contacts/{cid}/claim")).status_code == 200


async def test_only_operators_and_supervisors_work_the_queue(people: People) -> None:
    cid = await people.h.contact("wx-queue-4", location=LOCATION)
    for who in ("auditor", "analyst", "callback", "d01-urban-squad", "wechat"):
        h = people.h.auth(who)
        assert (await people.h.intake.get("/v1/contact-queue", headers=h)).status_code == 403
        r = await people.h.intake.post(f"/v1/contacts/{cid}/claim", headers=h)
        assert r.status_code == 403, who
    r = await people.h.intake.get("/v1/contact-queue/operators",
                                  headers=people.h.auth("operator"))
    assert r.status_code == 403  # the figures are the supervisors'
