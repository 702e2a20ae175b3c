"""Supervision over HTTP on both engines: one ticket of each type dispatched on Friday
2026-09-18, before a worked Sunday (09-20), Mid-Autumn (09-25 … 09-27) and National Day
(10-01 … 10-07; Saturday 10-10 is worked). The clock moves through the holidays; blue,
orange and red fire on the right working day and never twice, cards and orders follow,
a reply stops a clock, an approved extension moves one, a supervisor's reminder is
answered, and an unanswered automatic order escalates. The board and the per-unit tally
agree with the log."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts import events as e
from contracts.events import from_envelope
from hotline.log.port import EventLog
from services.dispatch.feed import read_feed
from tests.dispatch.conftest import Hotline
from tests.supervision.conftest import new_ticket, sv_get, sv_post, tick_at
from ticketing.client import tickets_of

BJ = ZoneInfo("Asia/Shanghai")
SQUAD, CITY, STREET = "d01-urban-squad", "city-urban-mgmt", "d01-street-1"
# ticket type -> lead unit; reply limits (cn-v1): consultation 1 working day, request,
# complaint and praise 5, report and suggestion 10, an emergency repair 24 hours on the clock
TICKETS = {"consultation": CITY, "request": SQUAD, "complaint": SQUAD, "report": STREET,
           "suggestion": CITY, "praise": CITY, "emergency_repair": SQUAD}
CONTENT = {
    "consultation": "请问路灯报修后一般多久能修好?",
    "request": "幸福路18号小区门口路灯不亮, 请尽快维修。",
    "complaint": "幸福路路灯坏了一个月, 多次反映无人处理, 投诉。",
    "report": "幸福路有人私接路灯电线, 存在安全隐患, 举报。",
    "suggestion": "建议幸福路增设太阳能路灯。",
    "praise": "感谢城管及时修好了路灯。",
    "emergency_repair": "幸福路18号路灯杆倾斜, 随时可能倒下, 请紧急抢修。",
}


def bj(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BJ)


def mark(event: object) -> str | None:
    match event:
        case e.WarningRaised():
            return f"{event.level.value}"
        case e.CardIssued():
            return f"{event.colour.value}-card"
        case e.SupervisionOrderIssued():
            return f"{event.kind.value}-order"
        case e.SupervisionOrderEscalated():
            return f"order-level-{event.level}"
    return None


async def marks(h: Hotline, tid: str) -> list[str]:
    """The escalations on the ticket's stream, in order."""
    history = await tickets_of(h.platform).history(tid)
    return [m for s in history if (m := mark(from_envelope(s.envelope))) is not None]


