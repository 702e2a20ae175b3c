"""The ticket decider: `decide(ticket, command, now) -> events` and `evolve(ticket, event, at)`.

Pure functions, no I/O (DESIGN.md §3 principles 3–4). `Ticket` is the state a
ticket's events fold into; `decide` checks a command against it and returns
the events to append, or raises `Rejected` naming the rule broken
(ticketing/rules.py). The same functions run under both log engines
and in the unit tests.

The loop (DESIGN.md §4), status by status:

    registered ──Dispatch──> dispatched ──Acknowledge──> acknowledged ──Reply──> replied
        │ AnswerDirectly        │ Return / Reassign        │ Return / Reassign      │ survey,
        ▼                       ▼                          │ Extension…             │ redo (once),
      closed <───────────── returned ──Reassign──> dispatched                       ▼ Close
                                 └──AnswerDirectly──> closed                      closed
    any open status ──MergeTicket──> merged;   closed ──Reopen (supervisor)──> registered
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import commands as c
from contracts import events as e
from contracts.base import Category, EventData
from contracts.frozen import with_changes
from contracts.lifecycle import carried
from contracts.vocabulary import (
    CloseReason,
    DeadlineKind,
    HandlingRating,
    TicketStatus,
    TicketType,
    Urgency,
)
from ticketing.rules import Rejected

S = TicketStatus
OPEN = frozenset({S.REGISTERED, S.DISPATCHED, S.ACKNOWLEDGED, S.RETURNED, S.REPLIED})
WITH_UNIT = frozenset({S.DISPATCHED, S.ACKNOWLEDGED})
AT_HOTLINE = frozenset({S.REGISTERED, S.RETURNED})


@dataclass(frozen=True, slots=True)
class Extension:
    """A pending 延期 request."""

    request_id: str
    unit_id: str
    requested_due_at: datetime


@dataclass(frozen=True, slots=True)
class Order:
    """A 督办/催办 order and whether the unit answered it."""

    unit_id: str
    due_at: datetime
    answered: bool = False
    level: int = 0


@dataclass(frozen=True, slots=True)
class Ticket:
    """Everything the decider needs to know about one ticket, folded from its events."""

    ticket_id: str
    ticket_number: str
    status: TicketStatus
    ticket_type: TicketType
    category: Category
    urgency: Urgency
    district_code: str
    registered_at: datetime
    contact_ids: tuple[str, ...]
    summary: str = ""
    citizen_ref: str | None = None
    lead_unit: str | None = None
    assisting_units: tuple[str, ...] = ()
    last_lead_unit: str | None = None  # who had it before a return: the redo goes back there
    units_ever: frozenset[str] = frozenset()  # every unit it was sent to: they may still read it
    dispatch_round: int = 0
    assisting_replied: frozenset[str] = frozenset()
    deadlines: dict[DeadlineKind, datetime] = field(default_factory=dict)
    extension: Extension | None = None
    warnings: frozenset[str] = frozenset()
    carded: frozenset[str] = frozenset()  # warning ids a card was issued for
    orders: dict[str, Order] = field(default_factory=dict)
    survey_id: str | None = None  # the open survey
    survey_round: int = 0
    last_handling: HandlingRating | None = None  # of the last answered survey
    last_survey_id: str | None = None
    survey_unanswered: bool = False  # the last survey expired without an answer
    redo_pending: bool = False
    redone: bool = False
    close_reason: CloseReason | None = None
    merged_into: str | None = None

    def involves(self, unit_id: str) -> bool:
        """Whether the unit is the ticket's lead or an assisting unit now."""
        return unit_id == self.lead_unit or unit_id in self.assisting_units


def reply_kind(t: Ticket) -> DeadlineKind:
    """The clock a reply stops: the redo's once the ticket is redone, else the first reply's."""
    return DeadlineKind.REDO if DeadlineKind.REDO in t.deadlines else DeadlineKind.REPLY


