"""人员与权限 people's composition root: what `hotline run` and `hotline serve people` start.

Registered as the entry point `hotline.services:people` (pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.topics import PEOPLE
from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from services.people.app import create_app


def _people_example(base: str, keys: dict[str, str]) -> str:
    return f"curl -sS {base}/v1/accounts -H 'Authorization: Bearer {keys['admin']}'"


def projections(platform: Platform) -> Sequence[Projection]:
    return ()  # accounts live in the shared store; their history is read from the log


def _writes(platform: Platform) -> Sequence[str]:
    return (PEOPLE,)


SERVICE = ServiceSpec(
    name="people", title="人员与权限 people", order=6, port=lambda s: s.people_port,
    create_app=create_app, projections=projections, writes=_writes, example=_people_example)
