"""The callback rules without I/O: a ticket's events fold into a `Case`, `plan` lists the
step due (open, skip, expire, retry by phone, close, ask for a redo), `next_check` says when
to look again, every step keeps its id when planned again, and the board's JSON form
round-trips."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import commands as c
from contracts import events as e
from contracts.base import Category, EventData
from contracts.vocabulary import (
    Channel,
    CloseReason,
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
    SurveySkipReason,
    TicketType,
)
from services.callback.domain import (
    DATA,
    Answer,
    CallbackPolicy,
    Case,
    Reach,
    after_answer,
    case_from_json,
    case_to_json,
    command_id,
    evolve_case,
    load_callback_policy,
    needs_reach,
    next_check,
    plan,
    step_id,
    survey_id,
)

BJ = ZoneInfo("Asia/Shanghai")
POLICY = load_callback_policy()
TID, NUMBER, UNIT, OTHER = "t-1", "12345-20261123-000001", "d01-urban-squad", "city-urban-mgmt"
SMS, WECHAT, PHONE = SurveyChannel.SMS, SurveyChannel.WECHAT, SurveyChannel.PHONE
DIS_RESULT = HandlingRating.DISSATISFIED_WITH_RESULT
DIS_STAFF = HandlingRating.DISSATISFIED_WITH_STAFF
SECOND = timedelta(seconds=1)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=BJ)  # a Monday
REPLIED_AT = T0 + timedelta(days=2)
WITH_PHONE, NO_PHONE = Reach(Channel.PHONE, has_phone=True), Reach(Channel.PHONE, False)
History = list[tuple[EventData, datetime]]


# ----------------------------------------------------------------------------- histories


def replied(channel: Channel | None = Channel.PHONE,
            ticket_type: TicketType = TicketType.REQUEST) -> History:
    return [(e.TicketRegistered(
        ticket_id=TID, ticket_number=NUMBER, contact_ids=("c-1",), ticket_type=ticket_type,
        category=Category(level1="urban-management", level2="street-lights"),
        summary="小区门口路灯不亮", district_code="990101", registered_by="op-1",
        channel=channel), T0),
        (e.TicketDispatched(lead_unit=UNIT, round=1), T0 + timedelta(minutes=5)),
        (e.TicketAcknowledged(unit_id=UNIT), T0 + timedelta(hours=1)),
        (e.TicketReplied(unit_id=UNIT, text="已更换灯泡"), REPLIED_AT)]


def case_of(history: History) -> Case:
    """The fold, each event's stream version its place in the history."""
    case: Case | None = None
    for seq, (event, when) in enumerate(history, 1):
        case = evolve_case(case, event, when, seq)
    assert case is not None
    return case


def applied(history: History, commands: Sequence[c.TicketCommand], when: datetime) -> History:
    """The history after the events the ticket decider makes of `commands`."""
    case, events = case_of(history), list(history)
    for cmd in commands:
        match cmd:
            case c.OpenSurvey():
                event: EventData = e.SurveyOpened(survey_id=cmd.survey_id, channel=cmd.channel,
                                                  expires_at=cmd.expires_at,
                                                  round=2 if case.redone else 1)
            case c.SkipSurvey():
                event = e.SurveySkipped(reason=cmd.reason)
            case c.RecordSurveyUnanswered():
                event = e.SurveyUnanswered(survey_id=cmd.survey_id)
            case c.RequestRedo():
                event = e.RedoRequested(survey_id=cmd.survey_id, reason=cmd.reason)
            case c.CloseTicket():
                event = e.TicketClosed(reason=cmd.reason, note=cmd.note)
            case _:
                raise AssertionError(cmd)
        events.append((event, when))
    return events


def step(history: History, when: datetime, reach: Reach | None = WITH_PHONE) -> History:
    """Plan at `when` and apply what is due."""
    commands = plan(case_of(history), when, POLICY, reach)
    assert commands, when
    return applied(history, commands, when)


OPENED_AT = REPLIED_AT + timedelta(minutes=1)
EXPIRED_AT = OPENED_AT + timedelta(hours=48)


def surveyed() -> History:
    return step(replied(), OPENED_AT)


