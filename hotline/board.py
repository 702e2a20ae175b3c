"""The shape every per-ticket read model shares: load the batch's rows, fold, write at once.

The work-order, supervision and callback boards keep one row per ticket (and rows beside
it: assignments, timeline steps, sanctions, surveys). Applying a batch is the same loop for
all three: read the stored rows of every ticket the batch touches in a few `IN (...)`
queries, fold each event onto its ticket in memory, then write every new and changed row
with one executemany per table. Per-event round trips to the database are what made a
replay slow; this loop has none.

A board says how a ticket starts (`start`), what one event does to it (`step`, where it also
gathers its side rows into the batch's `Side`), and how to write (`write`). Duplicate or
out-of-order registrations cannot happen on a well-formed log; they are logged and skipped.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope
from contracts.topics import TICKETS
from hotline.bulk import insert_many, update_many
from hotline.projection import Applied

log = logging.getLogger(__name__)

TICKET_PREFIX = "ticket-"

St = TypeVar("St")  # one ticket's state while a batch is folded
T = TypeVar("T")
Side = TypeVar("Side")  # the side rows a batch gathers, written after the tickets


@dataclass
class Folded(Generic[T]):
    """A ticket's row while a batch is folded, beside the domain state it folds into (a
    board's `St` when it keeps its state as JSON in the row)."""

    row: dict[str, Any]
    folded: T | None = None


def ticket_id_of(env: Envelope) -> str:
    """The ticket an event of `hotline.tickets` belongs to (its stream is `ticket-<id>`)."""
    return env.subject[len(TICKET_PREFIX):]


class TicketBoard(ABC, Generic[St, Side]):
    """A projection of `hotline.tickets` with one row per ticket (see the module doc)."""

    name: str
    version: int
    topics: Sequence[str] = (TICKETS,)

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        items = [(env, data) for env, data in batch if data is not None]
        states = await self.load(conn, {ticket_id_of(env) for env, data in items
                                        if not isinstance(data, e.TicketRegistered)})
        new: set[str] = set()
        changed: set[str] = set()
        side = self.side()
        for env, data in items:
            tid = ticket_id_of(env)
            if isinstance(data, e.TicketRegistered):
                if tid in states:
                    log.warning("%s: %s registered twice; ignored", self.name, env.subject)
                    continue
                states[tid] = self.start(tid, env, data)
                new.add(tid)
            state = states.get(tid)
            if state is None:
                log.warning("%s: %s before its registration; ignored", self.name, env.type)
                continue
            assert data is not None
            states[tid] = self.step(state, env, data, side)
            changed.add(tid)
        await self.write(conn, [states[t] for t in sorted(new)],
                         [states[t] for t in sorted(changed - new)], side)

    @abstractmethod
    async def load(self, conn: AsyncConnection, ids: set[str]) -> dict[str, St]:
        """The stored state of these tickets (the ones a batch touches)."""

    @abstractmethod
    def side(self) -> Side:
        """An empty gathering of side rows for one batch."""

    @abstractmethod
    def start(self, ticket_id: str, env: Envelope, event: e.TicketRegistered) -> St:
        """A new ticket's state before its registration is folded onto it by `step`."""

    @abstractmethod
    def step(self, state: St, env: Envelope, event: Any, side: Side) -> St:
        """The ticket after one event (its registration included)."""

    @abstractmethod
    async def write(self, conn: AsyncConnection, new: list[St], changed: list[St],
                    side: Side) -> None:
        """Insert the new tickets, update the changed ones, write the side rows."""


async def write_rows(conn: AsyncConnection, table: Table, mutable: Iterable[str],
                     new: list[dict[str, Any]], changed: list[dict[str, Any]],
                     key: str | tuple[str, ...] = "ticket_id") -> None:
    """Insert `new` rows and update `changed` ones, one executemany each (hotline/bulk.py);
    an update sets every `mutable` column, so one statement serves all the changed rows.
    `key` names the primary key's column (or columns)."""
    await insert_many(conn, table, new)
    await update_many(conn, table, (key,) if isinstance(key, str) else key, tuple(mutable),
                      changed)
