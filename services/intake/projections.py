"""Intake's read models: the contact register and the call records, rebuildable from the log.

No personal data here: contacts are listed by channel, time, district and
pseudonymous citizen ref; caller details stay sealed in the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import CallRecorded, ContactReceived
from contracts.topics import CALLS, CONTACTS
from hotline.builds import projection_metadata
from hotline.bulk import insert_many
from hotline.projection import Applied

ANSWER_TARGET_SECONDS = 15  # "15 秒接通率": calls answered within 15 seconds

VERSION = 1  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
contacts = Table(
    f"intake_contacts_v{VERSION}", metadata,
    Column("contact_id", String(64), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("channel_message_id", String(128), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("district_code", String(12)),
    Column("citizen_ref", String(64)),
    Column("content", Text, nullable=False),
    Column("attachments", Integer, nullable=False),
    Column("correlation_id", String(64), nullable=False),
    *(Index(f"ix_intake_contacts_{c}", c)
      for c in ("channel", "received_at", "district_code", "citizen_ref")),
)
calls = Table(
    f"intake_calls_v{VERSION}", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("seat_id", String(128)),
    Column("queue", String(128)),
    Column("offered_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("wait_seconds", Float, nullable=False),
    Column("answered_in_target", Boolean, nullable=False),
    Index("ix_intake_calls_offered_at", "offered_at"),
)


class IntakeRegister:
    """One row per contact and per call, as received."""

    name: str = "intake"
    version: int = VERSION
    topics: Sequence[str] = (CONTACTS, CALLS)
    events: frozenset[str] = frozenset({"ContactReceived", "CallRecorded"})
    metadata: MetaData = metadata

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        contact_rows, call_rows = [], []
        for event, data in batch:
            if isinstance(data, ContactReceived):
                contact_rows.append(dict(
                    contact_id=data.contact_id, channel=data.channel.value,
                    channel_message_id=data.channel_message_id, received_at=data.received_at,
                    district_code=data.district_code, citizen_ref=data.citizen_ref,
                    content=data.content, attachments=len(data.attachments),
                    correlation_id=event.correlationid,
                ))
            elif isinstance(data, CallRecorded):
                answered = data.answered_at is not None
                call_rows.append(dict(
                    call_id=data.call_id, seat_id=data.seat_id, queue=data.queue,
                    offered_at=data.offered_at, outcome=data.outcome.value,
                    wait_seconds=data.wait_seconds,
                    answered_in_target=answered and data.wait_seconds <= ANSWER_TARGET_SECONDS,
                ))
        await insert_many(conn, contacts, contact_rows)
        await insert_many(conn, calls, call_rows)


