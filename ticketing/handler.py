"""The ticket write model: load a ticket, decide, append with the expected version.

Every service that changes a ticket goes through `TicketDesk.execute`, so the
single-writer rule (DESIGN.md §3 principle 3) holds whoever asks: two
conflicting commands read the same version, both decide, and the log accepts
only the first append; the second is retried on the new state, where the
decider rejects it by rule (e.g. `already-acknowledged`) — never both win.

A command carries an id (the API derives it from the client's Idempotency-Key);
it becomes the `causationid` of its events, so a command delivered twice finds
its events already in the stream and is answered from them, appending nothing.
The events' `correlationid` is derived from the command id and the command's
content, so the same id sent with different content is told apart: an
`IdempotencyConflict`, not a silent replay of the first answer. The content is
digested masked: a digest of the clear text would let anyone with the log
guess the four hidden digits of a masked number back.

Free text the command carries (notes, reasons, replies) is masked here, on the
way into the log, and the original sealed under the ticket's citizen key
(contracts/free_text.py), so units and analysts never see a typed phone
number while operators still can.

States are cached per stream (version, head hash, state, command ids). The
cache is only a guess: the append still states the version it decided on, so
a stale entry costs one retry, never a wrong event. A ticket not in the cache
is loaded from its snapshot when the desk keeps them (ticketing/snapshots.py:
checked against the log's head, then only the records since it read), else
from its whole stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from prometheus_client import Counter

from contracts.base import EventData
from contracts.commands import Command, TicketCommand
from contracts.decoding import decode_event
from contracts.envelope import Envelope, canonical_json
from contracts.events import from_envelope
from contracts.free_text import originals_of, protect, seal_context
from contracts.ids import name_id
from contracts.personal import seal
from contracts.topics import TICKETS
from hotline.eventstore import Context, EventStore, Stored
from hotline.keystore import KeyStore
from hotline.log.port import GENESIS_HASH, VersionConflict, value_hash
from ticketing import domain
from ticketing.domain import Ticket
from ticketing.snapshots import Loaded, TicketSnapshots

log = logging.getLogger(__name__)

SOURCE = "/hotline/tickets"
COLD_LOADS = Counter("hotline_ticket_cold_loads_total", "Tickets loaded from outside the "
                     "desk's cache, by where their state came from", ["source"])
RETRIES = 100  # conflicts only come from concurrent writers of the same ticket
_REQUESTS = uuid.UUID("3d0c2b8a-5e1f-4f7a-9c63-12345a0f0002")


class IdempotencyConflict(Exception):
    """The command id was used before for a command with different content."""

    def __init__(self, command_id: str) -> None:
        super().__init__(command_id)
        self.command_id = command_id


def request_id(command_id: str, command: Command) -> str:
    """The correlation id of a command's events: its id bound to its (masked) content."""
    masked = protect(command)
    digest = hashlib.sha256(canonical_json(masked.model_dump(mode="json"))).hexdigest()
    return name_id(_REQUESTS, f"{command_id}\n{digest}")


def stream_of(ticket_id: str) -> str:
    """The ticket's stream id (the envelope subject, the Kafka key)."""
    return f"ticket-{ticket_id}"


