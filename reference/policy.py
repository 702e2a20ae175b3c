"""The deadline policy (时限标准) as data: how long a unit has, per ticket type and urgency.

`data/deadline-policy.json` says, for acknowledging and for replying, a span in
working days, working hours or elapsed hours/minutes (emergency repairs run on
the clock, not on office hours), plus the warning thresholds the supervision
service escalates on. Changing a time limit is a data change; the policy id is
written into every `Deadline`, so a ticket's history says which policy set it.

Pure: the working-day arithmetic comes from the `WorkingCalendar` passed in.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from contracts.base import Deadline
from contracts.vocabulary import DeadlineKind, TicketType, Urgency
from reference.calendar import WorkingCalendar

DATA = Path(__file__).parent / "data" / "deadline-policy.json"


@dataclass(frozen=True, slots=True)
class Span:
    """One time limit: exactly one of working days, working hours or elapsed time."""

    working_days: int = 0
    working_hours: float = 0.0
    elapsed: timedelta = timedelta(0)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> Span:
        known = {"working_days", "working_hours", "hours", "minutes"}
        if len(raw) != 1 or not set(raw) <= known:
            raise ValueError(f"{where}: give exactly one of {sorted(known)}, got {dict(raw)}")
        (unit, value), = raw.items()
        if not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{where}: {unit} must be a positive number")
        if unit == "working_days":
            if not isinstance(value, int):
                raise ValueError(f"{where}: working_days must be whole days")
            return cls(working_days=value)
        if unit == "working_hours":
            return cls(working_hours=float(value))
        return cls(elapsed=timedelta(**{unit: value}))

    def after(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        """When the span started at `start` ends."""
        if self.working_days:
            return calendar.add_working_days(start, self.working_days)
        if self.working_hours:
            return calendar.add_working_hours(start, self.working_hours)
        return start + self.elapsed


class ReturnedClock(StrEnum):
    """What a return to the hotline (退单) does to the reply clock when the ticket goes out
    again: the new unit gets a full limit (`restart`, the usual practice), or the ticket's
    own limit carries on — stopped while the ticket sat at the hotline (`pause`) or not
    (`run`)."""

    RESTART = "restart"
    PAUSE = "pause"
    RUN = "run"


@dataclass(frozen=True)
class DeadlinePolicy:
    """Time limits per ticket type and urgency, and the thresholds warnings fire at."""

    id: str
    jurisdiction: str
    acknowledge: Mapping[Urgency, Span]
    reply: Mapping[TicketType, Mapping[Urgency, Span]]
    redo: Span
    blue_share_left: float  # blue when less than this share of the time is left …
    blue_working_days_left: int  # … or less than this many working days
    red_grace_working_days: int  # red this many working days after the deadline
    returned_clock: ReturnedClock

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DeadlinePolicy:
        """Build and check a policy; ValueError naming the missing or bad entry."""
        ack = {u: Span.parse(raw["acknowledge"][u.value], f"acknowledge.{u.value}")
               for u in Urgency}
        reply = {t: {u: Span.parse(raw["reply"][t.value][u.value], f"reply.{t.value}.{u.value}")
                     for u in Urgency} for t in TicketType}
        warnings = raw["warnings"]
        share = float(warnings["blue_share_left"])
        if not 0 < share < 1:
            raise ValueError("warnings.blue_share_left must lie between 0 and 1")
        return cls(id=str(raw["id"]), jurisdiction=str(raw["jurisdiction"]), acknowledge=ack,
                   reply=reply, redo=Span.parse(raw["redo"], "redo"), blue_share_left=share,
                   blue_working_days_left=int(warnings["blue_working_days_left"]),
                   red_grace_working_days=int(warnings["red_grace_working_days"]),
                   returned_clock=ReturnedClock(raw["returned_clock"]))

    def effective_urgency(self, urgency: Urgency, urgent_flag: bool) -> Urgency:
        """"紧急, 请优先处理" on a normal ticket runs on the urgent clock."""
        return Urgency.URGENT if urgent_flag and urgency is Urgency.NORMAL else urgency

    def at_dispatch(self, ticket_type: TicketType, urgency: Urgency, urgent_flag: bool,
                    now: datetime, calendar: WorkingCalendar) -> tuple[Deadline, Deadline]:
        """The acknowledge and reply clocks of a ticket sent to a unit at `now`."""
        level = self.effective_urgency(urgency, urgent_flag)
        policy_id = f"{self.id}/{ticket_type.value}/{level.value}"
        return (
            Deadline(kind=DeadlineKind.ACKNOWLEDGE, policy_id=policy_id,
                     due_at=self.acknowledge[level].after(now, calendar)),
            Deadline(kind=DeadlineKind.REPLY, policy_id=policy_id,
                     due_at=self.reply[ticket_type][level].after(now, calendar)),
        )

    def after_return(self, ticket_type: TicketType, urgency: Urgency, urgent_flag: bool,
                     now: datetime, calendar: WorkingCalendar, *, previous_due: datetime,
                     returned_at: datetime) -> tuple[Deadline, Deadline]:
        """The clocks of a ticket sent out again at `now` after a return at `returned_at`
        (its reply was due at `previous_due`). Whatever carries on, the new unit always has
        at least a fresh acknowledge window: a ticket is never handed over already late."""
        ack, reply = self.at_dispatch(ticket_type, urgency, urgent_flag, now, calendar)
        if self.returned_clock is ReturnedClock.RESTART:
            return ack, reply
        due = previous_due
        if self.returned_clock is ReturnedClock.PAUSE:  # the time left at the return, resumed
            span = self.reply[ticket_type][self.effective_urgency(urgency, urgent_flag)]
            if span.elapsed:
                due = now + max(previous_due - returned_at, timedelta(0))
            else:
                left = calendar.working_time_between(returned_at, previous_due)
                due = calendar.add_working_hours(now, max(left, timedelta(0)) / timedelta(hours=1))
        return ack, reply.model_copy(update={
            "due_at": max(due, ack.due_at),
            "policy_id": f"{reply.policy_id}/{self.returned_clock.value}"})

    def for_redo(self, now: datetime, calendar: WorkingCalendar) -> Deadline:
        """The clock of a redo (重办), from the moment it is accepted."""
        return Deadline(kind=DeadlineKind.REDO, policy_id=f"{self.id}/redo",
                        due_at=self.redo.after(now, calendar))


@functools.cache
def load_policy(path: Path = DATA) -> DeadlinePolicy:
    """The packaged policy (read once)."""
    return DeadlinePolicy.from_dict(json.loads(path.read_text(encoding="utf-8")))
