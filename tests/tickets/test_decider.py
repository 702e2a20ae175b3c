"""The ticket decider, given/when/then: past events, one command, the exact events or the rule.

`given(*events)` folds a history (each event one minute after the previous,
from T0, unless a time is given), `when(ticket, command, now)` decides and checks
purity on the way (no mutation, same answer twice, every emitted event evolves),
and `rejects(rule_id, ticket, command, now)` expects `Rejected` naming the rule.
The last test runs one case per rule of `RULES`, so no rule goes untested.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import commands as c
from contracts import events as e
from contracts.base import Category, Deadline, EventData
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
    TicketStatus,
    TicketType,
    Urgency,
    WarningLevel,
)
from ticketing.domain import TICKET_COMMANDS, Ticket, decide, evolve, fold
from ticketing.rules import RULES, Rejected

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # Monday morning: the citizen calls
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SH)  # when the commands arrive
ACK_DUE = datetime(2026, 11, 25, 9, 0, tzinfo=SH)
REPLY_DUE = datetime(2026, 11, 30, 18, 0, tzinfo=SH)
LATER = datetime(2026, 12, 7, 18, 0, tzinfo=SH)  # an extension's date
REDO_CLOCK = (Deadline(kind=DeadlineKind.REDO, due_at=LATER, policy_id="cn-v1/redo"),)

TID = "5f1c2a9e-3b7d-4c11-9e0a-2d6f8b7c4e10"
OTHER_TID = "8a3e6b21-94d0-4f57-b1c8-0e7d2a5f9c33"
NUMBER = "12345-20261123-000123"

LEAD = "d01-urban-squad"  # 东湖区城管执法中队 (主办)
ASSIST = "d01-street-1"  # 东湖区第一街道办事处 (协办)
NEW_LEAD = "city-eco-env"  # 市生态环境局: where a reassignment sends it
STRANGER = "d02-police-station"  # 西山区派出所: not on this ticket

NOISE = Category(level1="urban-management", level2="construction-noise")
ILLEGAL_BUILDING = Category(level1="urban-management", level2="illegal-construction")
DEADLINES = (
    Deadline(kind=DeadlineKind.ACKNOWLEDGE, due_at=ACK_DUE, policy_id="complaint-normal"),
    Deadline(kind=DeadlineKind.REPLY, due_at=REPLY_DUE, policy_id="complaint-normal"),
)

DISPATCH_NOTE = "请城管中队牵头核查夜间施工许可, 街道配合"
REPLY_TEXT = "经现场核查, 已责令施工单位22时后停止施工"

Given = EventData | tuple[EventData, datetime]

# ----------------------------------------------------------------------------------- helpers


def given(*events: Given) -> Ticket | None:
    """The ticket after these events; a bare event happens one minute after the previous."""
    history: list[tuple[EventData, datetime]] = []
    for i, item in enumerate(events):
        history.append(item if isinstance(item, tuple) else (item, T0 + timedelta(minutes=i)))
    return fold(history)


def when(ticket: Ticket | None, command: c.Command, now: datetime = NOW) -> list[EventData]:
    """The events decided, checked: no mutation, same answer twice, every one evolves."""
    before = copy.deepcopy(ticket)
    events = decide(ticket, command, now)
    assert ticket == before, "decide mutated the ticket it was given"
    assert decide(ticket, command, now) == events, "same inputs, another answer"
    then(ticket, events, now)
    return events


def then(ticket: Ticket | None, events: list[EventData], at: datetime = NOW) -> Ticket:
    """The state after the decided events."""
    assert events, "no events to evolve"
    after = ticket
    for event in events:
        after = evolve(after, event, at)
    assert after is not None
    return after


def rejects(rule_id: str, ticket: Ticket | None, command: c.Command,
            now: datetime = NOW) -> Rejected:
    """Expect `Rejected` naming `rule_id`, with the ticket untouched."""
    before = copy.deepcopy(ticket)
    with pytest.raises(Rejected) as caught:
        decide(ticket, command, now)
    assert caught.value.rule.id == rule_id, str(caught.value)
    assert ticket == before, "a rejected command mutated the ticket"
    return caught.value


def state(*events: Given) -> Ticket:
    """`given`, for histories that start with a registration."""
    ticket = given(*events)
    assert ticket is not None
    return ticket


# ------------------------------------------------------------------------------ past events

REGISTERED = e.TicketRegistered(
    ticket_id=TID, ticket_number=NUMBER, contact_ids=("contact-0001",),
    ticket_type=TicketType.COMPLAINT, category=NOISE, urgency=Urgency.NORMAL,
    summary="东湖区幸福路88号工地夜间22点后仍在施工, 噪音扰民, 市民要求停止夜间施工",
    district_code="990101", citizen_ref="cref-7f3a9c1d", registered_by="op-1024",
    channel=Channel.PHONE,
)
DISPATCHED = e.TicketDispatched(lead_unit=LEAD, assisting_units=(ASSIST,),
                                note=DISPATCH_NOTE, round=1)
CLOCKS = e.DeadlinesSet(deadlines=DEADLINES, reason="dispatched")
ACKED = e.TicketAcknowledged(unit_id=LEAD)
REPLIED = e.TicketReplied(unit_id=LEAD, text=REPLY_TEXT, solved=True)
RETURNED = e.TicketReturned(unit_id=LEAD, reason="夜间施工噪音属生态环境部门职责, 非本单位管辖")
SURVEY = e.SurveyOpened(survey_id="survey-1", channel=SurveyChannel.SMS,
                        expires_at=datetime(2026, 12, 3, 18, 0, tzinfo=SH), round=1)
EXTENSION = e.ExtensionRequested(request_id="ext-1", unit_id=LEAD, requested_due_at=LATER,
                                 reason="需协调施工单位调整工期, 申请延期5个工作日")
ORDER = e.SupervisionOrderIssued(order_id="order-1", kind=OrderKind.SUPERVISION, unit_id=LEAD,
                                 due_at=datetime(2026, 11, 26, 18, 0, tzinfo=SH),
                                 text="该工单已超期, 请于11月26日前办结并反馈", issued_by="sup-03")
WARNING = e.WarningRaised(warning_id="warn-1", level=WarningLevel.BLUE,
                          deadline_kind=DeadlineKind.REPLY, due_at=REPLY_DUE, unit_id=LEAD,
                          rule="reply-near", message_zh="处理期限将至, 请抓紧办理")


def answered(handling: HandlingRating | None, survey_id: str = "survey-1") -> e.SurveyAnswered:
    """The citizen's answer to a survey."""
    return e.SurveyAnswered(survey_id=survey_id, hotline_service=HotlineServiceRating.SATISFIED,
                            handling=handling, comment="晚上还是很吵", solved=False,
                            answered_via=SurveyChannel.SMS)


REDO_REQUESTED = e.RedoRequested(survey_id="survey-1", reason="工地夜间仍在施工, 问题未解决")
REDO_ACCEPTED = e.RedoAccepted(reviewer="rev-07", unit_id=LEAD, reason="市民反映属实, 同意重办")

