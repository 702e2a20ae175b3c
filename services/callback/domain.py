"""Callback (回访): the pure rules of the loop's last leg, 承办单位 → 12345 → 群众.

A ticket's events fold into a `Case` (what callback needs to know: the reply being
surveyed, the open survey, the answer, the redo). `plan(case, now, policy, reach)` lists the
commands due now; the worker sends them to the ticket decider. The steps, after each reply:

    replied ──> survey opened (SMS / WeChat / app / web / phone task)   or skipped (no contact)
      survey answered ──> satisfied: closed `solved` (or `answered` when not solved)
                     └──> dissatisfied with the result, with a reason, first time:
                          redo requested ──> the reviewer accepts (重办, once) or rejects
                     └──> dissatisfied otherwise: closed `unsatisfied`
                          (after a redo: `unsatisfied_after_redo`, counted against the unit)
      survey expired ──> a phone task if it was not one and there is a phone (policy),
                         else closed `survey_unanswered` (policy) or left to callback staff

Every command's ids derive from the ticket, the reply and the attempt, so a command sent
again after a crash is the same command (the desk answers it from the log).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from contracts import commands as c
from contracts import events as e
from contracts.base import EventData
from contracts.frozen import with_changes
from contracts.ids import name_id
from contracts.lifecycle import carried
from contracts.vocabulary import (
    Channel,
    CloseReason,
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
    SurveySkipReason,
    TicketStatus,
    TicketType,
)
from ticketing.domain import DISSATISFIED

S = TicketStatus
DATA = Path(__file__).parent / "data" / "callback-policy.json"
_SURVEYS = uuid.UUID("8c2f6a1e-5d3b-4a7e-b0c9-12345a0f0005")


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """How the hotline calls back (data/callback-policy.json)."""

    id: str
    survey_hours: dict[SurveyChannel, float]  # how long a survey waits for its answer
    first_channel: dict[Channel, SurveyChannel]  # by the channel the citizen came in on
    retry_by_phone: bool  # an unanswered SMS / WeChat survey becomes a phone task
    close_when_unanswered: bool  # else the ticket waits in the callback staff's list
    due_hours: float  # a replied ticket should be called back (closed) within this
    skip_types: frozenset[TicketType]  # ticket types that get no survey

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CallbackPolicy:
        hours = {SurveyChannel(k): float(v) for k, v in raw["survey_hours"].items()}
        if set(hours) != set(SurveyChannel):
            raise ValueError("survey_hours must name every survey channel")
        first = {Channel(k): SurveyChannel(v) for k, v in raw["first_channel"].items()}
        if set(first) != set(Channel):
            raise ValueError("first_channel must name every contact channel")
        return cls(id=raw["id"], survey_hours=hours, first_channel=first,
                   retry_by_phone=bool(raw["retry_by_phone"]),
                   close_when_unanswered=bool(raw["close_when_unanswered"]),
                   due_hours=float(raw["due_hours"]),
                   skip_types=frozenset(TicketType(t) for t in raw["skip_types"]))


def load_callback_policy(path: Path = DATA) -> CallbackPolicy:
    return CallbackPolicy.from_dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Survey:
    """The survey open now."""

    survey_id: str
    channel: SurveyChannel
    opened_at: datetime
    expires_at: datetime
    round: int


@dataclass(frozen=True, slots=True)
class Answer:
    """The citizen's answer to the survey of the current reply."""

    survey_id: str
    hotline_service: HotlineServiceRating
    handling: HandlingRating | None
    comment: str | None
    solved: bool | None


