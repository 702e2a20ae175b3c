"""Events before a ticket exists: contacts (hotline.contacts) and call statistics (hotline.calls).

Personal data of the caller is never in clear text: `caller` and `address`
are `Sealed` under the citizen's key (contracts/personal.py), whose id is the
pseudonymous `citizen_ref`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from contracts.base import (
    Attachment,
    CallEvent,
    CitizenRef,
    ContactEvent,
    Coordinates,
    DistrictCode,
    Id,
    Note,
    PersonId,
    Text,
    Timestamp,
    call_times,
    sealed_under,
)
from contracts.personal import Sealed
from contracts.vocabulary import CallOutcome, Channel, DismissReason


class ContactReceived(ContactEvent):
    """来电/来信: one inbound message on one channel, as received (idempotent on channel id)."""

    sealed_text_field: ClassVar[str | None] = "content_sealed"

    contact_id: Id
    channel: Channel
    channel_message_id: Id = Field(description="The channel's own message id (idempotency key)")
    received_at: Timestamp
    citizen_ref: CitizenRef | None = Field(
        default=None, description="Pseudonymous citizen id; the kid of the sealed fields"
    )
    caller: Sealed | None = Field(
        default=None, description="Sealed {name, phone, id_number} of the caller"
    )
    content: Text = Field(
        description="What the citizen said or wrote (诉求内容), phone and ID numbers masked"
    )
    content_sealed: Sealed | None = Field(
        default=None,
        description="Sealed {path: text as written} of the free-text fields (content, "
        "attachment file names) whose numbers were masked; present only then",
    )
    district_code: DistrictCode | None = None
    address: Sealed | None = Field(default=None, description="Sealed {address} of the issue")
    coordinates: Coordinates | None = None
    attachments: tuple[Attachment, ...] = ()
    body_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 hex of the normalised request body: same channel message id "
        "with a different digest is an idempotency conflict",
    )

    @model_validator(mode="after")
    def _sealed_under_citizen(self) -> ContactReceived:
        sealed_under(self.citizen_ref, self.caller, self.address, self.content_sealed)
        return self


class CallRecorded(CallEvent):
    """话务记录: one offered call as reported by the phone system (for connect rate, 接通率)."""

    call_id: Id
    seat_id: Id | None = Field(default=None, description="Agent seat (坐席) that answered")
    queue: Id | None = Field(default=None, description="Skill group / queue the call waited in")
    offered_at: Timestamp
    answered_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    outcome: CallOutcome
    wait_seconds: float = Field(ge=0, description="Time in queue before answer or abandon")
    talk_seconds: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> CallRecorded:
        call_times(self.outcome, self.offered_at, self.answered_at, self.ended_at)
        return self


class ContactClaimed(ContactEvent):
    """认领: an operator takes the contact from the queue; others see who holds it, until
    `until` (a claim left unworked expires and the contact is free again)."""

    contact_id: Id
    operator: PersonId = Field(description="The operator's actor, e.g. operator:wang.li")
    until: Timestamp


class ContactReleased(ContactEvent):
    """释放: the operator hands the contact back to the queue."""

    contact_id: Id
    operator: PersonId


class ContactDismissed(ContactEvent):
    """无效来件: the contact becomes no ticket (spam, a test, a repeat, not for 12345)."""

    contact_id: Id
    reason: DismissReason
    note: Note | None = None
    operator: PersonId
