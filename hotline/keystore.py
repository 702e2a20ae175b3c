"""Citizen keys, kept outside the log: erase one and that citizen's sealed data is gone.

`KeyStore` is the port; `SqliteKeyStore` is the embedded default (one SQLite
file, keys wrapped under a master key). A production deployment plugs in a
KMS or Vault adapter with the same four methods.

Keys are created durably (group commit) before the event that uses them is
appended, so no event can ever reference a key that was not stored. Erasure
deletes the wrapped key and leaves a tombstone row: who was erased, and when.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.personal import new_key
from hotline.sqlite_writer import GroupCommitWriter, connect

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS citizen_keys (
    kid TEXT PRIMARY KEY, wrapped BLOB, created_at INTEGER NOT NULL, erased_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
"""


class KeyStore(Protocol):
    """Per-citizen data keys and the pepper that turns phones into citizen refs."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def key(self, kid: str) -> bytes | None:
        """The citizen's key, or None when it never existed or was erased."""
        ...

    async def key_or_create(self, kid: str) -> bytes:
        """The citizen's key, created and stored durably when missing (or erased before)."""
        ...

    async def erase(self, kid: str) -> bool:
        """Delete the key for good; True if there was one."""
        ...

    async def pepper(self) -> bytes:
        """Secret used to derive citizen refs from phone numbers."""
        ...


def load_master_key(configured: str, data_dir: Path) -> bytes:
    """The key that wraps citizen keys: configured, or generated once under data_dir (dev)."""
    if configured:
        key = base64.b64decode(configured)
    else:
        path = data_dir / "master.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        key = base64.b64decode(path.read_bytes())
    if len(key) != 32:
        raise ValueError("the master key must be 32 bytes, base64-encoded")
    return key


class SqliteKeyStore:
    """KeyStore on a SQLite file; caches keys in memory and notices erasures by other processes."""

    def __init__(self, path: str, master_key: bytes) -> None:
        self.path = path
        self._aead = AESGCM(master_key)
        self._writer = GroupCommitWriter(path, "FULL", "hotline-keys")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="hotline-keys-reader")
        self._rconn: sqlite3.Connection | None = None
        self._cache: dict[str, bytes] = {}
        self._data_version = -1
        self._pepper: bytes | None = None

    async def start(self) -> None:
        await self._writer.start(SCHEMA)
        self._rconn = await self._read(connect, self.path)

    async def close(self) -> None:
        await self._writer.close()
        if self._rconn is not None:
            await self._read(self._rconn.close)
        self._reader.shutdown(wait=True)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    def _wrap(self, kid: str, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, key, kid.encode())

    def _unwrap(self, kid: str, wrapped: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:12], wrapped[12:], kid.encode())

    def _lookup(self, kid: str) -> bytes | None:
        """Reader thread: drop the cache if another connection committed, then read the key."""
        assert self._rconn is not None
        version = self._rconn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._cache.clear()
            self._data_version = version
        if kid in self._cache:
            return self._cache[kid]
        row = self._rconn.execute(
            "SELECT wrapped FROM citizen_keys WHERE kid=?", (kid,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        key = self._unwrap(kid, row[0])
        self._cache[kid] = key
        return key

    async def key(self, kid: str) -> bytes | None:
        return await self._read(self._lookup, kid)

    async def key_or_create(self, kid: str) -> bytes:
        # Straight to the writer: it reads inside its own transaction, so an erasure by
        # another process is always seen, and a new citizen costs one hop, not two.
        candidate = new_key()

        def create(conn: sqlite3.Connection) -> bytes:
            row = conn.execute("SELECT wrapped FROM citizen_keys WHERE kid=?", (kid,)).fetchone()
            if row is not None and row[0] is not None:  # a concurrent caller created it first
                return self._unwrap(kid, row[0])
            conn.execute(
                "INSERT INTO citizen_keys VALUES (?,?,?,NULL) ON CONFLICT (kid) DO UPDATE "
                "SET wrapped=excluded.wrapped, erased_at=NULL",
                (kid, self._wrap(kid, candidate), int(time.time())),
            )
            return candidate

        return await self._writer.run(create)

    async def erase(self, kid: str) -> bool:
        def erase(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE citizen_keys SET wrapped=NULL, erased_at=? "
                "WHERE kid=? AND wrapped IS NOT NULL",
                (int(time.time()), kid),
            )
            return cur.rowcount > 0

        erased = await self._writer.run(erase)
        self._cache.pop(kid, None)
        return erased

    async def pepper(self) -> bytes:
        if self._pepper is None:
            fresh = os.urandom(32)

            def get_or_set(conn: sqlite3.Connection) -> bytes:
                conn.execute("INSERT OR IGNORE INTO secrets VALUES ('pepper', ?)", (fresh,))
                value: bytes = conn.execute(
                    "SELECT value FROM secrets WHERE name='pepper'"
                ).fetchone()[0]
                return value

            self._pepper = await self._writer.run(get_or_set)
        return self._pepper
