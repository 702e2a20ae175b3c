"""Ticket snapshots: where a cold load finds a ticket's state without reading its stream.

On Kafka a cold load (after a restart, or a partition that moved to this replica) fetches
each of the ticket's records from the broker, seeking between them through a partition
shared with every other ticket: milliseconds per ticket, more as the partition grows; on
either engine it validates and folds every event of the ticket again. The desk therefore
keeps each ticket's folded state here, in the platform's database (SQLite
or PostgreSQL, shared by the replicas), with the version and head hash it was folded to.

A snapshot is only a cache, never trusted over the log (the performance issue): a load
asks the log for the stream's head (from the owner's memory on Kafka) and uses the
snapshot when its version and head hash are the log's; when the log has moved on it reads
only the records after the snapshot's version, whose first must chain to the snapshot's
head hash; anything else (an older or different history, a state written by other code,
bytes that no longer decode) is ignored and the stream read whole. Snapshots are written
behind the commands, a batch at a time, newest version winning; losing them (a crash, a
dropped table) costs cold loads, never a wrong state, and cold loads write them again.
A ticket that is closed or merged has its snapshot deleted: the table holds the tickets
still in their loop (a large city's few hundred thousand), not every ticket ever (tens of
millions a year); the rare command on a closed one (a reopening) reads the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

import contracts
from contracts.vocabulary import TicketStatus
from hotline.database import TablesOnce
from ticketing import domain
from ticketing.domain import Ticket

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.2  # how long a new state may wait to be written
FLUSH_AT = 500  # states waiting that write at once
READ_AT = 500  # streams read in one query
DONE = frozenset({TicketStatus.CLOSED, TicketStatus.MERGED})  # out of the loop: no snapshot

metadata = MetaData()
snapshots_table = Table(
    "ticket_snapshots", metadata,
    Column("stream", String(80), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("shape", String(64), nullable=False),  # which code folded and wrote it
    Column("state", LargeBinary, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A ticket's state at one version, with what is needed to append after it: what the
    desk caches and what a snapshot holds."""

    ticket: Ticket | None
    version: int
    head_hash: str
    commands: frozenset[str]  # causation ids seen: the commands already applied


def _encode_hook(value: Any) -> Any:
    if isinstance(value, BaseModel):  # Category: its own JSON form
        return value.model_dump(mode="json")
    raise NotImplementedError(type(value).__name__)


