"""Which escalations are due on a ticket now, and when to look at it next.

Pure: `plan(watch, now)` lists the commands to send, `next_check(watch)` the first moment
`plan` could list something new (the board indexes it, so a tick reads only the tickets
whose time has come). Every escalation has an id derived from the clock it concerns (kind,
due time, level), so firing the same one twice is the same command twice: the decider
refuses the second (`warning-exists`, `card-exists`, `order-exists`), and a restart that
replays the log can never double a card. Each step (warning, card, order) is planned on
its own, so a crash between two of them leaves the rest still due.

Rules (DESIGN.md §5; seeds 000, 002, 003, 004), thresholds from the policy:
- blue (蓝单): the deadline is near — less than `blue_share_left` of the clock's working
  time left, or less than `blue_working_days_left` working days (for clocks longer than
  that: a one-day consultation is not blue the moment it is dispatched);
- orange (橙单) and a yellow card (黄牌): the deadline has passed;
- red (红单), a red card (红牌) and an automatic supervision order (督办): overdue by
  more than `red_grace_working_days` working days;
- repeat contacts on an open ticket: the second contact orange, the third red (Qingdao),
  whatever the clocks say;
- an order left unanswered escalates one level at its due time, and again every
  `ORDER_WORKING_DAYS` working days, up to `ORDER_MAX_LEVEL`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from contracts import commands as c
from contracts.vocabulary import CardColour, OrderKind, WarningLevel
from reference.calendar import MissingYear, WorkingCalendar
from reference.policy import DeadlinePolicy
from services.supervision.watch import REPEATS, Clock, OrderWatch, Watch

NEAR_ZH = "处理期限将至, 请抓紧办理"
PASSED_ZH = "处理期限已到, 请尽快反馈"
LONG_PASSED_ZH = "已严重超期, 已启动督办, 请立即办理并回复"
REPEAT_ZH = "市民重复来电, 请优先处理"
ORDER_LATE_ZH = "督办单逾期未回复, 已升级"
MESSAGES = {WarningLevel.BLUE: NEAR_ZH, WarningLevel.ORANGE: PASSED_ZH,
            WarningLevel.RED: LONG_PASSED_ZH}
ORDER_WORKING_DAYS = 2  # an automatic order is due two working days after it is issued
ORDER_MAX_LEVEL = 3
ASAP = datetime(2000, 1, 1, tzinfo=UTC)  # "look now": earlier than any tick
SUPERVISION = "supervision"  # the actor of automatic escalations


def warning_id(clock: Clock, level: WarningLevel) -> str:
    return f"{clock.id}/{level.value}"


def order_id(clock: Clock) -> str:
    return f"order/{warning_id(clock, WarningLevel.RED)}"


# ----------------------------------------------------------------------------- thresholds


def _near(total: timedelta, policy: DeadlinePolicy, calendar: WorkingCalendar) -> timedelta:
    share = total * policy.blue_share_left
    days = calendar.day_length * policy.blue_working_days_left
    return max(share, days) if total > days else share


def blue_at(clock: Clock, policy: DeadlinePolicy, calendar: WorkingCalendar) -> datetime | None:
    """The first instant the clock is blue (None: it runs no working time at all)."""
    total = calendar.working_time_between(clock.started_at, clock.due_at)
    if total <= timedelta(0):
        return None
    near = _near(total, policy, calendar)
    # working time left only shrinks as time passes: bisect on whole seconds with the same
    # function `level_at` uses, so the board and the rule can never disagree. At `base` the
    # whole clock is left (more than `near`); at the due time nothing is.
    base = clock.started_at.replace(microsecond=0)
    lo, hi = 0, math.ceil((clock.due_at - base).total_seconds())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if calendar.working_time_between(base + timedelta(seconds=mid), clock.due_at) <= near:
            hi = mid
        else:
            lo = mid
    return base + timedelta(seconds=hi)


def red_at(clock: Clock, policy: DeadlinePolicy, calendar: WorkingCalendar) -> datetime:
    return calendar.add_working_days(clock.due_at, policy.red_grace_working_days)


def level_at(clock: Clock, now: datetime, policy: DeadlinePolicy,
             calendar: WorkingCalendar) -> WarningLevel | None:
    """The colour the clock has reached at `now`. Red waits while its day falls in a year
    without a calendar (`blocked` says so); orange needs nothing but the due time."""
    if now >= clock.due_at:
        try:
            red = now >= red_at(clock, policy, calendar)
        except MissingYear:
            red = False
        return WarningLevel.RED if red else WarningLevel.ORANGE
    total = calendar.working_time_between(clock.started_at, clock.due_at)
    left = calendar.working_time_between(now, clock.due_at)
    if total > timedelta(0) and left <= _near(total, policy, calendar):
        return WarningLevel.BLUE
    return None


def order_level_at(order: OrderWatch, level: int, calendar: WorkingCalendar) -> datetime:
    """When an unanswered order reaches escalation `level` (1: at its due time)."""
    if level == 1:
        return order.due_at
    return calendar.add_working_days(order.due_at, ORDER_WORKING_DAYS * (level - 1))


# ----------------------------------------------------------------------------------- plan


def plan(w: Watch, now: datetime, policy: DeadlinePolicy,
         calendar: WorkingCalendar) -> list[c.TicketCommand]:
    """The commands due on the ticket at `now` that its events do not show done yet.

    A level reached implies the ones below it (a ticket found red after a long outage
    gets its blue, orange and red, in order), so the evaluation counts stay exact.
    MissingYear when a threshold falls in a year without a calendar file.
    """
    if not w.open:
        return []
    out: list[c.TicketCommand] = []
    for clock in w.running():
        out += _clock_steps(w, clock, now, policy, calendar)
    out += _repeats(w, policy)
    for order in w.orders:
        out += _order_steps(w.ticket_id, order, now, policy, calendar)
    return out


def _ladder(level: WarningLevel | None) -> list[WarningLevel]:
    steps = list(WarningLevel)
    return [] if level is None else steps[: steps.index(level) + 1]


def _clock_steps(w: Watch, clock: Clock, now: datetime, policy: DeadlinePolicy,
                 calendar: WorkingCalendar) -> Iterator[c.TicketCommand]:
    ladder = _ladder(level_at(clock, now, policy, calendar))
    if not ladder:
        return
    base, orders = clock.id, {o.order_id for o in w.orders}
    for step in ladder:
        wid = f"{base}/{step.value}"
        rule = f"{policy.id}/{clock.kind.value}/{step.value}"
        if wid not in w.warnings:
            yield c.RaiseWarning(
                ticket_id=w.ticket_id, warning_id=wid, level=step, deadline_kind=clock.kind,
                due_at=clock.due_at, unit_id=clock.unit_id, rule=rule, message_zh=MESSAGES[step])
        if step is WarningLevel.BLUE:
            continue
        if wid not in w.carded:
            colour = CardColour.YELLOW if step is WarningLevel.ORANGE else CardColour.RED
            yield c.IssueCard(ticket_id=w.ticket_id, unit_id=clock.unit_id, colour=colour,
                              rule=rule, warning_id=wid)
        if step is WarningLevel.RED and f"order/{wid}" not in orders:
            yield c.IssueSupervisionOrder(
                ticket_id=w.ticket_id, order_id=f"order/{wid}", kind=OrderKind.SUPERVISION,
                unit_id=clock.unit_id, issued_by=SUPERVISION, text=LONG_PASSED_ZH,
                due_at=calendar.add_working_days(now, ORDER_WORKING_DAYS))


def _repeats(w: Watch, policy: DeadlinePolicy) -> Iterator[c.TicketCommand]:
    for count, level in REPEATS:
        wid = f"repeat/{count}"
        if w.repeat_count >= count and wid not in w.warnings:
            yield c.RaiseWarning(ticket_id=w.ticket_id, warning_id=wid, level=level,
                                 unit_id=w.lead_unit, rule=f"{policy.id}/repeat-contact/{count}",
                                 message_zh=REPEAT_ZH)


def _order_steps(ticket_id: str, order: OrderWatch, now: datetime, policy: DeadlinePolicy,
                 calendar: WorkingCalendar) -> Iterator[c.TicketCommand]:
    if order.answered:
        return
    for level in range(order.level + 1, ORDER_MAX_LEVEL + 1):
        if now < order_level_at(order, level, calendar):
            return
        yield c.EscalateSupervisionOrder(ticket_id=ticket_id, order_id=order.order_id,
                                         level=level,
                                         rule=f"{policy.id}/order-unanswered/{level}")


def blocked(w: Watch, now: datetime, policy: DeadlinePolicy,
            calendar: WorkingCalendar) -> MissingYear | None:
    """Why an escalation due by now cannot be placed: a threshold in a year without a
    calendar file (the ticker logs it, naming the file to add)."""
    try:
        for clock in w.running():
            if now >= clock.due_at:
                red_at(clock, policy, calendar)
        for order in w.orders:
            if not order.answered and order.level < ORDER_MAX_LEVEL:
                order_level_at(order, order.level + 1, calendar)
    except MissingYear as exc:
        return exc
    return None


# ----------------------------------------------------------------------------- next check


def next_check(w: Watch, policy: DeadlinePolicy, calendar: WorkingCalendar) -> datetime | None:
    """The first moment `plan` may list something new (None: nothing can come any more).

    A threshold the calendar cannot place (MissingYear) answers ASAP: the ticker then
    meets the error, logs which calendar file to add, and tries again later.
    """
    if not w.open:
        return None
    times: list[datetime] = []
    try:
        for clock in w.running():
            times += _clock_next(w, clock, policy, calendar)
        for order in w.orders:
            if not order.answered and order.level < ORDER_MAX_LEVEL:
                times.append(order_level_at(order, order.level + 1, calendar))
    except MissingYear:
        return ASAP
    if any(w.repeat_count >= n and f"repeat/{n}" not in w.warnings for n, _ in REPEATS):
        times.append(ASAP)
    return min(times, default=None)


def _clock_next(w: Watch, clock: Clock, policy: DeadlinePolicy,
                calendar: WorkingCalendar) -> list[datetime]:
    """The threshold of the clock's first step not fully done (warning, card, order)."""
    blue = warning_id(clock, WarningLevel.BLUE)
    if blue not in w.warnings and (at := blue_at(clock, policy, calendar)) is not None:
        return [at]
    orange = warning_id(clock, WarningLevel.ORANGE)
    if orange not in w.warnings or orange not in w.carded:
        return [clock.due_at]
    red = warning_id(clock, WarningLevel.RED)
    if red not in w.warnings or red not in w.carded or order_id(clock) not in {
            o.order_id for o in w.orders}:
        return [red_at(clock, policy, calendar)]
    return []
