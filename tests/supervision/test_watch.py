"""The watch supervision folds from a ticket's events, its storage form, and `next_check`
against `plan`: every clock the decider sees running is watched, each threshold is looked
at when it comes (never later), and blue, orange and red each fire once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import commands as c
from contracts import events as e
from contracts.base import Category, Deadline, EventData
from contracts.vocabulary import (
    CardColour,
    CloseReason,
    DeadlineKind,
    OrderKind,
    TicketStatus,
    TicketType,
    Urgency,
    WarningLevel,
)
from reference.calendar import WorkingCalendar
from reference.policy import load_policy
from services.supervision.escalation import ASAP, blocked, next_check, plan
from services.supervision.watch import Clock, OrderWatch, Watch, evolve_watch, from_json, to_json
from ticketing.domain import fold, running_deadline

BJ = ZoneInfo("Asia/Shanghai")
CAL, POLICY = WorkingCalendar.load("cn"), load_policy()
TID, UNIT, OTHER = "t-1", "d01-urban-squad", "city-urban-mgmt"
ACK, REPLY, REDO = DeadlineKind.ACKNOWLEDGE, DeadlineKind.REPLY, DeadlineKind.REDO
SECOND = timedelta(seconds=1)
History = list[tuple[EventData, datetime]]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BJ)


T0 = at(2026, 11, 23, 10, 0)  # a Monday


# ----------------------------------------------------------------------------- histories


def registered(ticket_type: TicketType = TicketType.REQUEST, when: datetime = T0) -> History:
    return [(e.TicketRegistered(
        ticket_id=TID, ticket_number="12345-20261123-000001", contact_ids=("c-1",),
        ticket_type=ticket_type, category=Category(level1="urban-management"),
        summary="路灯不亮", district_code="990101", registered_by="op-1"), when)]


def clocks_at(when: datetime, ticket_type: TicketType = TicketType.REQUEST,
              urgency: Urgency = Urgency.NORMAL) -> e.DeadlinesSet:
    return e.DeadlinesSet(deadlines=POLICY.at_dispatch(ticket_type, urgency, False, when, CAL),
                          reason="dispatched")


def dispatched(when: datetime = T0 + timedelta(minutes=5), unit: str = UNIT) -> History:
    return [*registered(), (e.TicketDispatched(lead_unit=unit), when), (clocks_at(when), when)]


def acknowledged() -> History:
    return [*dispatched(), (e.TicketAcknowledged(unit_id=UNIT), T0 + timedelta(hours=1))]


def extended() -> History:
    when, new_due = T0 + timedelta(days=1), at(2026, 12, 11, 17, 30)
    return [*acknowledged(),
            (e.ExtensionRequested(request_id="x-1", unit_id=UNIT, reason="等配件",
                                  requested_due_at=new_due), when),
            (e.ExtensionApproved(request_id="x-1", approved_by="sup-1", new_due_at=new_due),
             when)]


def returned() -> History:
    return [*acknowledged(), (e.TicketReturned(unit_id=UNIT, reason="非本单位职责"),
                              T0 + timedelta(hours=2))]


def reassigned(after: History | None = None,
               when: datetime = T0 + timedelta(hours=3)) -> History:
    return [*(returned() if after is None else after),
            (e.TicketReassigned(from_unit=UNIT, lead_unit=OTHER), when), (clocks_at(when), when)]


def replied() -> History:
    return [*acknowledged(), (e.TicketReplied(unit_id=UNIT, text="已修复"), T0 + timedelta(days=2))]


def redone() -> History:
    when = T0 + timedelta(days=4)
    return [*replied(), (e.RedoRequested(survey_id="s-1", reason="仍不亮"), when),
            (e.RedoAccepted(reviewer="sup-1", unit_id=UNIT, reason="回访不满意"), when),
            (e.DeadlinesSet(deadlines=(POLICY.for_redo(when, CAL),), reason="redo"), when)]


def redo_extended() -> History:
    when = T0 + timedelta(days=5)
    return [*redone(),
            (e.ExtensionRequested(request_id="x-2", unit_id=UNIT, reason="等配件",
                                  requested_due_at=at(2026, 12, 30, 17, 30)), when),
            (e.ExtensionApproved(request_id="x-2", approved_by="sup-1",
                                 new_due_at=at(2026, 12, 30, 17, 30)), when)]


def closed() -> History:
    return [*replied(), (e.TicketClosed(reason=CloseReason.SOLVED), T0 + timedelta(days=3))]


def reopened_and_dispatched() -> History:
    when = T0 + timedelta(days=6)
    return [*closed(), (e.TicketReopened(reopened_by="sup-1", reason="复发"), when),
            (e.TicketDispatched(lead_unit=OTHER, round=2), when), (clocks_at(when), when)]


def redone_then_returned_and_reassigned() -> History:
    """After a redo the unit returns the ticket; it is reassigned with fresh clocks."""
    back = (e.TicketReturned(unit_id=UNIT, reason="非本单位职责"), T0 + timedelta(days=4, hours=1))
    return reassigned(after=[*redone(), back], when=T0 + timedelta(days=4, hours=2))


def redone_then_closed_reopened_and_dispatched() -> History:
    """After a redo the ticket is closed, reopened and dispatched again with fresh clocks."""
    when = T0 + timedelta(days=7)
    return [*redone(), (e.TicketReplied(unit_id=UNIT, text="已重新修复"), when),
            (e.TicketClosed(reason=CloseReason.SOLVED), when),
            (e.TicketReopened(reopened_by="sup-1", reason="复发"), when),
            (e.TicketDispatched(lead_unit=OTHER, round=2), when), (clocks_at(when), when)]


def watch_of(history: History) -> Watch:
    w: Watch | None = None
    for event, when in history:
        w = evolve_watch(w, event, when, TID)
    assert w is not None
    return w


def running(w: Watch) -> dict[DeadlineKind, datetime]:
    return {clock.kind: clock.due_at for clock in w.running()}


# ---------------------------------------------------------------------------------- fold


def test_nothing_is_watched_before_registration() -> None:
    assert evolve_watch(None, e.TicketAcknowledged(unit_id=UNIT), T0, TID) is None


def test_dispatch_starts_both_clocks_for_the_lead_unit_at_the_event_time() -> None:
    w = watch_of(dispatched())
    ack, reply = POLICY.at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False,
                                    T0 + timedelta(minutes=5), CAL)
    assert w.status is TicketStatus.DISPATCHED and w.lead_unit == UNIT
    assert sorted(w.running(), key=lambda k: k.kind.value) == [
        Clock(ACK, UNIT, T0 + timedelta(minutes=5), ack.due_at),
        Clock(REPLY, UNIT, T0 + timedelta(minutes=5), reply.due_at)]


def test_acknowledging_stops_the_acknowledge_clock_only() -> None:
    assert set(running(watch_of(acknowledged()))) == {REPLY}


def test_a_return_clears_the_clocks_and_the_lead() -> None:
    w = watch_of(returned())
    assert (w.clocks, w.lead_unit, w.running()) == ((), None, [])


def test_a_reassignment_starts_fresh_clocks_for_the_new_unit() -> None:
    w = watch_of(reassigned())
    when = T0 + timedelta(hours=3)
    assert {(k.kind, k.unit_id, k.started_at) for k in w.running()} == {
        (ACK, OTHER, when), (REPLY, OTHER, when)}
    assert len(w.clocks) == 2


def test_a_reassignment_while_dispatched_drops_the_old_units_clocks() -> None:
    when = T0 + timedelta(hours=1)
    w = watch_of([*dispatched(), (e.TicketReassigned(from_unit=UNIT, lead_unit=OTHER), when),
                  (clocks_at(when), when)])
    assert {k.unit_id for k in w.clocks} == {OTHER} and len(w.clocks) == 2


def test_an_approved_extension_moves_the_reply_clock() -> None:
    before = watch_of(acknowledged()).running()[0]
    after = watch_of(extended()).running()[0]
    assert after.due_at == at(2026, 12, 11, 17, 30)
    assert after.started_at == before.started_at and after.id != before.id


def test_a_reply_stops_every_clock() -> None:
    w = watch_of(replied())
    assert w.status is TicketStatus.REPLIED and w.running() == [] and w.open


def test_a_redo_runs_the_redo_clock_once_set() -> None:
    accepted = watch_of(redone()[:-1])
    assert accepted.running() == [] and accepted.status is TicketStatus.ACKNOWLEDGED
    w = watch_of(redone())
    when = T0 + timedelta(days=4)
    assert w.running() == [Clock(REDO, UNIT, when, POLICY.for_redo(when, CAL).due_at)]


def merged() -> History:
    return [*dispatched(), (e.TicketMergedInto(target_ticket_id="t-0"), T0 + timedelta(hours=1))]


@pytest.mark.parametrize("history", [closed, merged], ids=["closed", "merged"])
def test_a_finished_ticket_is_no_longer_open(history: Callable[[], History]) -> None:
    w = watch_of(history())
    assert not w.open and w.running() == []
    assert next_check(w, POLICY, CAL) is None and plan(w, at(2027, 6, 1), POLICY, CAL) == []


def test_a_merged_contact_sets_the_repeat_count() -> None:
    w = watch_of([*dispatched(), (e.ContactMerged(contact_id="c-2", repeat_count=3), T0)])
    assert w.repeat_count == 3


def test_warnings_cards_and_orders_are_recorded() -> None:
    due = at(2026, 11, 25, 17, 30)
    w = watch_of([
        *acknowledged(),
        (e.WarningRaised(warning_id="w-1", level=WarningLevel.ORANGE, rule="r",
                         message_zh="处理期限已到, 请尽快反馈"), T0),
        (e.CardIssued(unit_id=UNIT, colour=CardColour.YELLOW, rule="r", warning_id="w-1"), T0),
        # a card without a warning counts for the unit but marks no warning carded
        (e.CardIssued(unit_id=UNIT, colour=CardColour.RED, rule="manual"), T0),
        (e.SupervisionOrderIssued(order_id="o-1", kind=OrderKind.SUPERVISION, unit_id=UNIT,
                                  due_at=due, text="请办理", issued_by="sup-1"), T0),
        (e.SupervisionOrderIssued(order_id="o-2", kind=OrderKind.REMINDER, unit_id=UNIT,
                                  due_at=due, text="请加快", issued_by="sup-1"), T0),
        (e.SupervisionOrderEscalated(order_id="o-1", level=2, rule="r"), T0),
        (e.SupervisionOrderAnswered(order_id="o-2", unit_id=UNIT, text="已办"), T0),
    ])
    assert (w.warnings, w.carded) == ({"w-1"}, {"w-1"})
    assert w.orders == (
        OrderWatch("o-1", OrderKind.SUPERVISION, UNIT, T0, due, level=2),
        OrderWatch("o-2", OrderKind.REMINDER, UNIT, T0, due, answered=True))


# ------------------------------------------------------------------- against the decider

AGREEING = {"dispatched": dispatched, "acknowledged": acknowledged, "extended": extended,
            "returned": returned, "reassigned": reassigned, "replied": replied,
            "redone": redone, "redo-extended": redo_extended, "closed": closed,
            "reopened-and-dispatched": reopened_and_dispatched,
            # the REPLY clock runs again once a redone ticket is sent out with fresh clocks
            "redone-returned-reassigned": redone_then_returned_and_reassigned,
            "redone-closed-reopened-dispatched": redone_then_closed_reopened_and_dispatched}


def decider_running(history: History) -> dict[DeadlineKind, datetime]:
    ticket = fold(history)
    assert ticket is not None
    return {k: due for k in DeadlineKind if (due := running_deadline(ticket, k)) is not None}


@pytest.mark.parametrize("name", list(AGREEING))
def test_the_watch_runs_the_clocks_the_decider_runs(name: str) -> None:
    history = AGREEING[name]()
    assert running(watch_of(history)) == decider_running(history)


def test_the_cross_check_is_not_vacuous() -> None:
    """The histories with a unit on the ticket do run clocks; a redone one sent out again
    runs the acknowledge and reply clocks, not the redo's."""
    assert set(decider_running(redone_then_returned_and_reassigned())) == {ACK, REPLY}
    assert {name for name, h in AGREEING.items() if decider_running(h())} == {
        "dispatched", "acknowledged", "extended", "reassigned", "redone", "redo-extended",
        "reopened-and-dispatched", "redone-returned-reassigned",
        "redone-closed-reopened-dispatched"}


