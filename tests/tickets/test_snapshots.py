"""Ticket snapshots: a cold load starts from the stored state only where the log bears it out.

A snapshot is used when its version and head hash are the log's; when the log has moved
on only the records after it are read (and must chain to it); a snapshot of another
history or written by other code is ignored, and the ticket read whole. The state
survives its encoding exactly, offsets of its times included, on any history the
decider accepts.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contracts import commands as c
from contracts.topics import TICKETS
from hotline.eventstore import EventStore
from hotline.integrity import verify_stream
from hotline.log.port import EventLog
from tests.tickets.test_concurrency import LEAD, NOW, dispatched, open_desks, registration
from tests.tickets.test_decider import REGISTERED, T0
from tests.tickets.test_lifecycle import COMMANDS  # one of every command the decider takes
from ticketing.domain import decide, evolve
from ticketing.handler import TicketDesk, stream_of
from ticketing.rules import Rejected
from ticketing.snapshots import (
    Loaded,
    TicketSnapshots,
    decode_state,
    encode_state,
    snapshots_table,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(COMMANDS), max_size=30))
def test_any_state_the_decider_reaches_survives_its_encoding(walk: list) -> None:
    at = T0
    ticket = evolve(None, REGISTERED, at)
    seen = frozenset({"cmd-0"})
    for n, command in enumerate(walk):
        try:
            events = decide(ticket, command, at)
        except Rejected:
            continue
        for happened in events:
            at += timedelta(minutes=1)
            ticket = evolve(ticket, happened, at)
        seen |= {f"cmd-{n}"}
        raw = encode_state(ticket, seen)
        assert decode_state(raw) == (ticket, seen)
        assert encode_state(*decode_state(raw)) == raw  # the same bytes: offsets kept


@pytest.fixture
async def snapshot_db(tmp_path) -> AsyncEngine:  # type: ignore[no-untyped-def]
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'snapshots.db'}")
    yield engine
    await engine.dispose()


async def cold(log: EventLog, db: AsyncEngine, ticket_id: str) -> Loaded:
    """The ticket as a fresh desk (a restarted replica) loads it, with the snapshots."""
    desk = TicketDesk(EventStore(log), snapshots=TicketSnapshots(db))
    try:
        return await desk.load(ticket_id)
    finally:
        await desk.close()


async def whole(log: EventLog, ticket_id: str) -> Loaded:
    """The ticket read from its whole stream, no snapshot."""
    return await TicketDesk(EventStore(log)).load(ticket_id)


async def with_snapshots(log: EventLog, db: AsyncEngine) -> tuple[TicketDesk, str]:
    """A dispatched ticket, its snapshot written."""
    [plain] = await open_desks(log)
    desk = TicketDesk(plain.store, snapshots=TicketSnapshots(db))
    ticket_id = await dispatched(desk)
    await desk.close()
    return desk, ticket_id


async def tamper(db: AsyncEngine, ticket_id: str, **values: object) -> None:
    async with db.begin() as conn:
        await conn.execute(update(snapshots_table).where(
            snapshots_table.c.stream == stream_of(ticket_id)).values(**values))


async def test_a_snapshot_at_the_logs_head_is_the_state(log: EventLog,
                                                        snapshot_db: AsyncEngine) -> None:
    _, ticket_id = await with_snapshots(log, snapshot_db)
    assert await cold(log, snapshot_db, ticket_id) == await whole(log, ticket_id)
    # what a cold load used is the snapshot: a state changed in the table (version and
    # hash kept) comes back changed; the log alone decides whether it applies
    ticket = (await whole(log, ticket_id)).ticket
    assert ticket is not None
    await tamper(snapshot_db, ticket_id,
                 state=encode_state(replace(ticket, summary="快照"), frozenset()))
    assert (await cold(log, snapshot_db, ticket_id)).ticket.summary == "快照"  # type: ignore[union-attr]


async def test_a_behind_snapshot_reads_only_what_came_since(log: EventLog,
                                                            snapshot_db: AsyncEngine) -> None:
    desk, ticket_id = await with_snapshots(log, snapshot_db)
    other = TicketDesk(desk.store)  # another replica, keeping no snapshots
    await other.execute(c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=LEAD),
                        actor=f"unit:{LEAD}", command_id=str(uuid.uuid4()), now=NOW)
    loaded = await cold(log, snapshot_db, ticket_id)
    assert loaded == await whole(log, ticket_id)
    # the desk goes on from it: the next append chains to the log's head
    fresh = TicketDesk(desk.store, snapshots=TicketSnapshots(snapshot_db))
    await fresh.execute(c.ReplyTicket(ticket_id=ticket_id, unit_id=LEAD, text="已处理",
                                      solved=True),
                        actor=f"unit:{LEAD}", command_id=str(uuid.uuid4()), now=NOW)
    await fresh.close()
    stream = stream_of(ticket_id)
    values = [r.value for r in await log.read_stream(TICKETS, stream)]
    assert verify_stream(stream, values, await log.stream_head(TICKETS, stream)) == []
    kept = await TicketSnapshots(snapshot_db).get(stream)
    assert kept == await whole(log, ticket_id) and kept.version == loaded.version + 1


async def test_a_registration_looks_up_no_snapshot(log: EventLog,
                                                   snapshot_db: AsyncEngine) -> None:
    [plain] = await open_desks(log)
    desk = TicketDesk(plain.store, snapshots=TicketSnapshots(snapshot_db))
    asked: list[str] = []
    event.listen(snapshot_db.sync_engine, "before_cursor_execute",
                 lambda *args: asked.append(args[2]))
    await dispatched(desk)  # a new stream (the log's head says so), then the cached state
    await desk.close()
    verbs = [s.split()[0] for s in asked if "ticket_snapshots" in s]
    assert "SELECT" not in verbs and "INSERT" in verbs, asked


async def test_a_closed_ticket_keeps_no_snapshot(log: EventLog,
                                                 snapshot_db: AsyncEngine) -> None:
    [plain] = await open_desks(log)
    desk = TicketDesk(plain.store, snapshots=TicketSnapshots(snapshot_db))
    ticket_id = str(uuid.uuid4())
    for command in (registration(ticket_id),
                    c.AnswerDirectly(ticket_id=ticket_id, answer="夜间施工须取得许可")):
        await desk.execute(command, actor="operator:op-1", command_id=str(uuid.uuid4()),
                           now=NOW)
        await desk.snapshots.flush()  # type: ignore[union-attr]
        kept = await TicketSnapshots(snapshot_db).get(stream_of(ticket_id))
        assert (kept is None) == isinstance(command, c.AnswerDirectly)  # closed: gone
    assert await cold(log, snapshot_db, ticket_id) == await whole(log, ticket_id)


@pytest.mark.parametrize("change", ["hash", "version", "shape", "bytes"])
async def test_a_snapshot_the_log_does_not_bear_out_is_ignored(
        log: EventLog, snapshot_db: AsyncEngine, change: str,
        caplog: pytest.LogCaptureFixture) -> None:
    _, ticket_id = await with_snapshots(log, snapshot_db)
    ticket = (await whole(log, ticket_id)).ticket
    assert ticket is not None
    lie = encode_state(replace(ticket, summary="快照"), frozenset())
    values: dict[str, object] = {
        "hash": {"head_hash": "0" * 64, "state": lie},  # another history at that version
        "version": {"version": 1, "state": lie},  # its records after 1 do not chain to it
        "shape": {"shape": "other code", "state": lie},
        "bytes": {"state": b"{not json"},
    }[change]
    await tamper(snapshot_db, ticket_id, **values)
    assert await cold(log, snapshot_db, ticket_id) == await whole(log, ticket_id)
    # another history is an operator's business; code of another version is an upgrade
    told = "not the log's history" in caplog.text
    assert told == (change in ("hash", "version")), caplog.text


def kept(version: int, ticket_id: str = "x") -> Loaded:
    ticket = replace(evolve(None, REGISTERED, T0), ticket_id=ticket_id)
    return Loaded(ticket, version, f"{version:064x}", frozenset({f"cmd-{version}"}))


async def test_the_newest_snapshot_stays(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        first, second = TicketSnapshots(engine), TicketSnapshots(engine)  # two replicas
        first.keep("ticket-x", kept(5))
        await first.flush()
        second.keep("ticket-x", kept(3))  # late: a replica that lost the partition
        await second.flush()
        assert await TicketSnapshots(engine).get("ticket-x") == kept(5)
    finally:
        await engine.dispose()


async def test_loads_at_once_share_a_query_and_close_writes_all(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        writer = TicketSnapshots(engine)
        for n in range(64):
            writer.keep(f"ticket-{n}", kept(n + 1, str(n)))
        writing = asyncio.ensure_future(writer.flush())
        await asyncio.sleep(0)  # its batch is out: a state kept now goes in the next
        writer.keep("ticket-late", kept(9, "late"))
        await writer.close()
        await writing
        reader = TicketSnapshots(engine)
        await reader.get("ticket-none")  # its table known: only the loads' queries counted
        asked: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda *args: asked.append(args[2]))
        streams = [f"ticket-{n}" for n in range(64)] + ["ticket-late", "ticket-none"]
        found = await asyncio.gather(*(reader.get(s) for s in streams))
        assert found == [kept(n + 1, str(n)) for n in range(64)] + [kept(9, "late"), None]
        assert len(asked) <= 2, asked  # the first alone, then the 65 that came meanwhile
    finally:
        await engine.dispose()