def running_deadline(t: Ticket, kind: DeadlineKind) -> datetime | None:
    """The due time of the `kind` clock if it runs now: acknowledging while dispatched and
    not acknowledged, replying (or redoing) while a unit holds the ticket. A return, a new
    dispatch, a reply or a close stops the clocks (DESIGN.md §5)."""
    if t.status is S.DISPATCHED and kind is DeadlineKind.ACKNOWLEDGE:
        return t.deadlines.get(kind)
    if t.status in WITH_UNIT and kind is reply_kind(t):
        return t.deadlines.get(kind)
    return None


# ---------------------------------------------------------------------------------------- evolve


def evolve(ticket: Ticket | None, event: EventData, at: datetime) -> Ticket:
    """The state after one event; `at` is the event's time (the envelope's). Status and lead
    unit move as `contracts.lifecycle` says; the steps below keep the rest."""
    if isinstance(event, e.TicketRegistered):
        return Ticket(
            ticket_id=event.ticket_id, ticket_number=event.ticket_number,
            status=S.REGISTERED, ticket_type=event.ticket_type, category=event.category,
            urgency=event.urgency, district_code=event.district_code, registered_at=at,
            contact_ids=event.contact_ids, summary=event.summary, citizen_ref=event.citizen_ref,
        )
    if ticket is None:
        raise ValueError(f"{type(event).__name__} before TicketRegistered")
    step = _EVOLVE.get(type(event))
    return carried(step(ticket, event) if step is not None else ticket, event)


def _dispatched(t: Ticket, ev: Any) -> Ticket:
    lead = ev.lead_unit
    return with_changes(t, assisting_units=ev.assisting_units, last_lead_unit=lead,
                   dispatch_round=t.dispatch_round + 1,
                   units_ever=t.units_ever | {lead, *ev.assisting_units},
                   assisting_replied=frozenset(), extension=None, deadlines={})


def _returned(t: Ticket, ev: e.TicketReturned) -> Ticket:
    return with_changes(t, assisting_units=(), extension=None, deadlines={})


def _deadlines(t: Ticket, ev: e.DeadlinesSet) -> Ticket:
    return with_changes(t, deadlines={**t.deadlines, **{d.kind: d.due_at for d in ev.deadlines}})


def _extension_approved(t: Ticket, ev: e.ExtensionApproved) -> Ticket:
    return with_changes(t, extension=None, deadlines={**t.deadlines, reply_kind(t): ev.new_due_at})


def _order_issued(t: Ticket, ev: e.SupervisionOrderIssued) -> Ticket:
    return with_changes(t, orders={**t.orders, ev.order_id: Order(ev.unit_id, ev.due_at)})


def _order(t: Ticket, order_id: str, **changes: Any) -> Ticket:
    order = with_changes(t.orders[order_id], **changes)
    return with_changes(t, orders={**t.orders, order_id: order})


def _survey_answered(t: Ticket, ev: e.SurveyAnswered) -> Ticket:
    return with_changes(t, survey_id=None, last_survey_id=ev.survey_id, last_handling=ev.handling)


def _redo_accepted(t: Ticket, ev: e.RedoAccepted) -> Ticket:
    return with_changes(t, last_lead_unit=ev.unit_id,
                   units_ever=t.units_ever | {ev.unit_id}, redo_pending=False, redone=True,
                   assisting_replied=frozenset(), deadlines={})