# ---------------------------------------------------------------------------------- storage


def test_the_json_form_round_trips() -> None:
    w = watch_of([
        *redo_extended(),
        (e.ContactMerged(contact_id="c-2", repeat_count=2), T0),
        (e.WarningRaised(warning_id="repeat/2", level=WarningLevel.ORANGE, rule="r",
                         message_zh="市民重复来电, 请优先处理"), T0),
        (e.WarningRaised(warning_id="w-1", level=WarningLevel.BLUE, rule="r",
                         message_zh="处理期限将至, 请抓紧办理"), T0),
        (e.CardIssued(unit_id=UNIT, colour=CardColour.YELLOW, rule="r", warning_id="w-1"), T0),
        (e.SupervisionOrderIssued(order_id="order/x", kind=OrderKind.SUPERVISION,
                                  unit_id=UNIT, due_at=at(2026, 12, 2, 17, 30), text="请办理",
                                  issued_by="supervision"), T0),
        (e.SupervisionOrderEscalated(order_id="order/x", level=1, rule="r"), T0),
    ])
    assert w.orders and w.warnings and w.carded and REDO in {k.kind for k in w.clocks}
    raw = json.loads(json.dumps(to_json(w)))
    assert from_json(TID, raw) == w


# ------------------------------------------------------------------- next_check and plan