async def test_escalation_through_two_holidays(supervised: Hotline, log: EventLog) -> None:
    h = supervised
    h.clock.now = bj(9, 18, 10, 0)  # Friday; 6 working hours left today
    ids = {kind: await new_ticket(h, f"wx-{kind}", kind, CONTENT[kind], unit)
           for kind, unit in TICKETS.items()}
    expected: dict[str, list[str]] = {kind: [] for kind in TICKETS}

    async def at(when: datetime, **fired: list[str]) -> None:
        report = await tick_at(h, when)
        for kind, steps in fired.items():
            expected[kind] += steps
        for kind, tid in ids.items():
            assert await marks(h, tid) == expected[kind], (when, kind)
        assert report.refused == {}, report

    await at(bj(9, 18, 16, 17))  # nothing yet
    await at(bj(9, 18, 16, 19), emergency_repair=["blue"])  # 1.2 of its 6 working hours left
    await at(bj(9, 18, 17, 31), consultation=["blue"])  # one working day left
    await at(bj(9, 19, 10, 1), emergency_repair=["orange", "yellow-card"])  # 24 h, on Saturday
    await at(bj(9, 20, 17, 31), consultation=["orange", "yellow-card"])  # a worked Sunday

    # the consultation is answered: its clock stops (no red on 09-28)
    h.clock.now = bj(9, 21, 10, 0)
    r = await h.post(f"/v1/tickets/{ids['consultation']}/reply", CITY,
                     {"text": "路灯报修后一般3个工作日内修复。"})
    assert r.status_code == 200, r.text
    # the request gets more time: 09-24 becomes 10-16, so its old clock never warns
    r = await h.post(f"/v1/tickets/{ids['request']}/extension-requests", SQUAD,
                     {"reason": "需更换灯杆, 节后到货",
                      "requested_due_at": "2026-10-16T17:30:00+08:00"})
    assert r.status_code == 201, r.text
    r = await h.post(f"/v1/tickets/{ids['request']}/extension-requests/"
                     f"{r.json()['request_id']}/approve", "supervisor")
    assert r.status_code == 200, r.text

    await at(bj(9, 23, 16, 19), complaint=["blue"], praise=["blue"])  # 8.2 of 41 h left
    await at(bj(9, 24, 17, 31), complaint=["orange", "yellow-card"],
             praise=["orange", "yellow-card"],
             # five working days after Saturday 09-19: 09-20 (worked Sunday), 21, 22, 23, 24
             emergency_repair=["red", "red-card", "supervision-order"])

    # the board: the emergency repair is red and first on its unit's list
    red = (await sv_get(h, "/v1/supervision/tickets", "supervisor", colour="red")).json()
    assert [row["ticket_id"] for row in red["items"]] == [ids["emergency_repair"]]
    assert red["items"][0]["colour_zh"] == "红单" and red["items"][0]["lead_unit_zh"]
    first = (await sv_get(h, "/v1/supervision/first", SQUAD)).json()
    assert [row["ticket_id"] for row in first["tickets"]] == [
        ids["emergency_repair"], ids["complaint"], ids["request"]]
    assert [o["kind"] for o in first["orders"]] == ["supervision"]
    assert first["orders"][0]["due_at"] == "2026-09-29T09:30:00Z"  # 2 working days, after
    # the unit sees the colour in its inbox and the standard phrase on its topic   # Mid-Autumn
    inbox = (await h.get("/v1/inbox", SQUAD)).json()["items"]
    assert {row["ticket_id"]: row["warning_level"] for row in inbox}[ids["complaint"]] == "orange"
    topic = await read_feed(h.platform.log, SQUAD, 0, limit=500)
    phrases = {i.envelope["data"].get("message_zh") for i in topic.items
               if i.envelope["type"].split(".")[1] == "WarningRaised"}
    assert {"处理期限将至, 请抓紧办理", "处理期限已到, 请尽快反馈",
            "已严重超期, 已启动督办, 请立即办理并回复"} <= phrases

    await at(bj(9, 26, 12, 0))  # Mid-Autumn: no clock runs
    # the emergency repair is replied and its automatic order answered: nothing more for it
    h.clock.now = bj(9, 28, 9, 0)
    tid = ids["emergency_repair"]
    r = await h.post(f"/v1/tickets/{tid}/reply", SQUAD, {"text": "已加固灯杆, 隐患消除。"})
    assert r.status_code == 200, r.text
    order_id = first["orders"][0]["order_id"]
    r = await sv_post(h, f"/v1/tickets/{tid}/orders/{order_id}/answer", SQUAD,
                      {"text": "已于9月28日加固灯杆, 隐患消除。"})
    assert r.status_code == 200, r.text

    await at(bj(9, 30, 16, 19), report=["blue"], suggestion=["blue"])  # 15.2 of 76 h left
    # a supervisor's reminder (催办) on the report: due the next working day, answered
    r = await sv_post(h, f"/v1/tickets/{ids['report']}/orders", "supervisor",
                      {"kind": "reminder", "text": "请加快核查私接电线问题。"},
                      **{"Idempotency-Key": "remind-report-1"})
    assert r.status_code == 201, r.text
    expected["report"].append("reminder-order")
    await h.settle()
    orders = (await sv_get(h, "/v1/supervision/orders", STREET)).json()["items"]
    assert [(o["kind"], o["due_at"]) for o in orders] == [("reminder", "2026-10-08T09:30:00Z")]
    r = await sv_post(h, f"/v1/tickets/{ids['report']}/orders/{orders[0]['order_id']}/answer",
                      STREET, {"text": "已安排电工节后核查。"})
    assert r.status_code == 200, r.text

    await at(bj(10, 5, 12, 0))  # National Day
    await at(bj(10, 9, 17, 31), complaint=["red", "red-card", "supervision-order"],
             praise=["red", "red-card", "supervision-order"],
             report=["orange", "yellow-card"], suggestion=["orange", "yellow-card"])
    # the orders of 10-09 were due two working days later (10-10, a worked Saturday; 10-12)
    await at(bj(10, 12, 17, 31), complaint=["order-level-1"], praise=["order-level-1"])
    await at(bj(10, 13, 14, 55), request=["blue"])  # the extended clock: 23.6 of 118 h left
    # still unanswered: up a level every two working days (10-14, 10-16), three at most
    await at(bj(10, 15, 17, 31), report=["red", "red-card", "supervision-order"],
             suggestion=["red", "red-card", "supervision-order"],
             complaint=["order-level-2"], praise=["order-level-2"])
    await at(bj(10, 16, 17, 31), request=["orange", "yellow-card"],
             complaint=["order-level-3"], praise=["order-level-3"])
    assert (await tick_at(h, bj(10, 16, 17, 45))).fired == 0  # later ticks add nothing

    await check_tally(h, ids)
    await check_order_queue(h)