@dataclass(frozen=True, slots=True)
class Case:
    """One ticket as callback sees it."""

    ticket_id: str
    ticket_number: str
    ticket_type: TicketType
    channel: Channel | None  # of the first contact
    status: TicketStatus
    changed_at: datetime  # of the last event that changed anything below
    lead_unit: str | None = None
    replied_by: str | None = None  # the unit whose reply is surveyed
    replied_at: datetime | None = None
    reply_seq: int = 0  # stream version of that reply: survey ids derive from it
    attempts: int = 0  # surveys opened since that reply
    last_channel: SurveyChannel | None = None  # of the latest of them
    survey: Survey | None = None
    answer: Answer | None = None
    unanswered: bool = False  # the latest survey expired without an answer
    skipped: bool = False
    redo_pending: bool = False
    redone: bool = False
    close_reason: CloseReason | None = None

    @property
    def round(self) -> int:
        return 2 if self.redone else 1

    @property
    def stage(self) -> str:
        """Where the loop stands: handling, to_survey, survey_open, unanswered, answered,
        redo_review, closed or merged."""
        if self.status in (S.CLOSED, S.MERGED):
            return self.status.value
        if self.status is not S.REPLIED:
            return "handling"
        if self.redo_pending:
            return "redo_review"
        if self.survey is not None:
            return "survey_open"
        if self.answer is not None or self.skipped:
            return "answered"
        return "unanswered" if self.unanswered else "to_survey"


# ---------------------------------------------------------------------------------------- fold


def evolve_case(case: Case | None, event: EventData, at: datetime, seq: int) -> Case | None:
    """The case after one event (`at` its time, `seq` its stream version)."""
    if isinstance(event, e.TicketRegistered):
        return Case(ticket_id=event.ticket_id, ticket_number=event.ticket_number,
                    ticket_type=event.ticket_type, channel=event.channel, status=S.REGISTERED,
                    changed_at=at)
    if case is None:
        return None
    moved = carried(case, event)  # status and lead unit (contracts.lifecycle)
    if moved is not case:
        case = with_changes(moved, changed_at=at)
    match event:
        case e.TicketClassified():
            return with_changes(case, ticket_type=event.ticket_type)
        case e.TicketReplied():
            return with_changes(case, replied_by=event.unit_id, replied_at=at,
                           reply_seq=seq, attempts=0, last_channel=None, survey=None,
                           answer=None, unanswered=False, skipped=False, changed_at=at)
        case e.SurveyOpened():
            survey = Survey(event.survey_id, event.channel, at, event.expires_at, event.round)
            return with_changes(case, survey=survey, attempts=case.attempts + 1,
                           last_channel=event.channel, unanswered=False, changed_at=at)
        case e.SurveySkipped():
            return with_changes(case, skipped=True, changed_at=at)
        case e.SurveyAnswered():
            answer = Answer(event.survey_id, event.hotline_service, event.handling,
                            event.comment, event.solved)
            return with_changes(case, survey=None, answer=answer, changed_at=at)
        case e.SurveyUnanswered():
            return with_changes(case, survey=None, unanswered=True, changed_at=at)
        case e.RedoRequested():
            return with_changes(case, redo_pending=True, changed_at=at)
        case e.RedoRejected():
            return with_changes(case, redo_pending=False, changed_at=at)
        case e.RedoAccepted():
            return with_changes(case, redo_pending=False, redone=True)
        case e.TicketClosed():
            return with_changes(case, close_reason=event.reason, survey=None)
        case e.TicketReopened():
            return with_changes(case, close_reason=None)
        case e.TicketMergedInto():
            return with_changes(case, survey=None)
    return case


# ---------------------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True)
class Reach:
    """How the citizen can be reached (read from the ticket's contacts by the worker)."""

    channel: Channel | None  # the first contact's channel
    has_phone: bool


def needs_reach(case: Case) -> bool:
    """Whether `plan` needs to know how the citizen can be reached: to open a survey."""
    return case.stage == "to_survey" or (case.stage == "unanswered" and _phone_retry(case))


