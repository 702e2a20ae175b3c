"""Citizen keys, kept outside the log: erase one and that citizen's sealed data is gone.

`KeyStore` is the port; `SqliteKeyStore` is the embedded default (one SQLite
file) and `hotline.keystore_pg.PostgresKeyStore` the shared one for several
processes. Every secret they hold (data keys, the pepper) is wrapped by the
KMS (`hotline.kms`), so a copy of the store alone opens nothing.

Events name a citizen by a random id (`kid`, the `citizen_ref`); only the key
store links a phone or ID number to it, by a peppered hash. Erasing a citizen
deletes that link with the key, so after `hotline forget` nothing ties the old
history to the person: a new call from the same phone is a new citizen.
Deletion is physical: SQLite overwrites freed space (`secure_delete`) and the
write-ahead log is checkpointed and truncated before `erase` returns.

Keys are created durably (group commit) before the event that uses them is
appended, so no event can ever reference a key that was not stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from contracts.entropy import secure_bytes
from contracts.personal import new_key
from hotline.kms import Kms, MasterKeyError, UnwrapError
from hotline.sqlite_writer import GroupCommitWriter, LoopReads, connect

T = TypeVar("T")
SCHEMA = """
PRAGMA secure_delete=ON;
CREATE TABLE IF NOT EXISTS citizen_keys (
    kid TEXT PRIMARY KEY, wrapped BLOB, created_at INTEGER NOT NULL, erased_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS citizen_identities (
    lookup BLOB PRIMARY KEY, kid TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_citizen_identities_kid ON citizen_identities (kid);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
"""
CHECKPOINT_TRIES = 50


class ErasureIncomplete(RuntimeError):
    """The key row is gone but another connection kept the log file from being truncated."""


class KeyStore(Protocol):
    """Per-citizen data keys, the links from phone or ID number to citizen, the pepper."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def key(self, kid: str) -> bytes | None:
        """The citizen's key, or None when it never existed or was erased."""
        ...

    async def citizen(self, identity: str | None) -> tuple[str, bytes]:
        """(kid, key) of the citizen known by `identity` ("phone:…", "id:…"), both created
        durably when new; None makes a new anonymous citizen."""
        ...

    async def find(self, identity: str) -> str | None:
        """The kid of the citizen known by `identity`, without creating one."""
        ...

    async def erase(self, kid: str) -> bool:
        """Delete the key and every link to the citizen, physically; True if there was a key."""
        ...

    async def pepper(self) -> bytes:
        """A platform secret (survey link signatures, identity hashing)."""
        ...


def new_kid(identity: str | None) -> str:
    """A random citizen id: nothing in it derives from the person."""
    return ("cit-" if identity else "anon-") + secure_bytes(20).hex()


def stored_secret(kms: Kms, name: str, stored: bytes) -> bytes | None:
    """A secret as stored: None if it predates wrapping (32 clear bytes) and needs it."""
    if len(stored) == 32:
        return None
    try:
        return kms.unwrap(name, stored)
    except UnwrapError:
        raise MasterKeyError("the master key does not open this key store "
                             "(a different HOTLINE_MASTER_KEY?)") from None


def identity_lookup(pepper: bytes, identity: str) -> bytes:
    """The peppered hash that links an identity to its kid, in the key store only."""
    return hmac.new(pepper, identity.encode(), hashlib.sha256).digest()


class SqliteKeyStore:
    """KeyStore on a SQLite file; caches keys in memory and notices erasures by other processes."""

    def __init__(self, path: str, kms: Kms) -> None:
        self.path = path
        self._kms = kms
        self._writer = GroupCommitWriter(path, "FULL", "hotline-keys")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="hotline-keys-reader")
        self._rconn: sqlite3.Connection | None = None
        self._loop_reads: LoopReads | None = None  # a key by its id, without a thread hand-off
        self._cache: dict[str, bytes] = {}
        self._seen: dict[int, int] = {}  # PRAGMA data_version last seen, per reading connection
        self._pepper: bytes | None = None

    async def start(self) -> None:
        await self._writer.start(SCHEMA)
        self._rconn = await self._read(connect, self.path)
        self._loop_reads = LoopReads(self.path, "FULL", lambda work: self._read(work, self._rconn))
        await self.pepper()  # a wrong master key fails here, at start, not on the first call

    async def close(self) -> None:
        await self._writer.close()
        if self._rconn is not None:
            await self._read(self._rconn.close)
        if self._loop_reads is not None:
            self._loop_reads.close()
            self._loop_reads = None
        self._reader.shutdown(wait=True)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    def _cached(self, conn: sqlite3.Connection, kid: str) -> bytes | None:
        """The key if it is cached, after dropping the cache if another connection committed
        (an erasure by another process). `data_version` counts per connection, and this runs
        on the loop's connection, the reader thread's when SQLite answered busy there, and
        before every read of a key: each connection notices every commit of another by
        itself, and the first look through it after one clears the cache."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if self._seen.get(id(conn)) != version:
            self._cache.clear()
            self._seen[id(conn)] = version
        return self._cache.get(kid)

    def _lookup(self, conn: sqlite3.Connection, kid: str) -> bytes | None:
        """Reader thread: the key read and unwrapped (the KMS is never called on the loop)."""
        if (key := self._cached(conn, kid)) is not None:
            return key
        row = conn.execute("SELECT wrapped FROM citizen_keys WHERE kid=?", (kid,)).fetchone()
        if row is None or row[0] is None:
            return None
        key = self._kms.unwrap(kid, row[0])
        self._cache[kid] = key
        return key

    async def key(self, kid: str) -> bytes | None:
        """A cached key is found on the loop (`LoopReads`: no thread hand-off); any other
        is read and unwrapped by the reader thread."""
        assert self._loop_reads is not None, "key store not started"
        cached = await self._loop_reads.run(lambda conn: self._cached(conn, kid))
        return cached if cached is not None else await self._read(self._lookup, self._rconn, kid)

    async def citizen(self, identity: str | None) -> tuple[str, bytes]:
        # Straight to the writer: it reads inside its own transaction, so an erasure by
        # another process is always seen, and a new citizen costs one hop, not two.
        lookup = identity_lookup(await self.pepper(), identity) if identity else None
        kid, key = new_kid(identity), new_key()

        def create(conn: sqlite3.Connection) -> tuple[str, bytes]:
            if lookup is not None:
                row = conn.execute(
                    "SELECT k.kid, k.wrapped FROM citizen_identities i JOIN citizen_keys k "
                    "ON k.kid = i.kid WHERE i.lookup=?", (lookup,)).fetchone()
                if row is not None and row[1] is not None:  # known, or created concurrently
                    return row[0], self._kms.unwrap(row[0], row[1])
                conn.execute("INSERT OR REPLACE INTO citizen_identities VALUES (?,?)",
                             (lookup, kid))
            conn.execute("INSERT INTO citizen_keys VALUES (?,?,?,NULL)",
                         (kid, self._kms.wrap(kid, key), int(time.time())))
            return kid, key

        return await self._writer.run(create)

    async def find(self, identity: str) -> str | None:
        lookup = identity_lookup(await self.pepper(), identity)

        def find(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT kid FROM citizen_identities WHERE lookup=?",
                               (lookup,)).fetchone()
            return None if row is None else str(row[0])

        return await self._read(find, self._rconn)

    async def erase(self, kid: str) -> bool:
        def erase(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM citizen_identities WHERE kid=?", (kid,))
            cur = conn.execute(
                "UPDATE citizen_keys SET wrapped=NULL, erased_at=? "
                "WHERE kid=? AND wrapped IS NOT NULL",
                (int(time.time()), kid),
            )
            return cur.rowcount > 0

        erased = await self._writer.run(erase)
        self._cache.pop(kid, None)
        await self._truncate_log()
        return erased

    async def _truncate_log(self) -> None:
        """Copy the WAL into the file (where secure_delete zeroed the key) and empty it."""
        for _ in range(CHECKPOINT_TRIES):
            busy, _, _ = await self._writer.checkpoint()
            if not busy:
                return
            await asyncio.sleep(0.1)
        raise ErasureIncomplete(f"{self.path}-wal is held open by another process; "
                                "run `hotline forget` again once it is idle")

    async def pepper(self) -> bytes:
        if self._pepper is None:
            fresh = os.urandom(32)
            kms = self._kms

            def get_or_set(conn: sqlite3.Connection) -> bytes:
                conn.execute("INSERT OR IGNORE INTO secrets VALUES ('pepper', ?)",
                             (kms.wrap("pepper", fresh),))
                stored: bytes = conn.execute(
                    "SELECT value FROM secrets WHERE name='pepper'").fetchone()[0]
                value = stored_secret(kms, "pepper", stored)
                if value is None:  # written before secrets were wrapped: wrap it now
                    value = stored
                    conn.execute("UPDATE secrets SET value=? WHERE name='pepper'",
                                 (kms.wrap("pepper", value),))
                return value

            self._pepper = await self._writer.run(get_or_set)
        return self._pepper
