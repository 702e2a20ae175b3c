"""The ticket decider one command at a time, beside the `eventsourcing` library doing the same.

Both sides, in one process and one temp dir, run the same commands of fresh tickets
(`bench.decider.lifecycle`: register, dispatch + a reply deadline, acknowledge, progress
note, reply: 5 commands, 6 events) strictly one at a time; 3 interleaved reps, best of each.
Ours: `TicketDesk(EventStore(log))` on the embedded log (SQLite, WAL, synchronous=FULL),
`await desk.execute(...)` per command: load (cache or log), decide, envelope + hash chain,
idempotency id, append with the expected version.
Peer: an `eventsourcing` `Application` on its SQLite recorder (a file, WAL, SQLite's default
synchronous=FULL) and a `Ticket(Aggregate)` whose command methods check our decider's rules
(dispatch only when registered, deadlines ahead; acknowledge only by the lead unit of a
dispatched ticket; progress only by a unit on it; reply only by the lead after acknowledging)
before triggering `@event` methods; per command `repository.get` (register: `id in
repository`), the method, `app.save`. Its aggregate cache is on (ours' size, no fast-forward:
one writer, as ours trusts its cache), so neither side re-reads what it just wrote: the fair
peer, not the default one. Cold loads (informative): a fresh `TicketDesk` `get`s each ticket
of the rep once, beside a fresh peer `Application` `repository.get`ting each once. A last
line (informative) times the smallest durable commit one at a time in the same directory:
each command of either side pays at least one, so it bounds what one at a time can reach
(the issue's 2x the peer is less time a command than that commit on this machine's disk).

    python -m bench peer                        # 1,000 tickets per rep
    BENCH_PEER_TICKETS=200 python -m bench peer
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.common import Result, Timer, best_of, rate, say, temp_dir
from bench.decider import NOW, REPS, lifecycle
from contracts import commands as c
from contracts.ids import new_id
from hotline.eventstore import EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import EventLog
from ticketing.handler import TicketDesk

TICKETS_ENV = "BENCH_PEER_TICKETS"
TICKETS = 1_000  # per rep
ACTOR = "operator:op-017"
CACHE_SIZE = 100_000  # TicketDesk's default cache size, given to the peer's too
FLOOR_COMMITS = 1_000  # single durable commits timed for the floor line
WITH_UNIT = frozenset({"dispatched", "acknowledged"})

Plan = list[tuple[str, list[c.TicketCommand]]]


class Refused(Exception):
    """A rule the peer's ticket refuses a command by (our decider's `Rejected`)."""


class Ticket(Aggregate):
    """The peer's ticket: command methods check the decider's rules, then trigger events."""

    @event("Registered")
    def __init__(self, id: UUID, number: str, contact_ids: list[str], ticket_type: str,
                 category: dict[str, str], urgency: str, summary: str, district: str,
                 registered_by: str) -> None:
        self.number, self.contact_ids, self.ticket_type = number, contact_ids, ticket_type
        self.category, self.urgency, self.summary = category, urgency, summary
        self.district, self.registered_by = district, registered_by
        self.status = "registered"
        self.lead_unit: str | None = None
        self.assisting_units: list[str] = []
        self.units_ever: set[str] = set()
        self.dispatch_round = 0
        self.deadlines: dict[str, datetime] = {}
        self.notes = 0
        self.solved: bool | None = None

    def dispatch(self, lead_unit: str, note: str | None, deadlines: list[dict[str, Any]],
                 now: datetime) -> None:
        self._in({"registered"}, "dispatch")
        if any(d["due_at"] <= now for d in deadlines):
            raise Refused("deadline-in-past")
        self._dispatched(lead_unit, [], note, False, self.dispatch_round + 1)
        if deadlines:
            self._deadlines_set(deadlines, "dispatched")

    def acknowledge(self, unit_id: str) -> None:
        self._lead(unit_id)
        if self.status == "acknowledged":
            raise Refused("already-acknowledged")
        self._in({"dispatched"}, "acknowledge")
        self._acknowledged(unit_id)

    def note_progress(self, unit_id: str, note: str, public: bool) -> None:
        self._in(WITH_UNIT, "note progress")
        self._on_it(unit_id)
        self._progress_noted(unit_id, note, public)

    def reply(self, unit_id: str, text: str, solved: bool | None) -> None:
        self._in(WITH_UNIT, "reply")
        self._lead(unit_id)
        if self.status != "acknowledged":
            raise Refused("acknowledge-first")
        self._replied(unit_id, text, solved)

    # -- rules (as ticketing.domain's) --------------------------------------------------------

    def _in(self, allowed: set[str] | frozenset[str], what: str) -> None:
        if self.status in ("closed", "merged"):
            raise Refused(f"ticket-{self.status}")
        if self.status not in allowed:
            raise Refused(f"wrong-state: {what} needs {sorted(allowed)}, is {self.status}")

    def _on_it(self, unit_id: str) -> None:
        if unit_id != self.lead_unit and unit_id not in self.assisting_units:
            raise Refused("reassigned-away" if unit_id in self.units_ever else "not-assigned")

    def _lead(self, unit_id: str) -> None:
        self._on_it(unit_id)
        if unit_id != self.lead_unit:
            raise Refused("not-lead-unit")

    # -- events (as ticketing.domain.evolve) ---------------------------------------------------

    @event("Dispatched")
    def _dispatched(self, lead_unit: str, assisting_units: list[str], note: str | None,
                    urgent: bool, round: int) -> None:
        self.status, self.lead_unit, self.assisting_units = "dispatched", lead_unit, assisting_units
        self.units_ever |= {lead_unit, *assisting_units}
        self.dispatch_round, self.deadlines = round, {}

    @event("DeadlinesSet")
    def _deadlines_set(self, deadlines: list[dict[str, Any]], reason: str) -> None:
        self.deadlines = {**self.deadlines, **{d["kind"]: d["due_at"] for d in deadlines}}

    @event("Acknowledged")
    def _acknowledged(self, unit_id: str) -> None:
        self.status = "acknowledged"

    @event("ProgressNoted")
    def _progress_noted(self, unit_id: str, note: str, public: bool) -> None:
        self.notes += 1

    @event("Replied")
    def _replied(self, unit_id: str, text: str, solved: bool | None) -> None:
        self.status, self.solved, self.deadlines = "replied", solved, {}


class PeerDesk(Application):
    """The peer's command handler: load (or refuse a second registration), decide, save."""

    def execute(self, command: c.TicketCommand, now: datetime) -> int:
        """Run one command; the number of events it stored."""
        ticket_id = UUID(command.ticket_id)
        if isinstance(command, c.RegisterTicket):
            if ticket_id in self.repository:  # a read, as our desk's of an empty stream
                raise Refused("ticket-exists")
            ticket = Ticket(id=ticket_id, number=command.ticket_number,
                            contact_ids=list(command.contact_ids),
                            ticket_type=command.ticket_type.value,
                            category=command.category.model_dump(exclude_none=True),
                            urgency=command.urgency.value, summary=command.summary,
                            district=command.district_code, registered_by=command.registered_by)
        else:
            ticket = self.repository.get(ticket_id)
            step(ticket, command, now)
        return len(self.save(ticket))