def next_check(case: Case, policy: CallbackPolicy) -> datetime | None:
    """The first moment `plan` can list something for this case (None: nothing will come
    by itself; a reviewer or the callback staff act next)."""
    stage = case.stage
    if stage in ("to_survey", "answered"):
        return case.changed_at
    if stage == "survey_open":
        assert case.survey is not None
        return case.survey.expires_at
    if stage == "unanswered" and (policy.retry_by_phone or policy.close_when_unanswered):
        return case.changed_at  # plan decides: a phone task or the close
    return None


def plan(case: Case, now: datetime, policy: CallbackPolicy,
         reach: Reach | None = None) -> list[c.TicketCommand]:
    """The commands due at `now`."""
    stage = case.stage
    if stage == "to_survey":
        assert reach is not None
        return [_open_or_skip(case, now, policy, reach)]
    if stage == "survey_open":
        assert case.survey is not None
        if now < case.survey.expires_at:
            return []
        return [c.RecordSurveyUnanswered(ticket_id=case.ticket_id,
                                         survey_id=case.survey.survey_id)]
    if stage == "unanswered":
        if policy.retry_by_phone and _phone_retry(case) and reach is not None and reach.has_phone:
            return [open_survey(case, SurveyChannel.PHONE, now, policy)]
        if policy.close_when_unanswered:
            return [close(case.ticket_id, CloseReason.SURVEY_UNANSWERED, "回访超时未应答")]
        return []
    if stage == "answered":
        if case.answer is None:  # skipped: the unit's reply stands
            return [close(case.ticket_id, CloseReason.ANSWERED, "免回访")]
        return [after_answer(case.ticket_id, case.redone, case.answer)]
    return []


def _phone_retry(case: Case) -> bool:
    return case.last_channel is not SurveyChannel.PHONE


def _open_or_skip(case: Case, now: datetime, policy: CallbackPolicy,
                  reach: Reach) -> c.TicketCommand:
    if case.ticket_type in policy.skip_types:
        return c.SkipSurvey(ticket_id=case.ticket_id, reason=SurveySkipReason.NOT_SURVEYED_TYPE)
    channel = policy.first_channel[reach.channel or Channel.PHONE]
    if channel in (SurveyChannel.SMS, SurveyChannel.PHONE) and not reach.has_phone:
        # a message or a call needs a number: the anonymous caller without one is skipped
        return c.SkipSurvey(ticket_id=case.ticket_id, reason=SurveySkipReason.NO_CONTACT)
    return open_survey(case, channel, now, policy)


def survey_id(case: Case, attempt: int) -> str:
    """The id of the `attempt`-th survey (1-based) of the current reply: the same on a
    resend, another for the next reply."""
    return name_id(_SURVEYS, f"{case.ticket_id}\n{case.reply_seq}\n{attempt}")


def open_survey(case: Case, channel: SurveyChannel, now: datetime,
                policy: CallbackPolicy) -> c.OpenSurvey:
    expires = now + timedelta(hours=policy.survey_hours[channel])
    return c.OpenSurvey(ticket_id=case.ticket_id, survey_id=survey_id(case, case.attempts + 1),
                        channel=channel, expires_at=expires)


def close(ticket_id: str, reason: CloseReason, note: str) -> c.CloseTicket:
    return c.CloseTicket(ticket_id=ticket_id, reason=reason, note=note)


def after_answer(ticket_id: str, redone: bool, answer: Answer) -> c.TicketCommand:
    """What an answer leads to (seed 000, Dongguan): a first 'dissatisfied with the result'
    with a reason asks for a redo; a dissatisfaction after the redo closes as unsatisfied,
    counted against the unit; satisfaction closes solved (answered when not solved)."""
    reason = (answer.comment or "").strip()
    if answer.handling in DISSATISFIED:
        if redone:
            return close(ticket_id, CloseReason.UNSATISFIED_AFTER_REDO, "重办后仍不满意")
        if answer.handling is HandlingRating.DISSATISFIED_WITH_RESULT and reason:
            return c.RequestRedo(ticket_id=ticket_id, survey_id=answer.survey_id,
                                 reason=reason)
        return close(ticket_id, CloseReason.UNSATISFIED, "市民不满意")
    if answer.solved is False:
        return close(ticket_id, CloseReason.ANSWERED, "市民满意, 问题未解决")
    return close(ticket_id, CloseReason.SOLVED, "市民满意")


