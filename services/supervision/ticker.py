"""The supervision ticker: at each tick, fire every escalation whose time has come.

A tick reads the board's tickets whose `next_check_at` has passed (an index range, however
many tickets are open), plans on each ticket's watch (services/supervision/escalation.py)
and sends the commands to the ticket decider. Nothing of the ticker's own is stored: the
ticket stream is the only record of what fired, so a crash anywhere loses nothing and
repeats nothing —

- a command id is derived from what it escalates (ticket, step, warning or order id), so
  a command resent after a crash is the same command: the desk answers it from the log
  and appends nothing (and the decider would refuse it by rule anyway);
- a board that lags behind the log (after a restart, under load) only delays: the tickets
  due are still due, and the decider checks every warning against the ticket's current
  clocks (`clock-stopped`), so a stale row can never raise a wrong one.

Time is injected: `tick(now)` is the whole of it, so tests advance weeks in milliseconds.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row

from contracts import commands as c
from contracts.ids import name_id
from hotline.runtime import Platform, utc_now
from reference.calendar import MissingYear, WorkingCalendar
from reference.policy import DeadlinePolicy
from services.supervision.escalation import SUPERVISION, blocked, plan
from services.supervision.projections import board
from services.supervision.watch import from_json
from ticketing.client import tickets_of
from ticketing.timer import TickReport, Timer

log = logging.getLogger(__name__)

SOURCE = "/hotline/supervision"
ACTOR = f"system:{SUPERVISION}"
_COMMANDS = uuid.UUID("0b4f2d6e-8a1c-4e3b-9f57-12345a0f0003")
MISSING_YEAR_RETRY = timedelta(hours=1)


def escalation_command_id(command: c.TicketCommand) -> str:
    """The same escalation, the same id: ticket, step and what it is about."""
    match command:
        case c.RaiseWarning():
            key = f"warning:{command.warning_id}"
        case c.IssueCard():
            key = f"card:{command.warning_id}"
        case c.IssueSupervisionOrder():
            key = f"order:{command.order_id}"
        case c.EscalateSupervisionOrder():
            key = f"order-level:{command.order_id}:{command.level}"
        case _:
            raise TypeError(f"not an escalation: {type(command).__name__}")
    return name_id(_COMMANDS, f"{command.ticket_id}\n{key}")


class Ticker(Timer):
    """Fires due escalations through the process's TicketDesk."""

    name, source, actor = "supervision", SOURCE, ACTOR
    table, columns = board, ("watch",)

    def __init__(self, platform: Platform, policy: DeadlinePolicy, calendar: WorkingCalendar,
                 *, concurrency: int = 32, interval_s: float = 30.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(platform.db, tickets_of(platform), concurrency=concurrency,
                         interval_s=interval_s, clock=clock or utc_now)
        self.policy, self.calendar = policy, calendar
        self._later: dict[str, datetime] = {}  # tickets whose calendar year is missing

    def waiting(self, ticket_id: str, now: datetime) -> bool:
        return (retry := self._later.get(ticket_id)) is not None and retry > now

    def forget(self, seen: set[str], now: datetime) -> None:
        self._later = {t: at for t, at in self._later.items() if t in seen and at > now}

    async def work(self, row: Row[Any], now: datetime, report: TickReport) -> None:
        ticket_id = row.ticket_id
        watch = from_json(ticket_id, json.loads(row.watch))
        try:
            commands = plan(watch, now, self.policy, self.calendar)
            missing = None if commands else blocked(watch, now, self.policy, self.calendar)
        except MissingYear as exc:  # an order placed from `now` reaches an unknown year
            commands, missing = [], exc
        if missing is not None:
            log.error("supervision: ticket %s: %s", ticket_id, missing)
            self._later[ticket_id] = now + MISSING_YEAR_RETRY
            report.failed += 1
            return
        report.planned += len(commands)
        for command in commands:  # in order: a card follows its warning
            if not await self.send(command, escalation_command_id(command), now, report):
                return
