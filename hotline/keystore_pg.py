"""The citizen key store on PostgreSQL: one store shared by every replica of every service.

Same tables and rules as `SqliteKeyStore` (hotline/keystore.py): secrets wrapped
by the KMS (`hotline.kms`), random citizen ids, identities linked only here. Erasure
deletes the key and the identity links, then VACUUMs both tables so the dead
rows' space is reclaimed at once rather than at autovacuum's leisure. What
PostgreSQL cannot promise is that freed page space and old WAL segments are
overwritten before reuse; the wrapped key they may still hold opens nothing
without the KMS's key, which never enters the database.
"""

from __future__ import annotations

import os
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from contracts.personal import new_key
from hotline.database import schema_turn
from hotline.keystore import identity_lookup, new_kid, stored_secret
from hotline.kms import Kms

CACHE_SECONDS = 30.0
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS citizen_keys (kid TEXT PRIMARY KEY, wrapped BYTEA NOT NULL, "
    "created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS citizen_erasures (kid TEXT PRIMARY KEY, erased_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS citizen_identities (lookup BYTEA PRIMARY KEY, kid TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_citizen_identities_kid ON citizen_identities (kid)",
    "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL)",
)


class PostgresKeyStore:
    """KeyStore on PostgreSQL (asyncpg). Keys are cached for `CACHE_SECONDS`: an erasure by
    another process takes effect here within that time, one by this process at once."""

    def __init__(self, url: str, kms: Kms) -> None:
        self._engine = create_async_engine(url, pool_size=5)
        self._kms = kms
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._pepper: bytes | None = None

    async def start(self) -> None:
        async with self._engine.begin() as conn:
            await schema_turn(conn)  # one creator
            for statement in SCHEMA:
                await conn.execute(text(statement))
        await self.pepper()

    async def close(self) -> None:
        await self._engine.dispose()

    async def key(self, kid: str) -> bytes | None:
        cached = self._cache.get(kid)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self._engine.connect() as conn:
            wrapped = await conn.scalar(
                text("SELECT wrapped FROM citizen_keys WHERE kid=:kid"), {"kid": kid})
        if wrapped is None:
            return None
        key = self._kms.unwrap(kid, bytes(wrapped))
        self._cache[kid] = (key, time.monotonic() + CACHE_SECONDS)
        return key

    async def citizen(self, identity: str | None) -> tuple[str, bytes]:
        kid, key = new_kid(identity), new_key()
        async with self._engine.begin() as conn:
            if identity is not None:
                lookup = identity_lookup(await self.pepper(), identity)
                known = await self._linked(conn, lookup, kid)
                if known is not None:
                    return known
            await conn.execute(text("INSERT INTO citizen_keys VALUES (:kid, :wrapped, :at)"),
                               {"kid": kid, "wrapped": self._kms.wrap(kid, key),
                                "at": int(time.time())})
        return kid, key

    async def _linked(self, conn: AsyncConnection, lookup: bytes,
                      kid: str) -> tuple[str, bytes] | None:
        """Link `lookup` to `kid` unless it is linked already: then that citizen and key."""
        inserted = await conn.scalar(text(
            "INSERT INTO citizen_identities VALUES (:lookup, :kid) ON CONFLICT DO NOTHING "
            "RETURNING kid"), {"lookup": lookup, "kid": kid})
        if inserted is not None:
            return None
        row = (await conn.execute(text(
            "SELECT k.kid, k.wrapped FROM citizen_identities i JOIN citizen_keys k "
            "ON k.kid = i.kid WHERE i.lookup=:lookup"), {"lookup": lookup})).first()
        if row is None:  # linked to an erased citizen: impossible once erase ran; relink
            await conn.execute(text("UPDATE citizen_identities SET kid=:kid WHERE lookup=:lookup"),
                               {"lookup": lookup, "kid": kid})
            return None
        return row[0], self._kms.unwrap(row[0], bytes(row[1]))

    async def find(self, identity: str) -> str | None:
        lookup = identity_lookup(await self.pepper(), identity)
        async with self._engine.connect() as conn:
            kid = await conn.scalar(
                text("SELECT kid FROM citizen_identities WHERE lookup=:lookup"),
                {"lookup": lookup})
        return None if kid is None else str(kid)

    async def erase(self, kid: str) -> bool:
        async with self._engine.begin() as conn:
            await conn.execute(text("DELETE FROM citizen_identities WHERE kid=:kid"), {"kid": kid})
            gone = await conn.scalar(
                text("DELETE FROM citizen_keys WHERE kid=:kid RETURNING kid"), {"kid": kid})
            if gone is not None:
                await conn.execute(text(
                    "INSERT INTO citizen_erasures VALUES (:kid, :at) ON CONFLICT DO NOTHING"),
                    {"kid": kid, "at": int(time.time())})
        self._cache.pop(kid, None)
        autocommit = await self._engine.connect()
        try:
            conn = await autocommit.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM citizen_keys, citizen_identities"))
        finally:
            await autocommit.close()
        return gone is not None

    async def pepper(self) -> bytes:
        if self._pepper is not None:
            return self._pepper
        async with self._engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO secrets VALUES ('pepper', :value) ON CONFLICT DO NOTHING"),
                {"value": self._kms.wrap("pepper", os.urandom(32))})
            stored = await conn.scalar(text("SELECT value FROM secrets WHERE name='pepper'"))
        value = stored_secret(self._kms, "pepper", bytes(stored))
        assert value is not None  # this store wrapped its secrets from the start
        self._pepper = value
        return value
