"""Intake's use cases: receive a contact, receive call records, act on the contact queue.
Load, decide, append.

Idempotency rides on the single-writer rule: a contact's stream id is derived
from its channel message id, and the one `ContactReceived` is appended with
expected version 0. A retry (or a racing duplicate) finds the stream taken,
reads the stored event and compares body digests: same body, same contact
id and nothing appended; different body, a conflict.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contracts.base import EventData
from contracts.envelope import decode
from contracts.events import from_envelope
from contracts.personal import identity
from contracts.topics import CONTACTS
from contracts.vocabulary import DismissReason
from hotline.contacts import fold_waiting
from hotline.eventstore import Context
from hotline.log.port import VersionConflict
from hotline.runtime import Platform
from services.intake import domain, queue

SOURCE = "/hotline/intake"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer for one contact: its id and whether this post created it."""

    contact_id: str
    status: Literal["accepted", "duplicate"]
    correlation_id: str


class IdempotencyConflict(Exception):
    """The channel message id was already used for a different body."""

    def __init__(self, contact_id: str) -> None:
        super().__init__(contact_id)
        self.contact_id = contact_id


class ClockSkew(Exception):
    """The contact claims to have been received in the future."""


async def _existing(platform: Platform, stream: str, digest: str) -> Receipt:
    stored = await platform.log.read_stream(CONTACTS, stream)
    first = decode(stored[0].value)
    if first.data["body_digest"] != digest:
        raise IdempotencyConflict(first.data["contact_id"])
    return Receipt(first.data["contact_id"], "duplicate", first.correlationid)


async def receive_contact(
    platform: Platform, contact: domain.ContactIn, actor: str, now: datetime
) -> Receipt:
    """Append the contact's `ContactReceived` once; a repeat answers with the same id."""
    if domain.received_in_the_future(contact, now):
        raise ClockSkew
    contact_id = domain.contact_id_for(contact.channel, contact.channel_message_id)
    stream = domain.contact_stream(contact_id)
    # No look before the append: the append itself is the check (expected version 0),
    # and a repeat is rare enough to pay for its own sealing.
    ref, key = None, None
    if domain.needs_key(contact):
        caller = contact.caller
        ref, key = await platform.keys.citizen(identity(  # durable before the event names it
            phone=caller.phone if caller else None,
            id_number=caller.id_number if caller else None))
    digest = domain.body_digest(contact, key)
    event = domain.to_event(contact, contact_id, digest, ref, key)
    context = Context.new(actor, SOURCE, causation_id=contact.channel_message_id)
    try:
        await platform.store.append(stream, [event], expected_version=0, context=context, now=now)
    except VersionConflict:  # posted before, or by a concurrent retry that won
        return await _existing(platform, stream, digest)
    return Receipt(contact_id, "accepted", context.correlation_id)


async def record_calls(
    platform: Platform, calls: list[domain.CallIn], actor: str, now: datetime
) -> tuple[int, int]:
    """Append each call record once (its stream is keyed by call id); (recorded, duplicates)."""
    context = Context.new(actor, SOURCE)

    async def one(call: domain.CallIn) -> bool:
        try:
            await platform.store.append(f"call-{call.call_id}", [domain.call_event(call)],
                                        expected_version=0, context=context, now=now)
            return True
        except VersionConflict:
            return False

    results = await asyncio.gather(*(one(c) for c in calls))
    return results.count(True), results.count(False)


@dataclass(frozen=True, slots=True)
class QueueAction:
    """What an operator does to a queued contact: claim, release or dismiss it."""

    op: Literal["claim", "release", "dismiss"]
    contact_id: str
    operator: str  # the operator's actor, e.g. operator:wang.li
    reason: str | None = None  # a dismissal's DismissReason value
    note: str | None = None


async def act_on_queue(platform: Platform, action: QueueAction, targets: queue.Targets,
                       now: datetime) -> EventData:
    """Decide on the contact's stream as it stands and append at that version: of two
    operators acting at once, the second sees the first's event and is decided again
    (QueueRefused when it no longer fits)."""
    stream = domain.contact_stream(action.contact_id)
    for _ in range(5):
        stored = await platform.store.load(CONTACTS, stream)
        state = fold_waiting(action.contact_id, [from_envelope(s.envelope) for s in stored])
        event: EventData
        if action.op == "claim":
            event = queue.claim(state, action.operator, now, targets)
        elif action.op == "release":
            event = queue.release(state, action.operator, now)
        else:
            assert action.reason is not None, "a dismissal names its reason"
            event = queue.dismiss(state, action.operator, now,
                                  DismissReason(action.reason), action.note)
        try:
            await platform.store.append(stream, [event], expected_version=state.version,
                                        context=Context.new(action.operator, SOURCE),
                                        now=now)
            return event
        except VersionConflict:
            continue
    raise queue.QueueRefused("contact-busy", "The contact changed too often; try again.")
