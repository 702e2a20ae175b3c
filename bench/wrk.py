"""wrk as the intake benchmark's load generator: every body unique, every run checked.

See bench/wrk_contacts.lua for how the bodies are made unique, and `check_wrk` for how a
run is checked on both sides (the client's statuses, the server's stored contacts and
citizen keys) before its figure counts.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from bench.common import contact_body
from bench.intake_runs import CONCURRENCY, Run, Server
from contracts.topics import CONTACTS

WRK_SCRIPT = Path(__file__).with_name("wrk_contacts.lua")
WRK_THREADS = 1
WRK_SECONDS = 8
WRK_WARMUP_SECONDS = 2
WRK_TEMPLATES = 256  # distinct bodies (names, text, addresses) the counters are filled into
WRK_PHONE_FIRST = 13_800_000_000
PHONE_STRIDE = 1_000_000  # phones per wrk thread and run: far more than a run can send
SETTLE_S = 0.5  # after wrk stops: the server finishes what was in flight before we count


@dataclass
class WrkReport:
    """What bench/wrk_contacts.lua's done() prints: wrk's summary plus the script's tallies."""

    requests: int
    duration_us: int
    sent: int  # requests built: answered ones plus those in flight when wrk stopped
    max_thread_sent: int
    errors: dict[str, int]
    statuses: dict[int, int]
    latency_us: dict[float, float]

    @classmethod
    def parse(cls, stdout: str) -> WrkReport:
        line = next((ln for ln in stdout.splitlines() if ln.startswith("wrk-json ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no report:\n{stdout[-2000:]}")
        raw = json.loads(line.removeprefix("wrk-json "))
        return cls(raw["requests"], raw["duration_us"], raw["sent"], raw["max_thread_sent"],
                   raw["errors"], {int(k): v for k, v in raw["statuses"].items()},
                   {float(k): v for k, v in raw["latency_us"].items()})


def wrk_version(exe: str) -> str:
    """`4.1.0` from `wrk --version` (which exits 1 after printing its usage)."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    return found.group(1) if found else "?"


def write_templates(path: Path, rng: random.Random) -> None:
    """Body templates for the Lua script: realistic and varied, @ID@ and @PHONE@ left open."""
    lines = []
    for _ in range(WRK_TEMPLATES):
        body = contact_body(rng, "@ID@")
        cast(dict[str, str], body["caller"])["phone"] = "@PHONE@"
        lines.append(json.dumps(body, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def stored(data_dir: Path) -> tuple[int, int] | None:
    """(contacts appended, citizen keys) in ours' data dir; None for the bare app (no log).

    Read-only reads beside the running server (WAL): the server's word that the
    posts were new contacts from new callers, independent of the client's tally."""
    log, keys = data_dir / "log.db", data_dir / "keys.db"
    if not log.exists():
        return None
    with closing(sqlite3.connect(f"file:{log}?mode=ro", uri=True)) as conn:
        (contacts,) = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM partitions "
                                   "WHERE topic = ?", (CONTACTS,)).fetchone()
    with closing(sqlite3.connect(f"file:{keys}?mode=ro", uri=True)) as conn:
        (citizens,) = conn.execute("SELECT count(*) FROM citizen_keys").fetchone()
    return int(contacts), int(citizens)


def check_wrk(report: WrkReport, grown: tuple[int, int] | None, mode: str) -> None:
    """Every answered post a 202 (a 200 is a duplicate), and for ours as many new contacts
    and new citizen keys: else the figure is not the cost of new contacts."""
    if any(report.errors.values()):
        raise AssertionError(f"{mode}: wrk errors {report.errors}")
    if report.statuses != {202: report.requests}:
        raise AssertionError(f"{mode}: {report.requests} answered, statuses {report.statuses}")
    if report.max_thread_sent >= PHONE_STRIDE:
        raise AssertionError(f"{mode}: {report.max_thread_sent} posts overran the phone range")
    if grown is not None and not all(report.requests <= g <= report.sent for g in grown):
        raise AssertionError(f"{mode}: {report.requests} answered, {report.sent} sent, but "
                             f"(contacts, citizen keys) grew by {grown}")


class Wrk:
    """wrk in its own process, for a fixed time, every body unique (bench/wrk_contacts.lua)."""

    load = f"{WRK_SECONDS} s runs after a {WRK_WARMUP_SECONDS} s warm-up"
    target_ratio, p99_limit_ms = 0.70, 50.0

    def __init__(self, exe: str, tmp: Path, run_id: str) -> None:
        self.exe, self.run_id, self.runs = exe, run_id, 0
        self.name = f"wrk {wrk_version(exe)} -t{WRK_THREADS} -c{CONCURRENCY}"
        self.templates = tmp / "wrk_templates.jsonl"
        write_templates(self.templates, random.Random(3))

    async def warm_up(self, server: Server, key: str) -> Run:
        return await self.drive(server, key, WRK_WARMUP_SECONDS)

    async def measure(self, server: Server, key: str) -> Run:
        return await self.drive(server, key, WRK_SECONDS)

    def args(self, server: Server, key: str, seconds: int) -> list[str]:
        """The command line; each run its own message-id prefix and phone range."""
        self.runs += 1
        phone_first = WRK_PHONE_FIRST + (self.runs - 1) * WRK_THREADS * PHONE_STRIDE
        if phone_first + WRK_THREADS * PHONE_STRIDE > WRK_PHONE_FIRST + 100_000_000:
            raise RuntimeError("out of 138 phone numbers")
        return [self.exe, f"-t{WRK_THREADS}", f"-c{CONCURRENCY}", f"-d{seconds}s",
                "--timeout", "10s", "--latency", "-s", str(WRK_SCRIPT),
                f"{server.base}/v1/contacts", "--", str(self.templates), key,
                f"wrk-{self.run_id}-{self.runs}", str(phone_first), str(PHONE_STRIDE), "1"]

    async def drive(self, server: Server, key: str, seconds: int) -> Run:
        """One wrk run against `server`, checked on both sides (see `check_wrk`)."""
        before = stored(server.data_dir)
        await server.samples()
        proc = await asyncio.create_subprocess_exec(
            *self.args(server, key, seconds), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL)
        stdout, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
        report = WrkReport.parse(stdout.decode(errors="replace"))
        await asyncio.sleep(SETTLE_S)
        server_ms = await server.samples()
        after = stored(server.data_dir)
        grown = None if before is None or after is None else (after[0] - before[0],
                                                              after[1] - before[1])
        check_wrk(report, grown, server.mode)
        return Run(report.requests, report.duration_us / 1e6, [], report.statuses, server_ms,
                   {q: us / 1000 for q, us in report.latency_us.items()})


# -- the benchmark -----------------------------------------------------------------------------