EMPTY = Loaded(None, 0, GENESIS_HASH, frozenset())


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one command: the events it caused and the ticket after them."""

    ticket: Ticket
    version: int
    events: list[Envelope]
    duplicate: bool  # True: the same command id was applied before; nothing appended now


class TicketDesk:
    """Executes ticket commands against the log; one per process, shared by every service."""

    def __init__(self, store: EventStore, keys: KeyStore | None = None, *,
                 cache_size: int = 100_000, snapshots: TicketSnapshots | None = None) -> None:
        self.store = store
        self.keys = keys  # without a key store, typed numbers are masked and not kept
        self.cache_size = cache_size
        self.snapshots = snapshots
        self._cache: OrderedDict[str, Loaded] = OrderedDict()

    async def history(self, ticket_id: str) -> list[Stored]:
        """Every stored event of the ticket, in order."""
        return await self.store.load(TICKETS, stream_of(ticket_id))

    async def load(self, ticket_id: str, *, fresh: bool = False) -> Loaded:
        """The ticket's state (from the cache unless `fresh`)."""
        stream = stream_of(ticket_id)
        if not fresh and (hit := self._cache.get(stream)) is not None:
            self._cache.move_to_end(stream)
            return hit
        kept = await self._snapshot(stream) if self.snapshots is not None else None
        if kept is not None:
            loaded, changed = kept
            if loaded.version:
                self._remember(stream, loaded, changed)
            COLD_LOADS.labels("snapshot+records" if changed else
                              "snapshot" if loaded.version else "new").inc()
            return loaded
        COLD_LOADS.labels("log").inc()
        loaded = EMPTY
        records = await self.store.log.read_stream(TICKETS, stream)
        for record in records:  # each event validated once, straight from its bytes
            envelope, event = decode_event(record.value)
            loaded = _after(loaded, envelope, "", event)
        if loaded.version:  # the head's hash: the last stored event's, the only one needed
            loaded = replace(loaded, head_hash=value_hash(records[-1].value))
            self._remember(stream, loaded)
        return loaded

    async def _snapshot(self, stream: str) -> tuple[Loaded, bool] | None:
        """The state from the stream's snapshot and the records after it, and whether it
        moved past the snapshot; None when the log does not bear the snapshot out. The head
        first: a new ticket (a registration) then costs no lookup at all."""
        assert self.snapshots is not None
        head = await self.store.log.stream_head(TICKETS, stream)
        if head.version == 0:
            return EMPTY, False
        kept = await self.snapshots.get(stream)
        if kept is None:
            return None
        if head.version < kept.version or (
                head.version == kept.version and head.head_hash != kept.head_hash):
            _refused(stream, kept, f"the log's head is {head.version}")
            return None
        if head.version == kept.version:
            return kept, False
        loaded, prev = kept, kept.head_hash
        for record in await self.store.log.read_stream(TICKETS, stream, after=kept.version):
            envelope, event = decode_event(record.value)
            if envelope.prevhash != prev or envelope.streamversion != loaded.version + 1:
                _refused(stream, kept, f"record {envelope.streamversion} does not chain to it")
                return None
            loaded = _after(loaded, envelope, "", event)
            prev = value_hash(record.value)
        return replace(loaded, head_hash=prev), True

    async def get(self, ticket_id: str) -> Ticket | None:
        """The ticket's current state, or None if it was never registered."""
        return (await self.load(ticket_id)).ticket

    async def execute(
        self,
        command: TicketCommand,
        *,
        actor: str,
        command_id: str,
        now: datetime,
        source: str = SOURCE,
        correlation_id: str | None = None,
    ) -> Outcome:
        """Decide and append; `Rejected` when a rule forbids it (nothing appended).

        `correlation_id`: by default derived from the command (`request_id`); a caller
        that rewrites the command before sending it (a registration numbering it)
        passes the one of the original request, so a retry matches it.
        """
        correlation = correlation_id or request_id(command_id, command)
        context = Context(actor, source, correlation, command_id)
        stream = stream_of(command.ticket_id)
        fresh = False
        for _ in range(RETRIES):
            loaded = await self.load(command.ticket_id, fresh=fresh)
            if command_id in loaded.commands:
                outcome = await self.replayed(command.ticket_id, command_id)
                if any(e.correlationid != correlation for e in outcome.events):
                    raise IdempotencyConflict(command_id)
                return outcome
            events = await self._protected(
                stream, loaded, command, domain.decide(loaded.ticket, command, now))
            try:
                appended = await self.store.append(
                    stream, events, expected_version=loaded.version, context=context, now=now,
                    head_hash=loaded.head_hash)
            except VersionConflict:
                self._cache.pop(stream, None)
                fresh = True
                await asyncio.sleep(0)  # let the winner's caller run first
                continue
            state = loaded
            for envelope, event in zip(appended.envelopes, appended.events, strict=True):
                state = _after(state, envelope, appended.head_hash, event)
            self._remember(stream, state)
            assert state.ticket is not None
            return Outcome(state.ticket, state.version, appended.envelopes, duplicate=False)
        raise VersionConflict(TICKETS, stream, loaded.version, -1)

    async def replayed(self, ticket_id: str, command_id: str) -> Outcome:
        """The outcome of a command applied before, rebuilt from the stored events."""
        loaded = EMPTY
        caused = []
        for stored in await self.history(ticket_id):
            loaded = _after(loaded, stored.envelope, "", from_envelope(stored.envelope))
            if stored.envelope.causationid == command_id:
                caused.append(stored.envelope)
        assert loaded.ticket is not None
        return Outcome(loaded.ticket, loaded.version, caused, duplicate=True)

    async def _protected(self, stream: str, loaded: Loaded, command: TicketCommand,
                         events: list[EventData]) -> list[EventData]:
        """The events with typed numbers masked, the originals sealed under the citizen's key
        (none when the ticket has no citizen or the citizen was forgotten)."""
        if not any(originals_of(event) for event in events):
            return events
        ref = loaded.ticket.citizen_ref if loaded.ticket else getattr(command, "citizen_ref", None)
        key = await self.keys.key(ref) if ref and self.keys else None
        if key is None or ref is None:
            return [protect(event) for event in events]
        return [protect(event, partial(seal, key, ref, context=seal_context(stream, version)))
                for version, event in enumerate(events, loaded.version + 1)]

    async def close(self) -> None:
        """Write the snapshots still waiting."""
        if self.snapshots is not None:
            await self.snapshots.close()

    def _remember(self, stream: str, loaded: Loaded, changed: bool = True) -> None:
        """Cache a state; and snapshot it when it is not the snapshot it came from."""
        self._cache[stream] = loaded
        self._cache.move_to_end(stream)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        if changed and self.snapshots is not None:
            self.snapshots.keep(stream, loaded)


def _refused(stream: str, kept: Loaded, why: str) -> None:
    """A snapshot of another history than the log's (a restored database, a rewritten
    topic, a tampered row): worth an operator's look; the ticket is read from the log."""
    log.warning("snapshot of %s at version %d is not the log's history (%s): read from the "
                "log instead", stream, kept.version, why)


def _after(loaded: Loaded, envelope: Envelope, head_hash: str, event: EventData) -> Loaded:
    """The state after one event, typed as written (the desk's own append) or as decoded."""
    ticket = domain.evolve(loaded.ticket, event, envelope.time)
    commands = loaded.commands
    if envelope.causationid is not None and envelope.causationid not in commands:
        commands = commands | {envelope.causationid}
    return Loaded(ticket, envelope.streamversion, head_hash, commands)
