"""Ticket commands routed to the partition owner, beside the in-process desk on the same broker.

Ours: the bench process sends whole tickets' commands (the decider bench's five per
ticket) through `RoutedTickets`: each command a request on hotline.commands, decided by
a decider replica in its own process (`hotline serve tickets`), answered on
hotline.replies. Raw: the same commands through a `TicketDesk` in the bench process on
the same broker (what every service did before the decider became a service). Both at
64 concurrent callers; the routed p99 latency beside the in-process one.

Failover: two decider replicas; one is SIGKILLed, and the time until a command on a
partition it owned is answered again (the writer group's session timeout, the
rebalance, the survivor loading the partition's stream index) is reported, and the same
for a replica stopped politely (SIGTERM: it leaves the group at once).
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from bench.broker import get_broker
from bench.common import Result, Timer, percentile, rate, say, temp_dir, unique
from bench.decider import NOW, lifecycle
from contracts.commands import TicketCommand
from contracts.ids import new_id
from contracts.topics import CATALOGUE, COMMANDS, REPLIES, TICKETS
from hotline.apikeys import Principal, open_api_keys
from hotline.devbroker import free_port, tansu_env
from hotline.eventstore import EventStore
from hotline.keystore import SqliteKeyStore
from hotline.kms import LocalKms, load_master_key
from hotline.log.factory import open_log
from hotline.log.port import EventLog
from hotline.requests import NoAnswer, Requester
from hotline.settings import Settings
from ticketing.client import RoutedTickets, TicketCommands
from ticketing.handler import TicketDesk, stream_of

CONCURRENCY = 64
TICKETS_PER_RUN = 300
REPS = 3


def decider(env: dict[str, str], data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`hotline serve tickets` in its own process (its output in its data dir)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "serve.out").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hotline", "serve", "tickets"], stdout=out,
            stderr=subprocess.STDOUT, env={**os.environ, **env, "HOTLINE_DATA_DIR": str(data_dir),
                                           "HOTLINE_TICKETS_PORT": str(port)})


async def ready(proc: subprocess.Popen[bytes], port: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the decider exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("the decider did not become ready")


async def drive(tickets: TicketCommands, count: int) -> tuple[float, list[float]]:
    """(commands/s, latencies in ms) of `count` tickets' lifecycles, 64 callers at once."""
    ids = iter(enumerate(new_id() for _ in range(count)))
    latencies: list[float] = []

    async def worker() -> None:
        for n, ticket_id in ids:
            for command in lifecycle(ticket_id, n):
                started = time.perf_counter()
                await tickets.execute(command, actor="operator:op-017",
                                      command_id=new_id(), now=NOW)
                latencies.append((time.perf_counter() - started) * 1000)

    with Timer() as t:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return rate(count * 5, t.seconds), latencies


class InProcess:
    """The desk in the bench process: the raw side."""

    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk

    async def execute(self, command: TicketCommand, **kw: object) -> object:
        return await self.desk.execute(command, **kw)  # type: ignore[arg-type]


def env_for(bootstrap: str, prefix: str, root: Path, master: str) -> dict[str, str]:
    return {"HOTLINE_ENVIRONMENT": "test", **tansu_env(bootstrap),
            "HOTLINE_TOPIC_PREFIX": prefix, "HOTLINE_MASTER_KEY": master,
            "HOTLINE_KEYS_DB": str(root / "keys.db"),
            "HOTLINE_API_KEYS_DB": f"sqlite+aiosqlite:///{root / 'api_keys.db'}"}


def open_bench_log(env: dict[str, str]) -> EventLog:
    """A log on the bench broker in the run's namespace, as the decider processes open it."""
    wanted = {k.removeprefix("HOTLINE_").lower(): v for k, v in env.items()
              if k.startswith("HOTLINE_KAFKA") or k in ("HOTLINE_LOG", "HOTLINE_TOPIC_PREFIX")}
    return open_log(Settings.model_validate({
        **wanted, "environment": "test", "data_dir": Path(env["HOTLINE_KEYS_DB"]).parent}))


async def run() -> list[Result]:
    broker = get_broker()
    say(f"  broker: {broker.bootstrap} ({broker.kind})")
    with temp_dir("routing") as root:
        master = base64.b64encode(os.urandom(32)).decode()
        keys = SqliteKeyStore(str(root / "keys.db"), LocalKms(load_master_key(master, root)))
        await keys.start()
        prefix = unique("bench") + "."
        env = env_for(broker.bootstrap, prefix, root, master)
        log = open_bench_log(env)
        await log.start()
        await log.create_topics([replace(CATALOGUE[t].spec, replication_factor=1)
                                 for t in (TICKETS, COMMANDS, REPLIES)])
        try:
            results = await throughput(log, keys, env, root)
            results.append(await failover(log, keys, env, root))
        finally:
            await log.close()
            await keys.close()
    return results


