"""An intake app over a real log engine (embedded or Kafka), driven over HTTP with httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contracts.topics import core_specs
from hotline.apikeys import ApiKeyStore, Principal
from hotline.apikeys_sql import SqlApiKeyStore
from hotline.database import open_database
from hotline.keystore import SqliteKeyStore
from hotline.kms import LocalKms, load_master_key
from hotline.log.port import EventLog
from hotline.runtime import Platform
from hotline.settings import Settings
from services.intake.app import create_app

CALLER = {"name": "王小明", "phone": "13812345678", "id_number": "11010519491231002X"}
ADDRESS = "东城区幸福路18号3栋502室"


def contact(message_id: str = "wx-0001", **overrides: object) -> dict[str, object]:
    """A realistic WeChat contact with every personal field filled in."""
    body: dict[str, object] = {
        "channel": "wechat",
        "channel_message_id": message_id,
        "received_at": "2026-11-23T09:15:00+08:00",
        "caller": dict(CALLER),
        "content": "小区门口的路灯坏了一个多月, 晚上很黑, 老人出行不便, 请尽快维修。",
        "location": {"address": ADDRESS, "district_code": "110101",
                     "coordinates": {"lat": 39.93, "lon": 116.41}},
        "attachments": [{"uri": "s3://attachments/2026/11/lamp.jpg",
                         "media_type": "image/jpeg", "filename": "路灯.jpg"}],
    }
    body.update(overrides)
    return body


@dataclass
class Intake:
    client: httpx.AsyncClient
    platform: Platform
    keys: dict[str, str]  # channel -> clear API key

    def auth(self, channel: str = "wechat") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[channel]}"}


async def open_test_api_keys(data_dir: Path) -> ApiKeyStore:
    """A started API key store in a SQLite file of the test's own (closed by the test)."""
    api_keys = SqlApiKeyStore(str(data_dir / "api_keys.db"))
    await api_keys.start()
    return api_keys


async def make_platform(log: EventLog, data_dir: Path, *, routed: bool = False) -> Platform:
    """A platform on `log`; ticket commands decided in this process unless `routed` (then a
    decider must answer them: `services.tickets.app.start_decider`)."""
    settings = Settings(data_dir=data_dir, environment="test",
                        ticket_commands="routed" if routed else "local")
    keys = SqliteKeyStore(str(data_dir / "keys.db"), LocalKms(load_master_key("", data_dir)))
    platform = Platform(settings, log, keys,
                        open_database(f"sqlite+aiosqlite:///{data_dir / 'p.db'}"))
    await keys.start()
    await platform.log.create_topics(core_specs())
    return platform


@pytest.fixture
async def intake(log: EventLog, tmp_path: Path) -> AsyncIterator[Intake]:
    platform = await make_platform(log, tmp_path)
    api_keys = await open_test_api_keys(tmp_path)
    keys = {ch: await api_keys.create(Principal(f"{ch}-adapter", "channel", channel=ch))
            for ch in ("wechat", "phone", "web")}
    app = create_app(platform, api_keys, manage_platform=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield Intake(client, platform, keys)
    await api_keys.close()
    await platform.keys.close()
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