AT_HOTLINE = (REGISTERED,)
AT_UNIT = (REGISTERED, DISPATCHED, CLOCKS)
HANDLING = (*AT_UNIT, ACKED)
WAITING = (*HANDLING, EXTENSION)  # an extension request waits for a supervisor
RETURNED_H = (*AT_UNIT, RETURNED)
REPLIED_H = (*HANDLING, REPLIED)
SURVEYED = (*REPLIED_H, SURVEY)
DISSATISFIED = (*SURVEYED, answered(HandlingRating.DISSATISFIED_WITH_RESULT))
REDO_PENDING = (*DISSATISFIED, REDO_REQUESTED)
REDONE = (*REDO_PENDING, REDO_ACCEPTED)
CLOSED = (*REPLIED_H, e.TicketClosed(reason=CloseReason.SOLVED))
MERGED = (REGISTERED, e.TicketMergedInto(target_ticket_id=OTHER_TID, note="与另一工单重复"))
SUPERVISED = (*HANDLING, ORDER)

# ---------------------------------------------------------------------------------- commands


def register(**changes: object) -> c.RegisterTicket:
    """The registration that produced REGISTERED."""
    fields = REGISTERED.model_dump(exclude_none=True) | changes
    return c.RegisterTicket.model_validate(fields)


def dispatch(lead: str = LEAD, assisting: tuple[str, ...] = (ASSIST,),
             deadlines: tuple[Deadline, ...] = DEADLINES, urgent: bool = False) -> c.DispatchTicket:
    """派单 to `lead` with the policy's clocks."""
    return c.DispatchTicket(ticket_id=TID, lead_unit=lead, assisting_units=assisting,
                            note=DISPATCH_NOTE, urgent=urgent,
                            deadlines=deadlines)


def reassign(lead: str = NEW_LEAD, assisting: tuple[str, ...] = (),
             deadlines: tuple[Deadline, ...] = ()) -> c.ReassignTicket:
    """改派 to `lead`."""
    return c.ReassignTicket(ticket_id=TID, lead_unit=lead, assisting_units=assisting,
                            note="改派市生态环境局处理施工噪音", deadlines=deadlines)


def ack(unit: str = LEAD) -> c.AcknowledgeTicket:
    """签收 by `unit`."""
    return c.AcknowledgeTicket(ticket_id=TID, unit_id=unit)


def reply(unit: str = LEAD) -> c.ReplyTicket:
    """办结反馈 by `unit`."""
    return c.ReplyTicket(ticket_id=TID, unit_id=unit, text=REPLY_TEXT, solved=True)


def assist_reply(unit: str = ASSIST) -> c.ReplyAsAssistingUnit:
    """协办反馈 by `unit`."""
    return c.ReplyAsAssistingUnit(ticket_id=TID, unit_id=unit, text="街道已上门劝导施工单位")


def progress(unit: str = LEAD, public: bool = False) -> c.NoteProgress:
    """办理进展 by `unit`."""
    return c.NoteProgress(ticket_id=TID, unit_id=unit, note="已约谈施工单位负责人", public=public)


def ask_extension(due: datetime = LATER, unit: str = LEAD,
                  request_id: str = "ext-2") -> c.RequestExtension:
    """延期申请 to `due`."""
    return c.RequestExtension(ticket_id=TID, request_id=request_id, unit_id=unit,
                              reason="需协调施工单位调整工期, 申请延期5个工作日",
                              requested_due_at=due)


def approve(request_id: str = "ext-1", new_due_at: datetime | None = None) -> c.ApproveExtension:
    """延期批准 by a supervisor."""
    return c.ApproveExtension(ticket_id=TID, request_id=request_id, approved_by="sup-03",
                              new_due_at=new_due_at)


def close(reason: CloseReason) -> c.CloseTicket:
    """结案 with `reason`."""
    return c.CloseTicket(ticket_id=TID, reason=reason, note="结案")


def open_survey(survey_id: str = "survey-2") -> c.OpenSurvey:
    """回访 by SMS."""
    return c.OpenSurvey(ticket_id=TID, survey_id=survey_id, channel=SurveyChannel.SMS,
                        expires_at=datetime(2026, 12, 3, 18, 0, tzinfo=SH))


def survey_answer(handling: HandlingRating | None,
                  survey_id: str = "survey-1") -> c.RecordSurveyAnswer:
    """回访结果 with the handling rating `handling`."""
    return c.RecordSurveyAnswer(ticket_id=TID, survey_id=survey_id,
                                hotline_service=HotlineServiceRating.SATISFIED,
                                handling=handling, comment="晚上还是很吵", solved=False,
                                answered_via=SurveyChannel.SMS)


def request_redo(survey_id: str = "survey-1") -> c.RequestRedo:
    """申请重办 after the survey `survey_id`."""
    return c.RequestRedo(ticket_id=TID, survey_id=survey_id, reason="工地夜间仍在施工, 问题未解决")


def accept_redo(unit: str | None = None) -> c.AcceptRedo:
    """重办 (back to the last lead unit unless `unit`)."""
    return c.AcceptRedo(ticket_id=TID, reviewer="rev-07", unit_id=unit,
                        reason="市民反映属实, 同意重办")


def order(order_id: str = "order-2", due_at: datetime = ACK_DUE) -> c.IssueSupervisionOrder:
    """督办 to the lead unit."""
    return c.IssueSupervisionOrder(ticket_id=TID, order_id=order_id, kind=OrderKind.SUPERVISION,
                                   unit_id=LEAD, due_at=due_at, text="请于11月25日前反馈办理情况",
                                   issued_by="sup-03")


def answer_order(unit: str = LEAD, order_id: str = "order-1") -> c.AnswerSupervisionOrder:
    """督办回复 by `unit`."""
    return c.AnswerSupervisionOrder(ticket_id=TID, order_id=order_id, unit_id=unit,
                                    text="已督促施工单位整改, 夜间已停工")


def escalate(level: int = 1, order_id: str = "order-1") -> c.EscalateSupervisionOrder:
    """督办升级 to `level`."""
    return c.EscalateSupervisionOrder(ticket_id=TID, order_id=order_id, level=level,
                                      rule="order-overdue")


def warn(warning_id: str = "warn-1") -> c.RaiseWarning:
    """蓝单 for the reply deadline."""
    return c.RaiseWarning(ticket_id=TID, warning_id=warning_id, level=WarningLevel.BLUE,
                          deadline_kind=DeadlineKind.REPLY, due_at=REPLY_DUE, unit_id=LEAD,
                          rule="reply-near", message_zh="处理期限将至, 请抓紧办理")


def reopen() -> c.ReopenTicket:
    """重启 by a supervisor."""
    return c.ReopenTicket(ticket_id=TID, reopened_by="sup-03", reason="市民再次来电, 问题反复")


