"""派单与承办 dispatch's composition root: what `hotline run` and `hotline serve dispatch` start.

Registered as the entry point `hotline.services:dispatch` (pyproject.toml), so the platform core
finds it without importing the services.
"""

from __future__ import annotations

from collections.abc import Sequence

from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from services.dispatch.app import create_app
from services.dispatch.projections import WorkOrders
from services.dispatch.relay import DispatchRelay
from ticketing.client import ticket_claims


def _dispatch_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS {base}/v1/tickets?status=dispatched -H 'Authorization: Bearer "
        f"{keys['operator']}'\n"
        f"curl -sS {base}/v1/inbox -H 'Authorization: Bearer {keys['unit:d01-urban-squad']}'"
    )


def _relays(platform: Platform) -> Sequence[Projection]:
    factor = platform.settings.kafka_replication_factor
    return [DispatchRelay(platform.log, replication_factor=factor)]


def projections(platform: Platform) -> Sequence[Projection]:
    return [WorkOrders()]


SERVICE = ServiceSpec(
    name="dispatch", title="派单与承办 dispatch", order=2, port=lambda s: s.dispatch_port,
    create_app=create_app, projections=projections, writes=ticket_claims,
    example=_dispatch_example, relays=_relays)
