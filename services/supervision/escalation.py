"""Which escalations are due on a ticket now: blue, orange, red, cards and supervision orders.

Pure: the supervision service builds a ticket's running clocks from its events
and asks, at a tick, what should fire. Every escalation has an id derived from
the clock it concerns (kind, due time, level), so firing the same one twice is
the same command twice: the decider refuses the second (`warning-exists`,
`order-exists`), and a restart that replays the log can never double a card.

Rules (DESIGN.md §5; seeds 000, 002, 003, 004), thresholds from the policy:
- blue (蓝单): the deadline is near — less than `blue_share_left` of the clock's
  working time left, or less than `blue_working_days_left` working days;
- orange (橙单) and a yellow card (黄牌): the deadline has passed;
- red (红单), a red card (红牌) and an automatic supervision order (督办): overdue by
  more than `red_grace_working_days` working days;
- repeat contacts on an open ticket: the second contact orange, the third red (Qingdao),
  whatever the clocks say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import commands as c
from contracts.vocabulary import CardColour, DeadlineKind, OrderKind, WarningLevel
from services.supervision.calendar import WorkingCalendar
from services.supervision.policy import DeadlinePolicy

NEAR_ZH = "处理期限将至, 请抓紧办理"
PASSED_ZH = "处理期限已到, 请尽快反馈"
LONG_PASSED_ZH = "已严重超期, 已启动督办, 请立即办理并回复"
REPEAT_ZH = "市民重复来电, 请优先处理"
ORDER_WORKING_DAYS = 2  # an automatic order is due two working days after it is issued


@dataclass(frozen=True, slots=True)
class Clock:
    """One running deadline of a ticket: who owes what, since when, by when."""

    kind: DeadlineKind
    unit_id: str
    started_at: datetime
    due_at: datetime


def warning_id(clock: Clock, level: WarningLevel) -> str:
    return f"{clock.kind.value}@{clock.due_at.isoformat()}/{level.value}"


def _level(clock: Clock, now: datetime, policy: DeadlinePolicy,
           calendar: WorkingCalendar) -> WarningLevel | None:
    if now >= clock.due_at:
        red_at = calendar.add_working_days(clock.due_at, policy.red_grace_working_days)
        return WarningLevel.RED if now >= red_at else WarningLevel.ORANGE
    total = calendar.working_time_between(clock.started_at, clock.due_at)
    left = calendar.working_time_between(now, clock.due_at)
    near = max(total * policy.blue_share_left,
               calendar.day_length * policy.blue_working_days_left)
    if total > timedelta(0) and left <= near:
        return WarningLevel.BLUE
    return None


def due_escalations(ticket_id: str, clocks: list[Clock], raised: frozenset[str],
                    repeat_count: int, now: datetime, policy: DeadlinePolicy,
                    calendar: WorkingCalendar) -> list[c.TicketCommand]:
    """The commands to send now, none already `raised` (warning ids seen on the ticket).

    A level reached implies the ones below it (a ticket found red after a long outage
    gets its blue, orange and red, in order), so the evaluation counts stay exact.
    """
    out: list[c.TicketCommand] = []
    for clock in clocks:
        level = _level(clock, now, policy, calendar)
        if level is None:
            continue
        ladder = list(WarningLevel)[: list(WarningLevel).index(level) + 1]
        for step in ladder:
            wid = warning_id(clock, step)
            if wid in raised:
                continue
            rule = f"{policy.id}/{clock.kind.value}/{step.value}"
            message = {WarningLevel.BLUE: NEAR_ZH, WarningLevel.ORANGE: PASSED_ZH,
                       WarningLevel.RED: LONG_PASSED_ZH}[step]
            out.append(c.RaiseWarning(
                ticket_id=ticket_id, warning_id=wid, level=step, deadline_kind=clock.kind,
                due_at=clock.due_at, unit_id=clock.unit_id, rule=rule, message_zh=message))
            if step is WarningLevel.BLUE:
                continue
            colour = CardColour.YELLOW if step is WarningLevel.ORANGE else CardColour.RED
            out.append(c.IssueCard(ticket_id=ticket_id, unit_id=clock.unit_id, colour=colour,
                                   rule=rule, warning_id=wid))
            if step is WarningLevel.RED:
                out.append(c.IssueSupervisionOrder(
                    ticket_id=ticket_id, order_id=f"order/{wid}", kind=OrderKind.SUPERVISION,
                    unit_id=clock.unit_id, issued_by="supervision", text=LONG_PASSED_ZH,
                    due_at=calendar.add_working_days(now, ORDER_WORKING_DAYS)))
    out += _repeats(ticket_id, clocks, raised, repeat_count, policy)
    return out


def _repeats(ticket_id: str, clocks: list[Clock], raised: frozenset[str], repeat_count: int,
             policy: DeadlinePolicy) -> list[c.TicketCommand]:
    unit = clocks[0].unit_id if clocks else None
    out: list[c.TicketCommand] = []
    for count, level in ((2, WarningLevel.ORANGE), (3, WarningLevel.RED)):
        wid = f"repeat/{count}"
        if repeat_count >= count and wid not in raised:
            out.append(c.RaiseWarning(
                ticket_id=ticket_id, warning_id=wid, level=level, unit_id=unit,
                rule=f"{policy.id}/repeat-contact/{count}", message_zh=REPEAT_ZH))
    return out