def samples() -> list[c.TicketCommand]:
    """One command of every kind the decider handles, except RegisterTicket."""
    return [
        c.ClassifyTicket(ticket_id=TID, ticket_type=TicketType.REPORT, category=ILLEGAL_BUILDING,
                         urgency=Urgency.URGENT),
        c.MergeContact(ticket_id=TID, contact_id="contact-0009"),
        c.MergeTicket(ticket_id=TID, target_ticket_id=OTHER_TID),
        c.AnswerDirectly(ticket_id=TID, answer="夜间施工须取得许可, 可向生态环境局举报"),
        dispatch(), reassign(), ack(),
        c.ReturnTicket(ticket_id=TID, unit_id=LEAD, reason="非本单位职责"),
        progress(), assist_reply(), ask_extension(), approve(),
        c.RejectExtension(ticket_id=TID, request_id="ext-1", rejected_by="sup-03",
                          reason="理由不充分"),
        reply(),
        c.SetDeadlines(ticket_id=TID, deadlines=DEADLINES, reason="policy_changed"),
        warn("warn-9"),
        c.IssueCard(ticket_id=TID, unit_id=LEAD, colour=CardColour.YELLOW, rule="reply-late"),
        order(), answer_order(), escalate(),
        open_survey(),
        c.SkipSurvey(ticket_id=TID, reason=SurveySkipReason.CITIZEN_DECLINED),
        survey_answer(HandlingRating.SATISFIED),
        c.RecordSurveyUnanswered(ticket_id=TID, survey_id="survey-1"),
        request_redo(), accept_redo(),
        c.RejectRedo(ticket_id=TID, reviewer="rev-07", reason="已按规定办理"),
        close(CloseReason.WITHDRAWN),
        reopen(),
    ]


def _name(command: object) -> str:
    return type(command).__name__


# ------------------------------------------------------------------------------ registration


def test_register_creates_the_ticket() -> None:
    events = when(given(), register())
    assert events == [REGISTERED]
    ticket = then(None, events, T0)
    assert ticket.status is TicketStatus.REGISTERED
    assert (ticket.ticket_id, ticket.registered_at, ticket.contact_ids) == (
        TID, T0, ("contact-0001",))
    assert ticket.lead_unit is None and ticket.dispatch_round == 0


def test_register_twice_is_rejected() -> None:
    rejects("ticket-exists", state(REGISTERED), register())
    rejects("ticket-exists", state(*CLOSED), register())


@pytest.mark.parametrize("command", samples(), ids=_name)
def test_any_other_command_needs_a_registered_ticket(command: c.TicketCommand) -> None:
    rejects("ticket-unknown", given(), command)


def test_a_command_outside_the_tickets_is_a_programming_error() -> None:
    class Foreign(c.Command):
        """A command of no ticket (none is in the catalogue: this is a caller's bug)."""

    with pytest.raises(TypeError):
        decide(state(REGISTERED), Foreign(), NOW)


def test_every_ticket_command_of_the_catalogue_is_handled() -> None:
    catalogue = {cls for cls in c.COMMANDS.values() if issubclass(cls, c.TicketCommand)}
    assert catalogue == set(TICKET_COMMANDS)
    assert {type(cmd) for cmd in samples()} | {c.RegisterTicket} == catalogue


def test_evolve_needs_the_registration_first() -> None:
    assert fold([]) is None
    with pytest.raises(ValueError):
        evolve(None, ACKED, T0)


# ---------------------------------------------------------------------------- classification


def test_classify_corrects_type_category_and_urgency() -> None:
    ticket = state(REGISTERED)
    command = c.ClassifyTicket(ticket_id=TID, ticket_type=TicketType.REPORT,
                               category=ILLEGAL_BUILDING, urgency=Urgency.URGENT,
                               note="实为违法建设举报")
    events = when(ticket, command)
    assert events == [e.TicketClassified(ticket_type=TicketType.REPORT, category=ILLEGAL_BUILDING,
                                         urgency=Urgency.URGENT, note="实为违法建设举报")]
    after = then(ticket, events)
    assert (after.ticket_type, after.category, after.urgency) == (
        TicketType.REPORT, ILLEGAL_BUILDING, Urgency.URGENT)


def test_classify_to_the_same_values_is_no_change() -> None:
    command = c.ClassifyTicket(ticket_id=TID, ticket_type=TicketType.COMPLAINT, category=NOISE,
                               urgency=Urgency.NORMAL, note="核对分类")
    rejects("no-change", state(*HANDLING), command)


# ------------------------------------------------------------------------------------- merges


def test_merge_contacts_counts_the_repeats() -> None:
    ticket = state(*AT_UNIT)
    first = when(ticket, c.MergeContact(ticket_id=TID, contact_id="contact-0002"))
    assert first == [e.ContactMerged(contact_id="contact-0002", repeat_count=2)]
    ticket = then(ticket, first)
    second = when(ticket, c.MergeContact(ticket_id=TID, contact_id="contact-0003"))
    assert second == [e.ContactMerged(contact_id="contact-0003", repeat_count=3)]
    assert then(ticket, second).contact_ids == ("contact-0001", "contact-0002", "contact-0003")


@pytest.mark.parametrize("contact_id", ["contact-0001", "contact-0002"])
def test_merging_a_contact_twice_is_rejected(contact_id: str) -> None:
    ticket = state(REGISTERED, e.ContactMerged(contact_id="contact-0002", repeat_count=2))
    rejects("contact-already-merged", ticket, c.MergeContact(ticket_id=TID,
                                                             contact_id=contact_id))


def test_merge_ticket_into_another() -> None:
    ticket = state(*AT_UNIT)
    events = when(ticket, c.MergeTicket(ticket_id=TID, target_ticket_id=OTHER_TID,
                                        note="与另一工单重复"))
    assert events == [e.TicketMergedInto(target_ticket_id=OTHER_TID, note="与另一工单重复")]
    after = then(ticket, events)
    assert (after.status, after.merged_into) == (TicketStatus.MERGED, OTHER_TID)


def test_a_ticket_cannot_merge_into_itself() -> None:
    rejects("merge-into-self", state(REGISTERED), c.MergeTicket(ticket_id=TID,
                                                                target_ticket_id=TID))


@pytest.mark.parametrize("command", samples(), ids=_name)
def test_a_merged_ticket_rejects_everything(command: c.TicketCommand) -> None:
    rejects("ticket-merged", state(*MERGED), command)


# --------------------------------------------------------------------------- answer directly


@pytest.mark.parametrize("history", [AT_HOTLINE, RETURNED_H], ids=["registered", "returned"])
def test_answer_directly_closes_the_ticket(history: tuple[EventData, ...]) -> None:
    ticket = state(*history)
    command = c.AnswerDirectly(ticket_id=TID, answer="夜间施工须取得许可, 已告知举报渠道",
                               knowledge_article_id="kb-0042", knowledge_article_version=3)
    events = when(ticket, command)
    assert events == [
        e.TicketAnsweredDirectly(answer="夜间施工须取得许可, 已告知举报渠道",
                                 knowledge_article_id="kb-0042", knowledge_article_version=3),
        e.TicketClosed(reason=CloseReason.ANSWERED),
    ]
    after = then(ticket, events)
    assert (after.status, after.close_reason) == (TicketStatus.CLOSED, CloseReason.ANSWERED)
    with pytest.raises(ValueError, match="id and version together"):
        c.AnswerDirectly(ticket_id=TID, answer="已答复", knowledge_article_id="kb-0042")


@pytest.mark.parametrize("history", [AT_UNIT, HANDLING, REPLIED_H],
                         ids=["dispatched", "acknowledged", "replied"])
def test_answer_directly_while_a_unit_has_it_is_wrong_state(
        history: tuple[EventData, ...]) -> None:
    command = c.AnswerDirectly(ticket_id=TID, answer="已电话答复市民")
    rejects("wrong-state", state(*history), command)


# ----------------------------------------------------------------------------------- dispatch


