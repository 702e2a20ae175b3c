"""The hotspot runner's checkpoint: the detector's windows with the log positions they
cover, so a start reads what came after them instead of both topics from offset zero.

The runner writes one every `EVERY` records it reads and, following the log, when it has
caught up (at most once every `QUIET_S`: a checkpoint is the whole detector), always after
the batch's findings are in the log: a crash between two checkpoints costs a
re-read of what came after the older one, and what that finds again is already in the log
(derived ids: a `VersionConflict`, skipped). The windows then evolve exactly as they would
have in one uninterrupted run: the same detector, fed the same records from the same point.

The state is pickled: the detector is plain Python (counts per window, the smallest refs,
datasketch MinHash signatures), written and read by this service only, in its own
database. A JSON form was considered; it would be a second schema of the detector's
internals (and of datasketch's) to keep in step. A checkpoint is ignored, and the runner
reads from zero as before, when it was taken under another state format (`FORMAT`) or
another burst policy (`fingerprint`), when it covers more of a partition than the log
holds (a log rebuilt under an old database), or when it does not load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from datetime import datetime

from sqlalchemy import Column, LargeBinary, MetaData, String, Table, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.database import schema_turn
from hotline.leases import Lease, LeaseLost
from hotline.projection import utc_column
from services.analytics.hotspots.burst import BurstPolicy
from services.analytics.hotspots.detector import Detector

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the detector's state changes shape (2: the days seen)
EVERY = 50_000  # records read between two checkpoints
QUIET_S = 60.0  # caught up with records unsaved: at most one checkpoint a minute
Positions = dict[tuple[str, int], int]  # (topic, partition) -> next offset

metadata = MetaData()
checkpoints = Table(
    "an_hotspot_checkpoint", metadata,
    Column("name", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("positions", Text, nullable=False),  # JSON [[topic, partition, next offset], …]
    Column("state", LargeBinary, nullable=False),
    utc_column("taken_at", nullable=False),
)


def fingerprint(policy: BurstPolicy) -> str:
    """What a checkpoint's windows were counted under: the state format and the policy."""
    return hashlib.sha256(f"{FORMAT}:{policy!r}".encode()).hexdigest()


class Checkpoints:
    """The runner's checkpoint in the platform's database (one row per runner name)."""

    def __init__(self, engine: AsyncEngine, name: str = "hotspots") -> None:
        self.engine, self.name = engine, name
        self._table_made = False

    async def load(self, policy: BurstPolicy, ends: Positions) -> tuple[Detector, Positions] | None:
        """The detector and positions of the last checkpoint, if it may be used."""
        async with self.engine.begin() as conn:
            await self._made(conn)
            row = (await conn.execute(select(checkpoints).where(
                checkpoints.c.name == self.name))).first()
        self._table_made = True
        if row is None or row.fingerprint != fingerprint(policy):
            return None
        positions = {(t, p): o for t, p, o in json.loads(row.positions)}
        if any(o > ends.get(tp, 0) for tp, o in positions.items()):
            log.warning("hotspot checkpoint ahead of the log (rebuilt?): reading from zero")
            return None
        try:
            detector = pickle.loads(row.state)  # noqa: S301 (our own bytes, see module doc)
        except Exception:  # any failure to load only costs a read from zero
            log.warning("hotspot checkpoint does not load: reading from zero", exc_info=True)
            return None
        return (detector, positions) if isinstance(detector, Detector) else None

    async def save(self, detector: Detector, positions: Positions, now: datetime,
                   lease: Lease | None = None) -> None:
        """Replace the checkpoint with the detector as it is after `positions` (only while
        holding `lease`: LeaseLost, nothing written, when another reader has it)."""
        state = pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL)
        covered = json.dumps(sorted([t, p, o] for (t, p), o in positions.items()))
        async with self.engine.begin() as conn:
            if lease is not None:
                await lease.hold(conn)
            await self._made(conn)
            await conn.execute(delete(checkpoints).where(checkpoints.c.name == self.name))
            await conn.execute(checkpoints.insert().values(
                name=self.name, fingerprint=fingerprint(detector.policy), positions=covered,
                state=state, taken_at=now))
        self._table_made = True

    async def try_save(self, detector: Detector, positions: Positions, now: datetime,
                       reader: str, lease: Lease | None = None) -> bool:
        """`save`, saying whether it did: a failure (the database) is logged, and only means
        a longer read at the next start, so the reader goes on regardless (a lost lease
        stops it: LeaseLost)."""
        try:
            await self.save(detector, positions, now, lease)
            return True
        except LeaseLost:
            raise
        except Exception:  # noqa: BLE001
            log.warning("%s: checkpoint not written", reader, exc_info=True)
            return False

    async def _made(self, conn: AsyncConnection) -> None:
        """The table, until a transaction that made sure of it has committed (not at every
        checkpoint)."""
        if not self._table_made:
            await schema_turn(conn)
            await conn.run_sync(metadata.create_all)


async def resume(checkpoints: Checkpoints | None, detector: Detector, ends: Positions,
                 reader: str) -> tuple[Detector, Positions]:
    """Where a reader of the sources starts: the checkpoint's detector and positions (zero
    for a partition it had not read), else `detector` from zero; either way every source
    expected, and those already read to the end they had at start rested."""
    starts = dict.fromkeys(ends, 0)
    restored = await checkpoints.load(detector.policy, ends) if checkpoints else None
    if restored is not None:
        detector, saved = restored
        starts |= {tp: o for tp, o in saved.items() if tp in starts}
        log.info("%s: from its checkpoint (%d records read before)", reader,
                 sum(starts.values()))
    for source, end in ends.items():
        detector.expect(source)
        if starts[source] >= end:
            detector.rest(source)
    return detector, starts