def _decode_hook(kind: type, value: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind.model_validate(value)
    raise NotImplementedError(kind.__name__)


# sets and dicts sorted: the same state is always the same bytes
_ENCODER = msgspec.json.Encoder(enc_hook=_encode_hook, order="deterministic")
_DECODER = msgspec.json.Decoder(tuple[Ticket | None, frozenset[str]], dec_hook=_decode_hook)


def _shape() -> str:
    """A digest of the code a ticket's state depends on: the fold (ticketing/domain.py) and
    every contract it reads (events, vocabulary, lifecycle). A snapshot written by other
    code is not this code's state, even at the log's head: a new release reads the log."""
    digest = hashlib.sha256()
    for path in [Path(domain.__file__), *sorted(Path(contracts.__file__).parent.glob("*.py"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


SHAPE = _shape()


def encode_state(ticket: Ticket | None, commands: frozenset[str]) -> bytes:
    """JSON: times keep their offsets, sets are sorted."""
    return _ENCODER.encode((ticket, commands))


def decode_state(raw: bytes) -> tuple[Ticket | None, frozenset[str]]:
    """What `encode_state` wrote (msgspec.DecodeError or a ValueError when it is not)."""
    found: tuple[Ticket | None, frozenset[str]] = _DECODER.decode(raw)
    return found


class TicketSnapshots:
    """Snapshots in a database table, read and written in batches.

    The loads that arrive while a read is out are answered by the next read, one query for
    all of them: 64 concurrent cold loads one by one queued for the pool's connections
    (74 ms each on the callback bench)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._waiting: dict[str, Loaded] = {}  # to be written
        self._asked: dict[str, asyncio.Future[Loaded | None]] = {}  # to be read
        self._reader: asyncio.Task[None] | None = None
        self._tables = TablesOnce(engine, metadata)
        self._writer: asyncio.Task[None] | None = None
        self._due = asyncio.Event()  # write now, without waiting for the period

    async def get(self, stream: str) -> Loaded | None:
        """The stream's snapshot, None when there is none this code can read."""
        if (waiting := self._waiting.get(stream)) is not None:
            return waiting
        if (asked := self._asked.get(stream)) is None:
            asked = self._asked[stream] = asyncio.get_running_loop().create_future()
            if self._reader is None or self._reader.done():
                self._reader = asyncio.ensure_future(self._read())
        return await asyncio.shield(asked)

    async def _read(self) -> None:
        """Answer what was asked, a query per batch, until nothing more is."""
        while self._asked:
            batch, self._asked = self._asked, {}
            try:
                rows = await self._found(list(batch))
            except Exception as exc:  # noqa: BLE001 - the log still has the tickets
                log.warning("%d ticket snapshots not read: %s", len(batch), exc)
                rows = {}
            for stream, asked in batch.items():
                if not asked.done():
                    asked.set_result(_snapshot(stream, rows.get(stream)))

    async def _found(self, streams: list[str]) -> dict[str, Any]:
        await self._tables.ensure()
        found: dict[str, Any] = {}
        async with self.engine.connect() as conn:
            for i in range(0, len(streams), READ_AT):
                found |= {row.stream: row for row in await conn.execute(
                    select(snapshots_table).where(
                        snapshots_table.c.stream.in_(streams[i:i + READ_AT])))}
        return found

    def keep(self, stream: str, snapshot: Loaded) -> None:
        """Queue a state to be written (the newest of a stream wins)."""
        if snapshot.ticket is None:
            return
        held = self._waiting.get(stream)
        if held is None or held.version < snapshot.version:
            self._waiting[stream] = snapshot
        if len(self._waiting) >= FLUSH_AT:
            self._due.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    async def flush(self) -> None:
        """Write what waits now, and return once it is written."""
        self._due.set()
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        await self.flush()

    async def _write(self) -> None:
        """Write what waits every FLUSH_EVERY_S (at once when flushed or FLUSH_AT wait), one
        transaction a batch, until nothing does; one writer, so batches never race."""
        while self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), FLUSH_EVERY_S)
            self._due.clear()
            batch, self._waiting = self._waiting, {}
            try:
                await self._store(batch)
            except Exception as exc:  # noqa: BLE001 - a cache: cold loads then read the log
                log.warning("%d ticket snapshots not written: %s", len(batch), exc)

    async def _store(self, batch: dict[str, Loaded]) -> None:
        """One transaction: the states of open tickets upserted, those of closed ones
        deleted (unless a newer one, a reopening, was stored meanwhile)."""
        # rows in one order on every replica: two batches locking the same rows in
        # opposite orders would deadlock on PostgreSQL
        ordered = sorted(batch.items(), key=lambda item: item[0])
        done = {s: k for s, k in ordered if k.ticket and k.ticket.status in DONE}
        kept = [(s, k) for s, k in ordered if s not in done]
        await self._tables.ensure()
        async with self.engine.begin() as conn:
            if kept:
                await conn.execute(_upsert(self.engine.dialect.name), _stored(kept))
            if done:
                await conn.execute(
                    delete(snapshots_table).where(
                        snapshots_table.c.stream == bindparam("s"),
                        snapshots_table.c.version <= bindparam("v")),
                    [{"s": s, "v": k.version} for s, k in done.items()])


def _snapshot(stream: str, row: Any) -> Loaded | None:
    """A stored row as a state, None when there is none this code can read."""
    if row is None or row.shape != SHAPE:
        return None
    try:
        ticket, commands = decode_state(row.state)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        log.warning("snapshot of %s unreadable, ignored: %s", stream, exc)
        return None
    return Loaded(ticket, row.version, row.head_hash, commands)


def _stored(batch: Iterable[tuple[str, Loaded]]) -> list[dict[str, Any]]:
    return [{"stream": stream, "version": s.version, "head_hash": s.head_hash, "shape": SHAPE,
             "state": encode_state(s.ticket, s.commands)} for stream, s in batch]


def _upsert(dialect: str) -> Any:
    """Insert, or replace a stored snapshot of an older version (two replicas writing the
    same stream during a rebalance: the newer state stays)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(snapshots_table)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[snapshots_table.c.stream],
        set_={"version": new.version, "head_hash": new.head_hash, "shape": new.shape,
              "state": new.state},
        where=(snapshots_table.c.version < new.version) | (snapshots_table.c.shape != new.shape))