def test_dispatch_with_assisting_units_urgent_and_deadlines() -> None:
    ticket = state(REGISTERED)
    events = when(ticket, dispatch(assisting=(ASSIST, "d01-street-2"), urgent=True))
    assert events == [
        e.TicketDispatched(lead_unit=LEAD, assisting_units=(ASSIST, "d01-street-2"),
                           note=DISPATCH_NOTE, urgent=True, round=1),
        e.DeadlinesSet(deadlines=DEADLINES, reason="dispatched"),
    ]
    after = then(ticket, events)
    assert after.status is TicketStatus.DISPATCHED
    assert (after.lead_unit, after.assisting_units) == (LEAD, (ASSIST, "d01-street-2"))
    assert after.deadlines == {DeadlineKind.ACKNOWLEDGE: ACK_DUE, DeadlineKind.REPLY: REPLY_DUE}
    assert after.dispatch_round == 1


def test_dispatch_without_deadlines_sets_no_clock() -> None:
    events = when(state(REGISTERED), dispatch(assisting=(), deadlines=()))
    assert events == [e.TicketDispatched(lead_unit=LEAD, note=DISPATCH_NOTE, round=1)]


@pytest.mark.parametrize("due", [NOW, NOW - timedelta(hours=1)], ids=["now", "past"])
def test_dispatch_with_a_deadline_in_the_past(due: datetime) -> None:
    late = (DEADLINES[1], Deadline(kind=DeadlineKind.ACKNOWLEDGE, due_at=due, policy_id="x"))
    rejects("deadline-in-past", state(REGISTERED), dispatch(deadlines=late))


@pytest.mark.parametrize("history", [AT_UNIT, HANDLING, RETURNED_H, REPLIED_H],
                         ids=["dispatched", "acknowledged", "returned", "replied"])
def test_dispatch_only_from_registered(history: tuple[EventData, ...]) -> None:
    rejects("wrong-state", state(*history), dispatch(lead=NEW_LEAD))


# -------------------------------------------------------------------------------- acknowledge


def test_the_lead_unit_acknowledges() -> None:
    ticket = state(*AT_UNIT)
    events = when(ticket, ack())
    assert events == [e.TicketAcknowledged(unit_id=LEAD)]
    assert then(ticket, events).status is TicketStatus.ACKNOWLEDGED


def test_acknowledging_twice() -> None:
    rejects("already-acknowledged", state(*HANDLING), ack())


def test_acknowledge_by_an_assisting_unit_or_a_stranger() -> None:
    rejects("not-lead-unit", state(*AT_UNIT), ack(ASSIST))
    rejects("not-assigned", state(*AT_UNIT), ack(STRANGER))


def test_acknowledge_a_replied_ticket_is_wrong_state() -> None:
    rejects("wrong-state", state(*REPLIED_H), ack())


# ----------------------------------------------------------------------------------- progress


@pytest.mark.parametrize(("unit", "public"), [(LEAD, True), (ASSIST, False)])
def test_lead_and_assisting_units_note_progress(unit: str, public: bool) -> None:
    events = when(state(*HANDLING), progress(unit, public=public))
    assert events == [e.ProgressNoted(unit_id=unit, note="已约谈施工单位负责人", public=public)]


def test_progress_before_acknowledgement_is_allowed() -> None:
    assert when(state(*AT_UNIT), progress()) == [
        e.ProgressNoted(unit_id=LEAD, note="已约谈施工单位负责人")]


def test_progress_by_a_stranger_or_outside_a_unit() -> None:
    rejects("not-assigned", state(*HANDLING), progress(STRANGER))
    rejects("wrong-state", state(REGISTERED), progress())
    rejects("wrong-state", state(*REPLIED_H), progress())


# -------------------------------------------------------------------------- assisting replies


def test_an_assisting_unit_replies() -> None:
    ticket = state(*HANDLING)
    events = when(ticket, assist_reply())
    assert events == [e.AssistingUnitReplied(unit_id=ASSIST, text="街道已上门劝导施工单位")]
    assert then(ticket, events).assisting_replied == {ASSIST}


def test_assisting_reply_rules() -> None:
    rejects("not-assisting-unit", state(*HANDLING), assist_reply(LEAD))
    rejects("not-assigned", state(*HANDLING), assist_reply(STRANGER))
    replied = state(*HANDLING, e.AssistingUnitReplied(unit_id=ASSIST, text="已劝导"))
    rejects("assist-already-replied", replied, assist_reply())
    rejects("wrong-state", state(*REPLIED_H), assist_reply())


def test_a_reassignment_starts_a_new_round_of_assisting_replies() -> None:
    ticket = state(*HANDLING, e.AssistingUnitReplied(unit_id=ASSIST, text="已劝导"),
                   e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD,
                                      assisting_units=(ASSIST,)))
    assert ticket.dispatch_round == 2
    assert when(ticket, assist_reply()) == [
        e.AssistingUnitReplied(unit_id=ASSIST, text="街道已上门劝导施工单位")]


# --------------------------------------------------------------------------------- extensions


def test_the_lead_unit_requests_an_extension() -> None:
    ticket = state(*HANDLING)
    events = when(ticket, ask_extension())
    assert events == [e.ExtensionRequested(request_id="ext-2", unit_id=LEAD, requested_due_at=LATER,
                                           reason="需协调施工单位调整工期, 申请延期5个工作日")]
    pending = then(ticket, events).extension
    assert pending is not None and pending.requested_due_at == LATER


def test_approval_defaults_to_the_requested_date() -> None:
    ticket = state(*WAITING)
    events = when(ticket, approve())
    assert events == [e.ExtensionApproved(request_id="ext-1", approved_by="sup-03",
                                          new_due_at=LATER)]
    after = then(ticket, events)
    assert after.extension is None
    assert after.deadlines[DeadlineKind.REPLY] == LATER
    assert after.deadlines[DeadlineKind.ACKNOWLEDGE] == ACK_DUE


def test_approval_with_the_supervisors_date() -> None:
    granted = datetime(2026, 12, 3, 18, 0, tzinfo=SH)
    ticket = state(*WAITING)
    events = when(ticket, approve(new_due_at=granted))
    assert events == [e.ExtensionApproved(request_id="ext-1", approved_by="sup-03",
                                          new_due_at=granted)]
    assert then(ticket, events).deadlines[DeadlineKind.REPLY] == granted


def test_approval_with_a_date_in_the_past() -> None:
    rejects("extension-date-in-past", state(*WAITING), approve(new_due_at=NOW))


def test_approval_with_a_date_before_the_reply_deadline() -> None:
    earlier = datetime(2026, 11, 26, 18, 0, tzinfo=SH)  # before REPLY_DUE (11-30)
    rejects("extension-not-later", state(*WAITING), approve(new_due_at=earlier))


def test_rejecting_an_extension_allows_a_new_request() -> None:
    ticket = state(*WAITING)
    command = c.RejectExtension(ticket_id=TID, request_id="ext-1", rejected_by="sup-03",
                                reason="工期调整理由不充分")
    events = when(ticket, command)
    assert events == [e.ExtensionRejected(request_id="ext-1", rejected_by="sup-03",
                                          reason="工期调整理由不充分")]
    after = then(ticket, events)
    assert after.extension is None and after.deadlines[DeadlineKind.REPLY] == REPLY_DUE
    assert when(after, ask_extension())[0] == e.ExtensionRequested(
        request_id="ext-2", unit_id=LEAD, requested_due_at=LATER,
        reason="需协调施工单位调整工期, 申请延期5个工作日")


