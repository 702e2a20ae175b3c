"""The dispatch relay: copies a ticket's events to the dispatch stream of each unit it concerns.

Each member unit reads its own topic `hotline.dispatch.<unit>` (one partition,
so the unit's order is total, and its Kafka ACL can name that topic only), or
the same records over HTTP (`services.dispatch.feed`). A record there is the
ticket's own event: key `ticket-<id>`, the same CloudEvents bytes and the same
`id`, plus a `hotline-role` header saying what the unit is to the ticket after
that event: `lead`, `assisting`, or `former` (it just lost the ticket).

Who gets what, event by event (the concerned units are the lead and the assisting units):

- a unit that becomes concerned (TicketDispatched, TicketReassigned,
  RedoAccepted) first gets the ticket's TicketRegistered envelope, and its
  latest TicketClassified if there was one, then the event itself: its stream
  is self-contained. Getting a ticket back (after a return or a reopening)
  sends them again, same ids;
- a unit that loses the ticket (reassigned away, TicketReturned, a redo given
  to another unit, TicketReopened) gets that event as `former`, then nothing;
- CardIssued, WarningRaised naming a unit and the supervision orders go to
  the unit named (or the order's unit), if it is concerned; the other
  whitelisted events go to every concerned unit;
- everything else is never forwarded: the surveys (citizens' comments),
  redo requests and rejections, contact merges, direct answers, and the
  number reservations of the `ticket-numbers-*` streams.

Delivery is at-least-once. The records are appended inside `apply`, after the
relay's rows are written and before the runner commits them with its offsets;
a crash between the append and the COMMIT re-sends that batch's records on
restart, with the original event ids, so consumers dedupe by `id`. Rebuilding
the relay (`hotline rebuild`, a new `version`) replays from offset zero and so
re-sends every record: the same ids again.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import Column, LargeBinary, MetaData, String, Table, Text, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope, encode
from contracts.topics import TICKETS, dispatch_spec
from hotline.eventstore import STRUCTURED
from hotline.log.port import EventLog, OutgoingRecord
from hotline.projection import Applied

log = logging.getLogger(__name__)

ROLE_HEADER = "hotline-role"
LEAD, ASSISTING, FORMER = "lead", "assisting", "former"
STREAM_PREFIX = "ticket-"
NUMBER_STREAMS = "ticket-numbers-"  # TicketNumberReserved: a day's counter, not a ticket

FORWARDED = frozenset({
    "TicketRegistered", "TicketClassified", "TicketDispatched", "TicketReassigned",
    "DeadlinesSet", "TicketAcknowledged", "TicketReturned", "ProgressNoted",
    "AssistingUnitReplied", "ExtensionRequested", "ExtensionApproved", "ExtensionRejected",
    "TicketReplied", "WarningRaised", "CardIssued", "SupervisionOrderIssued",
    "SupervisionOrderAnswered", "SupervisionOrderEscalated", "RedoAccepted", "TicketClosed",
    "TicketReopened", "TicketMergedInto",
})

metadata = MetaData()
relay_tickets = Table(
    "relay_tickets", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("registration", LargeBinary),  # the TicketRegistered envelope, as stored
    Column("classification", LargeBinary),  # the latest TicketClassified envelope, if any
    Column("lead_unit", String(64)),
    Column("assisting_units", Text, nullable=False),  # JSON list, in dispatch order
    Column("orders", Text, nullable=False),  # JSON {order_id: unit_id}: Escalated names no unit
)


@dataclass(slots=True)
class _Ticket:
    """What the relay remembers of one ticket."""

    ticket_id: str
    registration: bytes | None = None
    classification: bytes | None = None
    lead_unit: str | None = None
    assisting_units: tuple[str, ...] = ()
    orders: dict[str, str] = field(default_factory=dict)

    def roles(self) -> dict[str, str]:
        """Each concerned unit and its role."""
        found = {u: ASSISTING for u in self.assisting_units}
        if self.lead_unit is not None:
            found[self.lead_unit] = LEAD
        return found

    def row(self) -> dict[str, object]:
        return {
            "ticket_id": self.ticket_id, "registration": self.registration,
            "classification": self.classification, "lead_unit": self.lead_unit,
            "assisting_units": json.dumps(list(self.assisting_units)),
            "orders": json.dumps(self.orders, sort_keys=True),
        }


class DispatchRelay:
    """Projection that forwards ticket events to `hotline.dispatch.<unit>` (see the module doc)."""

    name: str = "dispatch-relay"
    version: int = 1
    in_place = True  # a relay: its rows are what it did, kept through builds (hotline/builds.py)
    topics: Sequence[str] = (TICKETS,)
    events: frozenset[str] = FORWARDED
    metadata: MetaData = metadata

    def __init__(self, log: EventLog, *, replication_factor: int | None = None) -> None:
        self.log = log
        self.replication_factor = replication_factor  # None: the catalogue's (3)
        self._topics: set[str] = set()  # dispatch topics known to exist

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        """Update the relay's rows, then append the batch's records, one append per unit."""
        ids = {_ticket_id(env) for env, _ in batch if not env.subject.startswith(NUMBER_STREAMS)}
        known = await self._load(conn, ids)
        tickets = dict(known)
        changed: set[str] = set()
        out: dict[str, list[OutgoingRecord]] = defaultdict(list)
        for env, data in batch:
            if env.subject.startswith(NUMBER_STREAMS) or data is None:
                continue
            tid = _ticket_id(env)
            ticket = tickets.get(tid)
            if ticket is None:
                if not isinstance(data, e.TicketRegistered):
                    log.warning("dispatch relay: %s before TicketRegistered on %s",
                                env.event_name, env.subject)
                ticket = tickets[tid] = _Ticket(tid)
            for unit, records in _route(ticket, env, data).items():
                out[unit].extend(records)
            changed.add(tid)
        await self._save(conn, tickets, known, changed)
        if out:
            await self._ensure_topics(out)
            for unit, records in out.items():
                await self.log.append(dispatch_spec(unit).name, records)

    async def _load(self, conn: AsyncConnection, ids: set[str]) -> dict[str, _Ticket]:
        if not ids:
            return {}
        rows = await conn.execute(select(relay_tickets).where(
            relay_tickets.c.ticket_id.in_(sorted(ids))))
        return {
            r.ticket_id: _Ticket(r.ticket_id, r.registration, r.classification, r.lead_unit,
                                 tuple(json.loads(r.assisting_units)), json.loads(r.orders))
            for r in rows
        }

    async def _save(self, conn: AsyncConnection, tickets: dict[str, _Ticket],
                    known: dict[str, _Ticket], changed: set[str]) -> None:
        new = [tickets[t].row() for t in sorted(changed) if t not in known]
        if new:
            await conn.execute(relay_tickets.insert(), new)
        updates = [{**tickets[t].row(), "tid": t} for t in sorted(changed) if t in known]
        if updates:  # executemany: the parameters named like columns become the SET clause
            for u in updates:
                del u["ticket_id"]
            await conn.execute(relay_tickets.update().where(
                relay_tickets.c.ticket_id == bindparam("tid")), updates)

    async def _ensure_topics(self, units: dict[str, list[OutgoingRecord]]) -> None:
        """Create the dispatch topics not seen yet (creating an existing one is a no-op)."""
        specs = [dispatch_spec(u) for u in sorted(units)]
        missing = [s for s in specs if s.name not in self._topics]
        if not missing:
            return
        if self.replication_factor is not None:
            missing = [replace(s, replication_factor=self.replication_factor) for s in missing]
        await self.log.create_topics(missing)
        self._topics.update(s.name for s in missing)


def _ticket_id(env: Envelope) -> str:
    return env.subject.removeprefix(STREAM_PREFIX)


def _record(env: Envelope | bytes, role: str, key: str) -> OutgoingRecord:
    # encode() is canonical JSON, so re-encoding the decoded envelope gives back the stored bytes
    value = env if isinstance(env, bytes) else encode(env)
    return OutgoingRecord(key, value, {**STRUCTURED, ROLE_HEADER: role})


def _route(ticket: _Ticket, env: Envelope, data: object) -> dict[str, list[OutgoingRecord]]:
    """The records one event sends to each unit; updates `ticket` on the way."""
    key = env.subject
    before = ticket.roles()
    if isinstance(data, e.TicketRegistered):
        ticket.registration = encode(env)
        return {}
    if isinstance(data, e.TicketClassified):
        ticket.classification = encode(env)
        return _to(before, env, key)
    if isinstance(data, e.TicketDispatched | e.TicketReassigned):
        ticket.lead_unit, ticket.assisting_units = data.lead_unit, data.assisting_units
    elif isinstance(data, e.RedoAccepted):
        ticket.lead_unit = data.unit_id
        ticket.assisting_units = tuple(u for u in ticket.assisting_units if u != data.unit_id)
    elif isinstance(data, e.TicketReturned | e.TicketReopened):
        ticket.lead_unit, ticket.assisting_units = None, ()  # as the ticket's own evolve does
    else:
        return _to(before, env, key, only=_target(ticket, data))
    after = ticket.roles()
    out: dict[str, list[OutgoingRecord]] = {}
    for unit, role in after.items():
        records = out[unit] = []
        if unit not in before:  # newly concerned: the ticket first, then what happened
            records += [_record(v, role, key) for v in (ticket.registration,
                                                        ticket.classification) if v is not None]
        records.append(_record(env, role, key))
    for unit in before.keys() - after.keys():
        out[unit] = [_record(env, FORMER, key)]
    return out


def _target(ticket: _Ticket, data: object) -> str | None:
    """The one unit an event is for (cards, unit warnings, orders); None: every concerned unit."""
    if isinstance(data, e.SupervisionOrderIssued):
        ticket.orders[data.order_id] = data.unit_id
        return data.unit_id
    if isinstance(data, e.SupervisionOrderAnswered | e.CardIssued):
        return data.unit_id
    if isinstance(data, e.WarningRaised):
        return data.unit_id
    if isinstance(data, e.SupervisionOrderEscalated):
        # an order the relay never saw issued has no known unit: it goes nowhere
        return ticket.orders.get(data.order_id, "")
    return None


def _to(roles: dict[str, str], env: Envelope, key: str,
        only: str | None = None) -> dict[str, list[OutgoingRecord]]:
    """The event for every concerned unit, or for `only` if it is concerned."""
    return {u: [_record(env, r, key)] for u, r in roles.items() if only is None or u == only}
