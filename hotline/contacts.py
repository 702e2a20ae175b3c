"""Reading a contact back from the log, for the services that work from contacts.

A contact's `ContactReceived` is the truth about it (intake writes it once);
dispatch registers tickets from it, callback finds how to reach the citizen. The events
after it place it in the operators' queue (claimed, released, dismissed): `Waiting`.
The caller's phone in clear is for those who must reach the citizen only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from contracts.base import EventData
from contracts.envelope import decode
from contracts.events import (
    ContactClaimed,
    ContactDismissed,
    ContactReceived,
    ContactReleased,
    from_envelope,
)
from contracts.personal import Unreadable, unseal
from contracts.topics import CONTACTS
from hotline.keystore import KeyStore
from hotline.log.port import EventLog


async def read_contact(log: EventLog, contact_id: str) -> ContactReceived | None:
    """The contact's `ContactReceived`, read from its stream (the log is the truth)."""
    records = await log.read_stream(CONTACTS, f"contact-{contact_id}")
    if not records:
        return None
    event = from_envelope(decode(records[0].value))
    assert isinstance(event, ContactReceived)
    return event


@dataclass(frozen=True, slots=True)
class Waiting:
    """A contact's place in the operators' queue, folded from its stream: who holds it
    (a claim runs until `until`), whether it was dismissed, and the stream's version."""

    contact_id: str
    version: int = 0
    holder: str | None = None
    until: datetime | None = None
    dismissed: bool = False

    def held_by(self, now: datetime) -> str | None:
        """Who holds the contact now (None: free, or the claim expired)."""
        return self.holder if self.until is not None and now < self.until else None


def fold_waiting(contact_id: str, events: list[EventData]) -> Waiting:
    state = Waiting(contact_id)
    for event in events:
        match event:
            case ContactClaimed():
                state = replace(state, holder=event.operator, until=event.until)
            case ContactReleased():
                state = replace(state, holder=None, until=None)
            case ContactDismissed():
                state = replace(state, holder=None, until=None, dismissed=True)
        state = replace(state, version=state.version + 1)
    return state


async def read_waiting(log: EventLog, contact_id: str) -> tuple[ContactReceived | None, Waiting]:
    """The contact and its place in the queue, from one read of its stream."""
    events = [from_envelope(decode(r.value))
              for r in await log.read_stream(CONTACTS, f"contact-{contact_id}")]
    first = events[0] if events else None
    assert first is None or isinstance(first, ContactReceived)
    return first, fold_waiting(contact_id, events)


async def caller_phone(keys: KeyStore, contact: ContactReceived) -> str | None:
    """The caller's phone in clear: None when the contact has none or its key was erased.
    For those who must reach the citizen (the callback, a citizen proving who they are)."""
    return await _caller_field(keys, contact, "phone")


async def caller_channel_user(keys: KeyStore, contact: ContactReceived) -> str | None:
    """The sender's identity on the contact's channel (a WeChat openid), in clear, for the
    survey message; None when there is none or its key was erased."""
    return await _caller_field(keys, contact, "channel_user")


async def _caller_field(keys: KeyStore, contact: ContactReceived, field: str) -> str | None:
    if contact.caller is None:
        return None
    try:
        key = await keys.key(contact.caller.kid)
        caller = unseal(key, contact.caller, f"{contact.contact_id}/caller")
    except Unreadable:  # erased (forgotten)
        return None
    value = caller.get(field)
    return str(value) if value else None
