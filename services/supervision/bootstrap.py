"""督办 supervision's composition root: what `hotline run` and `hotline serve supervision` start.

Registered as the entry point `hotline.services:supervision` (pyproject.toml), so the platform core
finds it without importing the services.
"""

from __future__ import annotations

from collections.abc import Sequence

from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from reference.bundle import reference_of
from services.supervision.app import create_app
from services.supervision.projections import SupervisionBoard
from ticketing.client import ticket_claims


def _supervision_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS '{base}/v1/supervision/summary?by=unit' -H 'Authorization: Bearer "
        f"{keys['supervisor']}'\n"
        f"curl -sS {base}/v1/supervision/first -H 'Authorization: Bearer "
        f"{keys['unit:d01-urban-squad']}'"
    )


def projections(platform: Platform) -> Sequence[Projection]:
    ref = reference_of(platform)
    return [SupervisionBoard(ref.policy, ref.calendar)]


SERVICE = ServiceSpec(
    name="supervision", title="督办 supervision", order=3, port=lambda s: s.supervision_port,
    create_app=create_app, projections=projections, writes=ticket_claims,
    example=_supervision_example)
