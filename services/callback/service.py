"""Callback's use cases: the citizen's answer (by link, SMS reply or the callback staff's
call), the staff's phone surveys and closes, the reviewer's redo decision, the supervisor's
reopen. Every change is a command to the ticket decider.

An answer is followed at once by what it leads to (a close, or a redo request for the
reviewer), sent with the id the worker would use, so whichever comes second is answered
from the log: a crash between the two leaves the follow-up to the worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from contracts import commands as c
from contracts.ids import name_id
from contracts.personal import identity, mask_personal_text
from contracts.vocabulary import CloseReason, HandlingRating, HotlineServiceRating, SurveyChannel
from hotline.contacts import read_contact
from hotline.disclosure import disclose
from hotline.projection import ReadSide
from hotline.runtime import Platform
from reference.calendar import WorkingCalendar
from reference.policy import DeadlinePolicy
from services.callback import queries
from services.callback.domain import Answer, CallbackPolicy, after_answer, step_id
from services.callback.links import Links
from services.callback.messages import parse_sms_reply, survey_code
from ticketing.client import TicketCommands, tickets_of
from ticketing.domain import Ticket
from ticketing.handler import Outcome
from ticketing.rules import Rejected

SOURCE = "/hotline/callback"
_IDS = uuid.UUID("5a9d3c2b-7e41-4f06-8b1a-12345a0f0006")


class NoSurveyFound(Exception):
    """An SMS reply matches no open survey of its sender (or, without a code, several)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnreadableReply(Exception):
    """An SMS reply that follows no answer code."""


@dataclass(frozen=True, slots=True)
class Ratings:
    hotline_service: HotlineServiceRating
    handling: HandlingRating | None
    comment: str | None = None
    solved: bool | None = None


@dataclass(frozen=True, slots=True)
class Answered:
    """The answer's outcome and its follow-up's (None when the follow-up was refused: the
    worker retries what is still due)."""

    answer: Outcome
    follow_up: Outcome | None


