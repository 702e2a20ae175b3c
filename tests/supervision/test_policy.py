"""The deadline policy as data, counted on the working-day calendar."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.vocabulary import DeadlineKind, TicketType, Urgency
from reference.calendar import MissingYear, WorkingCalendar
from reference.policy import DATA, DeadlinePolicy, load_policy

BJ = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar.load("cn")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=BJ)


def test_a_request_before_spring_festival_is_due_after_it() -> None:
    """Friday 2026-02-13: 02-14 (Sat) is an adjusted working day, 02-15…02-23 are off."""
    ack, reply = load_policy().at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False,
                                           at(2026, 2, 13, 16, 0), CAL)
    assert (ack.kind, reply.kind) == (DeadlineKind.ACKNOWLEDGE, DeadlineKind.REPLY)
    assert reply.due_at == at(2026, 2, 27, 17, 30)
    assert ack.due_at == at(2026, 2, 14, 9, 30)  # 1.5 h left on Friday, 0.5 h on Saturday
    assert reply.policy_id == "cn-v1/request/normal"


def test_urgent_tickets_run_faster_and_emergencies_run_on_the_clock() -> None:
    policy, now = load_policy(), at(2026, 10, 1, 9, 0)  # National Day: nobody's office is open
    _, normal = policy.at_dispatch(TicketType.COMPLAINT, Urgency.NORMAL, False, now, CAL)
    _, flagged = policy.at_dispatch(TicketType.COMPLAINT, Urgency.NORMAL, True, now, CAL)
    assert flagged.due_at < normal.due_at and flagged.policy_id == "cn-v1/complaint/urgent"
    ack, repair = policy.at_dispatch(TicketType.EMERGENCY_REPAIR, Urgency.VERY_URGENT, False,
                                     now, CAL)
    assert repair.due_at - now == timedelta(hours=4)  # a burst pipe does not wait for Oct 8
    assert ack.due_at - now == timedelta(minutes=30)


def test_a_redo_has_its_own_clock() -> None:
    redo = load_policy().for_redo(at(2025, 9, 30, 10, 0), CAL)
    assert redo.kind is DeadlineKind.REDO
    assert redo.due_at == at(2025, 10, 14, 17, 30)  # 10-09, 10-10, 10-11 (Sat), 10-13, 10-14


def test_a_deadline_reaching_an_unpublished_year_fails_loudly() -> None:
    with pytest.raises(MissingYear, match="2027"):
        load_policy().at_dispatch(TicketType.REPORT, Urgency.NORMAL, False,
                                  at(2026, 12, 28, 9, 0), CAL)


def test_every_type_and_urgency_has_a_limit_and_bad_data_is_named() -> None:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    policy = DeadlinePolicy.from_dict(raw)
    assert set(policy.reply) == set(TicketType)
    broken = copy.deepcopy(raw)
    del broken["reply"]["praise"]["urgent"]
    with pytest.raises(KeyError):
        DeadlinePolicy.from_dict(broken)
    broken = copy.deepcopy(raw)
    broken["reply"]["request"]["normal"] = {"working_days": 5, "hours": 2}
    with pytest.raises(ValueError, match="reply.request.normal"):
        DeadlinePolicy.from_dict(broken)


@pytest.mark.parametrize("mode,due", [
    # a full new limit from the reassignment (Thursday 02-26 10:00): five working days,
    # 02-27, 02-28 (an adjusted working Saturday), 03-02, 03-03, 03-04
    ("restart", at(2026, 3, 4, 17, 30)),
    # due 02-27 17:30, returned 02-25 10:00 with 20 working hours left, sent out again a
    # working day later: the 20 hours resume then and end a working day later, 02-28
    ("pause", at(2026, 2, 28, 17, 30)),
    # the ticket's own deadline stands: the time it sat returned counted
    ("run", at(2026, 2, 27, 17, 30)),
])
def test_the_reply_clock_after_a_return(mode: str, due: datetime) -> None:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    policy = DeadlinePolicy.from_dict({**raw, "returned_clock": mode})
    dispatched, returned, again = at(2026, 2, 13, 16, 0), at(2026, 2, 25, 10, 0), \
        at(2026, 2, 26, 10, 0)
    _, first = policy.at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False, dispatched, CAL)
    ack, reply = policy.after_return(TicketType.REQUEST, Urgency.NORMAL, False, again, CAL,
                                     previous_due=first.due_at, returned_at=returned)
    assert reply.due_at == due
    if mode == "pause":
        assert CAL.working_time_between(again, reply.due_at) == CAL.working_time_between(
            returned, first.due_at) == timedelta(hours=20)
    assert ack.due_at == at(2026, 2, 26, 12, 0)
    assert reply.policy_id == "cn-v1/request/normal" + ("" if mode == "restart" else f"/{mode}")


def test_a_run_clock_never_hands_over_a_late_ticket() -> None:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    policy = DeadlinePolicy.from_dict({**raw, "returned_clock": "run"})
    again = at(2026, 3, 10, 10, 0)
    ack, reply = policy.after_return(TicketType.REQUEST, Urgency.NORMAL, False, again, CAL,
                                     previous_due=at(2026, 3, 2, 17, 30),
                                     returned_at=at(2026, 3, 2, 9, 0))
    assert reply.due_at == ack.due_at == at(2026, 3, 10, 12, 0)
