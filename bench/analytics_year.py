"""Analytics: a year of a mid-size city replayed into the fact projections, beside a raw read.

The analytics issue asks for the replay of a year of a mid-size city: 1,000,000 tickets
(`HOTLINE_BENCH_ANALYTICS_YEAR`), their contacts and their events. Writing them through
the real write path would take hours on this machine (about 500 µs a command, some seven
million of them), so the year is made from a month that was:

- Templates. The generated hotline of tests/analytics/month_stream.py (March 2026 with
  February and ten weeks of 2025: some two thousand tickets of every fate — returned,
  reassigned, extended, late, redone, surveyed or not, closed — across the directory's
  units, districts, categories and channels, their contacts, and contacts no ticket came
  of) is written through intake, dispatch and the ticket desk into a scratch log, and its
  streams are read back (the days' number streams are left out: nothing here reads them).
- Clones. Ticket k of the year is template k mod T: its stream and its contacts' with
  every id renamed (ticket, number, contacts, events), every time in them moved by one
  amount (its registration drawn across 2026, the template's own spacing kept) and the
  hash chain of each stream made again. Contacts no ticket came of are cloned alike.
  The clones are appended as records (not through `append_stream`: nothing here reads a
  stream by its key), in batches, to a fresh embedded log; every record decodes as the
  catalogue says, and a replay that dead-letters one fails the bench.

Ours: `hotline.runner.rebuild` of `an_ticket_facts` (with the KPI cube) and of
`an_contact_facts` into a fresh SQLite file each, timed as the raw side is (from the first
batch in hand to the end). Raw: the same topics read by sqlite3. Target: 30 % of raw.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bench.common import Result, Timer, say, temp_dir
from bench.replay import raw_sqlite
from bench.replay_boards import replayed
from contracts.topics import CONTACTS, DEADLETTER, TICKETS, core_specs
from hotline.eventstore import GENESIS_HASH, STRUCTURED, value_hash
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import OutgoingRecord
from reference.calendar import WorkingCalendar
from services.analytics.contacts import ContactFacts
from services.analytics.projections import TicketFacts

TICKETS_N = int(os.environ.get("HOTLINE_BENCH_ANALYTICS_YEAR", "1000000"))
YEAR = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)  # local midnight, Beijing
APPEND_BATCH = 5_000
NUMBERS = "ticket-numbers-"  # the day's number streams: nothing of the year reads them
# a time as the event store writes it, and the two attributes every envelope renames
_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)"
_FIELDS = r'"(?:id|prevhash)":"[^"]*"'
Stored = dict[str, list[tuple[str, bytes]]]  # stream -> (topic, bytes) of its records


@dataclass
class Template:
    """One template stream's records, each cut where a clone differs: literal text between
    the places that hold an id to rename, a time to move or the previous hash."""

    topic: str
    key: str
    records: list[list[str]]  # literal, token, literal, token, …, literal


@dataclass
class Unit:
    """A ticket and its contacts, or a contact no ticket came of: cloned together."""

    registered: datetime  # when the ticket was registered (or the contact received)
    streams: list[Template]
    ids: list[str]  # the ids a clone renames (ticket, contacts, events)
    number: str | None = None  # the ticket's public number, renamed by its new day


def units_of(records: Stored) -> list[Unit]:
    """The month's streams grouped as the year clones them."""
    decoded = {key: [(topic, msgspec.json.decode(v)) for topic, v in rs]
               for key, rs in records.items()}
    taken: set[str] = set()
    units = []
    for key, events in decoded.items():
        if not key.startswith("ticket-") or key.startswith(NUMBERS):
            continue
        first = events[0][1]
        contacts = [f"contact-{c}" for c in first["data"]["contact_ids"]]
        contacts += [f"contact-{e['data']['contact_id']}" for _, e in events
                     if e["type"] == "hotline.ContactMerged.v1"]
        contacts = [c for c in dict.fromkeys(contacts) if c in decoded]
        taken.update(contacts)
        ids = [key.removeprefix("ticket-"), *(c.removeprefix("contact-") for c in contacts)]
        units.append(_unit(datetime.fromisoformat(first["time"]), [key, *contacts], ids,
                           records, decoded, first["data"]["ticket_number"]))
    for key, events in decoded.items():
        if key.startswith("contact-") and key not in taken:
            units.append(_unit(datetime.fromisoformat(events[0][1]["time"]), [key],
                               [key.removeprefix("contact-")], records, decoded))
    return units


def _unit(registered: datetime, keys: list[str], ids: list[str], records: Stored,
          decoded: dict[str, list[tuple[str, Any]]], number: str | None = None) -> Unit:
    event_ids = [e["id"] for key in keys for _, e in decoded[key]]
    named = ids + event_ids + ([number] if number else [])
    pattern = re.compile("(" + "|".join([_FIELDS, _TIME, *map(re.escape, named)]) + ")")
    streams = [Template(records[key][0][0], key,
                        [pattern.split(v.decode()) for _, v in records[key]]) for key in keys]
    return Unit(registered, streams, ids + event_ids, number)


def clone(unit: Unit, registered: datetime, rng: random.Random) -> Iterator[
        tuple[str, OutgoingRecord]]:
    """The unit's records renamed and moved to a registration at `registered`."""
    shift = registered - unit.registered
    renamed = {old: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for old in unit.ids}
    if unit.number is not None:
        local = registered + timedelta(hours=8)
        renamed[unit.number] = f"12345-{local:%Y%m%d}-{rng.randrange(1_000_000):06d}"
    for template in unit.streams:
        key = _renamed(template.key, renamed)
        prev = GENESIS_HASH
        for parts in template.records:
            value = "".join(part if i % 2 == 0 else _token(part, renamed, shift, prev)
                            for i, part in enumerate(parts)).encode()
            prev = value_hash(value)
            yield template.topic, OutgoingRecord(key, value, STRUCTURED)


