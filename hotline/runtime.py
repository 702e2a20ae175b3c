"""The composition root every service shares: settings in, started adapters out.

`Platform` builds the event log, the citizen key store, the event store and
the projection database from one `Settings`. `hotline run` builds one
Platform for all services in the process; tests build one per test with
their own settings.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import core_specs
from hotline.database import open_database
from hotline.eventstore import EventStore
from hotline.keystore import KeyStore, SqliteKeyStore
from hotline.kms import Kms, open_kms
from hotline.log.factory import open_log
from hotline.log.port import EventLog
from hotline.projection import Projection
from hotline.readiness import Readiness
from hotline.settings import Settings

T = TypeVar("T")


def tune_gc() -> None:
    """Collect rarer and never revisit start-up objects.

    Decoding events allocates millions of short-lived objects; with the default
    gen-0 threshold (700) the collector dominated replay (measured: 13k → 17k
    events/s with collection off). A larger threshold keeps most of that gain.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@dataclass
class Platform:
    """Started adapters for one process."""

    settings: Settings
    log: EventLog
    keys: KeyStore
    db: AsyncEngine
    store: EventStore = field(init=False)
    _shared: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.store = EventStore(self.log)

    def shared(self, name: str, make: Callable[[], T]) -> T:
        """An adapter every service of this process shares (the ticket-command client: one
        desk cache, one reply partition), made on first use and closed with the platform."""
        if name not in self._shared:
            self._shared[name] = make()
        found: T = self._shared[name]
        return found

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        """Adapters chosen by settings, not yet started (`MasterKeyError` for a bad key)."""
        private_data_dir(settings.data_dir)
        keys = open_keystore(settings.keys_db, open_kms(settings))
        return cls(settings, open_log(settings), keys, open_database(settings.db))

    async def start(self) -> None:
        """Connect everything and create the catalogue's topics."""
        await self.log.start()
        await self.keys.start()
        await self.log.create_topics(core_specs())

    async def close_shared(self) -> None:
        """Close what `shared` made (the log and the stores stay open)."""
        for component in reversed(list(self._shared.values())):
            if hasattr(component, "close"):
                await component.close()
        self._shared.clear()

    async def close(self) -> None:
        await self.close_shared()
        await self.log.close()
        await self.keys.close()
        await self.db.dispose()


def private_data_dir(path: Path) -> None:
    """The data dir and every file in it readable by the platform's user only (0700/0600),
    including the files SQLite creates later (-wal, -shm): the process umask says so."""
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    for entry in path.iterdir():
        if entry.is_file():
            entry.chmod(0o600)


def open_keystore(url: str, kms: Kms) -> KeyStore:
    """The citizen key store at `url`: a SQLite path, or a PostgreSQL URL shared by replicas."""
    if url.startswith("postgresql"):
        from hotline.keystore_pg import PostgresKeyStore

        return PostgresKeyStore(url, kms)
    return SqliteKeyStore(url, kms)


def utc_now() -> datetime:
    """The default clock of every app (tests inject their own)."""
    return datetime.now(UTC)


def app_readiness(platform: Platform, writes: Sequence[str], manage: bool,
                  given: Readiness | None) -> Readiness:
    """An app's readiness: the composer's (`hotline run` knows the projections), its own
    claims when it manages the platform, or assumed (a test that claimed and runs them)."""
    if given is not None:
        return given
    return Readiness(platform.log, writes) if manage else Readiness.assumed()


class Background(Protocol):
    """Work an app runs beside its routes from start to shutdown (a ticker, a worker)."""

    async def run(self, readiness: Readiness) -> None: ...

    def stop(self) -> None: ...


def lifespan_with(platform: Platform, manage: bool, readiness: Readiness,
                  background: Background | None
                  ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """`platform_lifespan`, running `background` (once ready: its own `run` waits) until
    shutdown, when it is stopped and awaited."""
    context = platform_lifespan(platform, manage, readiness)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with context(app):
            task = asyncio.create_task(background.run(readiness)) if background else None
            yield
            if task is not None and background is not None:
                background.stop()
                await task

    return lifespan


def platform_lifespan(
    platform: Platform, manage: bool, readiness: Readiness
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """An app's lifespan: start the platform and its readiness (the claims of the topics it
    writes), unless `hotline run` shares one platform between apps (`manage` False) and
    does that itself."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage:
            await platform.start()
            await readiness.start()
        yield
        if manage:
            await platform.close()

    return lifespan


@dataclass(frozen=True)
class ServiceSpec:
    """How `hotline run` starts one service: its app, its port setting, its projections."""

    name: str
    title: str
    order: int  # where it starts and shows in the banner: the loop's order
    port: Callable[[Settings], int]
    create_app: Callable[..., FastAPI]
    # its read models, made fresh for each runner or rebuild (with the process's reference data)
    projections: Callable[[Platform], Sequence[Projection]]
    # stream topics it appends to from its own process: claimed at start-up (Kafka ownership)
    writes: Callable[[Platform], Sequence[str]]
    example: Callable[[str, dict[str, str]], str]  # (base url, dev keys) -> requests to paste
    # consumers with effects outside their tables (e.g. forwarding to unit topics): started by
    # `hotline run` like projections, but never rebuilt from zero (that would repeat effects)
    relays: Callable[[Platform], Sequence[Projection]] = lambda platform: ()


def service_specs() -> dict[str, ServiceSpec]:
    """The installed services (entry points `hotline.services`), in the loop's order; the
    platform core finds them without importing them."""
    found = [entry.load() for entry in entry_points(group="hotline.services")]
    return {spec.name: spec for spec in sorted(found, key=lambda spec: spec.order)}
