"""Analytics' read side: the fact tables are its only state (no commands, no writes to the
log), so the service is the routes' way to read them (`service.read(queries.f, ...)`)."""

from __future__ import annotations

from hotline.projection import ReadSide
from hotline.runtime import Platform
from reference.bundle import reference_of


class AnalyticsService(ReadSide):
    """Reads of the analytics facts, on the platform's projection database."""

    def __init__(self, platform: Platform) -> None:
        self.db = platform.db
        self.zone = reference_of(platform).calendar.zone  # whole local days: from the cube