def command_id(case: Case, command: c.TicketCommand) -> str:
    """The same step, the same id: a resend is answered from the log. A step is anchored
    on the survey it is about, else on the reply and the attempts made since."""
    match command:
        case c.OpenSurvey() | c.RecordSurveyUnanswered() | c.RequestRedo():
            anchor = command.survey_id
        case _ if case.answer is not None:  # the close an answer leads to
            anchor = case.answer.survey_id
        case _:  # a skip, or the close after a skip or an unanswered survey
            anchor = f"{case.reply_seq}/{case.attempts}"
    return step_id(case.ticket_id, command, anchor)


def step_id(ticket_id: str, command: c.TicketCommand, anchor: str) -> str:
    return name_id(_SURVEYS, f"{ticket_id}\n{type(command).__name__}\n{anchor}")


# ------------------------------------------------------------------------------------ to JSON


def case_to_json(case: Case) -> dict[str, Any]:
    """The case as the board stores it."""
    raw: dict[str, Any] = {
        "ticket_number": case.ticket_number, "ticket_type": case.ticket_type.value,
        "channel": _v(case.channel), "status": case.status.value,
        "changed_at": case.changed_at.isoformat(), "lead_unit": case.lead_unit,
        "replied_by": case.replied_by, "replied_at": _t(case.replied_at),
        "reply_seq": case.reply_seq, "attempts": case.attempts,
        "last_channel": _v(case.last_channel), "unanswered": case.unanswered,
        "skipped": case.skipped, "redo_pending": case.redo_pending, "redone": case.redone,
        "close_reason": _v(case.close_reason),
    }
    if (s := case.survey) is not None:
        raw["survey"] = [s.survey_id, s.channel.value, s.opened_at.isoformat(),
                         s.expires_at.isoformat(), s.round]
    if (a := case.answer) is not None:
        raw["answer"] = [a.survey_id, a.hotline_service.value, _v(a.handling), a.comment,
                         a.solved]
    return raw


def case_from_json(ticket_id: str, raw: dict[str, Any]) -> Case:
    survey = answer = None
    if (s := raw.get("survey")) is not None:
        survey = Survey(s[0], SurveyChannel(s[1]), datetime.fromisoformat(s[2]),
                        datetime.fromisoformat(s[3]), s[4])
    if (a := raw.get("answer")) is not None:
        answer = Answer(a[0], HotlineServiceRating(a[1]),
                        HandlingRating(a[2]) if a[2] else None, a[3], a[4])
    return Case(
        ticket_id=ticket_id, ticket_number=raw["ticket_number"],
        ticket_type=TicketType(raw["ticket_type"]),
        channel=Channel(raw["channel"]) if raw["channel"] else None,
        status=TicketStatus(raw["status"]),
        changed_at=datetime.fromisoformat(raw["changed_at"]), lead_unit=raw["lead_unit"],
        replied_by=raw["replied_by"],
        replied_at=datetime.fromisoformat(raw["replied_at"]) if raw["replied_at"] else None,
        reply_seq=raw["reply_seq"], attempts=raw["attempts"],
        last_channel=SurveyChannel(raw["last_channel"]) if raw["last_channel"] else None,
        survey=survey, answer=answer, unanswered=raw["unanswered"], skipped=raw["skipped"],
        redo_pending=raw["redo_pending"], redone=raw["redone"],
        close_reason=CloseReason(raw["close_reason"]) if raw["close_reason"] else None)


def _v(value: Any) -> str | None:
    return None if value is None else str(value.value)


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