_EVOLVE: dict[type[EventData], Callable[[Ticket, Any], Ticket]] = {
    e.TicketClassified: lambda t, ev: with_changes(
        t, ticket_type=ev.ticket_type, category=ev.category, urgency=ev.urgency),
    e.ContactMerged: lambda t, ev: with_changes(t, contact_ids=(*t.contact_ids, ev.contact_id)),
    e.TicketMergedInto: lambda t, ev: with_changes(t, merged_into=ev.target_ticket_id),
    e.TicketAnsweredDirectly: lambda t, ev: t,  # the TicketClosed that follows closes it
    e.TicketDispatched: _dispatched,
    e.TicketReassigned: _dispatched,
    e.DeadlinesSet: _deadlines,
    e.TicketReturned: _returned,
    e.AssistingUnitReplied: lambda t, ev: with_changes(
        t, assisting_replied=t.assisting_replied | {ev.unit_id}),
    e.ExtensionRequested: lambda t, ev: with_changes(
        t, extension=Extension(ev.request_id, ev.unit_id, ev.requested_due_at)),
    e.ExtensionApproved: _extension_approved,
    e.ExtensionRejected: lambda t, ev: with_changes(t, extension=None),
    # a new reply is surveyed afresh: what the citizen said of the last one no longer counts
    e.TicketReplied: lambda t, ev: with_changes(t, extension=None,
                                           last_handling=None, last_survey_id=None,
                                           survey_unanswered=False),
    e.WarningRaised: lambda t, ev: with_changes(t, warnings=t.warnings | {ev.warning_id}),
    e.CardIssued: lambda t, ev: with_changes(
        t, carded=t.carded | {ev.warning_id}) if ev.warning_id else t,
    e.SupervisionOrderIssued: _order_issued,
    e.SupervisionOrderAnswered: lambda t, ev: _order(t, ev.order_id, answered=True),
    e.SupervisionOrderEscalated: lambda t, ev: _order(t, ev.order_id, level=ev.level),
    e.SurveyOpened: lambda t, ev: with_changes(t, survey_id=ev.survey_id, survey_round=ev.round,
                                          survey_unanswered=False),
    e.SurveyAnswered: _survey_answered,
    e.SurveyUnanswered: lambda t, ev: with_changes(t, survey_id=None, survey_unanswered=True),
    e.RedoRequested: lambda t, ev: with_changes(t, redo_pending=True),
    e.RedoAccepted: _redo_accepted,
    e.RedoRejected: lambda t, ev: with_changes(t, redo_pending=False),
    e.TicketClosed: lambda t, ev: with_changes(t, close_reason=ev.reason, survey_id=None,
                                          extension=None),
    e.TicketReopened: lambda t, ev: with_changes(t, close_reason=None, assisting_units=(),
                                            deadlines={}),
}


# ---------------------------------------------------------------------------------------- decide


def decide(ticket: Ticket | None, command: c.Command, now: datetime) -> list[EventData]:
    """The events `command` produces on `ticket` (None: not registered), or `Rejected`."""
    if isinstance(command, c.RegisterTicket):
        if ticket is not None:
            raise Rejected("ticket-exists")
        return [e.TicketRegistered(**command.model_dump(exclude={"ticket_id"}),
                                   ticket_id=command.ticket_id)]
    if ticket is None:
        raise Rejected("ticket-unknown")
    handler = _DECIDE.get(type(command))
    if handler is None:
        raise TypeError(f"the ticket decider does not handle {type(command).__name__}")
    if ticket.status is S.CLOSED and not isinstance(command, c.ReopenTicket):
        raise Rejected("ticket-closed")
    if ticket.status is S.MERGED:
        raise Rejected("ticket-merged")
    return handler(ticket, command, now)


def _require(ok: bool, rule: str, detail: str = "") -> None:
    if not ok:
        raise Rejected(rule, detail)


def _in(t: Ticket, allowed: frozenset[TicketStatus], what: str) -> None:
    if t.status not in allowed:
        shown = ", ".join(sorted(s.value for s in allowed))
        raise Rejected("wrong-state", f"{what} needs status {shown}; the ticket is {t.status}.")


def _on_it(t: Ticket, unit_id: str) -> None:
    """The unit holds the ticket now; a unit that held it before learns it was moved (409)."""
    if not t.involves(unit_id):
        raise Rejected("reassigned-away" if unit_id in t.units_ever else "not-assigned")


def _lead(t: Ticket, unit_id: str) -> None:
    _on_it(t, unit_id)
    _require(unit_id == t.lead_unit, "not-lead-unit")


def _classify(t: Ticket, cmd: c.ClassifyTicket, now: datetime) -> list[EventData]:
    unchanged = (t.ticket_type, t.category, t.urgency) == (cmd.ticket_type, cmd.category,
                                                          cmd.urgency)
    _require(not unchanged, "no-change")
    return [e.TicketClassified(**cmd.model_dump(exclude={"ticket_id"}))]


