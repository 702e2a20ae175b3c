"""Scheduled publication: approved versions whose `publish_at` has come are published.

Runs in the knowledge app every `interval_s`; each publication is the domain's
`PublishDue` on the article's stream, so two replicas ticking at once publish it
once (the loser's command finds nothing approved any more and is refused quietly).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from hotline.readiness import Readiness
from hotline.ticking import every
from services.knowledge import queries
from services.knowledge.domain import PublishDue, Refused
from services.knowledge.service import KnowledgeService

log = logging.getLogger(__name__)
ACTOR = "system:knowledge"


class Publisher:
    """Publishes what is due, now and every `interval_s`."""

    def __init__(self, service: KnowledgeService, clock: Callable[[], datetime],
                 interval_s: float = 30.0) -> None:
        self.service, self.clock, self.interval_s = service, clock, interval_s
        self._stop = asyncio.Event()

    async def tick(self) -> int:
        """Publish every approved version due by now; how many were published."""
        now = self.clock()
        done = 0
        for article_id, version in await self.service.read(queries.due_for_publication, now):
            try:
                await self.service.act(article_id, PublishDue(version), ACTOR, now)
                done += 1
            except Refused as exc:  # published meanwhile by another replica, or edited
                log.info("article %s v%s not published: %s", article_id, version, exc.rule)
        return done

    async def run(self, readiness: Readiness) -> None:
        """Tick until `stop()`, the first once the service is ready (its read model made
        and caught up); a failed tick is logged and tried again next time."""
        await readiness.wait()
        await every(self.interval_s, self._stop, self.tick, "scheduled publication",
                    at_once=True)

    def stop(self) -> None:
        self._stop.set()
