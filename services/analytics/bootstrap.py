"""数据分析 analytics' composition root: what `hotline run` and `hotline serve analytics` start.

Registered as the entry point `hotline.services:analytics` (pyproject.toml). Its fact
tables are read models of hotline.tickets, hotline.contacts and hotline.calls in its own
HOTLINE_DB, rebuilt from the log by every replica. It appends only hotspots to
hotline.analytics, each at a derived id and version, so any number of replicas may serve
(each writes the hotspot streams of the partitions it owns).
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.topics import ANALYTICS
from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from reference.bundle import reference_of
from services.analytics.app import create_app
from services.analytics.calls import CallFacts
from services.analytics.contacts import ContactFacts
from services.analytics.hotspots.board import HotspotBoard
from services.analytics.projections import TicketFacts


def _analytics_example(base: str, keys: dict[str, str]) -> str:
    return (f"curl -sS '{base}/v1/analytics/kpis?period=month&by=district' -H "
            f"'Authorization: Bearer {keys['analyst']}'")


def projections(platform: Platform) -> Sequence[Projection]:
    calendar = reference_of(platform).calendar
    return [TicketFacts(calendar), ContactFacts(calendar), CallFacts(calendar), HotspotBoard()]


def _writes(platform: Platform) -> Sequence[str]:
    return (ANALYTICS,)  # the hotspot runner's streams (services/analytics/hotspots/runner.py)


SERVICE = ServiceSpec(
    name="analytics", title="数据分析 analytics", order=7, port=lambda s: s.analytics_port,
    create_app=create_app, projections=projections, writes=_writes,
    example=_analytics_example)