@pytest.mark.parametrize("due", [NOW, NOW - timedelta(days=1)], ids=["now", "past"])
def test_extension_date_in_the_past(due: datetime) -> None:
    rejects("extension-date-in-past", state(*HANDLING), ask_extension(due))


@pytest.mark.parametrize("due", [REPLY_DUE, REPLY_DUE - timedelta(days=2)],
                         ids=["equal", "earlier"])
def test_extension_not_later_than_the_reply_deadline(due: datetime) -> None:
    rejects("extension-not-later", state(*HANDLING), ask_extension(due))


def test_a_second_extension_while_one_is_pending() -> None:
    rejects("extension-pending", state(*WAITING), ask_extension(LATER + timedelta(days=1)))


def test_extension_before_acknowledgement_or_by_others() -> None:
    rejects("acknowledge-first", state(*AT_UNIT), ask_extension())
    rejects("not-lead-unit", state(*HANDLING), ask_extension(unit=ASSIST))
    rejects("not-assigned", state(*HANDLING), ask_extension(unit=STRANGER))
    rejects("wrong-state", state(*REPLIED_H), ask_extension())


def test_deciding_an_unknown_or_decided_extension() -> None:
    rejects("no-such-extension", state(*WAITING), approve("ext-9"))
    rejects("no-such-extension", state(*HANDLING), approve())
    decided = state(*WAITING, e.ExtensionApproved(request_id="ext-1", approved_by="sup-03",
                                                  new_due_at=LATER))
    rejects("no-such-extension", decided, approve())
    refuse = c.RejectExtension(ticket_id=TID, request_id="ext-1", rejected_by="sup-03",
                               reason="理由不充分")
    rejects("no-such-extension", decided, refuse)


def test_a_reassignment_drops_the_pending_extension() -> None:
    ticket = state(*WAITING, e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD))
    assert ticket.extension is None
    rejects("no-such-extension", ticket, approve())


# -------------------------------------------------------------------------------------- reply


def test_the_lead_unit_replies() -> None:
    ticket = state(*HANDLING)
    events = when(ticket, reply())
    assert events == [REPLIED]
    assert then(ticket, events).status is TicketStatus.REPLIED


def test_reply_by_assisting_unit_stranger_or_before_acknowledgement() -> None:
    rejects("not-lead-unit", state(*HANDLING), reply(ASSIST))
    rejects("not-assigned", state(*HANDLING), reply(STRANGER))
    rejects("acknowledge-first", state(*AT_UNIT), reply())
    rejects("wrong-state", state(*REPLIED_H), reply())


def test_a_reply_clears_the_pending_extension() -> None:
    ticket = state(*WAITING)
    assert then(ticket, when(ticket, reply())).extension is None


def test_a_reply_racing_a_reassignment_that_kept_the_old_lead_assisting() -> None:
    moved = e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD, assisting_units=(LEAD,))
    rejects("not-lead-unit", state(*HANDLING, moved), reply(LEAD))


def test_a_reply_racing_a_reassignment() -> None:
    """The former lead learns the ticket moved (409), unlike a unit it never went to (403)."""
    moved = e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD)
    rejects("reassigned-away", state(*HANDLING, moved), reply(LEAD))


def test_a_reassignment_racing_a_reply() -> None:
    rejects("wrong-state", state(*REPLIED_H), reassign())


# ------------------------------------------------------------------------ return and reassign


@pytest.mark.parametrize("history", [AT_UNIT, HANDLING], ids=["dispatched", "acknowledged"])
def test_the_lead_unit_returns_the_ticket(history: tuple[EventData, ...]) -> None:
    ticket = state(*history)
    command = c.ReturnTicket(ticket_id=TID, unit_id=LEAD,
                             reason="夜间施工噪音属生态环境部门职责, 非本单位管辖")
    events = when(ticket, command)
    assert events == [RETURNED]
    after = then(ticket, events)
    assert after.status is TicketStatus.RETURNED
    assert (after.lead_unit, after.assisting_units, after.deadlines) == (None, (), {})
    assert after.last_lead_unit == LEAD


def test_return_by_others_or_at_the_hotline() -> None:
    command = c.ReturnTicket(ticket_id=TID, unit_id=ASSIST, reason="非本单位职责")
    rejects("not-lead-unit", state(*AT_UNIT), command)
    rejects("not-assigned", state(*AT_UNIT), command.model_copy(update={"unit_id": STRANGER}))
    rejects("wrong-state", state(REGISTERED), command)
    rejects("wrong-state", state(*RETURNED_H), command.model_copy(update={"unit_id": LEAD}))


def test_reassign_a_returned_ticket_then_the_new_unit_acknowledges() -> None:
    ticket = state(*RETURNED_H)
    clocks = (Deadline(kind=DeadlineKind.REPLY, due_at=LATER, policy_id="complaint-normal"),)
    events = when(ticket, reassign(NEW_LEAD, (ASSIST,), clocks))
    assert events == [
        e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD, assisting_units=(ASSIST,),
                           note="改派市生态环境局处理施工噪音"),
        e.DeadlinesSet(deadlines=clocks, reason="reassigned"),
    ]
    after = then(ticket, events)
    assert (after.status, after.lead_unit, after.dispatch_round) == (
        TicketStatus.DISPATCHED, NEW_LEAD, 2)
    assert after.deadlines == {DeadlineKind.REPLY: LATER}
    assert when(after, ack(NEW_LEAD)) == [e.TicketAcknowledged(unit_id=NEW_LEAD)]
    rejects("reassigned-away", after, ack(LEAD))


def test_the_hotline_reassigns_a_ticket_a_unit_holds() -> None:
    events = when(state(*HANDLING), reassign())
    assert events == [e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD,
                                         note="改派市生态环境局处理施工噪音")]


def test_reassign_rules() -> None:
    rejects("same-unit", state(*HANDLING), reassign(LEAD))
    rejects("wrong-state", state(REGISTERED), reassign())
    late = (Deadline(kind=DeadlineKind.REPLY, due_at=T0, policy_id="complaint-normal"),)
    rejects("deadline-in-past", state(*RETURNED_H), reassign(deadlines=late))


# ----------------------------------------------------------------------------------- surveys


def test_open_a_survey_after_the_reply() -> None:
    ticket = state(*REPLIED_H)
    events = when(ticket, open_survey("survey-1"))
    assert events == [SURVEY]
    after = then(ticket, events)
    assert (after.survey_id, after.survey_round) == ("survey-1", 1)


def test_record_the_survey_answer() -> None:
    ticket = state(*SURVEYED)
    events = when(ticket, survey_answer(HandlingRating.SATISFIED))
    assert events == [answered(HandlingRating.SATISFIED)]
    after = then(ticket, events)
    assert (after.survey_id, after.last_survey_id, after.last_handling) == (
        None, "survey-1", HandlingRating.SATISFIED)


def test_record_an_unanswered_survey() -> None:
    ticket = state(*SURVEYED)
    events = when(ticket, c.RecordSurveyUnanswered(ticket_id=TID, survey_id="survey-1"))
    assert events == [e.SurveyUnanswered(survey_id="survey-1")]
    assert then(ticket, events).survey_id is None


def test_skip_the_survey() -> None:
    command = c.SkipSurvey(ticket_id=TID, reason=SurveySkipReason.NO_CONTACT, note="匿名来电")
    events = when(state(*REPLIED_H), command)
    assert events == [e.SurveySkipped(reason=SurveySkipReason.NO_CONTACT, note="匿名来电")]