async def throughput(log: EventLog, keys: SqliteKeyStore, env: dict[str, str],
                     root: Path) -> list[Result]:
    """Routed (a decider process owning every partition) against the in-process desk, on
    separate runs with the partitions owned by whoever decides."""
    proc_port = free_port()
    proc = decider(env, root / "decider-a", proc_port)
    routed_runs: list[tuple[float, list[float]]] = []
    local_runs: list[tuple[float, list[float]]] = []
    try:
        await ready(proc, proc_port)
        requester = Requester(log, keys=keys)
        routed = RoutedTickets(requester, timeout_s=30)
        for rep in range(REPS):
            routed_runs.append(await drive(routed, TICKETS_PER_RUN))
            say(f"  rep {rep + 1}: routed {routed_runs[-1][0]:,.0f} commands/s")
        await requester.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # the raw side on a log of its own, closed after: it leaves the writer group again
    own = open_bench_log(env)
    await own.start()
    try:
        await own.claim(TICKETS)  # now the bench process is the only writer
        desk = TicketDesk(EventStore(own), keys)
        for rep in range(REPS):
            local_runs.append(await drive(InProcess(desk),  # type: ignore[arg-type]
                                          TICKETS_PER_RUN))
            say(f"  rep {rep + 1}: in-process desk {local_runs[-1][0]:,.0f} commands/s")
    finally:
        await own.close()
    best_routed, best_local = max(routed_runs, key=lambda r: r[0]), max(local_runs,
                                                                        key=lambda r: r[0])
    p99_routed, p99_local = percentile(best_routed[1], 99), percentile(best_local[1], 99)
    return [
        Result("tickets: commands routed to the owner, Kafka", best_routed[0], best_local[0],
               "commands/s", 0.5, f"{TICKETS_PER_RUN} tickets x 5 commands, {CONCURRENCY} "
               "callers; decider in its own process; raw: TicketDesk in the caller's process"),
        Result("tickets: routed command p99 at 64 callers", p99_routed, p99_local, "ms",
               note=f"raw: the in-process desk's p99; routed p50 "
                    f"{percentile(best_routed[1], 50):.1f} ms", max_ours=250),
    ]


async def failover(log: EventLog, keys: SqliteKeyStore, env: dict[str, str],
                   root: Path) -> Result:
    """Seconds until commands on a killed replica's partitions are answered again."""
    ports = [free_port(), free_port()]
    procs = [decider(env, root / f"decider-{i}", p) for i, p in enumerate(ports)]
    await asyncio.gather(*(ready(p, port) for p, port in zip(procs, ports, strict=True)))
    requester = Requester(log, keys=keys)
    routed = RoutedTickets(requester, timeout_s=1)
    try:
        await asyncio.sleep(5)  # the second replica's join settles
        moved = {}
        for how, sig in (("SIGKILL", signal.SIGKILL), ("SIGTERM", signal.SIGTERM)):
            victim = procs.pop(0)
            partitions = await owned_by(ports.pop(0), env)
            victim.send_signal(sig)
            victim.wait(30)
            started = time.monotonic()
            await answered_on(routed, partitions, log)
            moved[how] = time.monotonic() - started
            say(f"  {how}: its partitions answered again after {moved[how]:.1f} s")
            ports.append(port := free_port())
            procs.append(decider(env, root / f"decider-{how}", port))
            await ready(procs[-1], port)
            await asyncio.sleep(5)
    finally:
        await requester.close()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return Result("tickets: partition moved to a survivor after SIGKILL", moved["SIGKILL"],
                  None, "s", note=f"after SIGTERM {moved['SIGTERM']:.1f} s; tansu, 6 s "
                                  "session timeout: a killed member is noticed when it expires")


async def owned_by(port: int, env: dict[str, str]) -> list[int]:
    """The partitions a decider answers for (`GET /v1/decider/partitions`, as an auditor)."""
    settings = Settings(api_keys_db=env["HOTLINE_API_KEYS_DB"], environment="test",
                        data_dir=Path(env["HOTLINE_KEYS_DB"]).parent)
    store = open_api_keys(settings)
    await store.start()
    try:
        key = await store.create(Principal(unique("bench-auditor"), "auditor"))
    finally:
        await store.close()
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{port}/v1/decider/partitions",
                                 headers={"Authorization": f"Bearer {key}"})
    reply.raise_for_status()
    return list(reply.json()["answering"])


async def answered_on(routed: RoutedTickets, partitions: list[int], log: EventLog) -> None:
    """Wait until a registration on each of `partitions` is answered."""
    pending = set(partitions)
    n = 0
    while pending:
        ticket_id = new_id()
        p = log.partition_for(stream_of(ticket_id), 24)
        if p not in pending:
            continue
        n += 1
        try:
            await routed.execute(lifecycle(ticket_id, n)[0], actor="operator:op-017",
                                 command_id=new_id(), now=NOW)
            pending.discard(p)
        except NoAnswer:
            pass