EVENT_OF: dict[type[c.TicketCommand], type[EventData]] = {
    c.RaiseWarning: e.WarningRaised, c.IssueCard: e.CardIssued,
    c.IssueSupervisionOrder: e.SupervisionOrderIssued,
    c.EscalateSupervisionOrder: e.SupervisionOrderEscalated}


def applied(w: Watch, commands: Sequence[c.TicketCommand], when: datetime) -> Watch:
    """The watch after the events the decider makes of `commands`."""
    for command in commands:
        event = EVENT_OF[type(command)](**command.model_dump(exclude={"ticket_id"}))
        after = evolve_watch(w, event, when, w.ticket_id)
        assert after is not None
        w = after
    return w


def mark(command: c.TicketCommand) -> str:
    match command:
        case c.RaiseWarning():
            return command.level.value
        case c.IssueCard():
            return f"{command.colour.value}-card"
        case c.IssueSupervisionOrder():
            return "order"
    return type(command).__name__


def clock_watch(kind: DeadlineKind, start: datetime, ticket_type: TicketType,
                urgency: Urgency = Urgency.NORMAL) -> Watch:
    """A watch on which only the `kind` clock of a ticket dispatched at `start` runs."""
    deadlines: tuple[Deadline, ...] = POLICY.at_dispatch(ticket_type, urgency, False, start, CAL)
    due = next(d.due_at for d in deadlines if d.kind is kind)
    status = TicketStatus.DISPATCHED if kind is ACK else TicketStatus.ACKNOWLEDGED
    return Watch(TID, status, ticket_type, UNIT, (Clock(kind, UNIT, start, due),))


