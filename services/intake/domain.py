"""Intake's domain: what a channel may post, and how a post becomes a `ContactReceived`.

Pure functions and request models only; sealing takes the citizen's key as an
argument, so nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.base import Attachment, Coordinates
from contracts.envelope import canonical_json
from contracts.free_text import PERSONAL_TEXT, masked_copy, originals_of
from contracts.ids import name_id
from contracts.intake_events import CallRecorded, ContactReceived
from contracts.personal import seal
from contracts.vocabulary import CallOutcome, Channel

MAX_CONTENT_CHARS = 5000  # a long letter; a call summary is far shorter
MAX_CLOCK_SKEW = timedelta(minutes=5)
CONTACT_NAMESPACE = uuid.UUID("6f1d3c2e-12d4-5a45-9e6b-123451234512")

_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def valid_id_number(value: str) -> bool:
    """A mainland resident ID number (GB 11643-1999): 17 digits and the right check character."""
    value = value.upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CallerIn(Strict):
    """来电人: every part optional; an anonymous contact posts none."""

    name: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{4,19}$")] | None = None
    id_number: str | None = None
    channel_user: Annotated[str, Field(
        pattern=r"^[A-Za-z0-9_.@:-]{1,128}$",
        description="The sender on the channel (WeChat openid, app or web account): sealed "
                    "like the phone; the survey reaches the citizen there")] | None = None

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str | None) -> str | None:
        if value is not None and not valid_id_number(value):
            raise ValueError("not a valid resident ID number (check digit or length)")
        return value.upper() if value else value


class LocationIn(Strict):
    """Where the matter is: a free address, the district code, optionally a map point."""

    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    district_code: Annotated[str, Field(pattern=r"^[0-9]{6,12}$")] | None = None
    coordinates: Coordinates | None = None


class ContactIn(Strict):
    """POST /v1/contacts: one inbound message as a channel adapter forwards it."""

    channel: Channel
    channel_message_id: Annotated[str, Field(min_length=1, max_length=128)]
    received_at: AwareDatetime
    caller: CallerIn | None = None
    content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS), PERSONAL_TEXT]
    location: LocationIn | None = None
    attachments: Annotated[list[Attachment], Field(max_length=20)] = []


class CallIn(Strict):
    """One offered call from the phone system (CTI call detail record)."""

    call_id: Annotated[str, Field(min_length=1, max_length=128)]
    seat_id: str | None = None
    queue: str | None = None
    offered_at: AwareDatetime
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    outcome: CallOutcome
    wait_seconds: Annotated[float, Field(ge=0, le=86400)]
    talk_seconds: Annotated[float, Field(ge=0, le=86400)] | None = None


class CallsIn(Strict):
    """POST /v1/calls: a batch of call records."""

    calls: Annotated[list[CallIn], Field(min_length=1, max_length=1000)]


def contact_id_for(channel: str, channel_message_id: str) -> str:
    """The contact id is derived from the channel's own message id: a retry finds its stream."""
    return name_id(CONTACT_NAMESPACE, f"{channel}\x1f{channel_message_id}")


def contact_stream(contact_id: str) -> str:
    return f"contact-{contact_id}"


def body_digest(contact: ContactIn, key: bytes | None) -> str:
    """A digest of the normalised body: a retry has the same one, a different post does not.

    Keyed by the citizen's key when the body holds personal data: a plain hash of a body
    whose every other part is in the event would give the phone back in 10^8 guesses,
    erased or not."""
    body = canonical_json(contact.model_dump(mode="json"))
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def received_in_the_future(contact: ContactIn, now: datetime) -> bool:
    """A receive time beyond the clock skew is a broken adapter clock, not a real contact."""
    return contact.received_at > now + MAX_CLOCK_SKEW


def to_event(
    contact: ContactIn, contact_id: str, digest: str, citizen_ref: str | None, key: bytes | None
) -> ContactReceived:
    """The `ContactReceived` for a validated post (its id and body digest), sealed by `key`:
    the caller, the address, and the free text as typed when masking changed it."""
    caller = contact.caller
    who = caller.model_dump(exclude_none=True) if caller else {}
    address = contact.location.address if contact.location else None
    typed: dict[str, str] = {}
    clean = masked_copy(contact, "", typed)
    sealed_caller = sealed_address = sealed_content = None
    if citizen_ref and key:
        if who:
            sealed_caller = seal(key, citizen_ref, who, f"{contact_id}/caller")
        if address:
            sealed_address = seal(key, citizen_ref, {"address": address}, f"{contact_id}/address")
        if typed:
            sealed_content = seal(key, citizen_ref, typed, f"{contact_id}/content_sealed")
    return ContactReceived(
        contact_id=contact_id,
        channel=contact.channel,
        channel_message_id=contact.channel_message_id,
        received_at=contact.received_at,
        citizen_ref=citizen_ref,
        caller=sealed_caller,
        content=clean.content,
        content_sealed=sealed_content,
        district_code=contact.location.district_code if contact.location else None,
        address=sealed_address,
        coordinates=contact.location.coordinates if contact.location else None,
        attachments=tuple(clean.attachments),
        body_digest=digest,
    )


def needs_key(contact: ContactIn) -> bool:
    """Whether the post carries personal data to seal."""
    has_caller = bool(contact.caller and contact.caller.model_dump(exclude_none=True))
    has_address = bool(contact.location and contact.location.address)
    return has_caller or has_address or bool(originals_of(contact))


def call_event(call: CallIn) -> CallRecorded:
    """The `CallRecorded` for one call record."""
    return CallRecorded(**call.model_dump())