def answered(handling: HandlingRating | None = HandlingRating.SATISFIED,
             comment: str | None = None, solved: bool | None = True,
             history: History | None = None) -> History:
    h = surveyed() if history is None else history
    survey = case_of(h).survey
    assert survey is not None
    return [*h, (e.SurveyAnswered(
        survey_id=survey.survey_id, hotline_service=HotlineServiceRating.SATISFIED,
        handling=handling, comment=comment, solved=solved, answered_via=survey.channel),
        survey.opened_at + timedelta(hours=3))]


def unanswered() -> History:
    return step(surveyed(), EXPIRED_AT)


def redo_requested() -> History:
    h = answered(DIS_RESULT, "路灯还是不亮", solved=False)
    return step(h, case_of(h).changed_at)


def then(history: Callable[[], History], event: EventData,
         when: datetime) -> Callable[[], History]:
    return lambda: [*history(), (event, when)]


redo_accepted = then(redo_requested, e.RedoAccepted(reviewer="rev-1", unit_id=OTHER,
                                                    reason="市民反映属实"), T0 + timedelta(days=3))
redo_replied = then(redo_accepted, e.TicketReplied(unit_id=OTHER, text="已更换线路"),
                    T0 + timedelta(days=5))
acknowledged = then(lambda: replied()[:2], e.TicketAcknowledged(unit_id=UNIT),
                    T0 + timedelta(hours=1))


def redo_rejected() -> History:
    when = T0 + timedelta(days=3)
    return [*redo_requested(), (e.RedoRejected(reviewer="rev-1", reason="已按标准修复"), when),
            (e.TicketClosed(reason=CloseReason.REDO_REJECTED, note="已按标准修复"), when)]


def closed() -> History:
    h = answered()
    return step(h, case_of(h).changed_at)


STAGES: dict[str, tuple[Callable[[], History], str]] = {
    "registered": (lambda: replied()[:1], "handling"),
    "dispatched": (lambda: replied()[:2], "handling"),
    "acknowledged": (acknowledged, "handling"), "replied": (replied, "to_survey"),
    "surveyed": (surveyed, "survey_open"), "answered": (answered, "answered"),
    "unanswered": (unanswered, "unanswered"),
    "answered-directly": (lambda: answered(None, "", None), "answered"),
    "skipped": (lambda: step(replied(), OPENED_AT, NO_PHONE), "answered"),
    "redo-requested": (redo_requested, "redo_review"),
    "redo-accepted": (redo_accepted, "handling"), "redo-replied": (redo_replied, "to_survey"),
    "closed": (closed, "closed"), "redo-rejected": (redo_rejected, "closed"),
    "merged": (then(acknowledged, e.TicketMergedInto(target_ticket_id="t-0"), REPLIED_AT),
               "merged"),
    "returned": (then(acknowledged, e.TicketReturned(unit_id=UNIT, reason="非本单位职责"),
                      REPLIED_AT), "handling"),
    "reopened": (then(closed, e.TicketReopened(reopened_by="sup-1", reason="复发"),
                      T0 + timedelta(days=9)), "handling"),
}


# ---------------------------------------------------------------------------------- fold


def test_nothing_is_folded_before_registration() -> None:
    assert evolve_case(None, e.TicketAcknowledged(unit_id=UNIT), T0, 1) is None


@pytest.mark.parametrize("name", list(STAGES))
def test_each_history_is_at_its_stage(name: str) -> None:
    history, stage = STAGES[name]
    assert case_of(history()).stage == stage


def test_a_reply_records_the_unit_its_time_and_its_stream_version() -> None:
    case = case_of(replied(Channel.WECHAT))
    assert (case.ticket_number, case.channel, case.lead_unit) == (NUMBER, Channel.WECHAT, UNIT)
    assert (case.replied_by, case.replied_at, case.reply_seq) == (UNIT, REPLIED_AT, 4)
    assert (case.attempts, case.round, case.changed_at) == (0, 1, REPLIED_AT)


def test_closing_and_reopening() -> None:
    done = case_of(closed())
    assert (done.close_reason, done.survey) == (CloseReason.SOLVED, None)
    again = case_of(STAGES["reopened"][0]())
    assert (again.close_reason, again.lead_unit) == (None, None)
    assert next_check(done, POLICY) is None and plan(done, EXPIRED_AT, POLICY, WITH_PHONE) == []


