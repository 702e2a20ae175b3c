"""How a service changes or reads a ticket: one port, `TicketCommands`, two adapters.

- `LocalTickets`: the desk in this process. The embedded log (one machine, where every
  process may append and the log's version check keeps one writer per ticket), and any
  process that is itself the only writer.
- `RoutedTickets`: the command travels on `hotline.commands` to the decider replica that
  owns the ticket's partition of `hotline.tickets` (the `tickets` service), and the answer
  comes back on `hotline.replies` (hotline/requests.py). Kafka, with services in their own
  processes and replicas.

Services do not know which one they hold: the same calls, the same answers, the same
exceptions (a `Rejected` naming its rule, an `IdempotencyConflict`); a routed command
that gets no answer in time raises `NoAnswer` (503 with Retry-After: the same
Idempotency-Key retried is answered from the log if the first attempt was applied).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from contracts.commands import TicketCommand
from contracts.topics import COMMANDS, TICKETS
from hotline.eventstore import Context, EventStore, Stored
from hotline.keystore import KeyStore
from hotline.requests import Requester, requester_of
from hotline.runtime import Platform
from ticketing import wire
from ticketing.domain import Ticket
from ticketing.handler import SOURCE, Outcome, TicketDesk, stream_of
from ticketing.numbering import HOTLINE_TZ, TicketNumbers, numbers_stream
from ticketing.snapshots import TicketSnapshots


class TicketCommands(Protocol):
    """The ticket write model as the services see it."""

    claims: tuple[str, ...]  # stream topics this adapter appends to from this process

    async def execute(self, command: TicketCommand, *, actor: str, command_id: str,
                      now: datetime, source: str = SOURCE,
                      correlation_id: str | None = None) -> Outcome:
        """Decide and append (see TicketDesk.execute); `Rejected` when a rule forbids it."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None:
        """The ticket's current state, or None if it was never registered."""
        ...

    async def history(self, ticket_id: str) -> list[Stored]:
        """Every stored event of the ticket, in order."""
        ...

    async def reserve_number(self, ticket_id: str, context: Context, now: datetime) -> str:
        """The day's next public ticket number, reserved for `ticket_id`."""
        ...

    async def close(self) -> None: ...


class LocalTickets:
    """The desk and the day's numbers in this process."""

    claims: tuple[str, ...] = (TICKETS,)

    def __init__(self, store: EventStore, keys: KeyStore | None,
                 snapshots: TicketSnapshots | None = None) -> None:
        self.desk = TicketDesk(store, keys, snapshots=snapshots)
        self.numbers = TicketNumbers(store)

    @classmethod
    def of(cls, platform: Platform) -> LocalTickets:
        """A desk for this platform, keeping snapshots in its database as the settings ask
        (HOTLINE_TICKET_SNAPSHOTS)."""
        keep = platform.settings.ticket_snapshots
        return cls(platform.store, platform.keys,
                   TicketSnapshots(platform.db) if keep else None)

    async def execute(self, command: TicketCommand, *, actor: str, command_id: str,
                      now: datetime, source: str = SOURCE,
                      correlation_id: str | None = None) -> Outcome:
        return await self.desk.execute(command, actor=actor, command_id=command_id, now=now,
                                       source=source, correlation_id=correlation_id)

    async def get(self, ticket_id: str) -> Ticket | None:
        return await self.desk.get(ticket_id)

    async def history(self, ticket_id: str) -> list[Stored]:
        return await self.desk.history(ticket_id)

    async def reserve_number(self, ticket_id: str, context: Context, now: datetime) -> str:
        return await self.numbers.reserve(ticket_id, context, now)

    async def close(self) -> None:
        """The desk's snapshots written; the platform's store stays open."""
        await self.desk.close()


class RoutedTickets:
    """Every call a request to the decider replica that owns the ticket's partition."""

    claims: tuple[str, ...] = ()

    def __init__(self, requester: Requester, timeout_s: float) -> None:
        self.requester, self.timeout_s = requester, timeout_s

    async def _ask(self, stream: str, request: wire.Request) -> bytes:
        return await self.requester.request(COMMANDS, stream, wire.encode_request(request),
                                            self.timeout_s)

    async def execute(self, command: TicketCommand, *, actor: str, command_id: str,
                      now: datetime, source: str = SOURCE,
                      correlation_id: str | None = None) -> Outcome:
        request = wire.Execute(command, actor, command_id, now, source, correlation_id)
        return wire.read_outcome(await self._ask(stream_of(command.ticket_id), request))

    async def get(self, ticket_id: str) -> Ticket | None:
        return wire.read_ticket(await self._ask(stream_of(ticket_id), wire.Get(ticket_id)))

    async def history(self, ticket_id: str) -> list[Stored]:
        return wire.read_history(await self._ask(stream_of(ticket_id), wire.History(ticket_id)))

    async def reserve_number(self, ticket_id: str, context: Context, now: datetime) -> str:
        stream = numbers_stream(now.astimezone(HOTLINE_TZ).date())
        return wire.read_number(await self._ask(stream, wire.Reserve(ticket_id, context, now)))

    async def close(self) -> None:
        """Nothing of its own: the process's requester closes with the platform."""


def routed(settings_mode: str, engine: str) -> bool:
    """Whether commands travel to the partition owner: `routed`, `local`, or by engine."""
    if settings_mode == "auto":
        return engine == "kafka"
    return settings_mode == "routed"


def tickets_of(platform: Platform) -> TicketCommands:
    """This process's adapter, as the settings ask (HOTLINE_TICKET_COMMANDS): built once per
    platform and shared by every service the process runs (one desk cache, one reply
    partition), closed with the platform."""
    settings = platform.settings
    if not routed(settings.ticket_commands, platform.log.engine):
        return local_tickets(platform)
    return platform.shared("tickets", lambda: RoutedTickets(
        requester_of(platform), settings.command_timeout_seconds))


def local_tickets(platform: Platform) -> LocalTickets:
    """This process's own desk (one cache, one set of snapshots waiting to be written),
    closed with the platform."""
    return platform.shared("local-tickets", lambda: LocalTickets.of(platform))


def ticket_claims(platform: Platform) -> tuple[str, ...]:
    """What a service sending ticket commands claims at start: the ticket topic when its
    commands are decided in its own process, nothing when they are routed."""
    return tickets_of(platform).claims
