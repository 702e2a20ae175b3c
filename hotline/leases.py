"""One holder at a time across processes sharing a database: the lease a projection runner
holds to write its read model (and a replica to draw a scheduled report).

A read model's runner keeps what it knows in memory between batches (the stream heads it
wrote, where it is in each partition), which is right only while it is the one writer of
those rows. Every replica of a service runs the same runners, and on Kubernetes the replicas
of a service share one `HOTLINE_DB` (PostgreSQL): two runners folding the same events into
the same rows would apply each event twice where no key collides, and fail where one does.

So a runner writes only under the projection's lease (`leases`, one row per name: the
projection's): the replica holding it folds and writes; the others follow (they read the
offsets it commits, and serve from the rows it writes) and take over when it stops renewing
(killed, hung, cut off from the database) for `LEASE_S`. Each batch transaction renews the
lease by its epoch first (`hold`): a runner whose lease was taken over finds no row to
renew and writes nothing (a fencing token). The renewal is a write, so from there to
COMMIT no takeover can come in between: on PostgreSQL it locks the lease's row (a takeover
waits for the batch and then sees the lease renewed), on SQLite it takes the database's one
write lock. A batch that takes longer than the lease is therefore never cut off by it (a
renewal at COMMIT instead let a follower take over in the middle of a long one, and the
same long batch could then pass back and forth between them).

Times are wall-clock seconds of the replicas' own clocks (NTP keeps them well within the
lease). A process restarted on the same host (a container restart: same host name; a test
runner after it killed its worker) takes over the lease of its dead predecessor at once,
instead of waiting for it to run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateTable

from hotline.database import schema_turn

log = logging.getLogger(__name__)

LEASE_S = 15.0  # a killed writer's read model is taken over after this long at most
FOLLOW_S = 2.0  # how often a follower tries the lease (and reads the writer's progress)
_HOST = socket.gethostname()
_held: set[tuple[str, str]] = set()  # (database, lease) this process holds right now


def leases_in(metadata: MetaData) -> Table:
    return Table(
        "leases", metadata,
        Column("name", String(200), primary_key=True),  # a projection's, or report:<key>
        Column("epoch", Integer, nullable=False),  # +1 at each change of holder
        Column("holder", String(200), nullable=False),  # host:pid
        Column("until_s", Float, nullable=False),  # wall-clock seconds
    )


class LeaseLost(Exception):
    """Another process took the lease: its holder must stop."""


class Lease:
    """One lease as one holder sees it: held (its `epoch`) or not."""

    def __init__(self, engine: AsyncEngine, table: Table, name: str, *,
                 seconds: float = LEASE_S, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.table, self.name = engine, table, name
        self.seconds, self.clock = seconds, clock
        self.holder = f"{_HOST}:{os.getpid()}"
        self.epoch: int | None = None
        self._renewed = 0.0
        self._made = False  # the table exists

    @property
    def _key(self) -> tuple[str, str]:
        return str(self.engine.url), self.name

    async def acquire(self) -> bool:
        """Take the lease if it is free, run out, or left by a dead process of this host;
        True when this runner holds it (again) now."""
        try:
            async with self.engine.begin() as conn:
                if not self._made:
                    await self._make(conn)
                taken = await self._take(conn)
            self._made = True
            return taken
        except DBAPIError as exc:  # another replica made or took it first
            log.debug("%s: lease race: %s", self.name, type(exc).__name__)
            return False

    async def _make(self, conn: AsyncConnection) -> None:
        """The table and the lease's row (free since epoch 0), once per runner: writes
        first, so the transaction has the database's write lock (SQLite) before it reads the
        row. Reading first, two runners starting at once on one file each read, and the
        second's write failed on its outdated snapshot (it waited 2 s to follow); the rows
        are never deleted, so a follower's later tries only read until it takes over."""
        await schema_turn(conn)
        await conn.execute(CreateTable(self.table, if_not_exists=True))
        await conn.execute(text(
            f"INSERT INTO {self.table.name} (name, epoch, holder, until_s) "
            "VALUES (:name, 0, '', 0) ON CONFLICT (name) DO NOTHING"), {"name": self.name})

    async def _take(self, conn: AsyncConnection) -> bool:
        t, now = self.table.c, self.clock()
        row = (await conn.execute(select(t.epoch, t.holder, t.until_s).where(
            t.name == self.name))).one()
        if row.epoch == self.epoch:  # ours still: renewed below
            return await self._renew(conn, now)
        if not (row.until_s < now or self._dead(row.holder)):
            return False
        took = await conn.execute(update(self.table).where(
            t.name == self.name, t.epoch == row.epoch, t.until_s == row.until_s)
            .values(epoch=row.epoch + 1, holder=self.holder, until_s=now + self.seconds))
        if took.rowcount != 1:  # renewed or taken meanwhile
            return False
        if row.epoch:
            log.info("%s: lease taken over from %s (epoch %d)", self.name, row.holder,
                     row.epoch + 1)
        return self._taken(row.epoch + 1, now)

    def _taken(self, epoch: int, now: float) -> bool:
        self.epoch, self._renewed = epoch, now
        _held.add(self._key)
        return True

    def _dead(self, holder: str) -> bool:
        """Whether `holder` was a process of this host that is gone (or this very process,
        restarted as pid 1 in a new container, when no runner here holds the lease)."""
        host, _, pid = holder.rpartition(":")
        if host != _HOST or not pid.isdigit():
            return False
        if int(pid) == os.getpid():
            return self._key not in _held
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    async def hold(self, conn: AsyncConnection) -> None:
        """First in a transaction that writes the read model: renew the lease, or raise
        LeaseLost (nothing written)."""
        if not await self._renew(conn, self.clock()):
            raise LeaseLost(self.name)

    async def _renew(self, conn: AsyncConnection, now: float) -> bool:
        t = self.table.c
        renewed = await conn.execute(update(self.table).where(
            t.name == self.name, t.epoch == self.epoch)
            .values(until_s=now + self.seconds))
        if renewed.rowcount != 1:
            self.release_locally()
            return False
        self._renewed = now
        return True

    async def keep(self) -> None:
        """Renew an idle runner's lease once a third of it has passed (LeaseLost if it was
        taken over)."""
        if self.clock() - self._renewed >= self.seconds / 3:
            async with self.engine.begin() as conn:
                await self.hold(conn)

    async def give_up(self) -> None:
        """A stopping runner's lease made free at once, for a follower to take (its writes
        are committed: it stops after a whole batch). It runs out now, not at 0: how long
        ago it was last held tells whether anyone still runs it (hotline/builds.py)."""
        if self.epoch is None:
            return
        t = self.table.c
        with contextlib.suppress(DBAPIError):  # unreachable database: it runs out instead
            async with self.engine.begin() as conn:
                await conn.execute(update(self.table).where(
                    t.name == self.name, t.epoch == self.epoch).values(until_s=self.clock()))
        self.release_locally()

    def release_locally(self) -> None:
        """Forget the lease in this process (lost, or the runner stopped): the row stays
        until it runs out or a successor of this host takes it."""
        self.epoch = None
        _held.discard(self._key)


async def take_turn(lease: Lease, stop: asyncio.Event, *, every: float = FOLLOW_S,
                    meanwhile: Callable[[], Awaitable[bool]] | None = None) -> bool:
    """Try `lease` every `every` seconds until it is held (True) or `stop` is set (False).
    Between tries, `meanwhile` (a follower's look at the holder's progress) may end the
    wait by answering False."""
    while not await lease.acquire():
        if meanwhile is not None and not await meanwhile():
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return False
    return not stop.is_set()
