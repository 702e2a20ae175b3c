"""The knowledge app beside intake and dispatch over one real log (embedded or Kafka), its
read model and FTS5 search index running as its composition root makes them, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.apikeys import Principal
from hotline.log.port import EventLog
from services.knowledge.publisher import Publisher
from tests.dispatch.conftest import Hotline, open_hotline

UNIT = "city-hpf"


@dataclass
class Knowledge:
    """The knowledge app's client and the hotline around it (keys by role; `editor-2`, a
    second editor; `unit`, staff of UNIT; `other-unit`, staff of city-water)."""

    h: Hotline
    client: httpx.AsyncClient
    publisher: Publisher

    def auth(self, who: str | None) -> dict[str, str]:
        return self.h.auth(who) if who else {}

    async def post(self, path: str, who: str | None, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body if body is not None else {},
                                      headers=self.auth(who))

    async def put(self, path: str, who: str, body: Any) -> httpx.Response:
        return await self.client.put(path, json=body, headers=self.auth(who))

    async def get(self, path: str, who: str | None = None, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.auth(who))

    async def settle(self) -> None:
        await self.h.settle()


@pytest.fixture
async def knowledge(log: EventLog, tmp_path: Path) -> AsyncIterator[Knowledge]:
    async with open_hotline(log, tmp_path, knowledge=True) as h:
        app = h.apps["knowledge"]
        keys = app.state.api_keys
        h.keys["editor-2"] = await keys.create(Principal("editor-02", "editor"))
        h.keys["unit"] = await keys.create(Principal(f"staff-{UNIT}", "unit", unit=UNIT))
        h.keys["other-unit"] = await keys.create(Principal("staff-w", "unit", unit="city-water"))
        for runner in h.runners:
            await runner.started.wait()
        assert h.knowledge is not None
        yield Knowledge(h, h.knowledge, app.state.publisher)
