"""The intake benchmark's view of a server under test and of one run against it: the
child process (bench/intake_server.py) started on a free port, and what a run measured."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx

from bench.common import percentile, rate
from bench.intake_server import SAMPLES_PATH
from hotline.devbroker import free_port

CONCURRENCY = 64
START_TIMEOUT_S = 60.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    server_ms: list[float]
    quantiles_ms: dict[float, float] = field(default_factory=dict)  # wrk's, when no samples

    @property
    def throughput(self) -> float:
        return rate(self.requests, self.seconds)

    def p(self, q: float) -> float:
        if self.quantiles_ms:
            return self.quantiles_ms[q]
        return percentile(self.latencies_ms, q)

    def server_p(self, q: float) -> float:
        return percentile(self.server_ms, q)


class Server:
    """One uvicorn child process serving `mode` on a free port."""

    def __init__(self, mode: str, data_dir: Path) -> None:
        self.mode, self.data_dir, self.port = mode, data_dir, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env["PYTHONPATH"] = str(ROOT)
        args = [sys.executable, "-m", "bench.intake_server", mode, str(data_dir), str(self.port)]
        self.output = (data_dir / f"{mode}.out").open("wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env,
                                     stdout=self.output, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    async def ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.mode} server exited {self.proc.returncode}:\n"
                                       + self.tail())
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.mode} server not up in {START_TIMEOUT_S:.0f} s:\n"
                                       + self.tail())
                await asyncio.sleep(0.1)

    def tail(self) -> str:
        self.output.flush()
        return (self.data_dir / f"{self.mode}.out").read_text(errors="replace")[-3000:]

    async def samples(self) -> list[float]:
        """The server's own timings (ms) of the posts since the last call (and clears them)."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
            return cast(list[float], (await client.get(SAMPLES_PATH)).json())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.output.close()
