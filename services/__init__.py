"""The platform's services; `SERVICES` is what `hotline run` starts and `hotline rebuild` knows.

To add a service: create services/<name>/ (domain, service, api, app, projections),
then add its ServiceSpec here.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.topics import CALLS, CONTACTS, TICKETS
from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec, utc_now
from services.callback.app import create_app as create_callback_app
from services.callback.app import survey_links
from services.callback.outbox import FileOutbox
from services.callback.projections import PROJECTIONS as CALLBACK_PROJECTIONS
from services.callback.sender import SurveySender
from services.dispatch.app import create_app as create_dispatch_app
from services.dispatch.projections import PROJECTIONS as DISPATCH_PROJECTIONS
from services.dispatch.relay import DispatchRelay
from services.intake.app import create_app as create_intake_app
from services.intake.projections import PROJECTIONS as INTAKE_PROJECTIONS
from services.supervision.app import create_app as create_supervision_app
from services.supervision.projections import PROJECTIONS as SUPERVISION_PROJECTIONS


def _intake_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS -X POST {base}/v1/contacts -H 'Authorization: Bearer {keys['wechat']}' "
        "-H 'Content-Type: application/json' -d '{\"channel\": \"wechat\", "
        "\"channel_message_id\": \"wx-demo-0001\", \"received_at\": \"2026-11-23T09:15:00+08:00\", "
        "\"caller\": {\"name\": \"张三\"}, "
        "\"content\": \"小区门口的路灯坏了一个多月, 晚上很黑, 请尽快维修。\", "
        "\"location\": {\"address\": \"东湖区幸福路18号\", \"district_code\": \"990101\"}}'"
    )


def _dispatch_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS {base}/v1/tickets?status=dispatched -H 'Authorization: Bearer "
        f"{keys['operator']}'\n"
        f"curl -sS {base}/v1/inbox -H 'Authorization: Bearer {keys['unit:d01-urban-squad']}'"
    )


def _supervision_example(base: str, keys: dict[str, str]) -> str:
    return (
        f"curl -sS '{base}/v1/supervision/summary?by=unit' -H 'Authorization: Bearer "
        f"{keys['supervisor']}'\n"
        f"curl -sS {base}/v1/supervision/first -H 'Authorization: Bearer "
        f"{keys['unit:d01-urban-squad']}'"
    )


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


def _relays(platform: Platform) -> Sequence[Projection]:
    factor = platform.settings.kafka_replication_factor
    return [DispatchRelay(platform.log, replication_factor=factor)]


SERVICES: dict[str, ServiceSpec] = {
    "intake": ServiceSpec(
        name="intake",
        title="诉求受理 intake",
        port=lambda s: s.intake_port,
        create_app=create_intake_app,
        projections=INTAKE_PROJECTIONS,
        writes=(CONTACTS, CALLS),
        example=_intake_example,
    ),
    "dispatch": ServiceSpec(
        name="dispatch",
        title="派单与承办 dispatch",
        port=lambda s: s.dispatch_port,
        create_app=create_dispatch_app,
        projections=DISPATCH_PROJECTIONS,
        writes=(TICKETS,),
        example=_dispatch_example,
        relays=_relays,
    ),
    "supervision": ServiceSpec(
        name="supervision",
        title="督办 supervision",
        port=lambda s: s.supervision_port,
        create_app=create_supervision_app,
        projections=SUPERVISION_PROJECTIONS,
        writes=(TICKETS,),
        example=_supervision_example,
    ),
    "callback": ServiceSpec(
        name="callback",
        title="回访 callback",
        port=lambda s: s.callback_port,
        create_app=create_callback_app,
        projections=CALLBACK_PROJECTIONS,
        writes=(TICKETS,),
        example=_callback_example,
        relays=_survey_sender,
    ),
}
