"""工单决策 tickets' composition root: what `hotline run` and `hotline serve tickets` start.

Registered as the entry point `hotline.services:tickets` (pyproject.toml). On Kafka its
replicas are the only writers of hotline.tickets; the services that change tickets send
their commands to it (ticketing/client.py). On the embedded log every process appends
itself and this service only reports its health.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.topics import TICKETS
from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from services.tickets.app import create_app
from ticketing.client import routed


def _example(base: str, keys: dict[str, str]) -> str:
    return (f"curl -sS {base}/v1/decider/partitions -H 'Authorization: Bearer "
            f"{keys['supervisor']}'")


def _writes(platform: Platform) -> Sequence[str]:
    settings = platform.settings
    return (TICKETS,) if routed(settings.ticket_commands, platform.log.engine) else ()


def projections(platform: Platform) -> Sequence[Projection]:
    return ()


SERVICE = ServiceSpec(
    name="tickets", title="工单决策 tickets", order=0, port=lambda s: s.tickets_port,
    create_app=create_app, projections=projections, writes=_writes, example=_example)
