"""Supervision's use cases: the supervisor's orders and reminders, the unit's answers, and
the board's reads. Orders go through the ticket decider like every other change."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts import commands as c
from contracts.ids import name_id
from contracts.vocabulary import OrderKind
from hotline.projection import ReadSide
from hotline.runtime import Platform
from reference.calendar import WorkingCalendar
from reference.policy import DeadlinePolicy
from ticketing.client import TicketCommands, tickets_of
from ticketing.domain import OPEN, Ticket
from ticketing.handler import Outcome, request_id
from ticketing.rules import Rejected

SOURCE = "/hotline/supervision"
# working days a unit has to answer, when the supervisor gives no date
ANSWER_WITHIN = {OrderKind.SUPERVISION: 2, OrderKind.REMINDER: 1}
_ORDERS = uuid.UUID("3d0e5c71-6b2a-4f88-a1d4-12345a0f0004")


class SupervisionService(ReadSide):
    """Issue and answer supervision orders (督办) and reminders (催办); read the board."""

    def __init__(self, platform: Platform, policy: DeadlinePolicy,
                 calendar: WorkingCalendar) -> None:
        self.platform, self.db = platform, platform.db
        self.tickets: TicketCommands = tickets_of(platform)
        self.policy, self.calendar = policy, calendar

    async def ticket(self, ticket_id: str) -> Ticket | None:
        return await self.tickets.get(ticket_id)

    async def issue_order(self, ticket_id: str, kind: OrderKind, text: str,
                          due_at: datetime | None, unit_id: str | None, issued_by: str,
                          actor: str, command_id: str, now: datetime) -> Outcome:
        """督办/催办 an open ticket's unit (its lead unit unless named); due in the policy's
        working days unless the supervisor sets the date."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise Rejected("ticket-unknown")
        if ticket.status not in OPEN:
            raise Rejected("ticket-closed" if ticket.status == "closed" else "ticket-merged")
        unit = unit_id or ticket.lead_unit
        if unit is None or not ticket.involves(unit):
            raise Rejected("not-assigned", "Orders go to a unit that holds the ticket now.")
        due = due_at or self.calendar.add_working_days(now, ANSWER_WITHIN[kind])
        order_id = f"{kind.value}/{name_id(_ORDERS, command_id)}"
        command = c.IssueSupervisionOrder(ticket_id=ticket_id, order_id=order_id, kind=kind,
                                          unit_id=unit, due_at=due, text=text,
                                          issued_by=issued_by)
        # the correlation is the request's (the due date as asked, maybe none): a retry on a
        # later day, whose policy date differs, is the same request, answered from the log
        asked = command.model_copy(update={"due_at": due_at})
        return await self.tickets.execute(command, actor=actor, command_id=command_id, now=now,
                                       source=SOURCE,
                                       correlation_id=request_id(command_id, asked))

    async def answer_order(self, ticket_id: str, order_id: str, unit_id: str, text: str,
                           actor: str, command_id: str, now: datetime) -> Outcome:
        """The unit's answer to an order addressed to it."""
        command = c.AnswerSupervisionOrder(ticket_id=ticket_id, order_id=order_id,
                                           unit_id=unit_id, text=text)
        return await self.tickets.execute(command, actor=actor, command_id=command_id, now=now,
                                       source=SOURCE)
