"""How a ticket's citizen can be reached, read from its contacts (the log holds them, sealed).

The phone is opened here, for the worker (does the citizen have one?) and the sender (the
SMS gateway needs it); it is never logged or stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.vocabulary import Channel
from hotline.contacts import caller_channel_user, caller_phone, read_contact
from hotline.runtime import Platform
from services.callback.domain import Reach
from ticketing.domain import Ticket


@dataclass(frozen=True, slots=True)
class Recipient:
    channel: Channel | None  # the first contact's channel
    reply_to: str | None  # the first contact's message id on that channel
    phone: str | None  # the first phone among the contacts, in clear
    user: str | None = None  # the first contact's sender on its channel (WeChat openid)

    @property
    def reach(self) -> Reach:
        return Reach(channel=self.channel, has_phone=self.phone is not None)


async def recipient(platform: Platform, ticket: Ticket) -> Recipient:
    channel = reply_to = phone = user = None
    for i, contact_id in enumerate(ticket.contact_ids):
        contact = await read_contact(platform.log, contact_id)
        if contact is None:
            continue
        if i == 0:
            channel, reply_to = contact.channel, contact.channel_message_id
            user = await caller_channel_user(platform.keys, contact)
        phone = await caller_phone(platform.keys, contact)
        if phone:
            break
    return Recipient(channel, reply_to, phone, user)