def test_survey_rules() -> None:
    rejects("survey-open", state(*SURVEYED), open_survey())
    rejects("survey-open", state(*SURVEYED),
            c.SkipSurvey(ticket_id=TID, reason=SurveySkipReason.CITIZEN_DECLINED))
    rejects("survey-not-open", state(*SURVEYED), survey_answer(None, "survey-9"))
    rejects("survey-not-open", state(*REPLIED_H), survey_answer(HandlingRating.SATISFIED))
    rejects("survey-not-open", state(*DISSATISFIED),
            c.RecordSurveyUnanswered(ticket_id=TID, survey_id="survey-1"))
    rejects("wrong-state", state(*HANDLING), open_survey())


# -------------------------------------------------------------------------------------- redo


def test_request_a_redo_after_dissatisfaction_with_the_result() -> None:
    ticket = state(*DISSATISFIED)
    events = when(ticket, request_redo())
    assert events == [REDO_REQUESTED]
    assert then(ticket, events).redo_pending


@pytest.mark.parametrize("history", [
    (*SURVEYED, answered(HandlingRating.SATISFIED)),
    (*SURVEYED, answered(HandlingRating.DISSATISFIED_WITH_STAFF)),
    (*SURVEYED, answered(None)),
    (*SURVEYED, e.SurveyUnanswered(survey_id="survey-1")),
    SURVEYED,
    REPLIED_H,
], ids=["satisfied", "with-staff", "no-rating", "unanswered", "open", "no-survey"])
def test_no_redo_without_dissatisfaction_with_the_result(
        history: tuple[EventData, ...]) -> None:
    rejects("survey-not-dissatisfied", state(*history), request_redo())


def test_a_redo_names_the_dissatisfied_survey() -> None:
    rejects("survey-not-dissatisfied", state(*DISSATISFIED), request_redo("survey-9"))


def test_while_a_redo_waits_for_review() -> None:
    ticket = state(*REDO_PENDING)
    rejects("redo-pending", ticket, request_redo())
    rejects("redo-pending", ticket, open_survey())
    rejects("redo-pending", ticket, close(CloseReason.SOLVED))


def test_accept_a_redo_back_to_the_last_lead_unit() -> None:
    ticket = state(*REDO_PENDING)
    events = when(ticket, accept_redo())
    assert events == [REDO_ACCEPTED]
    after = then(ticket, events)
    assert (after.status, after.lead_unit, after.redone, after.redo_pending) == (
        TicketStatus.ACKNOWLEDGED, LEAD, True, False)


def test_accept_a_redo_for_another_unit() -> None:
    events = when(state(*REDO_PENDING), accept_redo(NEW_LEAD))
    assert events == [e.RedoAccepted(reviewer="rev-07", unit_id=NEW_LEAD,
                                     reason="市民反映属实, 同意重办")]


def test_the_last_lead_unit_is_the_one_after_a_reassignment() -> None:
    history = (*RETURNED_H,
               e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD),
               e.TicketAcknowledged(unit_id=NEW_LEAD),
               e.TicketReplied(unit_id=NEW_LEAD, text="已对工地噪音立案查处"),
               SURVEY, answered(HandlingRating.DISSATISFIED_WITH_RESULT), REDO_REQUESTED)
    assert when(state(*history), accept_redo()) == [
        e.RedoAccepted(reviewer="rev-07", unit_id=NEW_LEAD, reason="市民反映属实, 同意重办")]


def test_a_redo_is_replied_and_surveyed_in_round_two_then_used_up() -> None:
    ticket = state(*REDONE)
    rejects("already-acknowledged", ticket, ack())
    ticket = then(ticket, when(ticket, reply()))
    assert ticket.status is TicketStatus.REPLIED
    events = when(ticket, open_survey())
    assert events == [e.SurveyOpened(survey_id="survey-2", channel=SurveyChannel.SMS,
                                     expires_at=datetime(2026, 12, 3, 18, 0, tzinfo=SH),
                                     round=2)]
    ticket = then(ticket, events)
    assert ticket.survey_round == 2
    dissatisfied = survey_answer(HandlingRating.DISSATISFIED_WITH_RESULT, "survey-2")
    ticket = then(ticket, when(ticket, dissatisfied))
    rejects("redo-used", ticket, request_redo("survey-2"))
    closed = when(ticket, close(CloseReason.UNSATISFIED_AFTER_REDO))
    assert closed == [e.TicketClosed(reason=CloseReason.UNSATISFIED_AFTER_REDO, note="结案")]


def test_reject_a_redo_closes_the_ticket() -> None:
    ticket = state(*REDO_PENDING)
    command = c.RejectRedo(ticket_id=TID, reviewer="rev-07", reason="已按规定办理, 诉求不合理")
    events = when(ticket, command)
    assert events == [
        e.RedoRejected(reviewer="rev-07", reason="已按规定办理, 诉求不合理"),
        e.TicketClosed(reason=CloseReason.REDO_REJECTED, note="已按规定办理, 诉求不合理"),
    ]
    after = then(ticket, events)
    assert (after.status, after.close_reason, after.redo_pending) == (
        TicketStatus.CLOSED, CloseReason.REDO_REJECTED, False)


def test_review_without_a_pending_redo() -> None:
    rejects("no-redo-pending", state(*DISSATISFIED), accept_redo())
    rejects("no-redo-pending", state(*REDONE),
            c.RejectRedo(ticket_id=TID, reviewer="rev-07", reason="不予重办"))


# ------------------------------------------------------------------------------------- close

def _closes(*cases: tuple[tuple[EventData, ...], CloseReason]) -> list[object]:
    """Parameters (history, reason), named status-reason."""
    return [pytest.param(h, r, id=f"{state(*h).status.value}-{r.value}") for h, r in cases]


FITTING = _closes(
    (AT_HOTLINE, CloseReason.ANSWERED),
    (RETURNED_H, CloseReason.ANSWERED),
    (REPLIED_H, CloseReason.SOLVED),
    ((*SURVEYED, e.SurveyUnanswered(survey_id="survey-1")), CloseReason.SURVEY_UNANSWERED),
    (AT_HOTLINE, CloseReason.WITHDRAWN),
    (AT_UNIT, CloseReason.DUPLICATE),
    (HANDLING, CloseReason.CITIZEN_UNREACHABLE),
    (RETURNED_H, CloseReason.CITIZEN_UNREACHABLE),
    (REPLIED_H, CloseReason.WITHDRAWN),
    (REPLIED_H, CloseReason.ANSWERED),
    (DISSATISFIED, CloseReason.UNSATISFIED),
)

MISFITTING = _closes(
    (AT_HOTLINE, CloseReason.SOLVED),
    (HANDLING, CloseReason.SOLVED),
    (AT_UNIT, CloseReason.ANSWERED),
    (AT_HOTLINE, CloseReason.REDO_REJECTED),
    (REPLIED_H, CloseReason.UNSATISFIED),
    (HANDLING, CloseReason.SURVEY_UNANSWERED),
    (RETURNED_H, CloseReason.UNSATISFIED_AFTER_REDO),
)


