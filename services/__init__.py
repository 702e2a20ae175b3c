"""The platform's services; `SERVICES` is what `hotline run` starts and `hotline rebuild` knows.

To add a service: create services/<name>/ (domain, service, api, app, projections),
then add its ServiceSpec here.
"""

from __future__ import annotations

from contracts.topics import CALLS, CONTACTS
from hotline.runtime import ServiceSpec
from services.intake.app import create_app as create_intake_app
from services.intake.projections import PROJECTIONS as INTAKE_PROJECTIONS


def _intake_example(base: str, key: str) -> str:
    return (
        f"curl -sS -X POST {base}/v1/contacts -H 'Authorization: Bearer {key}' "
        "-H 'Content-Type: application/json' -d '{\"channel\": \"wechat\", "
        "\"channel_message_id\": \"wx-demo-0001\", \"received_at\": \"2026-11-23T09:15:00+08:00\", "
        "\"caller\": {\"name\": \"张三\", \"phone\": \"13900000000\"}, "
        "\"content\": \"小区门口的路灯坏了一个多月, 晚上很黑, 请尽快维修。\", "
        "\"location\": {\"address\": \"示例区示例路1号\", \"district_code\": \"110101\"}}'"
    )


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
}
