"""The loop's last leg over HTTP, on both engines (issue 5): reply → survey sent →
dissatisfied with a reason → review accepted → redo with a new deadline → reply → survey →
satisfied → closed; a second ticket, surveyed by SMS reply codes, dissatisfied again after
its redo and closed unsatisfied (counted against the unit); a third whose redo the reviewer
rejects; an anonymous caller skipped. The replayed history shows each step, and the
satisfaction figures equal a recount of the log."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

from contracts.topics import TICKETS
from hotline.log.port import EventLog
from tests.callback.conftest import (
    cb_get,
    cb_post,
    messages,
    replied_ticket,
    reply,
    token,
    work_at,
)
from tests.callback.recount import recount
from tests.conftest import settings_env
from tests.dispatch.conftest import BEIJING, Hotline

UNIT = "d01-urban-squad"


async def test_the_last_leg_over_http(hotline_cb: Hotline, log: EventLog) -> None:
    h = hotline_cb
    h.clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)  # a Monday

    # --- ticket A: WeChat, dissatisfied with the result, redo accepted, then satisfied
    a, a_no = await replied_ticket(h, "wx-a-1")
    report = await work_at(h)
    assert report.fired == 1
    [sent] = messages(h, a_no)
    assert sent["channel"] == "wechat" and sent["to"] == "wx-a-1"  # back into the chat
    page = await cb_get(h, f"/s/{token(sent)}")
    assert page.status_code == 200
    assert page.json()["reply_text"] == "已更换灯泡, 路灯恢复照明。"
    html_page = await h.callback.get(f"/s/{token(sent)}",  # type: ignore[union-attr]
                                     headers={"Accept": "text/html"})
    assert html_page.status_code == 200 and "对事项办理效果不满意" in html_page.text
    assert a_no in html_page.text

    h.clock.advance(hours=3)
    unhappy = {"hotline_service": "satisfied", "handling": "dissatisfied_with_result",
               "comment": "路灯修好两天又不亮了", "solved": False}
    r = await cb_post(h, f"/v1/surveys/{token(sent)}/answer", None, unhappy)
    assert r.status_code == 200, r.text
    assert r.json()["follow_up"]["events"][0]["type"] == "hotline.RedoRequested.v1"
    ends = await log.end_offsets(TICKETS)
    again = await cb_post(h, f"/v1/surveys/{token(sent)}/answer", None, unhappy)
    assert again.status_code == 200 and again.json()["duplicate"]  # a resubmitted form
    other = await cb_post(h, f"/v1/surveys/{token(sent)}/answer", None,
                          {**unhappy, "handling": "satisfied"})
    assert other.status_code == 409 and other.json()["rule"] == "survey-not-open"
    assert await log.end_offsets(TICKETS) == ends  # neither the resubmission nor the other
    await h.settle()

    queue = await cb_get(h, "/v1/callback/redo-requests", "supervisor")
    [waiting] = queue.json()["items"]
    assert waiting["ticket_id"] == a and waiting["redo_reason"] == "路灯修好两天又不亮了"
    denied = await cb_post(h, f"/v1/tickets/{a}/redo/accept", "callback", {"reason": "属实"})
    assert denied.status_code == 403
    accepted_at = h.clock.now
    r = await cb_post(h, f"/v1/tickets/{a}/redo/accept", "supervisor",
                      {"reason": "市民反映属实, 同意重办"})
    assert r.status_code == 200, r.text
    assert [e["type"] for e in r.json()["events"]] == ["hotline.RedoAccepted.v1",
                                                       "hotline.DeadlinesSet.v1"]
    assert r.json()["status"] == "acknowledged"
    await h.settle()
    detail = (await h.get(f"/v1/tickets/{a}", UNIT)).json()["ticket"]
    assert detail["status"] == "acknowledged" and detail["lead_unit"] == UNIT  # in its inbox
    # the redo's clock: 5 working days (policy), to the end of the working day
    redo_due = datetime.fromisoformat(detail["reply_due_at"])
    assert redo_due == datetime(2026, 11, 30, 17, 30, tzinfo=BEIJING)

    h.clock.advance(days=1)
    await reply(h, a, UNIT, "已更换整套灯具并检修线路, 连续三晚巡查正常。")
    await work_at(h)
    first, second = messages(h, a_no)
    assert first["message_id"] != second["message_id"]  # round 2 is another survey
    r = await cb_post(h, f"/v1/surveys/{token(second)}/answer", None,
                      {"hotline_service": "satisfied", "handling": "satisfied",
                       "solved": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    late = await cb_post(h, f"/v1/surveys/{token(first)}/answer", None,
                         {**unhappy, "comment": "再评一次"})
    assert late.status_code == 409 and late.json()["rule"] == "ticket-closed"

    # --- ticket B: by phone, SMS reply codes, dissatisfied again after the redo
    b, b_no = await replied_ticket(h, "call-b-1", channel="phone")
    await work_at(h)
    [sms] = messages(h, b_no)
    assert sms["channel"] == "sms" and sms["to"] == "138****5678"  # never in clear
    assert "13812345678" not in h.outbox.path.read_text()  # type: ignore[union-attr]
    r = await cb_post(h, "/v1/callback/sms-replies", "sms", {
        "message_id": "sms-in-1", "from_phone": "13812345678",
        "text": "14 还是没修好, 晚上依然很黑", "received_at": h.clock.now.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["follow_up"]["events"][0]["type"] == "hotline.RedoRequested.v1"
    await cb_post(h, f"/v1/tickets/{b}/redo/accept", "supervisor", {"reason": "同意重办"})
    await reply(h, b, UNIT, "已重新维修。")
    await work_at(h)
    second_sms = messages(h, b_no)[-1]
    r = await cb_post(h, "/v1/callback/sms-replies", "sms", {
        "message_id": "sms-in-2", "from_phone": "+86 138 1234 5678",
        "text": "13 处理人员态度敷衍", "received_at": h.clock.now.isoformat()})
    assert r.status_code == 200, r.text
    assert second_sms["message_id"] != sms["message_id"]
    closed = r.json()["follow_up"]
    assert closed["status"] == "closed"
    assert closed["events"][0]["type"] == "hotline.TicketClosed.v1"

    # --- ticket C: the reviewer rejects the redo; closed with the reviewer's reason
    c, c_no = await replied_ticket(h, "wx-c-1", ticket_type="complaint")
    await work_at(h)
    [c_msg] = messages(h, c_no)
    await cb_post(h, f"/v1/surveys/{token(c_msg)}/answer", None,
                  {"hotline_service": "dissatisfied_with_policy",
                   "handling": "dissatisfied_with_result", "comment": "要求拆除全部路灯"})
    r = await cb_post(h, f"/v1/tickets/{c}/redo/reject", "supervisor",
                      {"reason": "诉求超出职责范围, 已按规定答复"})
    assert r.status_code == 200 and r.json()["status"] == "closed"

    # --- ticket D: an anonymous caller without a number gets no survey
    d, d_no = await replied_ticket(h, "call-d-1", channel="phone", caller=None)
    await work_at(h)
    await work_at(h)
    d_view = (await h.get(f"/v1/tickets/{d}", "supervisor")).json()["ticket"]
    assert d_view["status"] == "closed"
    assert not messages(h, d_no)

    # --- satisfaction from the board equals a recount of the log
    r = await cb_get(h, "/v1/callback/satisfaction", "analyst", by="unit")
    assert r.status_code == 200, r.text
    [squad] = [g for g in r.json()["groups"] if g["key"] == UNIT]
    expected = (await recount(h.platform, [a, b, c, d]))[UNIT]
    assert {k: squad[k] for k in expected} == expected
    assert squad["answered"] == 5 and squad["skipped"] == 1
    assert squad["handling"]["dissatisfied_with_result"] == 3
    assert squad["closed_unsatisfied"] == 1 and squad["redone"] == 2
    assert squad["hotline_service_satisfied_rate"] == 0.8
    mine = await cb_get(h, "/v1/callback/satisfaction", UNIT, by="overall")
    assert [g["key"] for g in mine.json()["groups"]] == [UNIT]

    # --- the replayed history shows every step with its actor
    env = {**os.environ, "HOTLINE_DATA_DIR": str(h.platform.settings.data_dir),
           **settings_env(log)}
    out = subprocess.run([sys.executable, "-m", "hotline", "replay", f"ticket-{a}"],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    steps = [(line.split()[0], line) for line in out.splitlines() if line.split()
             and line.split()[0] in {"TicketReplied", "SurveyOpened", "SurveyAnswered",
                                     "RedoRequested", "RedoAccepted", "TicketClosed"}]
    assert [s for s, _ in steps] == [
        "TicketReplied", "SurveyOpened", "SurveyAnswered", "RedoRequested", "RedoAccepted",
        "TicketReplied", "SurveyOpened", "SurveyAnswered", "TicketClosed"]
    assert "citizen:wechat" in steps[2][1] and "supervisor:supervisor-01" in steps[4][1]
    assert "system:callback" in steps[1][1] and "system:callback" in steps[3][1]
    assert (accepted_at + timedelta(0)).strftime("%Y-%m-%d %H:%M") in steps[4][1]
