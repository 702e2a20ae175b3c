"""The API key store's contract, on SQLite and on PostgreSQL: what one replica creates or
revokes holds on the others; the old JSON key file is imported once; the clear key is never
stored."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.apikeys import ApiKeyStore, Principal, digest, new_key, open_api_keys
from hotline.apikeys_sql import MISS_SECONDS, RECHECK_SECONDS, SqlApiKeyStore, api_keys
from hotline.settings import Settings

WECHAT = Principal("wechat-gateway", "channel", channel="wechat")
SQUAD = Principal("staff-d01-urban-squad", "unit", unit="d01-urban-squad")


@dataclass
class Clock:
    """Monotonic seconds the test moves by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def url(db_url: str, tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'api_keys.db'}" if db_url.startswith("sqlite") \
        else db_url


@pytest.fixture
async def store(url: str) -> AsyncIterator[ApiKeyStore]:
    keys = SqlApiKeyStore(url)
    await keys.start()
    yield keys
    await keys.close()


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The umask of a shell (022), not the 077 `hotline run` sets: the store must not rely
    on it for its file's mode."""
    before = os.umask(0o022)
    yield
    os.umask(before)


async def test_a_key_authenticates_its_holder_until_revoked(store: ApiKeyStore) -> None:
    key = await store.create(WECHAT)
    squad = await store.create(SQUAD)
    assert key.startswith("hk_") and key != squad
    assert await store.authenticate(key) == WECHAT
    assert await store.authenticate(squad) == SQUAD
    assert await store.holders() == [SQUAD, WECHAT]  # by name
    for wrong in (None, "", "Bearer " + key, key[:-1], "hk_" + "x" * 500, new_key()):
        assert await store.authenticate(wrong) is None
    assert await store.revoke(WECHAT.name) == 1
    assert await store.authenticate(key) is None
    assert await store.revoke(WECHAT.name) == 0  # nothing live left to revoke
    assert await store.holders() == [SQUAD]
    again = await store.create(WECHAT)  # a new key for the same holder works; the old does not
    assert await store.authenticate(again) == WECHAT and await store.authenticate(key) is None


async def test_a_revoked_key_keeps_its_row_with_the_time(store: ApiKeyStore, url: str) -> None:
    key = await store.create(WECHAT)
    await store.revoke(WECHAT.name)
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(api_keys))).all()
    await engine.dispose()
    assert len(rows) == 1
    row = rows[0]
    assert row.digest == digest(key) and row.name == WECHAT.name and row.channel == "wechat"
    assert row.created_at is not None and row.revoked_at is not None
    assert row.revoked_at >= row.created_at


async def test_replicas_see_each_others_keys_and_revocations(url: str) -> None:
    clock = Clock()
    first = SqlApiKeyStore(url)
    second = SqlApiKeyStore(url, recheck_seconds=2.0, clock=clock)
    await first.start()
    await second.start()
    key = await first.create(WECHAT)
    assert await second.authenticate(key) == WECHAT  # created elsewhere: works at once
    assert await second.holders() == [WECHAT]
    assert await first.revoke(WECHAT.name) == 1
    assert await first.authenticate(key) is None  # at once where it was revoked
    clock.now += 1.9
    assert await second.authenticate(key) == WECHAT  # believed until it is checked again
    clock.now += 0.2
    assert await second.authenticate(key) is None  # the revocation reached this replica
    await second.revoke("nobody")
    other = await second.create(SQUAD)
    assert await first.authenticate(other) == SQUAD
    await first.close()
    await second.close()


async def test_requests_that_find_a_check_due_share_one_query(url: str) -> None:
    clock = Clock()
    keys = SqlApiKeyStore(url, recheck_seconds=2.0, clock=clock)
    await keys.start()
    key = await keys.create(WECHAT)
    looked: list[str] = []
    event.listen(keys._engine.sync_engine, "before_cursor_execute",  # noqa: SLF001
                 lambda *args: looked.append(args[2]))
    for _ in range(2):  # the first look, then the recheck when it falls due
        clock.now += 2.5
        assert await asyncio.gather(*(keys.authenticate(key) for _ in range(64))) == [WECHAT] * 64
    assert len(looked) == 2, looked
    await keys.close()


def test_the_cache_is_short_lived() -> None:
    assert 1 <= RECHECK_SECONDS <= 10  # a revoked key stops working everywhere within it
    assert MISS_SECONDS <= 2  # a key created on another replica is refused no longer


async def test_the_old_json_key_file_is_imported_once(url: str, tmp_path: Path) -> None:
    legacy = tmp_path / "data" / "api_keys.json"
    legacy.parent.mkdir()
    key, other = new_key(), new_key()
    legacy.write_text(json.dumps({  # as hotline.apikeys.ApiKeys wrote it
        digest(key): {"name": "wechat-gateway", "role": "channel", "channel": "wechat",
                      "unit": None},
        digest(other): {"name": "op-017", "role": "operator", "channel": None, "unit": None}},
        ensure_ascii=False, indent=1))
    store = SqlApiKeyStore(url, legacy=legacy)
    await store.start()
    assert await store.authenticate(key) == WECHAT
    assert await store.authenticate(other) == Principal("op-017", "operator")
    assert not legacy.exists()
    assert (legacy.parent / "api_keys.json.imported").exists()
    await store.close()
    (legacy.parent / "api_keys.json.imported").rename(legacy)  # imported again: no duplicates
    again = SqlApiKeyStore(url, legacy=legacy)
    await again.start()
    assert len(await again.holders()) == 2
    await again.close()


async def test_the_default_store_is_a_private_file_without_clear_keys(
        tmp_path: Path, open_umask: None) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = open_api_keys(settings)
    await store.start()
    keys = [await store.create(WECHAT), await store.create(SQUAD)]
    await store.revoke(SQUAD.name)
    await store.close()
    path = tmp_path / "data" / "api_keys.db"
    assert settings.api_keys_db == f"sqlite+aiosqlite:///{path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    files = [p.read_bytes() for p in path.parent.iterdir() if p.name.startswith("api_keys")]
    assert files and digest(keys[0]).encode() in files[0]  # what is stored: the digest only
    assert not any(k.encode() in data or k[3:].encode() in data for k in keys for data in files)


async def test_a_store_must_be_started(url: str) -> None:
    store = SqlApiKeyStore(url)
    with pytest.raises(RuntimeError, match="not started"):
        await store.create(WECHAT)
    await store.close()
