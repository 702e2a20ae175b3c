"""The callback worker: at each tick, take every ticket whose next callback step has come —
open (or skip) the survey of a fresh reply, record an expired survey as unanswered, turn an
unanswered one into a phone task or close it, and close or ask for a redo after an answer.

Like supervision's ticker (ticketing/timer.py), it stores nothing of its own: it
reads the board's rows whose `next_check_at` has come, plans on each `Case`
(services/callback/domain.py), and sends the commands to the decider with ids derived from
the step, so a crash anywhere repeats nothing. The answer endpoints close or ask for the
redo at once, with the same ids; the worker is what makes sure it happens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from hotline.runtime import Platform, utc_now
from services.callback.domain import CallbackPolicy, case_from_json, command_id, needs_reach, plan
from services.callback.projections import cases
from services.callback.reach import recipient
from ticketing.client import tickets_of
from ticketing.timer import TickReport, Timer

log = logging.getLogger(__name__)

SOURCE = "/hotline/callback"
ACTOR = "system:callback"


class CallbackWorker(Timer):
    """Sends the due callback steps through the process's TicketDesk."""

    name, source, actor = "callback", SOURCE, ACTOR
    table, columns = cases, ("case_json",)

    def __init__(self, platform: Platform, policy: CallbackPolicy, *, concurrency: int = 32,
                 interval_s: float = 10.0, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(platform.db, tickets_of(platform), concurrency=concurrency,
                         interval_s=interval_s, clock=clock or utc_now)
        self.platform, self.policy = platform, policy

    async def work(self, row: Row[Any], now: datetime, report: TickReport) -> None:
        case = case_from_json(row.ticket_id, json.loads(row.case_json))
        reach = None
        if needs_reach(case):
            ticket = await self.tickets.get(case.ticket_id)
            if ticket is None:
                return
            reach = (await recipient(self.platform, ticket)).reach
        commands = plan(case, now, self.policy, reach)
        report.planned += len(commands)
        for command in commands:
            if not await self.send(command, command_id(case, command), now, report):
                return
