"""The citizen key store's contract, on SQLite and on PostgreSQL, and the master key's checks
(from HOTLINE_MASTER_KEY, from HOTLINE_MASTER_KEY_FILE, never both)."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.keystore import KeyStore, MasterKeyError, SqliteKeyStore
from hotline.kms import LocalKms, UnwrapError, load_master_key, open_kms
from hotline.runtime import Platform, open_keystore
from hotline.settings import Settings
from tests.fixtures.databases import sqlite_busy

MASTER = os.urandom(32)
KMS = LocalKms(MASTER)


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[KeyStore]:
    url = str(tmp_path / "keys.db") if db_url.startswith("sqlite") else db_url
    keys = open_keystore(url, KMS)
    await keys.start()
    yield keys
    await keys.close()


async def test_one_identity_one_citizen_with_a_random_id(store: KeyStore) -> None:
    kid, key = await store.citizen("phone:13812345678")
    assert kid.startswith("cit-") and "13812345678" not in kid
    assert await store.citizen("phone:13812345678") == (kid, key)
    assert await store.find("phone:13812345678") == kid
    other, _ = await store.citizen("phone:13912345678")
    anonymous, anon_key = await store.citizen(None)
    assert len({kid, other, anonymous}) == 3 and anonymous.startswith("anon-")
    assert await store.key(anonymous) == anon_key
    assert await store.find("phone:13700000000") is None


async def test_erasing_cuts_the_key_and_the_link(store: KeyStore) -> None:
    kid, _ = await store.citizen("id:11010519491231002X")
    assert await store.erase(kid)
    assert await store.key(kid) is None
    assert await store.find("id:11010519491231002X") is None
    again, _ = await store.citizen("id:11010519491231002X")
    assert again != kid  # the same person calling again is a new citizen
    assert not await store.erase(kid)


@pytest.mark.parametrize("busy_while_cached", [False, True])
async def test_an_erasure_by_another_process_is_seen_through_the_cache(
        tmp_path: Path, busy_while_cached: bool) -> None:
    """The keys another process erased are not served from this one's cache, whether the key
    was cached by a read on the event loop or, SQLite answering busy there, by the reader
    thread."""
    path = str(tmp_path / "keys.db")
    here, there = SqliteKeyStore(path, KMS), SqliteKeyStore(path, KMS)
    await here.start()
    await there.start()
    kid, key = await there.citizen("phone:13812345678")
    with sqlite_busy(here._loop_reads) if busy_while_cached else contextlib.nullcontext():  # noqa: SLF001
        assert await here.key(kid) == key  # cached here
    assert await there.erase(kid)
    assert await here.key(kid) is None
    await here.close()
    await there.close()


async def test_the_pepper_is_wrapped_and_opens_only_with_its_master_key(
        db_url: str, tmp_path: Path) -> None:
    url = str(tmp_path / "keys.db") if db_url.startswith("sqlite") else db_url
    first = open_keystore(url, KMS)
    await first.start()
    pepper = await first.pepper()
    await first.close()
    if db_url.startswith("sqlite"):  # stored wrapped, never as its 32 bytes
        assert pepper not in (tmp_path / "keys.db").read_bytes()
    again = open_keystore(url, LocalKms(MASTER))
    await again.start()
    assert await again.pepper() == pepper
    await again.close()
    stranger = open_keystore(url, LocalKms(os.urandom(32)))
    with pytest.raises(MasterKeyError, match="does not open"):
        await stranger.start()
    await stranger.close()


@pytest.mark.parametrize("configured", [
    "not base64!", base64.b64encode(b"short").decode(), base64.b64encode(bytes(32)).decode(),
    base64.b64encode(b"\x01" * 32).decode()])
def test_a_bad_master_key_is_refused_with_a_clear_message(configured: str,
                                                          tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="HOTLINE_MASTER_KEY"):
        load_master_key(configured, tmp_path)


@pytest.mark.parametrize("content", [
    "not base64!", base64.b64encode(b"short").decode(), base64.b64encode(bytes(32)).decode()])
def test_a_bad_master_key_file_is_refused_naming_the_file(content: str, tmp_path: Path) -> None:
    secret = tmp_path / "master-key"
    secret.write_text(content)
    with pytest.raises(MasterKeyError, match=re.escape(f"HOTLINE_MASTER_KEY_FILE ({secret})")):
        load_master_key("", tmp_path, file=str(secret))
    with pytest.raises(MasterKeyError, match="cannot read"):
        load_master_key("", tmp_path, file=str(tmp_path / "absent"))


def test_the_master_key_comes_from_the_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret" / "master-key"
    secret.parent.mkdir()
    secret.write_text(base64.b64encode(MASTER).decode() + "\n")  # as `kubectl create secret`
    settings = Settings(data_dir=tmp_path / "data", environment="production",
                        master_key_file=str(secret))
    assert load_master_key("", settings.data_dir, file=str(secret)) == MASTER
    kms = open_kms(settings)
    assert KMS.unwrap("pepper", kms.wrap("pepper", b"v")) == b"v"  # the same key
    with pytest.raises(UnwrapError):
        kms.unwrap("another label", kms.wrap("pepper", b"v"))  # bound to what it wraps
    assert not (settings.data_dir / "master.key").exists()  # nothing generated


def test_both_master_key_sources_at_once_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "master-key"
    secret.write_text(base64.b64encode(MASTER).decode())
    both = Settings(data_dir=tmp_path, master_key=base64.b64encode(MASTER).decode(),
                    master_key_file=str(secret))
    with pytest.raises(MasterKeyError, match="both set"):
        open_kms(both)
    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path),
           "HOTLINE_MASTER_KEY": base64.b64encode(MASTER).decode(),
           "HOTLINE_MASTER_KEY_FILE": str(secret)}
    done = subprocess.run([sys.executable, "-m", "hotline", "topics"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "both set" in done.stderr and "Traceback" not in done.stderr


async def test_data_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    platform = Platform.from_settings(Settings(data_dir=data_dir, environment="test"))
    await platform.start()
    await platform.keys.citizen("phone:13812345678")
    await platform.close()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    files = [p for p in data_dir.iterdir() if p.is_file()]
    assert {"keys.db", "log.db", "master.key"} <= {p.name for p in files}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_the_command_refuses_a_bad_master_key_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path),
           "HOTLINE_MASTER_KEY": base64.b64encode(bytes(32)).decode()}
    done = subprocess.run([sys.executable, "-m", "hotline", "topics"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "placeholder" in done.stderr and "Traceback" not in done.stderr
