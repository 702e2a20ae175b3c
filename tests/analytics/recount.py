"""Every KPI counted straight from the tickets' events, without the fact projection: what
the figures of the analytics API must equal. Written from the KPI definitions (their
`definition_zh`), ticket by ticket over the stored history; the call KPIs
(`recount_calls`) call by call over the `CallRecorded` events stored on hotline.calls."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from contracts import events as e
from contracts.envelope import decode
from contracts.events import from_envelope
from contracts.topics import CALLS
from contracts.vocabulary import DeadlineKind
from hotline.log.port import EventLog
from reference.calendar import MissingYear, WorkingCalendar
from ticketing.client import TicketCommands

GOOD = ("satisfied", "basically_satisfied")


def _work_s(cal: WorkingCalendar, a: datetime, b: datetime) -> int | None:
    try:
        return int(cal.working_time_between(a, b).total_seconds())
    except MissingYear:
        return None


def _ticket(history: list[tuple[datetime, Any]], cal: WorkingCalendar) -> dict[str, Any]:
    """What the KPIs need of one ticket, read off its events in order."""
    t: dict[str, Any] = {"direct": False, "merged": False, "dispatched_at": None,
                         "returned": False, "extended": False, "redone": False,
                         "ack": None, "reply": None, "ack_due": None, "reply_due": None,
                         "answer": None, "after_redo": None, "ack_work": None,
                         "reply_work": None, "type": None, "contacts": 0}
    for at, ev in history:
        match ev:
            case e.TicketRegistered():
                t["type"], t["contacts"] = ev.ticket_type.value, len(ev.contact_ids)
            case e.TicketClassified():
                t["type"] = ev.ticket_type.value
            case e.ContactMerged():
                t["contacts"] += 1
            case e.TicketAnsweredDirectly():
                t["direct"] = True
            case e.TicketMergedInto():
                t["merged"] = True
            case e.TicketDispatched() | e.TicketReassigned() if t["dispatched_at"] is None:
                t["dispatched_at"] = at
            case e.TicketReturned():
                t["returned"] = True
            case e.ExtensionApproved():
                t["extended"] = True
                if t["reply"] is None:
                    t["reply_due"] = ev.new_due_at
            case e.DeadlinesSet():
                for d in ev.deadlines:
                    if d.kind is DeadlineKind.ACKNOWLEDGE and t["ack"] is None:
                        t["ack_due"] = d.due_at
                    if d.kind is DeadlineKind.REPLY and t["reply"] is None:
                        t["reply_due"] = d.due_at
            case e.TicketAcknowledged() if t["ack"] is None:
                t["ack"] = (at, None if t["ack_due"] is None else at <= t["ack_due"])
                t["ack_work"] = _work_s(cal, t["dispatched_at"], at)
            case e.TicketReplied() if t["reply"] is None:
                t["reply"] = (at, None if t["reply_due"] is None else at <= t["reply_due"])
                t["reply_work"] = _work_s(cal, t["dispatched_at"], at)
            case e.RedoAccepted():
                t["redone"] = True
            case e.SurveyAnswered():
                t["answer"] = ev
                if t["redone"] and ev.handling is not None:
                    t["after_redo"] = ev.handling.value
    return t


def _share(pairs: Iterable[tuple[bool, bool]]) -> tuple[int, int]:
    """(numerator, denominator) over (in numerator, in denominator) pairs."""
    num = den = 0
    for top, bottom in pairs:
        den += bottom
        num += top and bottom
    return num, den


async def recount(desk: TicketCommands, ticket_ids: Iterable[str],
                  cal: WorkingCalendar) -> dict[str, tuple[float, int | None]]:
    """Each KPI's (numerator, denominator) over these tickets."""
    ts = []
    for tid in ticket_ids:
        stored = await desk.history(tid)
        ts.append(_ticket([(s.envelope.time, from_envelope(s.envelope)) for s in stored], cal))
    sent = [t for t in ts if t["dispatched_at"] is not None]
    kept = [t for t in ts if not t["merged"]]
    answers = [t["answer"] for t in ts if t["answer"] is not None]
    handled = [a for a in answers if a.handling is not None]
    acks = [t["ack"][1] for t in ts if t["ack"] is not None and t["ack"][1] is not None]
    replies = [t["reply"][1] for t in ts if t["reply"] is not None and t["reply"][1] is not None]
    after = [t["after_redo"] for t in ts if t["after_redo"] is not None]
    rated = [(a.handling.value if a.handling else a.hotline_service.value) for a in answers]
    ack_w = [t["ack_work"] for t in ts if t["ack_work"] is not None]
    reply_w = [t["reply_work"] for t in ts if t["reply_work"] is not None]
    complaints = [t for t in kept if t["type"] == "complaint"]
    return {
        "tickets": (len(ts), None),
        "direct_answer_rate": (sum(t["direct"] for t in kept), len(kept)),
        "dispatch_accuracy": (sum(not t["returned"] for t in sent), len(sent)),
        "on_time_ack_rate": (sum(acks), len(acks)),
        "on_time_reply_rate": (sum(replies), len(replies)),
        "extension_rate": (sum(t["extended"] for t in sent), len(sent)),
        "return_rate": (sum(t["returned"] for t in sent), len(sent)),
        "redo_rate": _share((t["redone"], t["reply"] is not None) for t in ts),
        "satisfaction_handling": (sum(a.handling.value in GOOD for a in handled), len(handled)),
        "satisfaction_hotline": (sum(a.hotline_service.value in GOOD for a in answers),
                                 len(answers)),
        "response_rate": (sum(t["direct"] or (t["ack"] is not None and t["ack"][1] is not False)
                              for t in kept), len(kept)),
        "resolution_rate": (sum(a.solved is True for a in answers),
                            sum(a.solved is not None for a in answers)),
        "satisfaction_rate": (sum(r in GOOD for r in rated), len(rated)),
        "unsatisfied_after_redo": (sum(h not in GOOD for h in after), len(after)),
        "repeat_complaint_rate": (sum(t["contacts"] > 1 for t in complaints), len(complaints)),
        "avg_reply_work_hours": (sum(reply_w) / 3600, len(reply_w)),
        "avg_ack_work_hours": (sum(ack_w) / 3600, len(ack_w)),
    }


async def stored_calls(log: EventLog) -> list[Any]:
    """Every `CallRecorded` on hotline.calls, as stored (every partition, from offset 0)."""
    found = []
    for partition, end in (await log.end_offsets(CALLS)).items():
        offset = 0
        while offset < end:
            records = await log.read(CALLS, partition, offset, 1000)
            if not records:
                break
            for record in records:
                ev = from_envelope(decode(record.value))
                if isinstance(ev, e.CallRecorded):
                    found.append(ev)
            offset = records[-1].offset + 1
    return found


def recount_calls(calls: Iterable[Any], since: datetime,
                  until: datetime) -> dict[str, tuple[float, int | None]]:
    """Each call KPI's (numerator, denominator) over the calls offered in [since, until),
    read off the call records as the definitions say."""
    offered = [c for c in calls if since <= c.offered_at < until]
    answered = [c for c in offered if c.outcome.value == "answered"]
    return {
        "calls_offered": (len(offered), None),
        "connect_rate": (len(answered), len(offered)),
        "answered_15s_rate": (sum(c.wait_seconds <= 15 for c in answered), len(answered)),
        "abandon_rate": (sum(c.outcome.value == "abandoned" for c in offered), len(offered)),
        "avg_wait_seconds": (sum(c.wait_seconds for c in answered), len(answered)),
    }
