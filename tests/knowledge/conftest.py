"""The knowledge app beside intake and dispatch over one real log (embedded or Kafka), its
read model and FTS5 search index running as its composition root makes them, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.apikeys import Principal
from hotline.log.port import EventLog
from hotline.projection import checksum
from hotline.runner import rebuild
from services.knowledge.domain import Import
from services.knowledge.importer import read_rows
from services.knowledge.projections import Articles, metadata
from services.knowledge.publisher import Publisher
from services.knowledge.service import imported_id
from tests.dispatch.conftest import Hotline, open_hotline
from tests.knowledge.corpus import SAMPLE

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

    async def import_sample(self, pattern: str = "*.jsonl") -> None:
        """The sample corpus (260 articles, or the files `pattern` names), imported as
        `hotline knowledge import` does."""
        service = self.client_app.state.service
        now = self.h.clock()
        for path in sorted(SAMPLE.glob(pattern)):
            for row in read_rows(path, self.client_app.state.reference):
                assert row.write is not None and row.write.source_id is not None
                await service.act(imported_id(row.write.source_id), Import(row.write),
                                  "editor:import", now)
        await self.settle()

    @property
    def client_app(self) -> Any:
        return self.h.apps["knowledge"]

    async def assert_rebuilds_the_same(self, where: Path) -> None:
        """The read model rebuilt from the log in large batches equals the one the runner
        kept as events arrived: folding a batch in memory gives what one event at a time
        gave."""
        await self.settle()
        engine = create_async_engine(f"sqlite+aiosqlite:///{where / 'rebuilt.db'}")
        try:
            await rebuild(self.h.platform.log, engine, Articles())
            assert await checksum(engine, metadata) == await checksum(self.h.platform.db,
                                                                      metadata)
        finally:
            await engine.dispose()


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
