"""Who may do what on the callback API, and bad input: 401 without a key, 403 for the wrong
role, forged and expired survey links, unreadable or unmatched SMS replies, a unit reading
its own satisfaction only — each an RFC 9457 problem (or an HTML page for a browser) with
nothing appended; and no phone number in clear where it does not belong.

On the embedded log only: the same code runs on either engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

import httpx
import pytest

from contracts.topics import TICKETS
from tests.callback.conftest import cb_get, cb_post, messages, replied_ticket, token, work_at
from tests.dispatch.conftest import Hotline
from tests.supervision.test_access import MONDAY, problem

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
UNIT = "d01-urban-squad"
HAPPY = {"hotline_service": "satisfied", "handling": "satisfied", "solved": True}
STAFF_ROUTES = [
    ("GET", "/v1/callback/tasks", None),
    ("GET", "/v1/callback/tasks/t-1", None),
    ("GET", "/v1/callback/redo-requests", None),
    ("GET", "/v1/callback/satisfaction", None),
    ("POST", "/v1/tickets/t-1/surveys/s-1/answer", HAPPY),
    ("POST", "/v1/tickets/t-1/surveys", {"channel": "phone"}),
    ("POST", "/v1/tickets/t-1/close", {"reason": "withdrawn"}),
    ("POST", "/v1/tickets/t-1/redo/accept", {"reason": "属实"}),
    ("POST", "/v1/tickets/t-1/redo/reject", {"reason": "不属实"}),
    ("POST", "/v1/tickets/t-1/reopen", {"reason": "再次来电"}),
    ("POST", "/v1/callback/sms-replies", {"message_id": "m", "from_phone": "13812345678",
                                          "text": "11", "received_at": MONDAY.isoformat()}),
]
WRONG_ROLES = [
    ("unit", "GET", "/v1/callback/tasks"),
    ("analyst", "POST", "/v1/tickets/t-1/close"),
    ("operator", "POST", "/v1/tickets/t-1/redo/accept"),
    ("callback", "POST", "/v1/tickets/t-1/redo/reject"),
    ("callback", "POST", "/v1/tickets/t-1/reopen"),
    ("unit", "POST", "/v1/tickets/t-1/surveys/s-1/answer"),
    ("wechat", "POST", "/v1/callback/sms-replies"),  # a channel key, but not the SMS gateway
    ("operator", "GET", "/v1/callback/satisfaction"),
]


async def send(h: Hotline, method: str, path: str, who: str | None,
               body: Mapping[str, object] | None = None) -> httpx.Response:
    assert h.callback is not None
    headers = h.auth(who) if who else {}
    return await h.callback.request(method, path, json=body, headers=headers)


async def test_every_staff_route_needs_a_key_and_the_right_role(hotline_cb: Hotline) -> None:
    h = hotline_cb
    for method, path, body in STAFF_ROUTES:
        problem(await send(h, method, path, None, body), 401, "unauthenticated")
    bodies = {path: body for _, path, body in STAFF_ROUTES}
    for who, method, path in WRONG_ROLES:
        r = await send(h, method, path, who if who != "unit" else UNIT, bodies[path])
        problem(r, 403, "forbidden")


async def test_forged_and_expired_links_append_nothing(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    tid, number = await replied_ticket(h, "wx-1")
    await work_at(h)
    good = token(messages(h, number)[0])
    before = await h.platform.log.end_offsets(TICKETS)
    forged = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    for bad in (forged, "nonsense", good[:-1], good + "x"):
        problem(await cb_get(h, f"/s/{bad}"), 404, "survey-link-invalid")
        problem(await cb_post(h, f"/v1/surveys/{bad}/answer", None, HAPPY), 404,
                "survey-link-invalid")
    page = await h.callback.get(f"/s/{forged}",  # type: ignore[union-attr]
                                headers={"Accept": "text/html"})
    assert page.status_code == 404 and "回访链接无效" in page.text

    h.clock.now = MONDAY + timedelta(hours=49)  # the WeChat survey lasts 48 h
    problem(await cb_get(h, f"/s/{good}"), 410, "survey-link-expired")
    problem(await cb_post(h, f"/v1/surveys/{good}/answer", None, HAPPY), 410,
            "survey-link-expired")
    form = await h.callback.post(  # type: ignore[union-attr]
        f"/s/{good}", content="hotline_service=satisfied&handling=satisfied",
        headers={"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 410 and "回访链接已过期" in form.text
    assert await h.platform.log.end_offsets(TICKETS) == before


async def test_the_html_form_answers_and_refuses_an_incomplete_one(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    tid, number = await replied_ticket(h, "wx-2")
    await work_at(h)
    link = f"/s/{token(messages(h, number)[0])}"
    html = {"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"}
    assert h.callback is not None
    page = await h.callback.get(link, headers={"Accept": "text/html"})
    assert "<form" in page.text and "请于 2026-11-25 10:00 前完成评价" in page.text  # 48 h
    assert page.headers["referrer-policy"] == "no-referrer"  # the URL is the credential
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    incomplete = await h.callback.post(link, content="hotline_service=satisfied", headers=html)
    assert incomplete.status_code == 422 and "请选择" in incomplete.text
    problem(await h.callback.post(link, content="handling=satisfied"), 422, "invalid-request")
    done = await h.callback.post(link, headers=html, content=(
        "hotline_service=satisfied&handling=basically_satisfied&solved=true&"
        "comment=%E8%B0%A2%E8%B0%A2"))  # 谢谢
    assert done.status_code == 200 and "感谢您的评价" in done.text and "已办结" in done.text
    again = await h.callback.post(link, headers=html, content=(
        "hotline_service=satisfied&handling=satisfied"))
    assert again.status_code == 409 and "工单已办结" in again.text
    page = await h.callback.get(link, headers={"Accept": "text/html"})
    assert "本次回访已结束" in page.text and "<form" not in page.text


async def test_sms_replies_unreadable_unmatched_ambiguous(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    first, n1 = await replied_ticket(h, "call-1", channel="phone")
    second, n2 = await replied_ticket(h, "call-2", channel="phone")
    await work_at(h)
    before = await h.platform.log.end_offsets(TICKETS)

    def sms(text: str, phone: str = "13812345678", mid: str = "in-1") -> dict[str, str]:
        return {"message_id": mid, "from_phone": phone, "text": text,
                "received_at": MONDAY.isoformat()}

    problem(await cb_post(h, "/v1/callback/sms-replies", "sms", sms("好的谢谢")), 422,
            "sms-reply-unreadable")
    problem(await cb_post(h, "/v1/callback/sms-replies", "sms", sms("11", "13900000000")),
            404, "no-open-survey")
    several = problem(await cb_post(h, "/v1/callback/sms-replies", "sms", sms("11")), 404,
                      "no-open-survey")
    assert "#XXXX" in several["detail"]
    assert await h.platform.log.end_offsets(TICKETS) == before

    code = messages(h, n2)[0]["text"].rsplit("#", 1)[1]
    r = await cb_post(h, "/v1/callback/sms-replies", "sms", sms(f"#{code} 11", mid="in-2"))
    assert r.status_code == 200, r.text
    assert r.json()["ticket_id"] == second and r.json()["follow_up"]["status"] == "closed"
    resent = await cb_post(h, "/v1/callback/sms-replies", "sms", sms(f"#{code} 11", mid="in-2"))
    assert resent.status_code == 200 and resent.json()["duplicate"]  # the gateway retried
    await h.settle()
    only = await cb_post(h, "/v1/callback/sms-replies", "sms", sms("12", mid="in-3"))
    assert only.status_code == 200 and only.json()["ticket_id"] == first  # one left open


async def test_units_read_their_own_satisfaction_and_no_number_leaks(
        hotline_cb: Hotline, caplog: pytest.LogCaptureFixture) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    caplog.set_level(logging.DEBUG)
    tid, number = await replied_ticket(h, "call-5", channel="phone")
    await work_at(h)
    await cb_post(h, "/v1/callback/sms-replies", "sms", {
        "message_id": "in-9", "from_phone": "13812345678",
        "text": "11 谢谢, 有事打我电话13812345678", "received_at": MONDAY.isoformat()})
    await h.settle()
    history = (await h.get(f"/v1/tickets/{tid}/history", "supervisor")).json()
    [answered] = [ev for ev in history if ev["type"] == "hotline.SurveyAnswered.v1"]
    assert answered["data"]["comment"] == "谢谢, 有事打我电话138****5678"  # masked in the log
    other = await cb_get(h, "/v1/callback/satisfaction", "city-water", by="overall",
                         unit=UNIT)
    assert other.status_code == 200 and other.json()["groups"] == []  # its own: none
    mine = (await cb_get(h, "/v1/callback/satisfaction", UNIT)).json()["groups"]
    assert [g["key"] for g in mine] == [UNIT] and mine[0]["answered"] == 1
    assert "13812345678" not in caplog.text
    assert h.outbox is not None and "13812345678" not in h.outbox.path.read_text()