# ------------------------------------------------------------------- plan: a fresh reply


@pytest.mark.parametrize(("contact", "has_phone", "channel"), [
    (Channel.WECHAT, True, WECHAT), (Channel.WECHAT, False, WECHAT),
    (Channel.PHONE, True, SMS), (Channel.WEB, False, SurveyChannel.WEB),
    (None, True, SMS),  # no channel known: as a call
])
def test_a_reply_opens_a_survey_on_the_policys_channel(
        contact: Channel | None, has_phone: bool, channel: SurveyChannel) -> None:
    case = case_of(replied(contact))
    assert needs_reach(case) and next_check(case, POLICY) == REPLIED_AT
    now = REPLIED_AT + timedelta(minutes=3)
    assert plan(case, now, POLICY, Reach(contact, has_phone)) == [c.OpenSurvey(
        ticket_id=TID, survey_id=survey_id(case, 1), channel=channel,
        expires_at=now + timedelta(hours=48))]


@pytest.mark.parametrize(("contact", "ticket_type", "reason"), [
    (Channel.PHONE, TicketType.REQUEST, SurveySkipReason.NO_CONTACT),
    (Channel.SMS, TicketType.COMPLAINT, SurveySkipReason.NO_CONTACT),
    (None, TicketType.REQUEST, SurveySkipReason.NO_CONTACT),
    (Channel.WECHAT, TicketType.PRAISE, SurveySkipReason.NOT_SURVEYED_TYPE),
])
def test_no_survey_for_a_caller_without_a_phone_nor_for_praise(
        contact: Channel | None, ticket_type: TicketType, reason: SurveySkipReason) -> None:
    case = case_of(replied(contact, ticket_type))
    has_phone = ticket_type is TicketType.PRAISE
    assert plan(case, OPENED_AT, POLICY, Reach(contact, has_phone)) == [
        c.SkipSurvey(ticket_id=TID, reason=reason)]


def test_a_skipped_survey_closes_as_answered() -> None:
    case = case_of(STAGES["skipped"][0]())
    assert not needs_reach(case) and next_check(case, POLICY) == OPENED_AT
    [cmd] = plan(case, OPENED_AT, POLICY)
    assert isinstance(cmd, c.CloseTicket) and cmd.reason is CloseReason.ANSWERED


# ------------------------------------------------------------------ plan: an open survey


def test_an_open_survey_expires_at_its_time_not_before() -> None:
    case = case_of(surveyed())
    assert case.survey is not None and case.survey.expires_at == EXPIRED_AT
    assert next_check(case, POLICY) == EXPIRED_AT and not needs_reach(case)
    assert plan(case, EXPIRED_AT - SECOND, POLICY) == []
    expired = [c.RecordSurveyUnanswered(ticket_id=TID, survey_id=case.survey.survey_id)]
    assert plan(case, EXPIRED_AT, POLICY) == expired
    assert plan(case, EXPIRED_AT + timedelta(days=3), POLICY) == expired


def test_an_unanswered_sms_survey_becomes_a_phone_task() -> None:
    first = case_of(surveyed()).survey
    case = case_of(unanswered())
    assert first is not None and needs_reach(case) and next_check(case, POLICY) == EXPIRED_AT
    now = EXPIRED_AT + timedelta(seconds=10)
    [cmd] = plan(case, now, POLICY, WITH_PHONE)
    assert cmd == c.OpenSurvey(ticket_id=TID, survey_id=survey_id(case, 2), channel=PHONE,
                               expires_at=now + timedelta(hours=24))
    assert cmd.survey_id != first.survey_id


def test_an_unanswered_phone_survey_closes_the_ticket() -> None:
    h = step(unanswered(), EXPIRED_AT)
    case = case_of(h)
    assert (case.stage, case.attempts, case.last_channel) == ("survey_open", 2, PHONE)
    assert case.survey is not None
    case = case_of(step(h, case.survey.expires_at))
    assert case.stage == "unanswered" and not needs_reach(case)
    assert plan(case, case.changed_at, POLICY, None) == [
        c.CloseTicket(ticket_id=TID, reason=CloseReason.SURVEY_UNANSWERED, note="回访超时未应答")]