def _merge_contact(t: Ticket, cmd: c.MergeContact, now: datetime) -> list[EventData]:
    _require(cmd.contact_id not in t.contact_ids, "contact-already-merged")
    return [e.ContactMerged(contact_id=cmd.contact_id, repeat_count=len(t.contact_ids) + 1)]


def _merge_ticket(t: Ticket, cmd: c.MergeTicket, now: datetime) -> list[EventData]:
    _require(cmd.target_ticket_id != t.ticket_id, "merge-into-self")
    return [e.TicketMergedInto(target_ticket_id=cmd.target_ticket_id, note=cmd.note)]


def _answer(t: Ticket, cmd: c.AnswerDirectly, now: datetime) -> list[EventData]:
    _in(t, AT_HOTLINE, "Answering directly")  # a unit holds it: reassign or wait for a return
    return [e.TicketAnsweredDirectly(answer=cmd.answer,
                                     knowledge_article_id=cmd.knowledge_article_id,
                                     knowledge_article_version=cmd.knowledge_article_version),
            e.TicketClosed(reason=CloseReason.ANSWERED)]


def _clocks(deadlines: tuple[Any, ...], now: datetime, reason: str) -> list[EventData]:
    if not deadlines:
        return []
    _require(all(d.due_at > now for d in deadlines), "deadline-in-past")
    return [e.DeadlinesSet(deadlines=deadlines, reason=reason)]


def _dispatch(t: Ticket, cmd: c.DispatchTicket, now: datetime) -> list[EventData]:
    _in(t, frozenset({S.REGISTERED}), "Dispatching")  # after a return it is a reassignment
    return [e.TicketDispatched(lead_unit=cmd.lead_unit, assisting_units=cmd.assisting_units,
                               note=cmd.note, urgent=cmd.urgent, round=t.dispatch_round + 1),
            *_clocks(cmd.deadlines, now, "dispatched")]


def _reassign(t: Ticket, cmd: c.ReassignTicket, now: datetime) -> list[EventData]:
    _in(t, WITH_UNIT | {S.RETURNED}, "Reassigning")
    _require(cmd.lead_unit != t.lead_unit, "same-unit")
    from_unit = t.lead_unit or t.last_lead_unit
    assert from_unit is not None  # dispatched, acknowledged and returned all had a lead unit
    return [e.TicketReassigned(from_unit=from_unit, lead_unit=cmd.lead_unit,
                               assisting_units=cmd.assisting_units, note=cmd.note,
                               urgent=cmd.urgent),
            *_clocks(cmd.deadlines, now, "reassigned")]


def _acknowledge(t: Ticket, cmd: c.AcknowledgeTicket, now: datetime) -> list[EventData]:
    _lead(t, cmd.unit_id)
    _require(t.status is not S.ACKNOWLEDGED, "already-acknowledged")
    _in(t, frozenset({S.DISPATCHED}), "Acknowledging")
    return [e.TicketAcknowledged(unit_id=cmd.unit_id)]


def _return(t: Ticket, cmd: c.ReturnTicket, now: datetime) -> list[EventData]:
    _in(t, WITH_UNIT, "Returning")
    _lead(t, cmd.unit_id)
    return [e.TicketReturned(unit_id=cmd.unit_id, reason=cmd.reason)]


def _progress(t: Ticket, cmd: c.NoteProgress, now: datetime) -> list[EventData]:
    _in(t, WITH_UNIT, "Noting progress")
    _on_it(t, cmd.unit_id)
    return [e.ProgressNoted(unit_id=cmd.unit_id, note=cmd.note, public=cmd.public)]


def _assist_reply(t: Ticket, cmd: c.ReplyAsAssistingUnit, now: datetime) -> list[EventData]:
    _in(t, WITH_UNIT, "An assisting reply")
    _on_it(t, cmd.unit_id)
    _require(cmd.unit_id in t.assisting_units, "not-assisting-unit")
    _require(cmd.unit_id not in t.assisting_replied, "assist-already-replied")
    return [e.AssistingUnitReplied(unit_id=cmd.unit_id, text=cmd.text,
                                   attachments=cmd.attachments)]


