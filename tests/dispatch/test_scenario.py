"""The middle of the loop over HTTP, on both engines: 群众 → 12345 → 承办单位 → 12345.

contacts → register → dispatch with an assisting unit → the unit's inbox (HTTP and its
Kafka-style topic) → return → reassign → acknowledge → extension requested and approved
→ reply; then `hotline replay` shows every step with its actor and time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from contracts.topics import dispatch_topic
from hotline.log.port import EventLog
from services.dispatch.feed import read_feed
from tests.conftest import settings_env
from tests.dispatch.conftest import LOCATION, Hotline

LAMP = "东湖区幸福路18号小区门口路灯坏了一个多月, 晚上很黑, 老人出行不便, 请尽快维修。"


async def register_lamp(h: Hotline, *contact_ids: str, **fields: Any) -> dict[str, Any]:
    body = {"contact_ids": list(contact_ids), "ticket_type": "emergency_repair",
            "category": {"level1": "urban-management", "level2": "street-lights"},
            "urgency": "normal", "summary": "幸福路18号小区门口路灯不亮, 市民要求尽快维修",
            **fields}
    r = await h.post("/v1/tickets", "operator", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].split(".")[1] for e in events]


async def test_the_middle_loop_over_http(hotline: Hotline, log: EventLog) -> None:
    h = hotline
    first = await h.contact("wx-lamp-1", location=LOCATION, content=LAMP)
    second = await h.contact("wx-lamp-2", location=LOCATION,
                             content="幸福路18号门口的路灯还是不亮, 上周就反映过了。")
    ticket = await register_lamp(h, first)
    tid = ticket["ticket_id"]
    assert ticket["ticket_number"].startswith("12345-20261123-")
    assert ticket["status"] == "registered" and ticket["status_zh"] == "待派单"

    # the repeat contact is proposed as a duplicate of the open ticket, and merged into it
    await h.settle()
    dup = (await h.get(f"/v1/contacts/{second}/duplicates", "operator")).json()
    assert dup[0]["ticket_id"] == tid and "同一来电人 (same caller)" in dup[0]["reasons"]
    merged = await h.post(f"/v1/tickets/{tid}/contacts", "operator", {"contact_id": second})
    assert merged.status_code == 200, merged.text

    # the catalogue suggests the district's level-3 station for an emergency repair
    suggestions = (await h.get(f"/v1/tickets/{tid}/suggestions", "operator")).json()
    assert suggestions[0]["unit_id"] == "d01-urban-squad"
    assert suggestions[0]["source"] == "catalogue" and "派单目录" in suggestions[0]["reason_zh"]

    # dispatch: wrong unit first (the street office), with the urban-management squad assisting
    h.clock.advance(minutes=5)
    r = await h.post(f"/v1/tickets/{tid}/dispatch", "operator", {
        "lead_unit": "d01-street-1", "assisting_units": ["d01-urban-squad"],
        "note": "紧急, 请优先处理", "urgent": True})
    assert r.status_code == 200, r.text
    assert names(r.json()["events"]) == ["TicketDispatched", "DeadlinesSet"]

    # the unit's inbox, over HTTP, and its own dispatch topic
    await h.settle()
    inbox = (await h.get("/v1/inbox", "d01-street-1")).json()
    assert [row["ticket_id"] for row in inbox["items"]] == [tid]
    assert inbox["items"][0]["role"] == "lead" and inbox["items"][0]["urgent"] is True
    assisting = (await h.get("/v1/inbox", "d01-urban-squad")).json()
    assert assisting["items"][0]["role"] == "assisting"
    feed = (await h.get("/v1/inbox/feed", "d01-street-1")).json()
    assert names([i["envelope"] for i in feed["items"]]) == [
        "TicketRegistered", "TicketDispatched", "DeadlinesSet"]
    topic = await read_feed(h.platform.log, "d01-street-1", 0)
    assert [i.envelope["id"] for i in topic.items] == [i["envelope"]["id"] for i in feed["items"]]
    assert (await h.get(f"/v1/tickets/{tid}", "city-water")).status_code == 404

    # the street office returns it: not theirs
    h.clock.advance(minutes=30)
    r = await h.post(f"/v1/tickets/{tid}/return", "d01-street-1",
                     {"reason": "路灯维护属城管执法中队职责, 非街道办事项"})
    assert r.status_code == 200 and r.json()["status"] == "returned"

    # the hotline reassigns it to the squad (lead now), the squad acknowledges
    h.clock.advance(minutes=10)
    r = await h.post(f"/v1/tickets/{tid}/reassign", "operator",
                     {"lead_unit": "d01-urban-squad", "note": "请城管中队主办"})
    assert r.status_code == 200 and r.json()["status"] == "dispatched", r.text
    late = await h.post(f"/v1/tickets/{tid}/progress", "d01-street-1", {"note": "已转交"})
    assert late.status_code == 409 and late.json()["rule"] == "reassigned-away"
    h.clock.advance(minutes=20)
    r = await h.post(f"/v1/tickets/{tid}/acknowledge", "d01-urban-squad")
    assert r.status_code == 200 and r.json()["status"] == "acknowledged", r.text

    # extension: requested by the squad, approved by a supervisor
    await h.post(f"/v1/tickets/{tid}/progress", "d01-urban-squad",
                 {"note": "已到现场查看, 需更换灯杆线缆", "public": True})
    h.clock.advance(hours=2)
    wanted = h.clock.now.replace(day=30).isoformat()
    r = await h.post(f"/v1/tickets/{tid}/extension-requests", "d01-urban-squad",
                     {"reason": "需采购专用线缆, 预计一周到货", "requested_due_at": wanted})
    assert r.status_code == 201, r.text
    request_id = r.json()["request_id"]
    denied = await h.post(f"/v1/tickets/{tid}/extension-requests/{request_id}/approve",
                          "operator")
    assert denied.status_code == 403
    h.clock.advance(hours=1)
    r = await h.post(f"/v1/tickets/{tid}/extension-requests/{request_id}/approve", "supervisor")
    assert r.status_code == 200, r.text

    # the reply closes the unit's part
    h.clock.advance(days=3)
    r = await h.post(f"/v1/tickets/{tid}/reply", "d01-urban-squad", {
        "text": "已更换线缆并恢复照明, 联系电话13812345678的市民已确认。", "solved": True,
        "attachments": [{"uri": "s3://attachments/lamp-fixed.jpg", "media_type": "image/jpeg",
                         "filename": "修复后.jpg"}]})
    assert r.status_code == 200 and r.json()["status"] == "replied", r.text

    await h.settle()
    detail = (await h.get(f"/v1/tickets/{tid}", "supervisor")).json()
    assert detail["ticket"]["status"] == "replied" and detail["ticket"]["lead_unit"] == (
        "d01-urban-squad")
    assert detail["contacts"][0]["caller"]["phone"] == "13812345678"  # supervisors need it
    unit_view = (await h.get(f"/v1/tickets/{tid}", "d01-urban-squad")).json()
    assert unit_view["contacts"][0]["caller"]["phone"] == "138****5678"
    assert "13812345678" not in json.dumps(unit_view, ensure_ascii=False)  # nor in its notes
    assert "13812345678" in json.dumps(detail, ensure_ascii=False)
    analyst = (await h.get(f"/v1/tickets/{tid}/history", "analyst")).json()
    assert "138****5678" in json.dumps(analyst, ensure_ascii=False)
    assert "13812345678" not in json.dumps(analyst, ensure_ascii=False)
    history = (await h.get(f"/v1/tickets/{tid}/history", "auditor")).json()
    assert names(history) == [
        "TicketRegistered", "ContactMerged", "TicketDispatched", "DeadlinesSet",
        "TicketReturned", "TicketReassigned", "DeadlinesSet", "TicketAcknowledged",
        "ProgressNoted", "ExtensionRequested", "ExtensionApproved", "TicketReplied"]

    # the citizen follows it by number and the last four digits of the phone
    progress = await h.dispatch.post("/v1/public/progress", json={
        "ticket_number": ticket["ticket_number"], "phone_last4": "5678"})
    assert progress.status_code == 200, progress.text
    shown = progress.json()
    assert shown["status_zh"] == "已反馈待回访" and shown["unit_zh"] == "东湖区城管执法中队"
    texts = " ".join(s["text"] or "" for s in shown["steps"])
    assert "已到现场查看" in texts and "13812345678" not in texts and "138****5678" in texts
    assert "非街道办事项" not in texts  # the return is internal
    wrong = await h.dispatch.post("/v1/public/progress", json={
        "ticket_number": ticket["ticket_number"], "phone_last4": "0000"})
    assert wrong.status_code == 404

    # the replayed history shows every step with actor and time
    env = {**os.environ, "HOTLINE_DATA_DIR": str(h.platform.settings.data_dir),
           **settings_env(log)}
    out = subprocess.run([sys.executable, "-m", "hotline", "replay", f"ticket-{tid}"],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    lines = [line for line in out.splitlines() if line.split() and line.split()[0] in {
        "TicketRegistered", "TicketDispatched", "TicketReturned", "TicketReassigned",
        "TicketAcknowledged", "ExtensionRequested", "ExtensionApproved", "TicketReplied"}]
    assert len(lines) == 8, out
    assert "operator:operator-01" in lines[0] and "2026-11-23 10:00:00" in lines[0]
    assert "unit:d01-street-1" in lines[2] and "unit:d01-urban-squad" in lines[4]
    assert "supervisor:supervisor-01" in lines[6]
    assert dispatch_topic("d01-urban-squad") in {t.name for t in await log.topics()}