def _renamed(key: str, renamed: dict[str, str]) -> str:
    kind, _, old = key.partition("-")
    return f"{kind}-{renamed.get(old, old)}"


def _token(token: str, renamed: dict[str, str], shift: timedelta, prev: str) -> str:
    if token.startswith('"prevhash"'):
        return f'"prevhash":"{prev}"'
    if token.startswith('"id"'):
        old = token[6:-1]
        return f'"id":"{renamed.get(old, old)}"'
    if (new := renamed.get(token)) is not None:
        return new
    moved = (datetime.fromisoformat(token) + shift).astimezone(UTC)
    return moved.isoformat().replace("+00:00", "Z")


async def templates(tmp: Path) -> list[Unit]:
    """The month written through the real write path, read back as clonable units."""
    from tests.analytics.month_stream import Writer, plan  # the month the tests check
    from tests.intake.conftest import make_platform

    log = EmbeddedEventLog(str(tmp / "month.db"))
    await log.start()
    platform = await make_platform(log, tmp)  # as the month's own test makes it
    try:
        await Writer(platform).write(plan())
        records: Stored = defaultdict(list)
        for topic in (CONTACTS, TICKETS):
            for p, end in (await log.end_offsets(topic)).items():
                for r in await log.read(topic, p, 0, end):
                    records[r.key].append((topic, r.value))
    finally:
        await platform.close_shared()
        await platform.keys.close()
        await platform.db.dispose()
        await log.close()
    return units_of(records)


async def written(log: EmbeddedEventLog, units: list[Unit], tickets: int) -> dict[str, int]:
    """`tickets` tickets cloned from the units with a ticket, and as many contacts no
    ticket came of as the month had for so many tickets; records appended per topic."""
    rng = random.Random(2026)
    with_ticket = [u for u in units if u.streams[0].key.startswith("ticket-")]
    alone = [u for u in units if u.streams[0].key.startswith("contact-")]
    plan = [with_ticket[k % len(with_ticket)] for k in range(tickets)]
    plan += [alone[k % len(alone)] for k in range(tickets * len(alone) // len(with_ticket))]
    year_s = int(timedelta(days=365).total_seconds())
    batches: dict[str, list[OutgoingRecord]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    pending: asyncio.Future[object] | None = None  # one append in flight while cloning on

    async def append(topic: str, batch: list[OutgoingRecord]) -> None:
        nonlocal pending
        if pending is not None:
            await pending
        pending = asyncio.ensure_future(log.append(topic, batch))
        counts[topic] += len(batch)

    for unit in plan:
        at = YEAR + timedelta(seconds=rng.randrange(year_s))
        for topic, record in clone(unit, at, rng):
            batches[topic].append(record)
            if len(batches[topic]) >= APPEND_BATCH:
                await append(topic, batches.pop(topic))
    for topic, batch in batches.items():
        await append(topic, batch)
    if pending is not None:
        await pending
    return dict(counts)


async def run(tickets: int = TICKETS_N) -> list[Result]:
    calendar = WorkingCalendar.load("cn")
    with temp_dir("analytics-year") as tmp:
        with Timer() as month:
            units = await templates(tmp)
        lone = sum(u.streams[0].key.startswith("contact-") for u in units)
        say(f"  the month: {len(units) - lone:,} tickets and {lone:,} contacts without one "
            f"to clone, written through the real write path in {month.seconds:.0f} s")
        log = EmbeddedEventLog(str(tmp / "year.db"))
        await log.start()
        try:
            await log.create_topics(core_specs())
            with Timer() as year:
                counts = await written(log, units, tickets)
            say(f"  the year: {tickets:,} tickets, {counts[TICKETS]:,} ticket events and "
                f"{counts[CONTACTS]:,} contact events written in {year.seconds:.0f} s")
            return [await _replay(log, TicketFacts(calendar), (TICKETS,), counts, tmp),
                    await _replay(log, ContactFacts(calendar), (CONTACTS, TICKETS), counts,
                                  tmp)]
        finally:
            await log.close()


async def _replay(log: EmbeddedEventLog, projection: TicketFacts | ContactFacts,
                  topics: tuple[str, ...], counts: dict[str, int], tmp: Path) -> Result:
    total = sum(counts[t] for t in topics)
    raw_s = sum(counts[t] / raw_sqlite(log.path, t, counts[t]).steady(counts[t])
                for t in topics)
    clock = await replayed(log, projection, total, tmp)
    if sum((await log.end_offsets(DEADLETTER)).values()):
        raise AssertionError(f"{projection.name}: a cloned record was dead-lettered")
    ours, raw = clock.steady(total), total / raw_s
    table = projection.name.removeprefix("analytics_")
    say(f"    an_{table}: {ours:,.0f} events/s, {total / ours / 60:,.1f} min "
        f"(overall {clock.overall(total):,.0f}/s); raw read {raw:,.0f}/s")
    return Result(f"replay a year of a mid-size city into an_{table}", ours, raw, "events/s",
                  0.3, f"{total:,} records of {' and '.join(topics)} ({total / ours / 60:,.1f} "
                  "min), the year cloned from a month written through the real write path; "
                  "raw: the same topics read by sqlite3")


if __name__ == "__main__":
    import sys

    from hotline.runtime import tune_gc

    tune_gc()
    size = int(sys.argv[1]) if len(sys.argv) > 1 else TICKETS_N
    for r in asyncio.run(run(size)):
        print(f"{r.name}: {r.ours:,.1f} {r.unit} (raw {r.raw or 0:,.1f}) {r.verdict}")