def _request_extension(t: Ticket, cmd: c.RequestExtension, now: datetime) -> list[EventData]:
    _in(t, WITH_UNIT, "Requesting an extension")
    _lead(t, cmd.unit_id)
    _require(t.status is S.ACKNOWLEDGED, "acknowledge-first")
    _require(t.extension is None, "extension-pending")
    _require(cmd.requested_due_at > now, "extension-date-in-past")
    due = t.deadlines.get(reply_kind(t))
    _require(due is None or cmd.requested_due_at > due, "extension-not-later")
    return [e.ExtensionRequested(request_id=cmd.request_id, unit_id=cmd.unit_id,
                                 reason=cmd.reason, requested_due_at=cmd.requested_due_at)]


def _pending(t: Ticket, request_id: str) -> Extension:
    if t.extension is None or t.extension.request_id != request_id:
        raise Rejected("no-such-extension")
    return t.extension


def _approve_extension(t: Ticket, cmd: c.ApproveExtension, now: datetime) -> list[EventData]:
    new_due = cmd.new_due_at or _pending(t, cmd.request_id).requested_due_at
    _pending(t, cmd.request_id)  # also when the supervisor names another date
    _require(new_due > now, "extension-date-in-past")
    due = t.deadlines.get(reply_kind(t))
    _require(due is None or new_due > due, "extension-not-later")
    return [e.ExtensionApproved(request_id=cmd.request_id, approved_by=cmd.approved_by,
                                new_due_at=new_due)]


def _reject_extension(t: Ticket, cmd: c.RejectExtension, now: datetime) -> list[EventData]:
    _pending(t, cmd.request_id)
    return [e.ExtensionRejected(request_id=cmd.request_id, rejected_by=cmd.rejected_by,
                                reason=cmd.reason)]


def _reply(t: Ticket, cmd: c.ReplyTicket, now: datetime) -> list[EventData]:
    _in(t, WITH_UNIT, "Replying")
    _lead(t, cmd.unit_id)
    _require(t.status is S.ACKNOWLEDGED, "acknowledge-first")
    return [e.TicketReplied(unit_id=cmd.unit_id, text=cmd.text, attachments=cmd.attachments,
                            solved=cmd.solved)]


def _set_deadlines(t: Ticket, cmd: c.SetDeadlines, now: datetime) -> list[EventData]:
    return _clocks(cmd.deadlines, now, cmd.reason)


def _warn(t: Ticket, cmd: c.RaiseWarning, now: datetime) -> list[EventData]:
    _require(cmd.warning_id not in t.warnings, "warning-exists")
    if cmd.deadline_kind is not None:  # about a clock: it must still run, as the warning saw it
        _require(running_deadline(t, cmd.deadline_kind) == cmd.due_at
                 and cmd.unit_id == t.lead_unit, "clock-stopped")
    return [e.WarningRaised(**cmd.model_dump(exclude={"ticket_id"}))]


def _card(t: Ticket, cmd: c.IssueCard, now: datetime) -> list[EventData]:
    _require(cmd.warning_id is None or cmd.warning_id in t.warnings, "no-such-warning")
    _require(cmd.warning_id is None or cmd.warning_id not in t.carded, "card-exists")
    return [e.CardIssued(**cmd.model_dump(exclude={"ticket_id"}))]


def _issue_order(t: Ticket, cmd: c.IssueSupervisionOrder, now: datetime) -> list[EventData]:
    _require(cmd.order_id not in t.orders, "order-exists")
    _require(cmd.due_at > now, "deadline-in-past")
    return [e.SupervisionOrderIssued(**cmd.model_dump(exclude={"ticket_id"}))]


def _known_order(t: Ticket, order_id: str) -> Order:
    order = t.orders.get(order_id)
    if order is None:
        raise Rejected("no-such-order")
    _require(not order.answered, "order-answered")
    return order


