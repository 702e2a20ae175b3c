"""Blue, orange and red on the working-day calendar; repeat contacts; nothing fires twice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from contracts import commands as c
from contracts.vocabulary import CardColour, DeadlineKind, TicketStatus, TicketType, Urgency
from reference.calendar import WorkingCalendar
from reference.policy import load_policy
from services.supervision.escalation import plan
from services.supervision.watch import Clock, Watch

BJ = ZoneInfo("Asia/Shanghai")
CAL, POLICY = WorkingCalendar.load("cn"), load_policy()
UNIT = "d01-urban-squad"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=BJ)


def request_clock() -> Clock:
    """A request dispatched the Friday before the 2026 Spring Festival: due 02-27 17:30."""
    start = at(2026, 2, 13, 16, 0)
    _, reply = POLICY.at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False, start, CAL)
    return Clock(DeadlineKind.REPLY, UNIT, start, reply.due_at)


def watch(raised: frozenset[str] = frozenset(), repeats: int = 1) -> Watch:
    """The request at its unit, acknowledged, with `raised` warnings (and their cards)."""
    return Watch("t-1", TicketStatus.ACKNOWLEDGED, TicketType.REQUEST, UNIT, (request_clock(),),
                 raised, raised, repeat_count=repeats)


def fired(now: datetime, raised: frozenset[str] = frozenset(), repeats: int = 1,
          ) -> list[c.TicketCommand]:
    return plan(watch(raised, repeats), now, POLICY, CAL)


def summary(commands: list[c.TicketCommand]) -> list[str]:
    out = []
    for cmd in commands:
        if isinstance(cmd, c.RaiseWarning):
            out.append(f"warning:{cmd.level.value}")
        elif isinstance(cmd, c.IssueCard):
            out.append(f"card:{cmd.colour.value}")
        else:
            out.append(type(cmd).__name__)
    return out


def test_nothing_during_the_holiday_and_blue_on_the_last_working_day() -> None:
    assert request_clock().due_at == at(2026, 2, 27, 17, 30)
    assert fired(at(2026, 2, 20, 12, 0)) == []  # Spring Festival: the clock does not run
    assert fired(at(2026, 2, 26, 10, 0)) == []
    blue = fired(at(2026, 2, 26, 17, 30))  # one working day left
    assert summary(blue) == ["warning:blue"]
    assert isinstance(blue[0], c.RaiseWarning) and blue[0].message_zh == "处理期限将至, 请抓紧办理"


def test_orange_and_a_yellow_card_once_the_deadline_passes() -> None:
    blue = fired(at(2026, 2, 26, 17, 30))
    raised = frozenset(w.warning_id for w in blue if isinstance(w, c.RaiseWarning))
    late = fired(at(2026, 2, 27, 17, 31), raised)
    assert summary(late) == ["warning:orange", "card:yellow"]
    card = late[1]
    assert isinstance(card, c.IssueCard) and card.colour is CardColour.YELLOW
    assert card.unit_id == UNIT


def test_red_after_five_working_days_counting_the_adjusted_saturday() -> None:
    """Grace: 02-28 (an adjusted working Saturday), 03-02, 03-03, 03-04, 03-05."""
    assert "warning:red" not in summary(fired(at(2026, 3, 5, 17, 0)))
    everything = fired(at(2026, 3, 5, 17, 31))
    assert summary(everything) == ["warning:blue", "warning:orange", "card:yellow",
                                   "warning:red", "card:red", "IssueSupervisionOrder"]
    order = everything[-1]
    assert isinstance(order, c.IssueSupervisionOrder) and order.due_at == at(2026, 3, 9, 17, 30)


def test_what_was_raised_never_fires_again() -> None:
    first = fired(at(2026, 3, 5, 17, 31))
    raised = frozenset(w.warning_id for w in first if isinstance(w, c.RaiseWarning))
    assert summary(fired(at(2026, 3, 20, 9, 0), raised)) == ["IssueSupervisionOrder"]
    assert fired(at(2026, 3, 5, 17, 31)) == first  # the same ids: the decider dedupes


def test_repeat_contacts_escalate_whatever_the_clock() -> None:
    now = at(2026, 2, 24, 9, 0)
    assert summary(fired(now, repeats=2)) == ["warning:orange"]
    assert summary(fired(now, repeats=3)) == ["warning:orange", "warning:red"]
    assert fired(now, frozenset({"repeat/2", "repeat/3"}), repeats=3) == []


def test_the_decider_takes_each_escalation_once() -> None:
    """Resent after a crash, every escalation is refused by its rule: no card counted twice."""
    from contracts import events as e
    from contracts.base import Category, Deadline
    from ticketing.domain import decide, evolve, fold
    from ticketing.rules import Rejected

    start = at(2026, 2, 13, 16, 0)
    ticket = fold([
        (e.TicketRegistered(ticket_id="t-1", ticket_number="12345-20260213-000001",
                            contact_ids=("c-1",), ticket_type=TicketType.REQUEST,
                            category=Category(level1="urban-management"), summary="路灯不亮",
                            district_code="990101", registered_by="op-1"), start),
        (e.TicketDispatched(lead_unit=UNIT), start),
        (e.DeadlinesSet(deadlines=(Deadline(kind=DeadlineKind.REPLY, policy_id="cn-v1",
                                            due_at=request_clock().due_at),),
                        reason="dispatched"), start),
    ])
    now = at(2026, 3, 5, 17, 31)
    commands = fired(now)
    for command in commands:
        for event in decide(ticket, command, now):
            ticket = evolve(ticket, event, now)
    refused = set()
    for command in commands:
        try:
            decide(ticket, command, now)
        except Rejected as exc:
            refused.add(exc.rule.id)
        else:
            raise AssertionError(f"{type(command).__name__} was accepted twice")
    assert refused == {"warning-exists", "card-exists", "order-exists"}