CLOCKS = {
    "request-before-spring-festival": (REPLY, at(2026, 2, 13, 16, 0), TicketType.REQUEST,
                                       Urgency.NORMAL),
    "request-before-mid-autumn": (REPLY, at(2026, 9, 18, 10, 0), TicketType.REQUEST,
                                  Urgency.NORMAL),
    "consultation-one-day": (REPLY, at(2026, 9, 18, 10, 0), TicketType.CONSULTATION,
                             Urgency.NORMAL),
    "emergency-repair-friday": (REPLY, at(2026, 11, 27, 15, 0), TicketType.EMERGENCY_REPAIR,
                                Urgency.NORMAL),
    "urgent-consultation-hours": (REPLY, at(2026, 11, 23, 15, 0), TicketType.CONSULTATION,
                                  Urgency.URGENT),
    "acknowledge-hours": (ACK, at(2026, 11, 23, 16, 30), TicketType.REQUEST, Urgency.NORMAL),
}


@pytest.mark.parametrize("name", list(CLOCKS))
def test_next_check_finds_every_step_and_each_fires_once(name: str) -> None:
    """Blue, orange (+ yellow card), red (+ red card, order), each when next_check says."""
    w = clock_watch(*CLOCKS[name])
    clock = w.clocks[0]
    fired: list[tuple[str, datetime]] = []
    for _ in range(10):
        t = next_check(w, POLICY, CAL)
        assert t is not None and t != ASAP
        assert plan(w, t - SECOND, POLICY, CAL) == [], (name, t)
        commands = plan(w, t, POLICY, CAL)
        assert commands, (name, t)
        if all(isinstance(cmd, c.EscalateSupervisionOrder) for cmd in commands):
            break
        fired += [(mark(cmd), t) for cmd in commands]
        w = applied(w, commands, t)
    else:
        raise AssertionError("next_check never settled")
    red = CAL.add_working_days(clock.due_at, POLICY.red_grace_working_days)
    assert [m for m, _ in fired] == ["blue", "orange", "yellow-card", "red", "red-card",
                                     "order"]
    assert [t for m, t in fired if m != "blue"] == [clock.due_at] * 2 + [red] * 3
    assert fired[0][1] < clock.due_at


