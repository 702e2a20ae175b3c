"""回访 callback's composition root: what `hotline run` and `hotline serve callback` start.

Registered as the entry point `hotline.services:callback` (pyproject.toml), so the platform core
finds it without importing the services.
"""

from __future__ import annotations

from collections.abc import Sequence

from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec, utc_now
from services.callback.app import callback_policy_of, create_app, survey_links
from services.callback.outbox import FileOutbox
from services.callback.projections import CallbackBoard
from services.callback.sender import SurveySender
from ticketing.client import ticket_claims


def _callback_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS '{base}/v1/callback/tasks?overdue=true' -H 'Authorization: Bearer "
        f"{keys['callback']}'\n"
        f"curl -sS '{base}/v1/callback/satisfaction?by=unit' -H 'Authorization: Bearer "
        f"{keys['supervisor']}'"
    )


def _survey_sender(platform: Platform) -> Sequence[Projection]:
    """Survey messages go to the file outbox under data_dir (a gateway adapter in production)."""
    outbox = FileOutbox(platform.settings.data_dir / "outbox.jsonl")
    return [SurveySender(platform, survey_links(platform), outbox, utc_now)]


def projections(platform: Platform) -> Sequence[Projection]:
    return [CallbackBoard(callback_policy_of(platform))]


SERVICE = ServiceSpec(
    name="callback", title="回访 callback", order=4, port=lambda s: s.callback_port,
    create_app=create_app, projections=projections, writes=ticket_claims,
    example=_callback_example, relays=_survey_sender)