def test_no_phone_task_without_a_phone_or_when_the_policy_says_no() -> None:
    case = case_of(unanswered())
    no_retry = replace(POLICY, retry_by_phone=False)
    for policy, reach in ((POLICY, NO_PHONE), (no_retry, WITH_PHONE)):
        [cmd] = plan(case, EXPIRED_AT, policy, reach)
        assert isinstance(cmd, c.CloseTicket) and cmd.reason is CloseReason.SURVEY_UNANSWERED


def test_left_to_the_callback_staff_the_case_plans_nothing_and_is_not_due() -> None:
    """With neither retry nor close, plan lists nothing and next_check says so: the case
    waits in the callback staff's list, the worker does not look at it again."""
    case = case_of(unanswered())
    staff = replace(POLICY, retry_by_phone=False, close_when_unanswered=False)
    assert plan(case, EXPIRED_AT + timedelta(days=30), staff, WITH_PHONE) == []
    assert next_check(case, staff) is None
    assert next_check(case, POLICY) == case.changed_at == EXPIRED_AT


# ------------------------------------------------------------------------ after an answer

SOLVED, ANSWERED = CloseReason.SOLVED, CloseReason.ANSWERED
UNSATISFIED, AFTER_REDO = CloseReason.UNSATISFIED, CloseReason.UNSATISFIED_AFTER_REDO
BASIC = HandlingRating.BASICALLY_SATISFIED


@pytest.mark.parametrize(("handling", "comment", "solved", "redone", "reason"), [
    (HandlingRating.SATISFIED, None, True, False, SOLVED),
    (HandlingRating.SATISFIED, None, False, False, ANSWERED),
    (BASIC, None, None, False, SOLVED),
    (None, None, None, False, SOLVED),  # answered directly: no unit to rate
    (BASIC, "还行", False, True, ANSWERED),
    (DIS_RESULT, None, False, False, UNSATISFIED),
    (DIS_RESULT, "", False, False, UNSATISFIED),
    (DIS_RESULT, "  \n", False, False, UNSATISFIED),
    (DIS_STAFF, "态度差", False, False, UNSATISFIED),
    (DIS_RESULT, "还是不亮", False, True, AFTER_REDO),
    (DIS_STAFF, None, True, True, AFTER_REDO),
])
def test_an_answer_closes_the_ticket(handling: HandlingRating | None, comment: str | None,
                                     solved: bool | None, redone: bool,
                                     reason: CloseReason) -> None:
    answer = Answer("s-1", HotlineServiceRating.SATISFIED, handling, comment, solved)
    cmd = after_answer(TID, redone, answer)
    assert isinstance(cmd, c.CloseTicket) and (cmd.ticket_id, cmd.reason) == (TID, reason)


def test_a_first_dissatisfaction_with_the_result_and_a_reason_asks_for_a_redo() -> None:
    answer = Answer("s-1", HotlineServiceRating.SATISFIED, DIS_RESULT, "  路灯还是不亮\n", False)
    assert after_answer(TID, False, answer) == c.RequestRedo(
        ticket_id=TID, survey_id="s-1", reason="路灯还是不亮")


def test_the_redo_loop() -> None:
    """Dissatisfied → redo requested (waits for a reviewer) → accepted → the new reply is
    surveyed anew in round 2 → dissatisfied again: closed against the unit."""
    first = case_of(answered(DIS_RESULT, "路灯还是不亮", solved=False))
    review = case_of(redo_requested())
    assert first.answer is not None
    assert plan(first, first.changed_at, POLICY) == [c.RequestRedo(
        ticket_id=TID, survey_id=first.answer.survey_id, reason="路灯还是不亮")]
    assert next_check(review, POLICY) is None and plan(review, EXPIRED_AT, POLICY, WITH_PHONE) == []
    rejected = case_of(redo_rejected()[:-1])  # the reviewer's no, before the close
    assert (rejected.redo_pending, rejected.redone, rejected.stage) == (False, False, "answered")
    assert case_of(redo_rejected()).close_reason is CloseReason.REDO_REJECTED
    accepted = case_of(redo_accepted())
    assert (accepted.redone, accepted.round, accepted.lead_unit) == (True, 2, OTHER)
    again = case_of(redo_replied())
    assert (again.replied_by, again.attempts, again.answer, again.round) == (OTHER, 0, None, 2)
    h = step(redo_replied(), T0 + timedelta(days=5, minutes=1))
    survey = case_of(h).survey
    assert survey is not None and survey.round == 2
    assert survey.survey_id not in {survey_id(first, 1), survey_id(first, 2)}
    last = case_of(answered(DIS_RESULT, "还是不亮", solved=False, history=h))
    [cmd] = plan(last, last.changed_at, POLICY)
    assert isinstance(cmd, c.CloseTicket) and cmd.reason is AFTER_REDO


