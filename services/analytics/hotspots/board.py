"""`an_hotspots`: the hotspots and foreseen demands of `hotline.analytics`, for the API.

A plain projection (rebuilt from the log like the fact tables): one row per hotspot or
foresight with its key, window, count, baseline and score, whether it is still active and
when it cleared; `an_hotspot_evidence` holds the ticket numbers and contact ids the event
carried. No text: the events carry none.

The queries are here too (`hotspots`, `hotspot`): a hotspot's linked tickets are its ticket
numbers, plus, for a text cluster, the tickets its contacts became (`an_contact_facts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.analytics_events import HotspotCleared, HotspotDetected, PeriodicDemandForeseen
from contracts.topics import ANALYTICS
from hotline.builds import projection_metadata
from hotline.projection import Applied, aware, utc_column
from services.analytics.contacts import contact_facts
from services.analytics.projections import ticket_facts

VERSION = 1  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
hotspots = Table(
    f"an_hotspots_v{VERSION}", metadata,
    Column("hotspot_id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # hotspot or foresight
    Column("dimension", String(16), nullable=False),
    Column("key", String(300), nullable=False),
    Column("district_code", String(12)),
    Column("category1", String(128)), Column("category2", String(128)),
    Column("window_seconds", Integer, nullable=False),
    utc_column("window_start", nullable=False), utc_column("window_end", nullable=False),
    Column("count", Integer, nullable=False), Column("baseline", Float, nullable=False),
    Column("score", Float, nullable=False), Column("z", Float),
    Column("active", Boolean, nullable=False),
    utc_column("cleared_at"),  # the end of the first window no longer a burst
    Column("cleared_count", Integer),
    utc_column("last_year_from"),  # foresight: where last year's period began
    utc_column("recorded_at", nullable=False),
    Index("ix_an_hotspots_start", "window_start"),
)
evidence = Table(
    f"an_hotspot_evidence_v{VERSION}", metadata,
    Column("hotspot_id", String(128), primary_key=True),
    Column("ref", String(128), primary_key=True),
    Column("ref_kind", String(8), nullable=False),  # ticket or contact
)
TIMES = ("window_start", "window_end", "cleared_at", "last_year_from", "recorded_at")


def _insert(conn: AsyncConnection, table: Table) -> Any:
    """INSERT that leaves an existing row alone (a record delivered twice)."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table).on_conflict_do_nothing()


class HotspotBoard:
    """`an_hotspots` and its evidence, from `hotline.analytics`."""

    name: str = "analytics_hotspots"
    version: int = VERSION
    topics: Sequence[str] = (ANALYTICS,)
    events: frozenset[str] = frozenset({"HotspotDetected", "HotspotCleared",
                                        "PeriodicDemandForeseen"})
    metadata: MetaData = metadata

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        for env, data in batch:
            match data:
                case HotspotDetected():
                    await conn.execute(_insert(conn, hotspots), [{
                        "hotspot_id": data.hotspot_id, "kind": "hotspot",
                        "dimension": data.dimension, "key": data.key,
                        "district_code": data.district_code,
                        "category1": data.category.level1 if data.category else None,
                        "category2": data.category.level2 if data.category else None,
                        "window_seconds": data.window_seconds,
                        "window_start": aware(data.window_start),
                        "window_end": aware(data.window_end), "count": data.count,
                        "baseline": data.baseline, "score": data.score, "z": data.z,
                        "active": True, "cleared_at": None, "cleared_count": None,
                        "last_year_from": None, "recorded_at": aware(env.time)}])
                    refs = [{"hotspot_id": data.hotspot_id, "ref": n, "ref_kind": "ticket"}
                            for n in data.ticket_numbers]
                    refs += [{"hotspot_id": data.hotspot_id, "ref": c, "ref_kind": "contact"}
                             for c in data.contact_ids]
                    if refs:
                        await conn.execute(_insert(conn, evidence), refs)
                case HotspotCleared():
                    await conn.execute(update(hotspots).where(
                        hotspots.c.hotspot_id == data.hotspot_id).values(
                        active=False, cleared_at=aware(data.window_end),
                        cleared_count=data.count))
                case PeriodicDemandForeseen():
                    await conn.execute(_insert(conn, hotspots), [{
                        "hotspot_id": data.signal_id, "kind": "foresight",
                        "dimension": data.dimension, "key": data.key,
                        "district_code": data.district_code,
                        "category1": data.category.level1, "category2": data.category.level2,
                        "window_seconds": int((data.expected_to - data.expected_from)
                                              .total_seconds()),
                        "window_start": aware(data.expected_from),
                        "window_end": aware(data.expected_to),
                        "count": data.last_year_count, "baseline": data.last_year_baseline,
                        "score": data.score, "z": None, "active": True, "cleared_at": None,
                        "cleared_count": None, "last_year_from": aware(data.last_year_from),
                        "recorded_at": aware(env.time)}])


@dataclass(frozen=True, slots=True)
class HotspotFilter:
    """What the list is narrowed to: window start in [since, until), district, a category
    of either level, kind (hotspot or foresight), still active or not."""

    since: datetime | None = None
    until: datetime | None = None
    district: str | None = None
    category: str | None = None
    kind: str | None = None
    active: bool | None = None


def _row(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for name in TIMES:
        out[name] = aware(out[name])
    return out


async def hotspot_list(conn: AsyncConnection, f: HotspotFilter, limit: int,
                       offset: int) -> tuple[list[dict[str, Any]], int]:
    """The hotspots matching the filter, newest window first, and how many match."""
    c = hotspots.c
    where: list[Any] = []
    if f.since is not None:
        where.append(c.window_start >= f.since)
    if f.until is not None:
        where.append(c.window_start < f.until)
    if f.district is not None:
        where.append(c.district_code == f.district)
    if f.category is not None:
        where.append(or_(c.category1 == f.category, c.category2 == f.category))
    if f.kind is not None:
        where.append(c.kind == f.kind)
    if f.active is not None:
        where.append(c.active == f.active)
    rows = await conn.execute(select(hotspots).where(*where).order_by(
        c.window_start.desc(), c.hotspot_id).limit(limit).offset(offset))
    total = (await conn.execute(select(func.count()).select_from(hotspots)
                                .where(*where))).scalar_one()
    return [_row(r) for r in rows], int(total)


async def hotspot_detail(conn: AsyncConnection, hotspot_id: str) -> dict[str, Any] | None:
    """One hotspot, its evidence and the numbers of the tickets linked to it."""
    row = (await conn.execute(select(hotspots).where(
        hotspots.c.hotspot_id == hotspot_id))).first()
    if row is None:
        return None
    refs = list(await conn.execute(select(evidence.c.ref, evidence.c.ref_kind).where(
        evidence.c.hotspot_id == hotspot_id).order_by(evidence.c.ref)))
    tickets = [r.ref for r in refs if r.ref_kind == "ticket"]
    contacts = [r.ref for r in refs if r.ref_kind == "contact"]
    linked = set(tickets)
    if contacts:  # the tickets a cluster's contacts became
        linked |= set((await conn.execute(
            select(ticket_facts.c.ticket_number).join(
                contact_facts, contact_facts.c.ticket_id == ticket_facts.c.ticket_id)
            .where(contact_facts.c.contact_id.in_(contacts)))).scalars())
    return {**_row(row), "evidence": {"ticket_numbers": tickets, "contact_ids": contacts},
            "linked_tickets": sorted(linked)}