class CallbackService(ReadSide):
    """Answers by link, SMS reply or callback staff; the redo review; closes; the board."""

    def __init__(self, platform: Platform, policy: CallbackPolicy, links: Links,
                 deadlines: DeadlinePolicy, calendar: WorkingCalendar) -> None:
        self.platform, self.db, self.policy, self.links = platform, platform.db, policy, links
        self.deadlines, self.calendar = deadlines, calendar
        self.tickets: TicketCommands = tickets_of(platform)

    async def caller(self, ticket: Ticket, role: str) -> Any:
        """The citizen who made the ticket's first contact, as `role` may see them."""
        contact = await read_contact(self.platform.log, ticket.contact_ids[0])
        if contact is None:
            return None
        return await disclose(self.platform.keys, contact.caller,
                              f"{contact.contact_id}/caller", role)

    async def _run(self, command: c.TicketCommand, actor: str, command_id: str,
                   now: datetime) -> Outcome:
        return await self.tickets.execute(command, actor=actor, command_id=command_id, now=now,
                                       source=SOURCE)

    # ------------------------------------------------------------------- the citizen's answer

    async def answer(self, ticket_id: str, survey_id: str, ratings: Ratings,
                     via: SurveyChannel, actor: str, command_id: str,
                     now: datetime) -> Answered:
        """Record the answer, then what it leads to (numbers and rooms typed into the comment are
        masked by the desk, on the way into the log)."""
        comment = ratings.comment or None
        command = c.RecordSurveyAnswer(
            ticket_id=ticket_id, survey_id=survey_id, hotline_service=ratings.hotline_service,
            handling=ratings.handling, comment=comment, solved=ratings.solved,
            answered_via=via)
        recorded = await self._run(command, actor, command_id, now)
        answer = Answer(survey_id, ratings.hotline_service, ratings.handling, comment,
                        ratings.solved)
        follow = after_answer(ticket_id, recorded.ticket.redone, answer)
        try:
            followed = await self._run(follow, "system:callback",
                                       step_id(ticket_id, follow, survey_id), now)
        except Rejected:  # e.g. the ticket was closed meanwhile: nothing more to do
            followed = None
        return Answered(recorded, followed)

    async def answer_by_link(self, token: str, ratings: Ratings, now: datetime) -> Answered:
        """The citizen's answer through a survey link (WeChat, app, web, or the SMS's)."""
        link = await self.links.verify(token, now)
        # a resubmitted form is the same command (answered from the log); another answer
        # to the same survey is refused by the decider (survey-not-open)
        # (of the masked comment: an id derived from the clear one would give it back)
        typed = replace(ratings, comment=mask_personal_text(ratings.comment or ""))
        cid = name_id(_IDS, f"link\n{link.survey_id}\n{typed!r}")
        return await self.answer(link.ticket_id, link.survey_id, ratings, link.channel,
                                 f"citizen:{link.channel.value}", cid, now)

    async def answer_by_sms(self, phone: str, text: str, actor: str, command_id: str,
                            now: datetime) -> Answered:
        """An SMS reply with answer codes, matched to its sender's open SMS survey."""
        parsed = parse_sms_reply(text)
        if parsed is None:
            raise UnreadableReply()
        who = identity(phone=phone)
        ref = await self.platform.keys.find(who) if who else None
        found: list[tuple[str, str]] = []
        if ref is not None:  # a number the hotline never saw (or forgot) has no survey
            async with self.platform.db.connect() as conn:
                found = await queries.open_sms_surveys(conn, ref)
        if parsed.code is not None:
            found = [f for f in found if survey_code(f[1]) == parsed.code]
        if not found:
            raise NoSurveyFound("No open SMS survey matches this number"
                                + (" and code." if parsed.code else "."))
        if len(found) > 1:
            raise NoSurveyFound("Several surveys are open for this number: the reply must "
                                "start with the survey's code (#XXXX).")
        ticket_id, survey_id = found[0]
        ratings = Ratings(parsed.hotline_service, parsed.handling, parsed.comment)
        return await self.answer(ticket_id, survey_id, ratings, SurveyChannel.SMS, actor,
                                 command_id, now)

    # ------------------------------------------------------------------- callback staff

    async def open_survey(self, ticket_id: str, channel: SurveyChannel, actor: str,
                          command_id: str, now: datetime) -> Outcome:
        """A survey opened by the callback staff (e.g. a phone callback the citizen asked
        for); its expiry follows the policy."""
        command = c.OpenSurvey(
            ticket_id=ticket_id, survey_id=name_id(_IDS, f"survey\n{command_id}"),
            channel=channel, expires_at=now + timedelta(hours=self.policy.survey_hours[channel]))
        return await self._run(command, actor, command_id, now)

    async def close(self, ticket_id: str, reason: CloseReason, note: str | None, actor: str,
                    command_id: str, now: datetime) -> Outcome:
        command = c.CloseTicket(ticket_id=ticket_id, reason=reason, note=note)
        return await self._run(command, actor, command_id, now)

    # ------------------------------------------------------------------- review and reopen

    async def accept_redo(self, ticket_id: str, reviewer: str, reason: str,
                          unit_id: str | None, actor: str, command_id: str,
                          now: datetime) -> Outcome:
        """重办: back to the unit (the last lead unless named) with the redo's clock."""
        command = c.AcceptRedo(ticket_id=ticket_id, reviewer=reviewer, unit_id=unit_id,
                               reason=reason,
                               deadlines=(self.deadlines.for_redo(now, self.calendar),))
        return await self._run(command, actor, command_id, now)

    async def reject_redo(self, ticket_id: str, reviewer: str, reason: str, actor: str,
                          command_id: str, now: datetime) -> Outcome:
        command = c.RejectRedo(ticket_id=ticket_id, reviewer=reviewer, reason=reason)
        return await self._run(command, actor, command_id, now)

    async def reopen(self, ticket_id: str, supervisor: str, reason: str, actor: str,
                     command_id: str, now: datetime) -> Outcome:
        """重启: the only change a closed ticket accepts; the event names who and why."""
        command = c.ReopenTicket(ticket_id=ticket_id, reopened_by=supervisor, reason=reason)
        return await self._run(command, actor, command_id, now)
