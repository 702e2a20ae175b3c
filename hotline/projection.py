"""Read models: what a projection is, what it reads, and the helpers its tables and
queries share.

A `Projection` owns some SQL tables and says how a batch of events changes them; the
runner that feeds it from the log, with its offsets in the same transaction, is
`hotline.runner`. Here too: `decode_for` (what a projection is given of a record),
`Deferring` (work left for when it has caught up), `engine_of` (rows kept in an engine
of their own), `ReadSide` (what a service's routes read through) and `checksum` (equal
rows, equal sum: how a rebuild is checked against the running copy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

from sqlalchemy import Column, DateTime, MetaData, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.decoding import decoded_once, event_name_of
from contracts.envelope import DecodeError, Envelope, decode
from contracts.events import EVENTS, EventData, from_envelope
from hotline.heads import READ_CHUNK

Applied = tuple[Envelope, EventData | None]


def utc_column(name: str, nullable: bool = True) -> Column[datetime]:
    """A time column; projections store UTC, since SQLite keeps no zone."""
    return Column(name, DateTime(timezone=True), nullable=nullable)


async def rows_by_id(conn: AsyncConnection, table: Table, ids: set[str],
                     key: str = "ticket_id") -> dict[str, dict[str, Any]]:
    """The stored rows of `table` whose `key` is in `ids`, by that key: what a batch
    folds its events onto (one query per thousand ids)."""
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted(ids)
    column = table.c[key]
    for i in range(0, len(wanted), READ_CHUNK):
        rows = await conn.execute(select(table).where(column.in_(wanted[i:i + READ_CHUNK])))
        found |= {row._mapping[key]: dict(row._mapping) for row in rows}
    return found


async def page_and_total(conn: AsyncConnection, table: Table, where: Sequence[Any],
                         order_by: Sequence[Any], limit: int) -> tuple[list[Any], int]:
    """The first `limit` rows of `table` matching `where`, in `order_by` order, and how many
    match in all: a work queue's page and the count beside it."""
    rows = list(await conn.execute(select(table).where(*where).order_by(*order_by)
                                   .limit(limit)))
    total = (await conn.execute(select(func.count()).select_from(table).where(*where))
             ).scalar_one()
    return rows, int(total)


def engine_of(projection: Projection, default: AsyncEngine) -> AsyncEngine:
    """Where a projection keeps its rows: an `engine` of its own (a search index in a file
    of its own) or, as almost every one does, the platform's database."""
    own: AsyncEngine | None = getattr(projection, "engine", None)
    return own or default


P = ParamSpec("P")
R = TypeVar("R")


class ReadSide:
    """What a service offers its routes to read its read models: they ask for data, the
    service opens the connection (routes never touch the platform's adapters)."""

    db: AsyncEngine

    async def read(self, query: Callable[Concatenate[AsyncConnection, P], Awaitable[R]], /,
                   *args: P.args, **kwargs: P.kwargs) -> R:
        """One query of a service's `queries` module, on a connection of its own."""
        async with self.db.connect() as conn:
            return await query(conn, *args, **kwargs)


def aware(value: datetime | None) -> datetime | None:
    """A time as aware UTC: to store it, or as read back (SQLite gives the stored UTC wall
    clock without its zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def decode_for(value: bytes, wanted: frozenset[str], *, remember: bool = False
               ) -> Applied | None:
    """Envelope and typed payload of an event a projection wants; None for the others.

    DecodeError when a wanted event, or a record whose type cannot be read, breaks its
    contract. Only what a projection wants is validated: replay pays for what it uses. A
    record whose `type` names another event is skipped unread (its readers validate it,
    and dead-letter it if it is broken): validating every envelope of a topic was most of
    the analytics contact facts' replay, which wants one ticket event in eight. A wanted
    catalogue event is validated in one pass (contracts/decoding.py: its envelope's `data`
    is then the payload itself); what fails that is decoded again step by step, for the
    reason its dead letter gives. `remember`: another reader of this process will want it
    too (`decoded_once`).
    """
    name = event_name_of(value)
    if name is not None and name not in wanted:
        return None
    if name is not None and (typed := decoded_once(value, name, remember=remember)):
        return typed
    envelope = decode(value)
    if envelope.event_name not in wanted:
        return None
    if envelope.event_name not in EVENTS:
        return envelope, None
    try:
        return envelope, from_envelope(envelope)
    except (KeyError, ValueError) as exc:
        raise DecodeError(f"{envelope.type} payload breaks its schema: {exc}") from exc


class Projection(Protocol):
    """A read model: its name, what it reads, its tables, and how a batch of events changes them."""

    name: str
    version: int  # bump it when the tables change: a new build, made from offset zero
    topics: Sequence[str]
    events: frozenset[str]  # event names it applies; others on its topics only move offsets
    metadata: MetaData

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        """Change the rows for a batch of new events, in log order, inside the runner's
        transaction. One call per batch, so a projection can write with executemany."""
        ...


@runtime_checkable
class Deferring(Protocol):
    """A projection that leaves part of its work for later while it catches up (a summary
    table counted once from its rows rather than kept up per batch) and finishes it when
    it has caught up: the runner calls `settle` in a transaction of its own when a poll
    finds nothing new, or a rebuild reaches the end of the log, and `unsettled` says so."""

    unsettled: bool

    async def settle(self, conn: AsyncConnection) -> None:
        """Finish the work left for later, or a part of it: the runner calls it, a
        transaction each, until `unsettled` is False."""
        ...


async def checksum(engine: AsyncEngine, metadata: MetaData) -> str:
    """SHA-256 over every row of every table, in primary-key order: equal rows, equal sum."""
    digest = hashlib.sha256()
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            digest.update(table.name.encode())
            order = list(table.primary_key.columns) or list(table.columns)
            for row in await conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()
