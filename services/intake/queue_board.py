"""The contact queue's read model: every contact with where it stands (waiting, held by an
operator, registered or merged into a ticket, dismissed), from hotline.contacts and the
ticket events that take contacts in.

The two topics have no order between them: a ticket may be seen to take a contact in
before the contact itself is read. A row is made by whichever event comes first and
completed by the others; an outcome, once known, is never undone by a claim read later.
Per-operator figures read the claim and outcome times kept here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope
from contracts.topics import CONTACTS, TICKETS
from hotline.board import write_rows
from hotline.builds import projection_metadata
from hotline.projection import Applied, aware, rows_by_id, utc_column

VERSION = 1  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
queue = Table(
    f"intake_queue_v{VERSION}", metadata,
    Column("contact_id", String(64), primary_key=True),
    Column("channel", String(16)),
    utc_column("received_at"),
    Column("district_code", String(12)),
    Column("holder", String(200)),  # the operator's actor while a claim runs
    utc_column("held_until"),
    Column("first_claimed_by", String(200)),
    utc_column("first_claimed_at"),
    Column("outcome", String(16)),  # NULL: waiting; registered, merged, dismissed
    Column("ticket_id", String(64)),
    Column("outcome_by", String(200)),
    utc_column("outcome_at"),
    Column("version", Integer, nullable=False),  # events applied to the row
    # the queue: waiting contacts, oldest first
    Index("ix_intake_queue_outcome_received", "outcome", "received_at", "contact_id"),
    Index("ix_intake_queue_outcome_by", "outcome_by", "outcome_at"),
)
EMPTY: dict[str, Any] = {c.name: None for c in queue.columns} | {"version": 0}
MUTABLE = tuple(c.name for c in queue.columns if c.name != "contact_id")
EVENTS = frozenset({"ContactReceived", "ContactClaimed", "ContactReleased", "ContactDismissed",
                    "TicketRegistered", "ContactMerged"})


class ContactQueue:
    """Every contact and where it stands in the operators' queue."""

    name: str = "contact-queue"
    version: int = VERSION
    topics: Sequence[str] = (CONTACTS, TICKETS)
    events: frozenset[str] = EVENTS
    metadata: MetaData = metadata

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        items = [(env, data) for env, data in batch if data is not None]
        ids = {cid for _, data in items for cid in _contacts_of(data)}
        rows = await rows_by_id(conn, queue, ids, key="contact_id")
        new: dict[str, dict[str, Any]] = {}
        for env, data in items:
            for cid in _contacts_of(data):
                row = rows.get(cid) or new.setdefault(cid, {**EMPTY, "contact_id": cid})
                _apply(row, env, data)
        changed = [row for cid, row in rows.items() if cid not in new]
        await write_rows(conn, queue, MUTABLE, list(new.values()), changed, key="contact_id")


def _contacts_of(data: object) -> tuple[str, ...]:
    match data:
        case e.TicketRegistered():
            return data.contact_ids
        case (e.ContactMerged() | e.ContactReceived() | e.ContactClaimed()
              | e.ContactReleased() | e.ContactDismissed()):
            return (data.contact_id,)
    return ()


def _apply(row: dict[str, Any], env: Envelope, data: object) -> None:
    row["version"] += 1
    at = aware(env.time)
    match data:
        case e.ContactReceived():
            row.update(channel=data.channel.value, received_at=aware(data.received_at),
                       district_code=data.district_code)
        case e.ContactClaimed() if row["outcome"] is None:
            row.update(holder=data.operator, held_until=aware(data.until))
            if row["first_claimed_at"] is None:
                row.update(first_claimed_by=data.operator, first_claimed_at=at)
        case e.ContactReleased() if row["outcome"] is None:
            row.update(holder=None, held_until=None)
        case e.ContactDismissed():
            _outcome(row, "dismissed", None, data.operator, at)
        case e.TicketRegistered():
            _outcome(row, "registered", env.subject.removeprefix("ticket-"), env.actor, at)
        case e.ContactMerged():
            _outcome(row, "merged", env.subject.removeprefix("ticket-"), env.actor, at)


def _outcome(row: dict[str, Any], outcome: str, ticket_id: str | None, by: str,
             at: datetime | None) -> None:
    if row["outcome"] is None:  # the first outcome stands
        row.update(outcome=outcome, ticket_id=ticket_id, outcome_by=by, outcome_at=at,
                   holder=None, held_until=None)
