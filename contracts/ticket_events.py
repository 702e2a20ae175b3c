"""Ticket lifecycle events, part 1: registration, dispatch, handling, reply, close.

All on topic hotline.tickets; the ticket is the envelope `subject` (its
stream), so payloads do not repeat the ticket id, except `TicketRegistered`
which names it. Who did it and when is in the envelope (`actor`, `time`).
Warnings, supervision, surveys and redo are in contracts/oversight_events.py.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from contracts.base import (
    Attachment,
    Category,
    CitizenRef,
    Deadline,
    DistrictCode,
    Id,
    Note,
    PersonId,
    Reason,
    Text,
    TicketEvent,
    Timestamp,
    UnitId,
    distinct_units,
)
from contracts.vocabulary import Channel, CloseReason, TicketType, Urgency

TICKET_NUMBER = r"^12345-[0-9]{8}-[0-9]{6}$"


class TicketRegistered(TicketEvent):
    """登记: an operator (or an automatic rule) created a ticket from one or more contacts."""

    ticket_id: Id = Field(description="Ticket id; the stream (envelope subject) is ticket-<id>")
    ticket_number: str = Field(
        pattern=TICKET_NUMBER, description="Public ticket number, e.g. 12345-20261122-000123"
    )
    contact_ids: tuple[Id, ...] = Field(min_length=1, description="Contacts the ticket is from")
    ticket_type: TicketType
    category: Category
    urgency: Urgency = Urgency.NORMAL
    summary: Text = Field(description="The request in the operator's words (no personal data)")
    district_code: DistrictCode
    citizen_ref: CitizenRef | None = None
    registered_by: PersonId = Field(description="Operator id, or the rule id when automatic")
    channel: Channel | None = Field(default=None, description="Channel of the first contact")


class TicketNumberReserved(TicketEvent):
    """取号: the next public number of the day was reserved for a ticket.

    Lives on its own stream per day (`ticket-numbers-<yyyymmdd>`): the stream's
    version is the day's sequence, so two registrations can never share a number.
    """

    ticket_id: Id
    ticket_number: str = Field(pattern=TICKET_NUMBER)


class TicketClassified(TicketEvent):
    """重新分类: the ticket's type, category or urgency was corrected."""

    ticket_type: TicketType
    category: Category
    urgency: Urgency
    note: Note | None = None


class ContactMerged(TicketEvent):
    """合并来电: a further contact on the same issue joined this open ticket."""

    contact_id: Id
    repeat_count: int = Field(
        ge=2, description="Contacts on this ticket now (2 = first repeat; 3 escalates to red)"
    )


class TicketMergedInto(TicketEvent):
    """并单: this ticket duplicates another open ticket and is merged into it."""

    target_ticket_id: Id = Field(description="The ticket that carries on")
    note: Note | None = None


class TicketAnsweredDirectly(TicketEvent):
    """直接答复/即时办结: the operator answered the citizen, e.g. from the knowledge base."""

    answer: Text
    knowledge_article_id: Id | None = None
    knowledge_article_version: int | None = Field(
        default=None, ge=1, description="The version of the article the answer came from")


class TicketDispatched(TicketEvent):
    """派单: the ticket was sent to a lead unit (主办), with optional assisting units (协办)."""

    lead_unit: UnitId
    assisting_units: tuple[UnitId, ...] = ()
    note: Note | None = Field(default=None, description="Dispatch instructions (派单意见)")
    urgent: bool = False
    round: int = Field(default=1, ge=1, description="Dispatch round: 1, then +1 per re-dispatch")

    @model_validator(mode="after")
    def _units(self) -> TicketDispatched:
        distinct_units(self.lead_unit, self.assisting_units)
        return self


class DeadlinesSet(TicketEvent):
    """时限设定: the ticket's clocks were set or moved (dispatch, extension, redo, order)."""

    deadlines: tuple[Deadline, ...] = Field(min_length=1)
    reason: Reason = Field(description="e.g. dispatched, extension_approved, redo_accepted")


class TicketAcknowledged(TicketEvent):
    """签收: the lead unit accepted responsibility."""

    unit_id: UnitId


class TicketReturned(TicketEvent):
    """退单: the unit sent a misrouted ticket back to the hotline."""

    unit_id: UnitId
    reason: Reason


class TicketReassigned(TicketEvent):
    """改派: the hotline moved the ticket from one unit to another."""

    from_unit: UnitId
    lead_unit: UnitId
    assisting_units: tuple[UnitId, ...] = ()
    note: Note | None = None
    urgent: bool = False

    @model_validator(mode="after")
    def _units(self) -> TicketReassigned:
        distinct_units(self.lead_unit, self.assisting_units)
        return self


class ProgressNoted(TicketEvent):
    """办理进展: a unit recorded progress; public notes are shown to the citizen."""

    unit_id: UnitId
    note: Text
    public: bool = False


class AssistingUnitReplied(TicketEvent):
    """协办反馈: an assisting unit reported its part to the lead unit."""

    unit_id: UnitId
    text: Text
    attachments: tuple[Attachment, ...] = ()


class ExtensionRequested(TicketEvent):
    """延期申请: the unit asked for more time."""

    request_id: Id
    unit_id: UnitId
    reason: Reason
    requested_due_at: Timestamp


class ExtensionApproved(TicketEvent):
    """延期批准: a supervisor granted the extension."""

    request_id: Id
    approved_by: PersonId
    new_due_at: Timestamp


class ExtensionRejected(TicketEvent):
    """延期驳回: a supervisor refused the extension."""

    request_id: Id
    rejected_by: PersonId
    reason: Reason


class TicketReplied(TicketEvent):
    """办结反馈: the lead unit reported its result."""

    unit_id: UnitId
    text: Text
    attachments: tuple[Attachment, ...] = ()
    solved: bool | None = Field(default=None, description="Unit's own view; None if not stated")


class TicketClosed(TicketEvent):
    """结案/归档: end of the loop."""

    reason: CloseReason
    note: Note | None = None


class TicketReopened(TicketEvent):
    """重启: a supervisor reopened a closed ticket (audited; reason required)."""

    reopened_by: PersonId
    reason: Reason