def step(ticket: Ticket, command: c.TicketCommand, now: datetime) -> None:
    """Our command's data handed to the peer's command method."""
    if isinstance(command, c.DispatchTicket):
        ticket.dispatch(command.lead_unit, command.note, [
            {"kind": d.kind.value, "due_at": d.due_at, "policy_id": d.policy_id}
            for d in command.deadlines], now)
    elif isinstance(command, c.AcknowledgeTicket):
        ticket.acknowledge(command.unit_id)
    elif isinstance(command, c.NoteProgress):
        ticket.note_progress(command.unit_id, command.note, command.public)
    elif isinstance(command, c.ReplyTicket):
        ticket.reply(command.unit_id, command.text, command.solved)
    else:
        raise TypeError(f"the peer does not model {type(command).__name__}")


def peer_env(db: Path, cached: bool) -> dict[str, str]:
    """The peer's settings, passed to the Application (the process environment is left alone)."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db),
           "SQLITE_LOCK_TIMEOUT": "10"}
    if cached:
        env |= {"AGGREGATE_CACHE_MAXSIZE": str(CACHE_SIZE), "AGGREGATE_CACHE_FASTFORWARD": "n",
                "DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}
    return env


def plan_of(tickets: int) -> Plan:
    """Fresh tickets and their commands, built before either side's timer starts."""
    ids = [new_id() for _ in range(tickets)]
    return [(ticket_id, lifecycle(ticket_id, n)) for n, ticket_id in enumerate(ids)]