def _answer_order(t: Ticket, cmd: c.AnswerSupervisionOrder, now: datetime) -> list[EventData]:
    _require(_known_order(t, cmd.order_id).unit_id == cmd.unit_id, "order-not-for-unit")
    return [e.SupervisionOrderAnswered(order_id=cmd.order_id, unit_id=cmd.unit_id,
                                       text=cmd.text)]


def _escalate_order(t: Ticket, cmd: c.EscalateSupervisionOrder, now: datetime) -> list[EventData]:
    order = _known_order(t, cmd.order_id)
    _require(cmd.level > order.level, "wrong-state", "The order is already at that level.")
    return [e.SupervisionOrderEscalated(order_id=cmd.order_id, level=cmd.level, rule=cmd.rule)]


def _open_survey(t: Ticket, cmd: c.OpenSurvey, now: datetime) -> list[EventData]:
    _in(t, frozenset({S.REPLIED}), "A survey")
    _require(t.survey_id is None, "survey-open")
    _require(not t.redo_pending, "redo-pending")
    return [e.SurveyOpened(survey_id=cmd.survey_id, channel=cmd.channel,
                           expires_at=cmd.expires_at, round=2 if t.redone else 1)]


def _skip_survey(t: Ticket, cmd: c.SkipSurvey, now: datetime) -> list[EventData]:
    _in(t, frozenset({S.REPLIED}), "Skipping the survey")
    _require(t.survey_id is None, "survey-open")
    return [e.SurveySkipped(reason=cmd.reason, note=cmd.note)]


def _open(t: Ticket, survey_id: str) -> None:
    _require(t.survey_id == survey_id, "survey-not-open")


def _survey_answer(t: Ticket, cmd: c.RecordSurveyAnswer, now: datetime) -> list[EventData]:
    _open(t, cmd.survey_id)
    return [e.SurveyAnswered(**cmd.model_dump(exclude={"ticket_id"}))]


def _survey_unanswered(t: Ticket, cmd: c.RecordSurveyUnanswered,
                       now: datetime) -> list[EventData]:
    _open(t, cmd.survey_id)
    return [e.SurveyUnanswered(survey_id=cmd.survey_id)]


def _request_redo(t: Ticket, cmd: c.RequestRedo, now: datetime) -> list[EventData]:
    _in(t, frozenset({S.REPLIED}), "A redo request")
    _require(not t.redone, "redo-used")
    _require(not t.redo_pending, "redo-pending")
    _require(t.last_survey_id == cmd.survey_id
             and t.last_handling is HandlingRating.DISSATISFIED_WITH_RESULT,
             "survey-not-dissatisfied")
    return [e.RedoRequested(survey_id=cmd.survey_id, reason=cmd.reason)]


def _accept_redo(t: Ticket, cmd: c.AcceptRedo, now: datetime) -> list[EventData]:
    _require(t.redo_pending, "no-redo-pending")
    unit = cmd.unit_id or t.last_lead_unit
    assert unit is not None  # a replied ticket had a lead unit
    return [e.RedoAccepted(reviewer=cmd.reviewer, unit_id=unit, reason=cmd.reason),
            *_clocks(cmd.deadlines, now, "redo")]


def _reject_redo(t: Ticket, cmd: c.RejectRedo, now: datetime) -> list[EventData]:
    _require(t.redo_pending, "no-redo-pending")
    return [e.RedoRejected(reviewer=cmd.reviewer, reason=cmd.reason),
            e.TicketClosed(reason=CloseReason.REDO_REJECTED, note=cmd.reason)]


