"""诉求受理 intake's composition root: what `hotline run` and `hotline serve intake` start.

Registered as the entry point `hotline.services:intake` (pyproject.toml), so the platform core
finds it without importing the services.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.topics import CALLS, CONTACTS
from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from services.intake.app import create_app
from services.intake.projections import IntakeRegister
from services.intake.queue_board import ContactQueue


def _intake_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS -X POST {base}/v1/contacts -H 'Authorization: Bearer {keys['wechat']}' "
        "-H 'Content-Type: application/json' -d '{\"channel\": \"wechat\", "
        "\"channel_message_id\": \"wx-demo-0001\", \"received_at\": \"2026-11-23T09:15:00+08:00\", "
        "\"caller\": {\"name\": \"张三\"}, "
        "\"content\": \"小区门口的路灯坏了一个多月, 晚上很黑, 请尽快维修。\", "
        "\"location\": {\"address\": \"东湖区幸福路18号\", \"district_code\": \"990101\"}}'"
    )


def projections(platform: Platform) -> Sequence[Projection]:
    return [IntakeRegister(), ContactQueue()]


SERVICE = ServiceSpec(
    name="intake", title="诉求受理 intake", order=1, port=lambda s: s.intake_port,
    create_app=create_app, projections=projections, writes=lambda platform: (CONTACTS, CALLS),
    example=_intake_example)