@pytest.mark.parametrize(("history", "reason"), FITTING)
def test_close_with_a_fitting_reason(history: tuple[EventData, ...], reason: CloseReason) -> None:
    ticket = state(*history)
    events = when(ticket, close(reason))
    assert events == [e.TicketClosed(reason=reason, note="结案")]
    after = then(ticket, events)
    assert (after.status, after.close_reason) == (TicketStatus.CLOSED, reason)


@pytest.mark.parametrize(("history", "reason"), MISFITTING)
def test_close_reason_mismatch(history: tuple[EventData, ...], reason: CloseReason) -> None:
    rejects("close-reason-mismatch", state(*history), close(reason))


def test_a_new_reply_is_surveyed_afresh() -> None:
    """After the redo's reply, the first round's dissatisfaction no longer closes it."""
    ticket = state(*REDONE)
    ticket = then(ticket, when(ticket, reply()))
    rejects("close-reason-mismatch", ticket, close(CloseReason.UNSATISFIED_AFTER_REDO))
    rejects("close-reason-mismatch", ticket, close(CloseReason.UNSATISFIED))


def test_unsatisfied_after_redo_needs_a_redo() -> None:
    command = close(CloseReason.UNSATISFIED_AFTER_REDO)
    rejects("close-reason-mismatch", state(*DISSATISFIED), command)


def test_no_close_while_a_survey_is_open() -> None:
    rejects("survey-open", state(*SURVEYED), close(CloseReason.SOLVED))


def test_closing_as_unreachable_ends_the_open_survey_unanswered() -> None:
    ticket = state(*SURVEYED)
    events = when(ticket, close(CloseReason.CITIZEN_UNREACHABLE))
    assert events == [e.SurveyUnanswered(survey_id="survey-1"),
                      e.TicketClosed(reason=CloseReason.CITIZEN_UNREACHABLE, note="结案")]
    assert then(ticket, events).status is TicketStatus.CLOSED


@pytest.mark.parametrize("command", [cmd for cmd in samples() if _name(cmd) != "ReopenTicket"],
                         ids=_name)
def test_a_closed_ticket_is_read_only(command: c.TicketCommand) -> None:
    rejects("ticket-closed", state(*CLOSED), command)


def test_reopen_a_closed_ticket_and_dispatch_it_again() -> None:
    ticket = state(*CLOSED)
    events = when(ticket, reopen())
    assert events == [e.TicketReopened(reopened_by="sup-03", reason="市民再次来电, 问题反复")]
    after = then(ticket, events)
    assert (after.status, after.close_reason, after.lead_unit, after.assisting_units) == (
        TicketStatus.REGISTERED, None, None, ())
    assert when(after, dispatch(deadlines=()))[0] == e.TicketDispatched(
        lead_unit=LEAD, assisting_units=(ASSIST,), note=DISPATCH_NOTE,
        round=2)


@pytest.mark.parametrize("history", [AT_HOTLINE, HANDLING, REPLIED_H],
                         ids=["registered", "acknowledged", "replied"])
def test_reopen_only_a_closed_ticket(history: tuple[EventData, ...]) -> None:
    rejects("not-closed", state(*history), reopen())


# --------------------------------------------------------------- warnings, cards and orders


def test_raise_a_warning_once() -> None:
    ticket = state(*HANDLING)
    events = when(ticket, warn())
    assert events == [WARNING]
    after = then(ticket, events)
    assert after.warnings == {"warn-1"}
    rejects("warning-exists", after, warn())
    assert when(after, warn("warn-2"))[0] == WARNING.model_copy(update={"warning_id": "warn-2"})


def test_a_repeat_contact_warning_names_no_clock() -> None:
    command = c.RaiseWarning(ticket_id=TID, warning_id="warn-r", level=WarningLevel.RED,
                             rule="third-contact", message_zh="紧急, 请优先处理")
    assert when(state(*AT_UNIT), command) == [
        e.WarningRaised(warning_id="warn-r", level=WarningLevel.RED, rule="third-contact",
                        message_zh="紧急, 请优先处理")]


def test_issue_a_card() -> None:
    command = c.IssueCard(ticket_id=TID, unit_id=LEAD, colour=CardColour.YELLOW,
                          rule="reply-late", warning_id="warn-1")
    card = e.CardIssued(unit_id=LEAD, colour=CardColour.YELLOW, rule="reply-late",
                        warning_id="warn-1")
    assert when(state(*HANDLING, WARNING), command) == [card]
    rejects("card-exists", state(*HANDLING, WARNING, card), command)  # a resent escalation


def test_set_deadlines() -> None:
    command = c.SetDeadlines(ticket_id=TID, deadlines=DEADLINES[1:], reason="policy_changed")
    assert when(state(*HANDLING), command) == [
        e.DeadlinesSet(deadlines=DEADLINES[1:], reason="policy_changed")]
    late = (Deadline(kind=DeadlineKind.REPLY, due_at=NOW, policy_id="complaint-normal"),)
    rejects("deadline-in-past", state(*HANDLING), command.model_copy(update={"deadlines": late}))


def test_issue_a_supervision_order() -> None:
    ticket = state(*HANDLING)
    events = when(ticket, order())
    assert events == [e.SupervisionOrderIssued(
        order_id="order-2", kind=OrderKind.SUPERVISION, unit_id=LEAD, due_at=ACK_DUE,
        text="请于11月25日前反馈办理情况", issued_by="sup-03")]
    assert "order-2" in then(ticket, events).orders


def test_issue_order_rules() -> None:
    rejects("order-exists", state(*SUPERVISED), order("order-1"))
    rejects("deadline-in-past", state(*HANDLING), order(due_at=NOW - timedelta(minutes=1)))


def test_answer_a_supervision_order() -> None:
    ticket = state(*SUPERVISED)
    events = when(ticket, answer_order())
    assert events == [e.SupervisionOrderAnswered(order_id="order-1", unit_id=LEAD,
                                                 text="已督促施工单位整改, 夜间已停工")]
    after = then(ticket, events)
    assert after.orders["order-1"].answered
    rejects("order-answered", after, answer_order())
    rejects("order-answered", after, escalate())


def test_answer_order_rules() -> None:
    rejects("order-not-for-unit", state(*SUPERVISED), answer_order(ASSIST))
    rejects("no-such-order", state(*SUPERVISED), answer_order(order_id="order-9"))
    rejects("no-such-order", state(*HANDLING), escalate())


def test_escalate_a_supervision_order() -> None:
    ticket = state(*SUPERVISED)
    events = when(ticket, escalate(1))
    assert events == [e.SupervisionOrderEscalated(order_id="order-1", level=1,
                                                  rule="order-overdue")]
    after = then(ticket, events)
    assert after.orders["order-1"].level == 1
    rejects("wrong-state", after, escalate(1))
    assert when(after, escalate(2))[0] == e.SupervisionOrderEscalated(
        order_id="order-1", level=2, rule="order-overdue")


# ------------------------------------------------------------------------------------ purity