def test_blue_is_looked_at_on_its_second() -> None:
    """next_check is the first whole second at which the clock is blue, not one later."""
    w = clock_watch(*CLOCKS["request-before-spring-festival"])
    t = next_check(w, POLICY, CAL)
    assert t is not None
    assert plan(w, t - SECOND, POLICY, CAL) == []


def test_a_crash_between_warning_and_card_leaves_only_the_card_due() -> None:
    w = clock_watch(*CLOCKS["request-before-mid-autumn"])
    clock = w.clocks[0]
    now = clock.due_at + timedelta(hours=20)
    orange = [cmd for cmd in plan(w, now, POLICY, CAL) if isinstance(cmd, c.RaiseWarning)]
    w = applied(w, orange, clock.due_at)  # blue and orange raised, the card never sent
    left = plan(w, now, POLICY, CAL)
    assert [mark(cmd) for cmd in left] == ["yellow-card"]
    check = next_check(w, POLICY, CAL)
    assert check is not None and check <= now and check == clock.due_at


# ----------------------------------------------------------------------------------- orders


def order_watch(answered: bool = False) -> Watch:
    order = OrderWatch("o-1", OrderKind.SUPERVISION, UNIT, at(2026, 11, 23, 10, 0),
                       at(2026, 11, 25, 17, 30), answered=answered)
    return Watch(TID, TicketStatus.ACKNOWLEDGED, TicketType.REQUEST, UNIT, orders=(order,))


def test_an_unanswered_order_climbs_three_levels_two_working_days_apart() -> None:
    w = order_watch()
    levels: list[tuple[int, datetime]] = []
    while (t := next_check(w, POLICY, CAL)) is not None and len(levels) < 5:
        assert plan(w, t - SECOND, POLICY, CAL) == []
        commands = plan(w, t, POLICY, CAL)
        levels += [(cmd.level, t) for cmd in commands
                   if isinstance(cmd, c.EscalateSupervisionOrder)]
        assert len(commands) == 1, commands
        w = applied(w, commands, t)
    # due Wednesday 11-25; two working days later Friday 11-27, then Tuesday 12-01
    assert levels == [(1, at(2026, 11, 25, 17, 30)), (2, at(2026, 11, 27, 17, 30)),
                      (3, at(2026, 12, 1, 17, 30))]
    assert plan(w, at(2026, 12, 31, 12, 0), POLICY, CAL) == []


