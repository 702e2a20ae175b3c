"""A read model's builds: each version of a projection in tables of its own, side by side.

A projection migrates by replay, not by ALTER: a new `version` starts empty at offset zero.
It used to do so in place, dropping the old version's tables. On Kubernetes the replicas of
a service share one database and a rollout replaces them one by one, so the new version's
first replica dropped the tables the old replicas were still serving (their queries failed
where a column changed, and showed partial figures until the rebuild caught up); and a new
replica became ready as soon as it followed the old writer, serving the old tables with the
new code.

Now every version is a build: its tables carry the version in their names (`wo_tickets_v2`,
its indexes too: `projection_metadata`), and its offsets, stream heads and lease are kept
under its own key (`build_key`: `dispatch_tickets@v2`). The old replicas go on writing and
serving their build while the new version's first replica rebuilds its own; the new
replicas are ready (hotline/readiness.py) only once their build has caught up, so the
rollout waits for it. A build no replica runs any more (its lease free for `GRACE_S`) is
retired by the writer of a newer one: its tables dropped, its offsets and heads deleted.
An older version coming back (a rollback) finds its build where it left it, or rebuilds.

The tables a build made are registered with it (`projection_builds`), so a newer version
can drop them without knowing their definitions. A database from before builds (tables
without a version, `projection_versions`) is retired the same way, its tables named by the
current ones without their suffix.

A relay (a runner with effects outside, whose replicas split the partitions) is not a read
model: its rows are the memory of what it did (sent), which a rebuild beside it would not
have, so it keeps one set of tables under its plain name, changed in place (its class says
`in_place = True`): a new version empties them, as before builds, and the version it has is
registered all the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from typing import TYPE_CHECKING

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.database import schema_turn
from hotline.heads import heads_in
from hotline.leases import LEASE_S, leases_in

if TYPE_CHECKING:
    from hotline.projection import Projection

log = logging.getLogger(__name__)

GRACE_S = 2 * LEASE_S  # a build's lease free this long: none of its replicas is left
LEGACY = "projection_versions"  # the one version of each projection, before builds

runtime_metadata = MetaData()
offsets_table = Table(
    "projection_offsets", runtime_metadata,
    Column("projection", String(100), primary_key=True),  # a build's key
    Column("topic", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", Integer, nullable=False),
)
builds_table = Table(
    "projection_builds", runtime_metadata,
    Column("projection", String(100), primary_key=True),  # the projection's name
    Column("version", Integer, primary_key=True),
    Column("tables", Text, nullable=False),  # JSON: what to drop when it retires, in order
)
heads_table = heads_in(runtime_metadata)  # per build and stream, the last version applied
leases_table = leases_in(runtime_metadata)  # per build, which runner may write it


def in_place(projection: Projection) -> bool:
    """Whether a projection keeps one set of tables, changed in place (a relay's)."""
    return bool(getattr(projection, "in_place", False))


def build_key(projection: Projection) -> str:
    """Where a projection's version keeps its offsets, heads and lease (a relay under its
    name whatever its version)."""
    if in_place(projection):
        return projection.name
    return f"{projection.name}@v{projection.version}"


def projection_metadata(version: int) -> MetaData:
    """A projection's MetaData: every index's name gets the version's suffix, as its tables'
    names carry it, so two builds' indexes never share a name (one namespace per database
    on SQLite and per schema on PostgreSQL)."""
    return MetaData(naming_convention={"ix": f"%(constraint_name)s_v{version}"})


def _built_tables(projection: Projection) -> list[str]:
    """The build's tables in the order they may be dropped (its own virtual tables first)."""
    suffix = f"_v{projection.version}"
    names = [t.name for t in reversed(projection.metadata.sorted_tables)]
    names = [*getattr(projection, "virtual_tables", ()), *names]
    if in_place(projection):
        return names
    if wrong := [n for n in names if not n.endswith(suffix)]:
        raise ValueError(f"{projection.name} v{projection.version}: tables {wrong} do not "
                         f"end with {suffix!r} (two builds would share them)")
    return names


_schema_locks: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = (
    weakref.WeakKeyDictionary())


async def ensure_schema(engine: AsyncEngine, projection: Projection) -> None:
    """The runtime's tables and the build's, made when missing, and the build registered
    (a relay's emptied first when another version of it is registered).
    Runners of one process starting together take turns, as processes do (schema_turn):
    two CREATE TABLEs of the shared runtime tables would otherwise race."""
    tables = _built_tables(projection)
    lock = _schema_locks.setdefault(engine, asyncio.Lock())
    async with lock, engine.begin() as conn:
        await schema_turn(conn)
        await conn.run_sync(runtime_metadata.create_all)
        b = builds_table.c
        if in_place(projection):
            await _empty_if_changed(conn, projection)
        await conn.run_sync(projection.metadata.create_all)
        known = (await conn.execute(select(b.version).where(
            b.projection == projection.name, b.version == projection.version))).first()
        if known is None:
            log.info("projection %s: build v%d made", projection.name, projection.version)
            await conn.execute(builds_table.insert().values(
                projection=projection.name, version=projection.version,
                tables=json.dumps(tables)))


async def _empty_if_changed(conn: AsyncConnection, projection: Projection) -> None:
    """A relay's tables emptied when the version registered for it (or, before builds, in
    `projection_versions`) is another; that registration replaced by none."""
    b = builds_table.c
    versions = [v for (v,) in await conn.execute(select(b.version).where(
        b.projection == projection.name))]
    legacy = await _legacy_version(conn, projection.name)
    if legacy is not None:
        versions.append(legacy)
        await conn.execute(text(f"DELETE FROM {LEGACY} WHERE projection = :p"),
                           {"p": projection.name})
    if any(v != projection.version for v in versions):
        log.warning("relay %s: version %s -> %s, its tables emptied", projection.name,
                    versions, projection.version)
        await conn.run_sync(projection.metadata.drop_all)
        await _forget(conn, build_key(projection))
        await conn.execute(delete(builds_table).where(b.projection == projection.name))


async def reset(conn: AsyncConnection, projection: Projection) -> None:
    """Empty a build (a rebuild): its tables, offsets and stream heads, and what it keeps
    outside SQL (a search engine's index) through its own `reset()`, if it has one."""
    outside = getattr(projection, "reset", None)
    if outside is not None:
        await outside()
    await conn.run_sync(projection.metadata.drop_all)
    await _forget(conn, build_key(projection))


async def _forget(conn: AsyncConnection, key: str) -> None:
    for table in (offsets_table, heads_table):
        await conn.execute(delete(table).where(table.c.projection == key))


async def stored_offsets(engine: AsyncEngine, key: str) -> dict[tuple[str, int], int]:
    """The next offsets a build has committed with its rows."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(offsets_table.c.topic, offsets_table.c.partition, offsets_table.c.next_offset)
            .where(offsets_table.c.projection == key)
        )
        return {(t, p): o for t, p, o in rows}


async def retire(conn: AsyncConnection, projection: Projection) -> list[str]:
    """Drop the builds of older versions of `projection` that no replica has run for
    `GRACE_S` (their leases); returns the keys retired. Called by the writer of the current
    build, under its lease, in a transaction of its own (a relay has only the one build)."""
    if in_place(projection):
        return []
    older = [(f"{projection.name}@v{v}", v, json.loads(tables)) for v, tables in
             await conn.execute(select(builds_table.c.version, builds_table.c.tables).where(
                 builds_table.c.projection == projection.name,
                 builds_table.c.version < projection.version))]
    legacy = await _legacy(conn, projection)
    gone = [b for b in [*older, *legacy] if await _abandoned(conn, b[0])]
    if gone:
        await schema_turn(conn)
    quote = conn.dialect.identifier_preparer.quote
    for key, version, tables in gone:
        for name in tables:
            await conn.execute(text(f"DROP TABLE IF EXISTS {quote(name)}"))
        await _forget(conn, key)
        if key == projection.name:  # before builds
            await conn.execute(text(f"DELETE FROM {LEGACY} WHERE projection = :p"),
                               {"p": projection.name})
        else:
            await conn.execute(delete(builds_table).where(
                builds_table.c.projection == projection.name,
                builds_table.c.version == version))
        log.info("projection %s: build %s retired (%d tables dropped)", projection.name,
                 key, len(tables))
    return [key for key, _, _ in gone]


async def _legacy(conn: AsyncConnection, projection: Projection
                  ) -> list[tuple[str, int, list[str]]]:
    """The projection's build from before builds, if its database has one: its key was the
    projection's name, its tables the current ones' names without the version."""
    version = await _legacy_version(conn, projection.name)
    if version is None:
        return []
    tables = [re.sub(r"_v\d+$", "", name) for name in _built_tables(projection)]
    return [(projection.name, version, tables)]


async def _legacy_version(conn: AsyncConnection, name: str) -> int | None:
    """The version `projection_versions` holds for a projection (a database from before
    builds), if any."""
    if not await conn.run_sync(lambda sync: inspect(sync).has_table(LEGACY)):
        return None
    found = (await conn.execute(text(f"SELECT version FROM {LEGACY} WHERE projection = :p"),
                                {"p": name})).first()
    return None if found is None else int(found[0])


async def _abandoned(conn: AsyncConnection, key: str) -> bool:
    """Whether no replica has held the build's lease for `GRACE_S` (or ever): a live one
    would have renewed it, or taken it over, long before."""
    until = (await conn.execute(select(leases_table.c.until_s).where(
        leases_table.c.name == key))).scalar()
    return until is None or until < time.time() - GRACE_S
