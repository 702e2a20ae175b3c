"""Services in processes of their own, as on Kubernetes: `hotline serve NAME` per replica.

Every replica has its own data dir (its own read models, or with `shared_db` the one
PostgreSQL database) and shares what a deployment shares: the Kafka cluster (a namespace of
the session's broker), the citizen key store and the API keys (a fresh PostgreSQL
database), the master key.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.apikeys import Principal, Role, open_api_keys
from hotline.builds import leases_table
from hotline.devbroker import free_port, tansu_env
from hotline.settings import Settings
from tests.fixtures.databases import PG_URL

STAFF: tuple[Role, ...] = ("operator", "supervisor", "callback", "analyst", "auditor")
UNITS = ("d01-urban-squad", "d01-street-1", "city-urban-mgmt")


@dataclass
class Replica:
    name: str  # the service
    index: int
    port: int
    data_dir: Path
    proc: subprocess.Popen[str] | None = None
    env: dict[str, str] = field(default_factory=dict)  # its own settings, kept on restart

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return (self.data_dir / "serve.out").read_text(encoding="utf-8", errors="replace")


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def of(self, name: str) -> list[Replica]:
        return [r for r in self.replicas if r.name == name]

    async def lease_holders(self) -> dict[str, str]:
        """Which process (host:pid) writes each read model of the shared database (by the
        projection's name, whatever its build)."""
        engine = create_async_engine(self.env["HOTLINE_DB"])
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(select(leases_table.c.name,
                                                 leases_table.c.holder))
                return {lease.partition("@")[0]: holder for lease, holder in rows}
        finally:
            await engine.dispose()

    def start(self, name: str, **settings: str) -> Replica:
        """One more replica of `name`, in its own process and data dir (and `settings`)."""
        index = len(self.of(name))
        replica = Replica(name, index, free_port(), self.root / f"{name}-{index}", env=settings)
        replica.data_dir.mkdir(parents=True)
        self._launch(replica, "w")
        self.replicas.append(replica)
        return replica

    def restart(self, replica: Replica) -> None:
        """The same replica (same data dir, port and settings) in a new process."""
        self._launch(replica, "a")

    def _launch(self, replica: Replica, mode: str) -> None:
        env = {**os.environ, **self.env, "HOTLINE_DATA_DIR": str(replica.data_dir),
               f"HOTLINE_{replica.name.upper()}_PORT": str(replica.port), **replica.env}
        # a file, not a pipe: nobody reads a pipe while the test runs, and a full one would
        # block the service's event loop on its next log line
        with (replica.data_dir / "serve.out").open(mode, encoding="utf-8") as out:
            replica.proc = subprocess.Popen(
                [sys.executable, "-m", "hotline", "serve", replica.name], env=env,
                stdout=out, stderr=subprocess.STDOUT, text=True)

    def kill(self, replica: Replica) -> None:
        """SIGKILL: no goodbye to the Kafka groups, nothing flushed."""
        assert replica.proc is not None
        replica.proc.send_signal(signal.SIGKILL)
        replica.proc.wait(timeout=20)

    async def ready(self, *replicas: Replica, timeout_s: float = 90) -> None:
        """Wait until every replica answers /readyz 200 (a dead one fails with its output)."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            for replica in replicas or tuple(self.replicas):
                while True:
                    assert replica.proc is not None and replica.proc.poll() is None, (
                        f"{replica.name}-{replica.index} died:\n{replica.output()}")
                    assert time.monotonic() < deadline, (
                        f"{replica.name}-{replica.index} not ready:\n{replica.output()}")
                    try:
                        probe = await client.get(f"{replica.url}/readyz")
                        if probe.status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)

    def stop_all(self) -> None:
        for replica in self.replicas:
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            if replica.proc is not None:
                try:
                    replica.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    replica.proc.kill()
                    replica.proc.wait()


async def _database() -> tuple[str, str]:
    """A fresh PostgreSQL database: its name and URL."""
    name = f"hotline_c_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name, PG_URL.rsplit("/", 1)[0] + "/" + name


async def _drop(name: str) -> None:
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    await admin.dispose()


@asynccontextmanager
async def cluster(root: Path, bootstrap: str, *, shared_db: bool = False,
                  **extra: str) -> AsyncIterator[Cluster]:
    """The shared parts of a deployment, and API keys for staff, units and channels; with
    `shared_db`, every replica's projections in that one PostgreSQL database too (as the
    Kubernetes manifests configure them), else each in its data dir's SQLite file."""
    name, url = await _database()
    if shared_db:
        extra = {"HOTLINE_DB": url, **extra}
    env = {
        "HOTLINE_ENVIRONMENT": "test",
        **tansu_env(bootstrap),
        "HOTLINE_TOPIC_PREFIX": f"c{uuid.uuid4().hex[:8]}.",
        "HOTLINE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "HOTLINE_KEYS_DB": url,
        "HOTLINE_API_KEYS_DB": url,
        "HOTLINE_CALLBACK_TICK_SECONDS": "0.3",
        "HOTLINE_SUPERVISION_TICK_SECONDS": "1",
        **extra,
    }
    store = open_api_keys(Settings(data_dir=root, api_keys_db=url, environment="test"))
    await store.start()
    keys = {ch: await store.create(Principal(f"{ch}-gw", "channel", channel=ch))
            for ch in ("wechat", "phone", "sms")}
    keys |= {role: await store.create(Principal(f"{role}.wang", role)) for role in STAFF}
    keys |= {u: await store.create(Principal(f"staff.{u}", "unit", unit=u)) for u in UNITS}
    await store.close()
    found = Cluster(root, env, keys)
    try:
        yield found
    finally:
        found.stop_all()
        await _drop(name)
