"""Reading a contact back from the log, for the services that work from contacts.

A contact's one `ContactReceived` is the truth about it (intake writes it once);
dispatch registers tickets from it, callback finds how to reach the citizen.
The caller's phone in clear is for those who must reach the citizen only.
"""

from __future__ import annotations

from contracts.envelope import decode
from contracts.events import ContactReceived, from_envelope
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


async def caller_phone(keys: KeyStore, contact: ContactReceived) -> str | None:
    """The caller's phone in clear: None when the contact has none or its key was erased.
    For those who must reach the citizen (the callback, a citizen proving who they are)."""
    if contact.caller is None:
        return None
    try:
        key = await keys.key(contact.caller.kid)
        caller = unseal(key, contact.caller, f"{contact.contact_id}/caller")
    except Unreadable:  # erased (forgotten)
        return None
    phone = caller.get("phone")
    return str(phone) if phone else None