async def check_order_queue(h: Hotline) -> None:
    """The supervisors' queue of orders awaiting answers agrees with the unit tally, its
    filters with its counts; a unit's queue holds its own orders only."""
    units = (await sv_get(h, "/v1/supervision/units", "supervisor")).json()["units"]
    open_, late = (sum(u[f] for u in units) for f in ("orders_open", "orders_overdue"))
    body = (await sv_get(h, "/v1/supervision/orders", "supervisor")).json()
    assert body["counts"] == {"awaiting_answer": open_, "overdue": late, "answered": 2}
    assert len(body["items"]) == open_ and all(o["answered_at"] is None for o in body["items"])
    overdue = (await sv_get(h, "/v1/supervision/orders", "supervisor", overdue="true")).json()
    assert len(overdue["items"]) == late and all(o["overdue"] for o in overdue["items"])
    reminders = (await sv_get(h, "/v1/supervision/orders", "supervisor", kind="reminder",
                              open="false")).json()
    assert [o["kind"] for o in reminders["items"]] == ["reminder"]
    assert reminders["counts"] == {"awaiting_answer": 0, "overdue": 0, "answered": 1}
    squad = (await sv_get(h, "/v1/supervision/orders", SQUAD, unit=CITY)).json()
    assert {o["unit_id"] for o in squad["items"]} == {SQUAD}
    assert squad["counts"]["awaiting_answer"] == 1


async def check_tally(h: Hotline, ids: dict[str, str]) -> None:
    """The per-unit tally equals a recount of the log."""
    recount: dict[str, Counter[str]] = {}
    for tid in ids.values():
        for stored in await tickets_of(h.platform).history(tid):
            event = from_envelope(stored.envelope)
            if isinstance(event, e.CardIssued | e.WarningRaised | e.SupervisionOrderIssued):
                assert event.unit_id is not None
                recount.setdefault(event.unit_id, Counter())[mark(event) or ""] += 1
    units = (await sv_get(h, "/v1/supervision/units", "supervisor")).json()["units"]
    tally: dict[str, Any] = {u["unit_id"]: u for u in units}
    for unit, counts in recount.items():
        row = tally[unit]
        assert row["cards"] == {"yellow": counts["yellow-card"], "red": counts["red-card"]}
        assert row["warnings"] == {lv: counts[lv] for lv in ("blue", "orange", "red")}
        assert row["orders_issued"] == counts["supervision-order"] + counts["reminder-order"]
        assert row["yellow_card_rate"] == counts["yellow-card"] / row["tickets"]
    assert tally[SQUAD]["tickets"] == 3 and tally[SQUAD]["orders_open"] == 1  # the complaint's
    assert (tally[CITY]["orders_open"], tally[CITY]["orders_overdue"],
            tally[CITY]["orders_escalated"]) == (2, 1, 1)  # praise's overdue, suggestion's not
    mine = (await sv_get(h, "/v1/supervision/units", STREET, unit=SQUAD)).json()["units"]
    assert [u["unit_id"] for u in mine] == [STREET]  # a unit reads its own row only
