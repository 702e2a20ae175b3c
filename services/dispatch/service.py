"""Dispatch's use cases: the operator desk and the units' actions, over the ticket decider.

Every change goes through `TicketDesk.execute` (ticketing/handler.py):
this layer only gathers what a command needs from outside the ticket — the
contacts it is made from, the directory's units, the deadline policy, the
day's ticket number — so `decide` stays pure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from contracts import commands as c
from contracts.base import Category
from contracts.envelope import Envelope
from contracts.events import ContactReceived, DeadlinesSet, TicketReturned, from_envelope
from contracts.ids import name_id
from contracts.personal import normalise_phone
from contracts.topics import TICKETS
from contracts.vocabulary import DeadlineKind, TicketStatus
from hotline.contacts import caller_phone, read_contact, read_waiting
from hotline.disclosure import disclose, typed_texts
from hotline.eventstore import Context
from hotline.integrity import Checked, check_logged
from hotline.projection import ReadSide
from hotline.runtime import Platform
from reference.bundle import Reference
from reference.directory import UnknownCategory, UnknownDistrict
from services.dispatch import aid_queries, domain, queries
from services.dispatch.feed import FeedItem, FeedPage, follow, read_feed
from ticketing.client import TicketCommands, tickets_of
from ticketing.domain import Ticket, fold
from ticketing.handler import Outcome, request_id, stream_of
from ticketing.rules import Rejected

SOURCE = "/hotline/dispatch"
UNNUMBERED = "12345-00000000-000000"  # until the day's sequence gives the real number


class InvalidReference(ValueError):
    """A command names something the platform does not know (a contact, unit, category)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class ContactTaken(Exception):
    """A contact another operator holds in the queue, or one dismissed: 409 `rule`."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule, self.detail = rule, detail


@dataclass(frozen=True, slots=True)
class Progress:
    """What a citizen may see of a ticket: no personal data, public steps only."""

    row: queries.TicketRow
    steps: list[queries.TimelineStep]


@dataclass(frozen=True, slots=True)
class AsOf:
    """A ticket as it stood at an instant: the state after its first `version` events."""

    ticket: Ticket
    version: int
    last_event_at: datetime


class DispatchService(ReadSide):
    """The operator desk and the units' side, and their reads; one per app."""

    def __init__(self, platform: Platform, reference: Reference, *,
                 duplicate_window: timedelta = timedelta(days=30),
                 similarity_threshold: float = 0.5) -> None:
        self.platform, self.db, self.ref = platform, platform.db, reference.data
        self.tickets: TicketCommands = tickets_of(platform)
        self.policy, self.calendar = reference.policy, reference.calendar
        self.duplicate_window = duplicate_window
        self.similarity_threshold = similarity_threshold

    # ------------------------------------------------------------------ generic

    async def execute(self, command: c.TicketCommand, actor: str, command_id: str,
                      now: datetime) -> Outcome:
        """Send one command to the ticket decider."""
        return await self.tickets.execute(command, actor=actor, command_id=command_id, now=now,
                                       source=SOURCE)

    async def ticket(self, ticket_id: str) -> Ticket | None:
        return await self.tickets.get(ticket_id)

    # ------------------------------------------------------------------ reference checks

    def check_category(self, category: Category) -> None:
        try:
            self.ref.taxonomy.validate(category.level1, category.level2)
        except UnknownCategory as exc:
            raise InvalidReference("category", str(exc)) from None

    def check_district(self, code: str) -> None:
        try:
            self.ref.directory.district(code)
        except UnknownDistrict:
            raise InvalidReference("district_code", f"unknown district {code}") from None

    def check_units(self, *unit_ids: str) -> None:
        known = {u.id for u in self.ref.directory.units()}
        for unit in unit_ids:
            if unit not in known:
                raise InvalidReference("lead_unit/assisting_units", f"unknown unit {unit}")

    async def contact(self, contact_id: str) -> ContactReceived:
        """The contact's `ContactReceived`, read from its stream (the log is the truth)."""
        event = await read_contact(self.platform.log, contact_id)
        if event is None:
            raise InvalidReference("contact_ids", f"unknown contact {contact_id}")
        return event

    async def takeable(self, contact_id: str, actor: str, now: datetime) -> ContactReceived:
        """A contact the acting operator may take into a ticket: not dismissed, and not
        held in the queue by another operator (ContactTaken)."""
        event, place = await read_waiting(self.platform.log, contact_id)
        if event is None:
            raise InvalidReference("contact_ids", f"unknown contact {contact_id}")
        if place.dismissed:
            raise ContactTaken("contact-dismissed", f"{contact_id} was dismissed.")
        holder = place.held_by(now)
        if holder is not None and holder != actor:
            raise ContactTaken("contact-claimed", f"{holder} holds {contact_id}.")
        return event

    async def disclosed(self, sealed: Any, path: str, role: str) -> Any:
        """A contact's sealed personal data as `role` may see it (hotline.disclosure)."""
        return await disclose(self.platform.keys, sealed, path, role)

    async def as_typed(self, envelope: Envelope, role: str) -> dict[str, str] | None:
        """The free text of an event before its numbers were masked, for the roles that may."""
        return await typed_texts(self.platform.keys, envelope, role)

    async def as_of(self, ticket_id: str, at: datetime) -> AsOf | None:
        """The ticket as it stood at `at`: the decider's own fold over its stored events in
        stream order, up to the first one after `at`; None when it was not registered yet."""
        history = await self.tickets.history(ticket_id)
        upto = list(takewhile(lambda s: s.envelope.time <= at, history))
        ticket = fold([(from_envelope(s.envelope), s.envelope.time) for s in upto])
        if ticket is None:
            return None
        return AsOf(ticket, len(upto), upto[-1].envelope.time)

    async def verification(self, ticket_id: str) -> Checked:
        """The hash-chain check of the ticket's stream over its stored bytes and the log's
        head (the same check `hotline verify` runs)."""
        return await check_logged(self.platform.log, TICKETS, stream_of(ticket_id))

    async def feed(self, unit_id: str, after: int, limit: int, wait: float) -> FeedPage:
        """A page of the unit's dispatch topic (long-polled up to `wait` seconds)."""
        return await read_feed(self.platform.log, unit_id, after, limit, wait)

    def follow(self, unit_id: str, after: int, stop: asyncio.Event
               ) -> AsyncIterator[FeedItem | None]:
        """The unit's dispatch topic as it grows, until `stop` (None: a while without any)."""
        return follow(self.platform.log, unit_id, after, stop)

    async def caught_up(self, ticket_id: str, version: int, wait_s: float = 2.0) -> bool:
        """Whether the work-order row reached `version` within `wait_s` (read-your-writes:
        a command's answer carries the version its reader asks for)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            reached = await self.read(queries.row_version, ticket_id)
            if reached is not None and reached >= version:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ the operator desk

    async def register(self, command_id: str, contact_ids: list[str], fields: dict[str, object],
                       actor: str, operator: str, now: datetime) -> Outcome:
        """登记: a ticket from contacts; the ticket id comes from the command id (retry-safe)."""
        ticket_id = name_id(uuid.NAMESPACE_URL, f"hotline:ticket:{command_id}")
        contacts = [await self.takeable(cid, actor, now) for cid in dict.fromkeys(contact_ids)]
        first = contacts[0]
        district = fields.get("district_code") or first.district_code
        if not isinstance(district, str):
            raise InvalidReference("district_code", "no district given and none on the contact")
        self.check_district(district)
        command = c.RegisterTicket.model_validate({
            **fields, "ticket_id": ticket_id, "ticket_number": UNNUMBERED,
            "contact_ids": [x.contact_id for x in contacts], "district_code": district,
            "citizen_ref": first.citizen_ref, "channel": first.channel,
            "registered_by": operator,
        })
        self.check_category(command.category)
        correlation = request_id(command_id, command)  # of the request, before numbering
        if await self.tickets.get(ticket_id) is None:  # a retry is answered as it was
            context = Context(actor, SOURCE, correlation, command_id)
            number = await self.tickets.reserve_number(ticket_id, context, now)
            command = command.model_copy(update={"ticket_number": number})
        return await self.tickets.execute(command, actor=actor, command_id=command_id, now=now,
                                       source=SOURCE, correlation_id=correlation)

    async def dispatch(self, command: c.DispatchTicket | c.ReassignTicket, actor: str,
                       command_id: str, now: datetime) -> Outcome:
        """派单 / 改派: check the units, set the clocks from the policy (on the working-day
        calendar: MissingYear when they reach a year without a published schedule), decide."""
        self.check_units(command.lead_unit, *command.assisting_units)
        ticket = await self.tickets.get(command.ticket_id)
        if ticket is None:
            raise Rejected("ticket-unknown")
        deadlines = self.policy.at_dispatch(ticket.ticket_type, ticket.urgency, command.urgent,
                                            now, self.calendar)
        if ticket.status is TicketStatus.RETURNED:
            previous = await self._before_return(ticket.ticket_id)
            if previous is not None:
                deadlines = self.policy.after_return(
                    ticket.ticket_type, ticket.urgency, command.urgent, now, self.calendar,
                    previous_due=previous[0], returned_at=previous[1])
        # the correlation is the request's, before the clocks: a client's retry later on
        # (the clocks counted from another now) is the same request, answered from the log
        return await self.tickets.execute(
            command.model_copy(update={"deadlines": deadlines}), actor=actor,
            command_id=command_id, now=now, source=SOURCE,
            correlation_id=request_id(command_id, command))

    async def _before_return(self, ticket_id: str) -> tuple[datetime, datetime] | None:
        """(the reply deadline it had, when it was returned) for a returned ticket."""
        due: datetime | None = None
        found = None
        for stored in await self.tickets.history(ticket_id):
            event = from_envelope(stored.envelope)
            if isinstance(event, DeadlinesSet):
                due = next((d.due_at for d in event.deadlines
                            if d.kind is DeadlineKind.REPLY), due)
            elif isinstance(event, TicketReturned) and due is not None:
                found = (due, stored.envelope.time)
        return found

    async def merge_ticket(self, ticket_id: str, target_id: str, note: str | None, actor: str,
                           command_id: str, now: datetime) -> Outcome:
        """并单: close this ticket into the target and carry its contacts over (each step is
        idempotent on ids derived from the command id, so a retry finishes a partial merge)."""
        target = await self.tickets.get(target_id)
        if target is None or target.status in ("closed", "merged"):
            raise InvalidReference("target_ticket_id", "no open ticket has this id")
        outcome = await self.execute(
            c.MergeTicket(ticket_id=ticket_id, target_ticket_id=target_id, note=note),
            actor, command_id, now)
        for contact_id in outcome.ticket.contact_ids:
            if contact_id in target.contact_ids:
                continue
            sub = name_id(uuid.NAMESPACE_URL, f"{command_id}/{contact_id}")
            try:
                await self.execute(c.MergeContact(ticket_id=target_id, contact_id=contact_id),
                                   actor, sub, now)
            except Rejected as exc:
                if exc.rule.id != "contact-already-merged":
                    raise
        return outcome

    async def duplicates(self, contact_id: str, now: datetime) -> list[domain.Candidate]:
        """Open tickets this contact may repeat: same caller, or similar text in the district."""
        contact = await self.contact(contact_id)
        async with self.platform.db.connect() as conn:
            past = await aid_queries.candidates(
                conn, citizen_ref=contact.citizen_ref, district_code=contact.district_code,
                since=now - self.duplicate_window)
        return domain.duplicate_candidates(contact.content, contact.citizen_ref,
                                           contact.district_code, past,
                                           self.similarity_threshold)

    async def suggestions(self, ticket_id: str) -> list[domain.Suggestion]:
        """The catalogue's unit first, then the units that handled the most similar tickets."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise Rejected("ticket-unknown")
        cat = ticket.category
        route = self.ref.catalogue.route(cat.level1, cat.level2, ticket.ticket_type,
                                         ticket.district_code)
        out = [domain.Suggestion(route.unit_id, "catalogue", route.reason_zh, 1.0)]
        async with self.platform.db.connect() as conn:
            counts = dict(await aid_queries.handled_by_units(conn, cat.level1, cat.level2,
                                                         ticket.district_code))
            handled = await aid_queries.similar_handled(conn, cat.level1, ticket.district_code)
        out += domain.history_suggestions(ticket.summary, handled, counts,
                                          exclude=route.unit_id)
        return out

    # ------------------------------------------------------------------ the citizen's view

    async def progress(self, ticket_number: str, phone_last4: str) -> Progress | None:
        """查询进度: the ticket if the number exists and the caller's phone ends in those
        four digits; None otherwise (the caller cannot tell which part was wrong)."""
        async with self.platform.db.connect() as conn:
            row = await queries.ticket_by_number(conn, ticket_number)
            if row is None:
                return None
            ticket = await self.tickets.get(row.ticket_id)
            if ticket is None or not await self._phone_ends_with(ticket, phone_last4):
                return None
            return Progress(row, await queries.public_timeline(conn, row.ticket_id))

    async def _phone_ends_with(self, ticket: Ticket, last4: str) -> bool:
        for contact_id in ticket.contact_ids:
            phone = await caller_phone(self.platform.keys, await self.contact(contact_id))
            if phone and normalise_phone(phone)[-4:] == last4:
                return True
        return False
