"""`an_contact_facts`: one row per contact (来电/来信), from `hotline.contacts` and what the
tickets' events say became of it.

A contact's row is filled from two topics: its `ContactReceived` (channel, time, district)
and the ticket event naming it — the registration it was made into, or the `ContactMerged`
that joined it to an open ticket as a repeat — or its `ContactDismissed`. The two topics are
read in no fixed order relative to each other, so either may come first: each event fills
only its own columns, and the time from receipt to ticket is set once both are known. The
final row is the same whatever the order, so a rebuild gives the same rows.

No personal data: the caller, the address and the content stay in the log; the row keeps
the channel, times, the district code, the ticket id and the dismissal reason code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Index, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope
from contracts.topics import CONTACTS, TICKETS
from hotline.board import ticket_id_of, write_rows
from hotline.builds import projection_metadata
from hotline.projection import Applied, aware, rows_by_id, utc_column
from reference.calendar import WorkingCalendar
from services.analytics.facts import period_keys

VERSION = 1  # bump it when the tables change: a new build, made from zero
# its own: a rebuild of one fact table leaves the other alone
metadata = projection_metadata(VERSION)
contact_facts = Table(
    f"an_contact_facts_v{VERSION}", metadata,
    Column("contact_id", String(128), primary_key=True),
    Column("channel", String(16)),  # NULL until its ContactReceived is applied
    utc_column("received_at"),
    Column("reg_day", String(10)), Column("reg_week", String(8)),
    Column("reg_month", String(7)), Column("reg_quarter", String(7)),
    Column("reg_year", String(4)), Column("reg_hour", Integer),
    Column("district_code", String(12)),
    Column("ticket_id", String(128)),  # the ticket it was made into or joined
    Column("joined", String(16)),  # registered (a ticket was made of it) or merged (a repeat)
    utc_column("ticketed_at"),
    Column("to_ticket_s", Integer),  # receipt → registration or merge, elapsed seconds
    Column("dismissed", String(32)),  # the dismissal reason code
    Index("ix_an_contact_facts_received", "received_at"),
    Index("ix_an_contact_facts_ticket", "ticket_id"),
)
COLUMNS = tuple(c.name for c in contact_facts.columns)
MUTABLE = tuple(name for name in COLUMNS if name != "contact_id")
EMPTY = dict.fromkeys(COLUMNS)


class ContactFacts:
    """`an_contact_facts`: every contact, its channel and time, and what became of it."""

    name: str = "analytics_contact_facts"
    version: int = VERSION
    topics: Sequence[str] = (CONTACTS, TICKETS)
    events: frozenset[str] = frozenset({"ContactReceived", "ContactDismissed",
                                        "TicketRegistered", "ContactMerged"})
    metadata: MetaData = metadata

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        wanted = {cid for env, data in batch for cid in _contacts_of(data)}
        stored = await rows_by_id(conn, contact_facts, wanted, key="contact_id")
        for row in stored.values():
            row["received_at"], row["ticketed_at"] = (aware(row["received_at"]),
                                                      aware(row["ticketed_at"]))
        rows: dict[str, dict[str, Any]] = dict(stored)
        for env, data in batch:
            for cid in _contacts_of(data):
                row = rows.setdefault(cid, {**EMPTY, "contact_id": cid})
                self._fold(row, env, data)
        new = [r for cid, r in sorted(rows.items()) if cid not in stored]
        changed = [r for cid, r in sorted(rows.items()) if cid in stored]
        await write_rows(conn, contact_facts, MUTABLE, new, changed, key="contact_id")

    def _fold(self, row: dict[str, Any], env: Envelope, data: Any) -> None:
        match data:
            case e.ContactReceived():
                received = data.received_at
                row.update(channel=data.channel.value, received_at=aware(received),
                           district_code=data.district_code,
                           **period_keys(received, self.calendar))
            case e.ContactDismissed():
                row["dismissed"] = data.reason.value
            case e.TicketRegistered() | e.ContactMerged() if row["ticket_id"] is None:
                row.update(ticket_id=ticket_id_of(env), ticketed_at=aware(env.time),
                           joined="registered" if isinstance(data, e.TicketRegistered)
                           else "merged")
        if row["received_at"] is not None and row["ticketed_at"] is not None:
            row["to_ticket_s"] = int((row["ticketed_at"] - row["received_at"]).total_seconds())


def _contacts_of(data: Any) -> tuple[str, ...]:
    """The contacts an event is about (none for the events this table does not read)."""
    match data:
        case e.ContactReceived() | e.ContactDismissed() | e.ContactMerged():
            return (data.contact_id,)
        case e.TicketRegistered():
            return data.contact_ids
    return ()