def test_an_order_late_by_weeks_climbs_every_level_at_once_but_never_a_fourth() -> None:
    commands = plan(order_watch(), at(2026, 12, 31, 12, 0), POLICY, CAL)
    assert [cmd.level for cmd in commands if isinstance(cmd, c.EscalateSupervisionOrder)] == [
        1, 2, 3]


def test_an_answered_order_never_escalates() -> None:
    w = order_watch(answered=True)
    assert next_check(w, POLICY, CAL) is None
    assert plan(w, at(2026, 12, 31, 12, 0), POLICY, CAL) == []


# ------------------------------------------------------------------------- repeat contacts


def test_a_second_contact_is_orange_at_once() -> None:
    w = watch_of([*registered(), (e.ContactMerged(contact_id="c-2", repeat_count=2), T0)])
    assert next_check(w, POLICY, CAL) == ASAP
    commands = plan(w, T0, POLICY, CAL)
    assert [(cmd.warning_id, cmd.level) for cmd in commands
            if isinstance(cmd, c.RaiseWarning)] == [("repeat/2", WarningLevel.ORANGE)]
    assert len(commands) == 1 and w.colour() is None
    w = applied(w, commands, T0)
    assert next_check(w, POLICY, CAL) is None and plan(w, T0, POLICY, CAL) == []
    assert w.colour() is WarningLevel.ORANGE


# ------------------------------------------------------------------------------ MissingYear


def year_end_watch() -> Watch:
    """A request due 2026-12-30: red (5 working days later) falls in 2027, with no calendar."""
    w = clock_watch(REPLY, at(2026, 12, 23, 10, 0), TicketType.REQUEST)
    assert w.clocks[0].due_at == at(2026, 12, 30, 17, 30)
    return w


def test_a_threshold_in_a_year_without_a_calendar_is_looked_at_at_once() -> None:
    w = year_end_watch()
    assert next_check(w, POLICY, CAL) not in (None, ASAP)  # blue lies in 2026
    done = frozenset(f"{w.clocks[0].id}/{level}" for level in ("blue", "orange"))
    w = replace(w, warnings=done, carded=done - {f"{w.clocks[0].id}/blue"})
    assert next_check(w, POLICY, CAL) == ASAP
    later = at(2027, 1, 11, 9, 0)
    assert plan(w, later, POLICY, CAL) == []  # red waits for the calendar …
    missing = blocked(w, later, POLICY, CAL)  # … and says why, for the ticker to log
    assert missing is not None and missing.year == 2027


def test_orange_fires_when_only_red_falls_in_a_year_without_a_calendar() -> None:
    w = year_end_watch()
    due = w.clocks[0].due_at
    assert [mark(cmd) for cmd in plan(w, due, POLICY, CAL)] == ["blue", "orange", "yellow-card"]


# ----------------------------------------------------------------------------------- colour


def test_the_colour_is_the_highest_on_a_running_clock_and_goes_with_it() -> None:
    w = watch_of(acknowledged())
    clock = w.running()[0]
    assert w.colour() is None
    w = applied(w, plan(w, clock.due_at, POLICY, CAL), clock.due_at)
    assert w.colour() is WarningLevel.ORANGE
    replied_w = evolve_watch(w, e.TicketReplied(unit_id=UNIT, text="已修复"), clock.due_at, TID)
    assert replied_w is not None and replied_w.colour() is None


def test_warnings_on_a_clock_that_was_extended_no_longer_colour_the_ticket() -> None:
    w = watch_of(acknowledged())
    due = w.running()[0].due_at
    w = applied(w, plan(w, due, POLICY, CAL), due)
    moved = evolve_watch(w, e.ExtensionApproved(request_id="x-1", approved_by="sup-1",
                                                new_due_at=due + timedelta(days=7)), due, TID)
    assert moved is not None and moved.colour() is None
