"""The callback staff's side: an SMS survey nobody answers becomes a phone task in the work
list (due, overdue, by unit, with the script and the number in clear for the staff only);
the staff record the answer of the call, or close as unreachable; a phone task nobody
completes closes as unanswered; a supervisor reopens a closed ticket, audited.

On the embedded log only: the worker and the lists are the same code on either engine
(the scenario runs them on both).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.callback.conftest import cb_get, cb_post, messages, replied_ticket, work_at
from tests.dispatch.conftest import BEIJING, Hotline
from tests.intake.conftest import CALLER

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
UNIT, OTHER = "d01-urban-squad", "city-water"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)


async def test_unanswered_sms_becomes_a_phone_task_then_closes(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    tid, number = await replied_ticket(h, "call-1", channel="phone")
    other, _ = await replied_ticket(h, "call-2", channel="phone", unit=OTHER)
    await work_at(h)
    assert len(messages(h)) == 2

    listed = (await cb_get(h, "/v1/callback/tasks", "callback", stage="survey_open")).json()
    assert {t["ticket_id"] for t in listed["items"]} == {tid, other}
    mine = (await cb_get(h, "/v1/callback/tasks", "callback", unit=UNIT)).json()["items"]
    assert [t["ticket_id"] for t in mine] == [tid]
    assert mine[0]["due_at"] == "2026-11-26T01:00:00Z"  # the reply + 72 h
    assert mine[0]["stage_zh"] == "回访中" and not mine[0]["overdue"]

    # 48 hours without an answer: unanswered, then a phone task for the callback staff
    await work_at(h, MONDAY + timedelta(hours=48))
    await work_at(h)
    calls = (await cb_get(h, "/v1/callback/tasks", "callback", channel="phone",
                          stage="survey_open")).json()["items"]
    assert {t["ticket_id"] for t in calls} == {tid, other}
    assert len(messages(h)) == 2  # a phone task sends nothing
    task = (await cb_get(h, f"/v1/callback/tasks/{tid}", "callback")).json()
    assert task["caller"]["phone"] == "13812345678"  # the staff must call
    assert number in task["script"][1] and "已更换灯泡" in task["script"][1]
    supervisor_view = (await cb_get(h, f"/v1/callback/tasks/{tid}", "supervisor")).json()
    assert supervisor_view["caller"]["phone"] == "13812345678"
    assert (await cb_get(h, f"/v1/callback/tasks/{tid}", "analyst")).status_code == 403

    # the call reaches the citizen: satisfied, closed at once
    r = await cb_post(h, f"/v1/tickets/{tid}/surveys/{task['survey_id']}/answer", "callback",
                      {"hotline_service": "basically_satisfied", "handling": "satisfied",
                       "solved": True})
    assert r.status_code == 200, r.text
    assert r.json()["follow_up"]["status"] == "closed"

    # the other is never reached: 72 h after the reply it is overdue, then closes unanswered
    h.clock.now = MONDAY + timedelta(hours=72, minutes=30)
    await h.settle()
    late = (await cb_get(h, "/v1/callback/tasks", "callback", overdue=True)).json()
    assert [t["ticket_id"] for t in late["items"]] == [other]
    assert late["counts"]["survey_open"] == {"waiting": 1, "overdue": 1, "stage_zh": "回访中"}
    await work_at(h)  # the phone task expired at 48 + 24 h: unanswered
    await work_at(h)  # then closed, as the policy says
    closed = (await h.get(f"/v1/tickets/{other}", "supervisor")).json()["ticket"]
    assert (closed["status"], closed["close_reason"]) == ("closed", "survey_unanswered")
    assert (await cb_get(h, "/v1/callback/tasks", "callback")).json()["items"] == []

    # closed is read-only: answering, closing again or replying are refused; a supervisor
    # reopens, and the reopening names who and why
    again = await cb_post(h, f"/v1/tickets/{other}/close", "callback",
                          {"reason": "withdrawn"})
    assert again.status_code == 409 and again.json()["rule"] == "ticket-closed"
    assert (await cb_post(h, f"/v1/tickets/{other}/reopen", "callback",
                          {"reason": "市民再次来电"})).status_code == 403
    r = await cb_post(h, f"/v1/tickets/{other}/reopen", "supervisor",
                      {"reason": "市民再次来电反映未解决"})
    assert r.status_code == 200 and r.json()["status"] == "registered"
    history = (await h.get(f"/v1/tickets/{other}/history", "supervisor")).json()
    reopened = history[-1]
    assert reopened["type"] == "hotline.TicketReopened.v1"
    assert reopened["actor"] == "supervisor:supervisor-01"
    assert reopened["data"] == {"reopened_by": "supervisor-01", "reason": "市民再次来电反映未解决"}


async def test_staff_close_an_unreachable_citizen(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    tid, _ = await replied_ticket(h, "call-3", channel="phone")
    await work_at(h)
    manual = await cb_post(h, f"/v1/tickets/{tid}/close", "callback", {"reason": "solved"})
    assert manual.status_code == 409 and manual.json()["rule"] == "survey-open"
    by_survey = await cb_post(h, f"/v1/tickets/{tid}/close", "callback",
                              {"reason": "unsatisfied_after_redo"})
    assert by_survey.status_code == 422
    assert by_survey.json()["type"].endswith("/close-reason-not-manual")
    r = await cb_post(h, f"/v1/tickets/{tid}/close", "callback",
                      {"reason": "citizen_unreachable", "note": "三次致电无人接听"})
    assert r.status_code == 200, r.text
    assert [e["type"] for e in r.json()["events"]] == ["hotline.SurveyUnanswered.v1",
                                                       "hotline.TicketClosed.v1"]


async def test_staff_open_a_phone_survey_after_the_first_is_answered(
        hotline_cb: Hotline) -> None:
    """A citizen who answered by link but wants to talk: a phone survey on top is refused
    while one is open, accepted once it is answered and the ticket still open (a redo under
    review is not: the reviewer decides first)."""
    h = hotline_cb
    h.clock.now = MONDAY
    tid, number = await replied_ticket(h, "wx-9")
    await work_at(h)
    r = await cb_post(h, f"/v1/tickets/{tid}/surveys", "callback", {"channel": "phone"})
    assert r.status_code == 409 and r.json()["rule"] == "survey-open"
    [sent] = messages(h, number)
    link = sent["link"].rsplit("/s/", 1)[1]
    await cb_post(h, f"/v1/surveys/{link}/answer", None, {
        "hotline_service": "satisfied", "handling": "dissatisfied_with_result",
        "comment": "灯还是不亮"})
    r = await cb_post(h, f"/v1/tickets/{tid}/surveys", "callback", {"channel": "phone"})
    assert r.status_code == 409 and r.json()["rule"] == "redo-pending"


async def test_a_wechat_survey_goes_to_the_senders_openid(hotline_cb: Hotline) -> None:
    """The contact names its WeChat sender (sealed with the caller); the survey message is
    addressed to them, not to the message id, and the outbox file shows it masked."""
    h = hotline_cb
    caller = {**CALLER, "channel_user": "oWx3f8Kq2Lm9Zp"}
    tid, number = await replied_ticket(h, "wx-openid-1", caller=caller)
    await work_at(h)
    [sent] = messages(h, number)
    assert sent["channel"] == "wechat" and sent["to"] == "oWx3****"
    for role, shown in (("operator", "oWx3f8Kq2Lm9Zp"), ("analyst", "****")):
        r = await h.get(f"/v1/tickets/{tid}", role)
        assert r.json()["contacts"][0]["caller"]["channel_user"] == shown, role