def test_the_whole_loop_through_the_decider_alone() -> None:
    """Register → … → second survey → close, every event from `decide`, folded by `evolve`."""
    steps: list[c.TicketCommand] = [
        register(), c.MergeContact(ticket_id=TID, contact_id="contact-0002"),
        dispatch(), ack(), progress(public=True), assist_reply(), progress(ASSIST),
        warn(), ask_extension(request_id="ext-1"), approve(), order("order-1"), answer_order(),
        reply(), open_survey("survey-1"),
        survey_answer(HandlingRating.DISSATISFIED_WITH_RESULT), request_redo(),
        accept_redo().model_copy(update={"deadlines": REDO_CLOCK}),
        reply(), open_survey(), survey_answer(HandlingRating.SATISFIED, "survey-2"),
        close(CloseReason.SOLVED),
    ]
    history: list[tuple[EventData, datetime]] = []
    ticket: Ticket | None = None
    for i, command in enumerate(steps):
        at = T0 + timedelta(hours=i)
        events = when(ticket, command, at)
        history += [(event, at) for event in events]
        ticket = then(ticket, events, at)
    assert fold(history) == ticket
    assert ticket is not None
    assert (ticket.status, ticket.close_reason, ticket.survey_round, ticket.redone) == (
        TicketStatus.CLOSED, CloseReason.SOLVED, 2, True)
    assert ticket.deadlines == {DeadlineKind.REDO: LATER}  # the redo's clock replaced the rest
    assert ticket.contact_ids == ("contact-0001", "contact-0002")
    assert {type(event) for event, _ in history} >= {
        e.TicketRegistered, e.ContactMerged, e.TicketDispatched, e.DeadlinesSet,
        e.TicketAcknowledged, e.ProgressNoted, e.AssistingUnitReplied, e.ExtensionRequested,
        e.ExtensionApproved, e.WarningRaised, e.SupervisionOrderIssued,
        e.SupervisionOrderAnswered, e.TicketReplied, e.SurveyOpened, e.SurveyAnswered,
        e.RedoRequested, e.RedoAccepted, e.TicketClosed}


HISTORIES = [(), AT_HOTLINE, AT_UNIT, HANDLING, WAITING, RETURNED_H, REPLIED_H, SURVEYED,
             DISSATISFIED, REDO_PENDING, REDONE, CLOSED, MERGED, SUPERVISED]


def test_decide_is_pure_and_evolve_takes_every_event_it_emits() -> None:
    """Every command on every history: state untouched, same answer twice, events evolve.

    Between them these cases emit every event of the ticket stream, so `evolve`
    is shown to take each kind the decider can produce.
    """
    emitted: set[type[EventData]] = set()
    for history in HISTORIES:
        ticket = given(*history)
        frozen = copy.deepcopy(ticket)
        for command in [register(), *samples()]:
            try:
                events = when(ticket, command)  # checks purity and evolves the events
            except Rejected as first:
                with pytest.raises(Rejected) as again:
                    decide(ticket, command, NOW)
                assert again.value.rule == first.rule
            else:
                emitted |= {type(event) for event in events}
            assert ticket == frozen
    stream = {cls for cls in e.EVENTS.values() if issubclass(cls, e.TicketEvent)}
    assert emitted == stream - {e.TicketNumberReserved}  # that one lives on its own stream


def test_rules_carry_status_and_both_languages() -> None:
    rejected = rejects("ticket-closed", state(*CLOSED), reply())
    assert (rejected.rule.status, rejected.rule.zh) == (409, "工单已办结, 只读")
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id and rule.zh and rule.en
        assert rule.status in {403, 404, 409, 422}


# --------------------------------------------------------------------- every rule, one case

RULE_CASES: list[tuple[str, tuple[EventData, ...], c.Command]] = [
    ("ticket-unknown", (), reply()),
    ("ticket-exists", AT_HOTLINE, register()),
    ("ticket-closed", CLOSED, reply()),
    ("ticket-merged", MERGED, reopen()),
    ("wrong-state", RETURNED_H, dispatch()),
    ("not-assigned", HANDLING, reply(STRANGER)),
    ("reassigned-away", (*HANDLING, e.TicketReassigned(from_unit=LEAD, lead_unit=NEW_LEAD)),
     reply(LEAD)),
    ("not-lead-unit", HANDLING, reply(ASSIST)),
    ("not-assisting-unit", HANDLING, assist_reply(LEAD)),
    ("already-acknowledged", HANDLING, ack()),
    ("acknowledge-first", AT_UNIT, reply()),
    ("assist-already-replied",
     (*HANDLING, e.AssistingUnitReplied(unit_id=ASSIST, text="已劝导")), assist_reply()),
    ("same-unit", AT_UNIT, reassign(LEAD)),
    ("contact-already-merged", AT_HOTLINE, c.MergeContact(ticket_id=TID,
                                                          contact_id="contact-0001")),
    ("merge-into-self", AT_HOTLINE, c.MergeTicket(ticket_id=TID, target_ticket_id=TID)),
    ("no-change", AT_HOTLINE, c.ClassifyTicket(ticket_id=TID, ticket_type=TicketType.COMPLAINT,
                                               category=NOISE, urgency=Urgency.NORMAL)),
    ("extension-date-in-past", HANDLING, ask_extension(NOW - timedelta(days=1))),
    ("extension-not-later", HANDLING, ask_extension(REPLY_DUE)),
    ("extension-pending", WAITING, ask_extension()),
    ("no-such-extension", HANDLING, approve()),
    ("deadline-in-past", AT_HOTLINE, dispatch(deadlines=(
        Deadline(kind=DeadlineKind.REPLY, due_at=T0, policy_id="complaint-normal"),))),
    ("warning-exists", (*HANDLING, WARNING), warn()),
    ("clock-stopped", REPLIED_H, warn()),
    ("no-such-warning", HANDLING, c.IssueCard(ticket_id=TID, unit_id=LEAD,
                                              colour=CardColour.YELLOW, rule="r",
                                              warning_id="warn-1")),
    ("card-exists", (*HANDLING, WARNING, e.CardIssued(unit_id=LEAD, colour=CardColour.RED,
                                                       rule="r", warning_id="warn-1")),
     c.IssueCard(ticket_id=TID, unit_id=LEAD, colour=CardColour.RED, rule="r",
                 warning_id="warn-1")),
    ("order-exists", SUPERVISED, order("order-1")),
    ("no-such-order", HANDLING, answer_order()),
    ("order-answered",
     (*SUPERVISED, e.SupervisionOrderAnswered(order_id="order-1", unit_id=LEAD, text="已整改")),
     answer_order()),
    ("order-not-for-unit", SUPERVISED, answer_order(NEW_LEAD)),
    ("survey-open", SURVEYED, open_survey()),
    ("survey-not-open", REPLIED_H, survey_answer(HandlingRating.SATISFIED)),
    ("survey-not-dissatisfied", (*SURVEYED, answered(HandlingRating.SATISFIED)), request_redo()),
    ("redo-used", (*REDONE, REPLIED, SURVEY.model_copy(update={"survey_id": "survey-2"}),
                   answered(HandlingRating.DISSATISFIED_WITH_RESULT, "survey-2")),
     request_redo("survey-2")),
    ("redo-pending", REDO_PENDING, request_redo()),
    ("no-redo-pending", DISSATISFIED, accept_redo()),
    ("close-reason-mismatch", HANDLING, close(CloseReason.SOLVED)),
    ("not-closed", REPLIED_H, reopen()),
]


def test_meta_every_rule_is_produced() -> None:
    """One case per rule of `RULES`, run here: no rule goes untested, whatever runs before."""
    triggered: set[str] = set()
    for rule_id, history, command in RULE_CASES:
        rejects(rule_id, given(*history), command)
        triggered.add(rule_id)
    assert len(RULE_CASES) == len(triggered)
    assert triggered == set(RULES)
