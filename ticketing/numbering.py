"""Public ticket numbers (12345-20261122-000123): one sequence per hotline day, from the log.

Each day has a stream `ticket-numbers-<yyyymmdd>` on the ticket topic; reserving
a number appends `TicketNumberReserved` at the stream's current version, so the
version is the day's sequence and the log's expected-version check makes every
number unique, across replicas and restarts. In one process a lock per day
keeps our own registrations from colliding; another writer costs a retry.

A number reserved by a registration that then fails is skipped (a gap), never
reused: the reservation names the ticket id, so the gap is explained in the log.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.ticket_events import TicketNumberReserved
from contracts.topics import TICKETS
from hotline.eventstore import Context, EventStore
from hotline.log.port import VersionConflict

HOTLINE_TZ = ZoneInfo("Asia/Shanghai")  # the hotline's day starts at midnight Beijing time
MAX_PER_DAY = 999_999


def numbers_stream(day: date) -> str:
    return f"ticket-numbers-{day:%Y%m%d}"


def format_number(day: date, sequence: int) -> str:
    return f"12345-{day:%Y%m%d}-{sequence:06d}"


class TicketNumbers:
    """Hands out the next number of the day; one per process."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._locks: defaultdict[date, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._heads: dict[date, tuple[int, str]] = {}  # version, head hash

    async def reserve(self, ticket_id: str, context: Context, now: datetime) -> str:
        """Append the reservation for `ticket_id` and return its number."""
        day = now.astimezone(HOTLINE_TZ).date()
        stream = numbers_stream(day)
        async with self._locks[day]:
            for _ in range(100):
                head = self._heads.get(day)
                if head is None:
                    found = await self.store.log.stream_head(TICKETS, stream)
                    head = (found.version, found.head_hash)
                sequence = head[0] + 1
                if sequence > MAX_PER_DAY:
                    raise OverflowError(f"more than {MAX_PER_DAY} tickets on {day}")
                number = format_number(day, sequence)
                event = TicketNumberReserved(ticket_id=ticket_id, ticket_number=number)
                try:
                    appended = await self.store.append(
                        stream, [event], expected_version=head[0], context=context, now=now,
                        head_hash=head[1])
                except VersionConflict:  # another replica took it: read the head again
                    self._heads.pop(day, None)
                    continue
                self._heads = {day: (appended.version, appended.head_hash)}  # today only
                return number
        raise VersionConflict(TICKETS, stream, -1, -1)
