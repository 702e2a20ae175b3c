"""The command catalogue: every request to change state, by name (DESIGN.md §3 principle 3).

A command is an imperative request to one ticket; the ticket decider validates it
against the ticket's state and either appends events or rejects it with a reason.
A service whose process does not own the ticket's partition sends it as a request on
hotline.commands, keyed by the ticket stream id and sealed (ticketing/wire.py,
hotline/requests.py); its JSON Schema (hotline.<CommandName>.v1, e.g.
hotline.DispatchTicket.v1) is in contracts/schemas. The command id becomes the
`causationid` of the events it produces; a command delivered twice is recognised by
that id.

Who acts travels beside the command (the envelope `actor` of its events); commands whose
event names a person (approved_by, reviewer, ...) carry that id too, so `decide` stays a
pure function of (state, command, now). Contacts and calls are not commands: intake
appends them itself, or hands them to the replica that owns their stream
(services/intake/writer.py).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from contracts import topics
from contracts.base import (
    Attachment,
    Category,
    CitizenRef,
    Deadline,
    DistrictCode,
    Frozen,
    Id,
    Note,
    PersonId,
    Reason,
    Text,
    Timestamp,
    UnitId,
    distinct_units,
)
from contracts.oversight_events import Rule
from contracts.ticket_events import TICKET_NUMBER
from contracts.vocabulary import (
    CardColour,
    Channel,
    CloseReason,
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    OrderKind,
    SurveyChannel,
    SurveySkipReason,
    TicketType,
    Urgency,
    WarningLevel,
)


class Command(Frozen):
    """Base of every command: the `data` of one envelope on hotline.commands."""

    topic: ClassVar[str] = topics.COMMANDS
    major: ClassVar[int] = 1


class TicketCommand(Command):
    """A command addressed to one ticket's decider."""

    ticket_id: Id = Field(description="The ticket; the envelope subject is its stream")


class RegisterTicket(TicketCommand):
    """登记: create the ticket `ticket_id` (chosen by the caller, so a retry is harmless)."""

    ticket_number: str = Field(pattern=TICKET_NUMBER)
    contact_ids: tuple[Id, ...] = Field(min_length=1)
    ticket_type: TicketType
    category: Category
    urgency: Urgency = Urgency.NORMAL
    summary: Text
    district_code: DistrictCode
    citizen_ref: CitizenRef | None = None
    registered_by: PersonId
    channel: Channel | None = None


class ClassifyTicket(TicketCommand):
    """重新分类: correct the type, category or urgency."""

    ticket_type: TicketType
    category: Category
    urgency: Urgency
    note: Note | None = None


class MergeContact(TicketCommand):
    """合并来电: attach a further contact on the same issue to this open ticket."""

    contact_id: Id


class MergeTicket(TicketCommand):
    """并单: merge this ticket into another open ticket it duplicates."""

    target_ticket_id: Id
    note: Note | None = None


class AnswerDirectly(TicketCommand):
    """直接答复: the operator answered the citizen; archive at once."""

    answer: Text
    knowledge_article_id: Id | None = None
    knowledge_article_version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _cited_whole(self) -> AnswerDirectly:
        if (self.knowledge_article_id is None) != (self.knowledge_article_version is None):
            raise ValueError("cite an article by its id and version together")
        return self


class DispatchTicket(TicketCommand):
    """派单: send the ticket to a lead unit and optional assisting units."""

    lead_unit: UnitId
    assisting_units: tuple[UnitId, ...] = ()
    note: Note | None = None
    urgent: bool = False
    deadlines: tuple[Deadline, ...] = Field(default=(), description="Clocks from the policy")

    @model_validator(mode="after")
    def _units(self) -> DispatchTicket:
        distinct_units(self.lead_unit, self.assisting_units)
        return self


class AcknowledgeTicket(TicketCommand):
    """签收: the unit accepts responsibility."""

    unit_id: UnitId


class ReturnTicket(TicketCommand):
    """退单: the unit sends a misrouted ticket back."""

    unit_id: UnitId
    reason: Reason


class ReassignTicket(TicketCommand):
    """改派: send the ticket to another unit."""

    lead_unit: UnitId
    assisting_units: tuple[UnitId, ...] = ()
    note: Note | None = None
    urgent: bool = False
    deadlines: tuple[Deadline, ...] = Field(default=(), description="Clocks from the policy")

    @model_validator(mode="after")
    def _units(self) -> ReassignTicket:
        distinct_units(self.lead_unit, self.assisting_units)
        return self


class NoteProgress(TicketCommand):
    """办理进展: record progress; public notes are shown to the citizen."""

    unit_id: UnitId
    note: Text
    public: bool = False