async def ours(log: EventLog, plan: Plan) -> tuple[float, float, int]:
    """(commands/s, cold-load events/s, events written) through TicketDesk, one at a time."""
    desk = TicketDesk(EventStore(log))
    events = 0
    with Timer() as t:
        for _, commands in plan:
            for command in commands:
                outcome = await desk.execute(command, actor=ACTOR, command_id=new_id(), now=NOW)
                events += len(outcome.events)
    cold, loaded = TicketDesk(EventStore(log)), 0
    with Timer() as cold_t:
        for ticket_id, _ in plan:
            loaded += (await cold.load(ticket_id)).version  # `get` is `load().ticket`
    assert loaded == events, (loaded, events)
    return rate(len(plan) * 5, t.seconds), rate(loaded, cold_t.seconds), events


def peer(db: Path, plan: Plan) -> tuple[float, float, int]:
    """(commands/s, cold-load events/s, events written) through eventsourcing, one at a time."""
    app = PeerDesk(env=peer_env(db, cached=True))
    events = 0
    with Timer() as t:
        for _, commands in plan:
            for command in commands:
                events += app.execute(command, NOW)
    app.close()
    cold, loaded = PeerDesk(env=peer_env(db, cached=False)), 0
    with Timer() as cold_t:
        for ticket_id, _ in plan:
            loaded += cold.repository.get(UUID(ticket_id)).version
    cold.close()
    assert loaded == events, (loaded, events)
    return rate(len(plan) * 5, t.seconds), rate(loaded, cold_t.seconds), events


async def measure(log: EventLog, db: Path, tickets: int) -> list[Result]:
    from contracts.topics import CATALOGUE, TICKETS

    await log.create_topics([replace(CATALOGUE[TICKETS].spec, replication_factor=1)])
    await log.claim(TICKETS)
    runs: list[tuple[float, ...]] = []  # (ours cmd/s, ours cold, peer cmd/s, peer cold)
    for rep in range(REPS):  # interleaved, best of each: the machine's noise hits both sides
        plan = plan_of(tickets)
        (cmd, cold, events), (p_cmd, p_cold, p_events) = await ours(log, plan), peer(db, plan)
        runs.append((cmd, cold, p_cmd, p_cold))
        say(f"  rep {rep + 1}: ours {cmd:,.0f} commands/s, cold {cold:,.0f} events/s "
            f"({events:,} events); eventsourcing {p_cmd:,.0f} commands/s, cold "
            f"{p_cold:,.0f} events/s ({p_events:,} events)")
    best = [best_of(column) for column in zip(*runs, strict=True)]
    floor = commit_floor(db.with_name("floor.db"))
    return [
        Result("decider one at a time vs eventsourcing (commands/s)", best[0], best[2],
               "commands/s", 2.0, f"{tickets:,} tickets x 5 commands (6 events), one at a time, "
               "both on SQLite files (WAL, synchronous=FULL); raw: eventsourcing "
               "Application + Aggregate, its cache on (get, method, save)"),
        Result("cold load vs eventsourcing (events/s)", best[1], best[3], "events/s", None,
               "a fresh TicketDesk.get / Application.repository.get of each ticket once"),
        Result("one durable commit alone, one at a time (commits/s)", floor, best[2],
               "commits/s", None, floor_note(floor, 2 * best[2])),
    ]


def floor_note(floor: float, wanted: float) -> str:
    """What the commit floor says of the issue's target (`wanted` commands/s)."""
    left = 1e6 / wanted - 1e6 / floor
    verdict = (f"leaves {left:.0f} µs a command beside its commit" if left > 0 else
               "is less time than one commit here: out of reach on this disk")
    return (f"sqlite3 BEGIN, one 1.5 KB INSERT, COMMIT (WAL, synchronous=FULL) in the same "
            f"directory, {FLOOR_COMMITS:,} times: {1e6 / floor:.0f} µs each; raw: "
            f"eventsourcing, as above. Each command one at a time pays at least one commit, "
            f"so 2x eventsourcing ({wanted:,.0f} commands/s, {1e6 / wanted:.0f} µs a command) "
            f"{verdict}")


def commit_floor(path: Path) -> float:
    """Commits/s of the smallest durable write one at a time: the disk's fsync, what every
    command of both sides pays once."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        value = os.urandom(1500)
        with Timer() as t:
            for k in range(FLOOR_COMMITS):
                conn.execute("BEGIN")
                conn.execute("INSERT INTO t VALUES (?, ?)", (k, value))
                conn.execute("COMMIT")
    finally:
        conn.close()
    return rate(FLOOR_COMMITS, t.seconds)


async def run(tickets: int | None = None) -> list[Result]:
    n = tickets or int(os.environ.get(TICKETS_ENV, TICKETS))
    with temp_dir("peer") as tmp:
        log = EmbeddedEventLog(str(tmp / "log.db"))
        await log.start()
        try:
            return await measure(log, tmp / "peer.db", n)
        finally:
            await log.close()