# Which close reasons fit which status: a ticket still with a unit cannot close as "solved".
# "answered" after a reply: the unit's answer stands (the citizen was satisfied without the
# problem being solved, e.g. a consultation or a policy limit; or no survey could be made).
_CLOSE_FROM: dict[CloseReason, frozenset[TicketStatus]] = {
    CloseReason.ANSWERED: AT_HOTLINE | {S.REPLIED},
    CloseReason.SOLVED: frozenset({S.REPLIED}),
    CloseReason.UNSATISFIED: frozenset({S.REPLIED}),
    CloseReason.UNSATISFIED_AFTER_REDO: frozenset({S.REPLIED}),
    CloseReason.REDO_REJECTED: frozenset(),  # only RejectRedo closes with it
    CloseReason.SURVEY_UNANSWERED: frozenset({S.REPLIED}),
    CloseReason.CITIZEN_UNREACHABLE: OPEN,
    CloseReason.DUPLICATE: OPEN,
    CloseReason.WITHDRAWN: OPEN,
}
DISSATISFIED = frozenset({HandlingRating.DISSATISFIED_WITH_STAFF,
                          HandlingRating.DISSATISFIED_WITH_RESULT})


def _close(t: Ticket, cmd: c.CloseTicket, now: datetime) -> list[EventData]:
    fits = t.status in _CLOSE_FROM[cmd.reason] and {
        CloseReason.UNSATISFIED: t.last_handling in DISSATISFIED,
        CloseReason.UNSATISFIED_AFTER_REDO: t.redone and t.last_handling in DISSATISFIED,
        CloseReason.SURVEY_UNANSWERED: t.survey_unanswered,
    }.get(cmd.reason, True)
    _require(fits, "close-reason-mismatch",
             f"A ticket in status {t.status} cannot close as {cmd.reason} now.")
    _require(not t.redo_pending, "redo-pending")
    if t.survey_id is not None and cmd.reason is CloseReason.CITIZEN_UNREACHABLE:
        # the callback staff gave up on the open survey: it ends unanswered, with the ticket
        return [e.SurveyUnanswered(survey_id=t.survey_id),
                e.TicketClosed(reason=cmd.reason, note=cmd.note)]
    _require(t.survey_id is None, "survey-open")
    return [e.TicketClosed(reason=cmd.reason, note=cmd.note)]


def _reopen(t: Ticket, cmd: c.ReopenTicket, now: datetime) -> list[EventData]:
    _require(t.status is S.CLOSED, "not-closed")
    return [e.TicketReopened(reopened_by=cmd.reopened_by, reason=cmd.reason)]


_DECIDE: dict[type[c.Command], Callable[[Ticket, Any, datetime], list[EventData]]] = {
    c.ClassifyTicket: _classify,
    c.MergeContact: _merge_contact,
    c.MergeTicket: _merge_ticket,
    c.AnswerDirectly: _answer,
    c.DispatchTicket: _dispatch,
    c.ReassignTicket: _reassign,
    c.AcknowledgeTicket: _acknowledge,
    c.ReturnTicket: _return,
    c.NoteProgress: _progress,
    c.ReplyAsAssistingUnit: _assist_reply,
    c.RequestExtension: _request_extension,
    c.ApproveExtension: _approve_extension,
    c.RejectExtension: _reject_extension,
    c.ReplyTicket: _reply,
    c.SetDeadlines: _set_deadlines,
    c.RaiseWarning: _warn,
    c.IssueCard: _card,
    c.IssueSupervisionOrder: _issue_order,
    c.AnswerSupervisionOrder: _answer_order,
    c.EscalateSupervisionOrder: _escalate_order,
    c.OpenSurvey: _open_survey,
    c.SkipSurvey: _skip_survey,
    c.RecordSurveyAnswer: _survey_answer,
    c.RecordSurveyUnanswered: _survey_unanswered,
    c.RequestRedo: _request_redo,
    c.AcceptRedo: _accept_redo,
    c.RejectRedo: _reject_redo,
    c.CloseTicket: _close,
    c.ReopenTicket: _reopen,
}

TICKET_COMMANDS: frozenset[type[c.Command]] = frozenset({c.RegisterTicket, *_DECIDE})


def fold(events: list[tuple[EventData, datetime]]) -> Ticket | None:
    """The state after a whole history (None for an empty one)."""
    ticket: Ticket | None = None
    for event, at in events:
        ticket = evolve(ticket, event, at)
    return ticket
