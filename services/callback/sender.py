"""The survey sender: turns each `SurveyOpened` into the message the citizen receives.

It is a relay (a projection with side effects, never rebuilt): it reads `hotline.tickets`,
and for each survey opened on SMS, WeChat, app or web it writes the text with the signed
link and hands it to the `Outbox`, then records what it did in `cb_sent` in the same
transaction as its offsets. A crash between the hand-over and the commit sends the batch
again with the same message ids (the survey ids): delivery is at-least-once and gateways
drop repeats. A phone survey sends nothing: it is a task in the callback staff's list.
Surveys already expired or no longer open when the sender reaches them are not sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.topics import TICKETS
from contracts.vocabulary import SurveyChannel
from hotline.projection import Applied, utc_column
from hotline.runtime import Platform
from services.callback.links import Links, SurveyLink
from services.callback.messages import sms_text, survey_code, wechat_text
from services.callback.outbox import Message, Outbox
from services.callback.reach import recipient
from ticketing.client import tickets_of

log = logging.getLogger(__name__)

metadata = MetaData()
sent = Table(
    "cb_sent", metadata,
    Column("survey_id", String(128), primary_key=True),
    Column("ticket_id", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),  # sent, phone_task, expired, closed, no_contact
    utc_column("at", nullable=False),
)


class SurveySender:
    """Relay from `SurveyOpened` to the outbox (see the module doc)."""

    name: str = "callback-sender"
    version: int = 1
    in_place = True  # a relay: its rows are what it did, kept through builds (hotline/builds.py)
    topics: Sequence[str] = (TICKETS,)
    events: frozenset[str] = frozenset({"SurveyOpened"})
    metadata: MetaData = metadata

    def __init__(self, platform: Platform, links: Links, outbox: Outbox,
                 clock: Callable[[], datetime]) -> None:
        self.platform, self.links, self.outbox, self.clock = platform, links, outbox, clock
        self.tickets = tickets_of(platform)

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        rows = []
        for env, data in batch:
            if not isinstance(data, e.SurveyOpened):
                continue
            ticket_id = env.subject.removeprefix("ticket-")
            outcome = await self._send(ticket_id, data)
            rows.append({"survey_id": data.survey_id, "ticket_id": ticket_id,
                         "channel": data.channel.value, "outcome": outcome, "at": self.clock()})
        if rows:
            await conn.execute(sent.insert(), rows)

    async def _send(self, ticket_id: str, survey: e.SurveyOpened) -> str:
        now = self.clock()
        if survey.channel is SurveyChannel.PHONE:
            return "phone_task"
        if survey.expires_at <= now:
            return "expired"
        ticket = await self.tickets.get(ticket_id)
        if ticket is None or ticket.survey_id != survey.survey_id:
            return "closed"  # answered, expired or closed since: nothing to ask any more
        to = await recipient(self.platform, ticket)
        if survey.channel is SurveyChannel.SMS and to.phone is None:
            return "no_contact"
        url = await self.links.url(SurveyLink(survey.survey_id, ticket_id, survey.channel,
                                              survey.expires_at))
        text = (sms_text(ticket.ticket_number, url, survey_code(survey.survey_id))
                if survey.channel is SurveyChannel.SMS
                else wechat_text(ticket.ticket_number, url))
        await self.outbox.send(Message(
            message_id=survey.survey_id, channel=survey.channel, text=text, link=url,
            sent_at=now, phone=to.phone if survey.channel is SurveyChannel.SMS else None,
            reply_to=None if survey.channel is SurveyChannel.SMS else to.reply_to,
            to_user=None if survey.channel is SurveyChannel.SMS else to.user))
        log.info("callback: survey %s of %s sent by %s", survey.survey_id,
                 ticket.ticket_number, survey.channel.value)
        return "sent"