# ------------------------------------------------------------------------------ command ids


def test_a_step_planned_again_later_keeps_its_id() -> None:
    case = case_of(replied())
    [early], [late] = (plan(case, t, POLICY, WITH_PHONE) for t in (OPENED_AT, EXPIRED_AT))
    assert isinstance(early, c.OpenSurvey) and isinstance(late, c.OpenSurvey)
    assert early.expires_at != late.expires_at
    assert command_id(case, early) == command_id(case, late)


def test_the_close_after_an_answer_has_the_services_id() -> None:
    case = case_of(answered())
    assert case.answer is not None
    [cmd] = plan(case, case.changed_at, POLICY)
    assert command_id(case, cmd) == step_id(TID, cmd, case.answer.survey_id)


def test_every_step_of_a_long_loop_has_its_own_id() -> None:
    """SMS survey, expired, phone task answered with a redo request, the redone reply
    skipped (no phone any more), closed: six steps, six ids."""
    ids: list[str] = []

    def due(h: History, when: datetime, reach: Reach | None = None) -> History:
        case = case_of(h)
        [cmd] = plan(case, when, POLICY, reach)
        ids.append(command_id(case, cmd))
        return applied(h, [cmd], when)

    h = due(due(due(replied(), OPENED_AT, WITH_PHONE), EXPIRED_AT), EXPIRED_AT, WITH_PHONE)
    h = due(answered(DIS_RESULT, "还是不亮", False, history=h), EXPIRED_AT + timedelta(hours=4))
    later = EXPIRED_AT + timedelta(days=2)
    h = [*h, (e.RedoAccepted(reviewer="rev-1", unit_id=UNIT, reason="属实"), later),
         (e.TicketReplied(unit_id=UNIT, text="已更换线路"), later)]
    h = due(due(h, later, NO_PHONE), later)
    assert case_of(h).close_reason is CloseReason.ANSWERED
    assert len(ids) == len(set(ids)) == 6


def test_survey_ids_belong_to_the_ticket_the_reply_and_the_attempt() -> None:
    case = case_of(replied())
    ids = {survey_id(case, 1), survey_id(case, 2), survey_id(replace(case, ticket_id="t-2"), 1),
           survey_id(replace(case, reply_seq=9), 1)}
    assert len(ids) == 4 and survey_id(case, 1) == survey_id(case_of(replied()), 1)


# ----------------------------------------------------------------------------------- storage


@pytest.mark.parametrize("name", list(STAGES))
def test_the_json_form_round_trips(name: str) -> None:
    case = case_of(STAGES[name][0]())
    assert case_from_json(TID, json.loads(json.dumps(case_to_json(case)))) == case


# ------------------------------------------------------------------------------------ policy


def test_the_shipped_policy() -> None:
    assert (POLICY.survey_hours[SMS], POLICY.survey_hours[PHONE]) == (48, 24)
    assert POLICY.first_channel[Channel.WECHAT] is WECHAT
    assert POLICY.skip_types == {TicketType.PRAISE}
    assert POLICY.retry_by_phone and POLICY.close_when_unanswered


@pytest.mark.parametrize("table", ["survey_hours", "first_channel"])
def test_a_policy_must_name_every_channel(table: str) -> None:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    del raw[table]["phone"]
    with pytest.raises(ValueError, match="every"):
        CallbackPolicy.from_dict(raw)