class ReplyAsAssistingUnit(TicketCommand):
    """协办反馈: an assisting unit reports its part."""

    unit_id: UnitId
    text: Text
    attachments: tuple[Attachment, ...] = ()


class RequestExtension(TicketCommand):
    """延期申请: ask for more time."""

    request_id: Id
    unit_id: UnitId
    reason: Reason
    requested_due_at: Timestamp


class ApproveExtension(TicketCommand):
    """延期批准: grant an extension, by default to the requested date."""

    request_id: Id
    approved_by: PersonId
    new_due_at: Timestamp | None = Field(default=None, description="None: the requested date")


class RejectExtension(TicketCommand):
    """延期驳回: refuse an extension."""

    request_id: Id
    rejected_by: PersonId
    reason: Reason


class ReplyTicket(TicketCommand):
    """办结反馈: the lead unit reports its result."""

    unit_id: UnitId
    text: Text
    attachments: tuple[Attachment, ...] = ()
    solved: bool | None = None


class SetDeadlines(TicketCommand):
    """时限设定: set or move the ticket's clocks."""

    deadlines: tuple[Deadline, ...] = Field(min_length=1)
    reason: Reason


class RaiseWarning(TicketCommand):
    """红橙蓝单预警: mark the ticket blue, orange or red."""

    warning_id: Id
    level: WarningLevel
    deadline_kind: DeadlineKind | None = None
    due_at: Timestamp | None = None
    unit_id: UnitId | None = None
    rule: Rule
    message_zh: str = Field(min_length=1)


class IssueCard(TicketCommand):
    """黄牌/红牌: sanction a late unit."""

    unit_id: UnitId
    colour: CardColour
    rule: Rule
    warning_id: Id | None = None


class IssueSupervisionOrder(TicketCommand):
    """督办/催办: issue a formal follow-up order."""

    order_id: Id
    kind: OrderKind
    unit_id: UnitId
    due_at: Timestamp
    text: Text
    issued_by: PersonId


class AnswerSupervisionOrder(TicketCommand):
    """督办回复: the unit answers an order."""

    order_id: Id
    unit_id: UnitId
    text: Text


class EscalateSupervisionOrder(TicketCommand):
    """督办升级: take an unanswered order up a level."""

    order_id: Id
    level: int = Field(ge=1)
    rule: Rule


class OpenSurvey(TicketCommand):
    """回访: send the callback survey (the decider numbers the round)."""

    survey_id: Id
    channel: SurveyChannel
    expires_at: Timestamp


class SkipSurvey(TicketCommand):
    """免回访: close the loop without a survey."""

    reason: SurveySkipReason
    note: Note | None = None


class RecordSurveyAnswer(TicketCommand):
    """回访结果: record the citizen's ratings."""

    survey_id: Id
    hotline_service: HotlineServiceRating
    handling: HandlingRating | None = None
    comment: Note | None = Field(default=None, max_length=5000)
    solved: bool | None = None
    answered_via: SurveyChannel


class RecordSurveyUnanswered(TicketCommand):
    """回访未应答: the survey expired."""

    survey_id: Id


class RequestRedo(TicketCommand):
    """申请重办: the citizen asks for the ticket to be handled again."""

    survey_id: Id
    reason: Reason


class AcceptRedo(TicketCommand):
    """重办: send the ticket back to the unit (once)."""

    reviewer: PersonId
    unit_id: UnitId | None = Field(default=None, description="None: the last lead unit")
    reason: Reason
    deadlines: tuple[Deadline, ...] = Field(default=(), description="The redo's clock")


class RejectRedo(TicketCommand):
    """重办驳回: the redo request is not justified."""

    reviewer: PersonId
    reason: Reason


class CloseTicket(TicketCommand):
    """结案: end the loop."""

    reason: CloseReason
    note: Note | None = None


class ReopenTicket(TicketCommand):
    """重启: reopen a closed ticket (supervisors only; audited)."""

    reopened_by: PersonId
    reason: Reason


def _concrete(base: type[Command]) -> list[type[Command]]:
    found: list[type[Command]] = []
    for sub in base.__subclasses__():
        if sub is not TicketCommand and sub.__module__ == __name__:
            found.append(sub)
        found.extend(_concrete(sub))
    return found


COMMANDS: dict[str, type[Command]] = {
    cls.__name__: cls for cls in sorted(_concrete(Command), key=lambda c: c.__name__)
}
"""Every command model by name, sorted by name."""


def command_name(model_or_class: Command | type[Command]) -> str:
    """`DispatchTicket` for the class DispatchTicket or any instance of it."""
    cls = model_or_class if isinstance(model_or_class, type) else type(model_or_class)
    if COMMANDS.get(cls.__name__) is not cls:
        raise KeyError(f"{cls.__name__} is not in the command catalogue")
    return cls.__name__
