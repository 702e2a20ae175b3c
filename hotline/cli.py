"""`hotline`: run the platform and look into its log.

    hotline run                 every service on the settings' engines (embedded by default)
    hotline serve NAME…         only the named services (tickets, intake, dispatch, …)
    hotline broker              a local Kafka-protocol broker (tansu) for trying the Kafka engine
    hotline topics              topics with partitions, records and bytes
    hotline tail TOPIC          the last records of a topic, decoded (-f to follow)
    hotline replay STREAM       one stream's history, in order, readable
    hotline verify [STREAM]     check hash chains (one stream, or every stream of a topic)
    hotline rebuild SERVICE     rebuild a service's projections from offset zero
    hotline accounts …          staff accounts: create, change, deactivate, reset a password
    hotline keys create|list|revoke    API keys of channel adapters, units and service accounts
    hotline forget --phone P    erase one citizen's key (crypto-shredding)

Personal data stays sealed in every output unless `replay --as ROLE` opens it
as that role may see it (clear for operators, masked for analysts); that
needs the key store, i.e. an operator of the platform itself.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.envelope import DecodeError, Envelope, decode
from contracts.personal import Sealed, identity
from contracts.topics import stream_topic
from hotline import redact
from hotline.cli_kit import console, run_async
from hotline.disclosure import disclose, typed_texts
from hotline.integrity import check_logged
from hotline.keystore import KeyStore
from hotline.runtime import Platform, service_specs, tune_gc
from hotline.settings import Settings

app = typer.Typer(help="12345 热线平台命令行 (12345 hotline platform)", no_args_is_help=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def main() -> None:
    """The `hotline` command: settings mistakes end with their message, not a traceback."""
    from pydantic import ValidationError

    from hotline.keystore import MasterKeyError

    redact.install()
    try:
        app()
    except (MasterKeyError, ValidationError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        sys.stderr.write(f"hotline: {message}\n")
        raise SystemExit(2) from None


@app.command()
def run() -> None:
    """Start every service, with its projections, and print where each one listens."""
    import uvloop

    from hotline.serve import serve_all

    uvloop.run(serve_all(Settings(), console))  # the loop uvicorn itself would choose


@app.command()
def serve(names: Annotated[list[str], typer.Argument(
        help="services to run in this process, e.g. tickets or dispatch")]) -> None:
    """Start only the named services (each its own process, its own replicas in production):
    their APIs, projections, relays and timers."""
    import uvloop

    from hotline.serve import serve_all

    uvloop.run(serve_all(Settings(), console, names))


@app.command()
def broker(port: Annotated[int, typer.Option(help="loopback port")] = 9092) -> None:
    """Run a local Kafka-protocol broker (tansu, memory only) for `make run-kafka`."""
    import time

    from hotline.devbroker import BrokerUnavailable, LocalBroker, tansu_env

    try:
        local = LocalBroker(port=port).start()
    except BrokerUnavailable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    exports = " ".join(f"{k}={v}" for k, v in tansu_env(local.bootstrap).items())
    sys.stdout.write(f"tansu listening on {local.bootstrap} (memory storage: gone when "
                     f"stopped)\n  export {exports}\n  make run-kafka\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops tansu too
    try:
        while local.alive():
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()


@app.command()
def topics() -> None:
    """Every topic with its partitions, record count and size."""

    async def show(platform: Platform) -> None:
        table = Table("topic", "partitions", "records", "bytes", title=f"{platform.log.engine} log")
        for info in await platform.log.topics():
            size = "-" if info.bytes is None else f"{info.bytes:,}"
            table.add_row(info.name, str(info.partitions), f"{info.records:,}", size)
        console.print(table)

    run_async(show)


async def _open(data: Any, keys: KeyStore | None, role: str, contact_id: str,
                path: str = "") -> Any:
    """Sealed fields as a lock, or opened as `role` may see them (hotline.disclosure)."""
    if isinstance(data, dict):
        if set(data) == {"kid", "nonce", "ct"}:
            if keys is None:
                return "🔒sealed"
            return await disclose(keys, Sealed(**data), f"{contact_id}/{path}", role)
        return {k: await _open(v, keys, role, contact_id, k) for k, v in data.items()}
    if isinstance(data, list):
        return [await _open(v, keys, role, contact_id, path) for v in data]
    return data


def _local(t: datetime) -> str:
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


async def _print_event(env: Envelope, keys: KeyStore | None = None, role: str = "",
                       prefix: str = "") -> None:
    sealed_text = env.data.get("text_sealed")
    data = await _open({k: v for k, v in env.data.items() if k != "text_sealed"}, keys, role,
                       env.data.get("contact_id", ""))
    if sealed_text:
        data["text_sealed"] = "🔒sealed"
        if keys is not None:
            data["text_as_typed"] = await typed_texts(keys, env, role) or "(masked for this role)"
    console.print(f"{prefix}[bold]{env.event_name}[/bold] v{env.streamversion} "
                  f"{_local(env.time)} [cyan]{env.actor}[/cyan] {env.subject}")
    console.print("   " + json.dumps(data, ensure_ascii=False), markup=False, highlight=False)


@app.command()
def tail(
    topic: str,
    n: Annotated[int, typer.Option("-n", help="records per partition")] = 10,
    follow: Annotated[bool, typer.Option("-f", "--follow")] = False,
) -> None:
    """The last records of a topic, decoded; undecodable ones shown with the reason."""

    async def show(platform: Platform) -> None:
        ends = await platform.log.end_offsets(topic)
        positions = {p: max(0, end - n) for p, end in ends.items()}
        while True:
            for p, start in positions.items():
                for record in await platform.log.read(topic, p, start, 10_000):
                    positions[p] = record.offset + 1
                    if "dlq_reason" in record.headers:  # a dead letter: where from, and why
                        h = record.headers
                        console.print(f"{p}:{record.offset} dead letter from "
                                      f"{h['dlq_topic']}/{h['dlq_partition']}@{h['dlq_offset']} "
                                      f"({h['dlq_consumer']}): {h['dlq_reason']}", markup=False,
                                      style="red")
                        continue
                    try:
                        await _print_event(decode(record.value), prefix=f"{p}:{record.offset} ")
                    except DecodeError as exc:
                        console.print(f"{p}:{record.offset} [red]undecodable[/red] {exc}")
            if not follow:
                return
            await asyncio.sleep(0.5)

    run_async(show)


@app.command()
def replay(
    stream: str,
    as_role: Annotated[str, typer.Option(
        "--as", help="open sealed personal data as this role sees it: operator (clear), "
                     "analyst (masked)…")] = "",
) -> None:
    """One stream's history, in order: what happened, when (Beijing time), and who did it."""

    async def show(platform: Platform) -> None:
        history = await platform.store.load(stream_topic(stream), stream)
        if not history:
            console.print(f"no events for {stream}")
            raise typer.Exit(1)
        for stored in history:
            await _print_event(stored.envelope, platform.keys if as_role else None, as_role)

    run_async(show)


@app.command()
def verify(
    stream: Annotated[str | None, typer.Argument(help="one stream; omit for --topic")] = None,
    topic: Annotated[str, typer.Option(help="verify every stream of this topic")] = "",
) -> None:
    """Check that histories prove themselves: no event altered, removed or moved."""

    async def check(platform: Platform) -> int:
        if stream:
            streams = [stream]
            name = stream_topic(stream)
        else:
            name = topic or "hotline.tickets"
            keys = set()
            for p, end in (await platform.log.end_offsets(name)).items():
                for start in range(0, end, 10_000):
                    keys |= {r.key for r in await platform.log.read(name, p, start, 10_000)}
            streams = sorted(keys)
        broken = 0
        for key in streams:
            for finding in (await check_logged(platform.log, name, key)).findings:
                broken += 1
                console.print(f"[red]✗ {key}[/red] #{finding.position}: {finding.problem}")
        console.print(f"{len(streams)} stream(s) checked, {broken} problem(s)")
        return broken

    if run_async(check):
        raise typer.Exit(1)


@app.command()
def rebuild(service: str) -> None:
    """Rebuild a service's projections from offset zero, with a progress bar."""
    from hotline.projection import engine_of
    from hotline.runner import rebuild as rebuild_projection
    specs = service_specs()
    if service not in specs:
        console.print(f"unknown service {service}; known: {', '.join(specs)}")
        raise typer.Exit(2)

    async def go(platform: Platform) -> None:
        tune_gc()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            for projection in specs[service].projections(platform):
                task = progress.add_task(f"rebuild {projection.name}", total=None)

                def report(done: int, total: int, task: Any = task) -> None:
                    progress.update(task, completed=done, total=total)

                stats = await rebuild_projection(platform.log, engine_of(projection, platform.db),
                                                 projection,
                                                 on_progress=report)
                progress.update(task, completed=sum(stats.positions.values()))
                console.print(f"{projection.name}: {stats.applied} events applied, "
                              f"{stats.dead_lettered} dead-lettered")

    run_async(go)


@app.command()
def forget(
    phone: Annotated[str | None, typer.Option(help="the citizen's phone number")] = None,
    ref: Annotated[str | None, typer.Option(help="the citizen ref, as in events")] = None,
) -> None:
    """Erase one citizen's key: their sealed data becomes unreadable everywhere (PIPL art. 47)."""
    if not (phone or ref):
        console.print("give --phone or --ref")
        raise typer.Exit(2)

    async def go(platform: Platform) -> bool:
        who = identity(phone=phone)
        kid = ref or (await platform.keys.find(who) if who else None)
        if kid is None:
            console.print("no citizen with this phone (never seen, or already forgotten)")
            return False
        erased = await platform.keys.erase(kid)
        console.print(f"{kid}: {'key erased' if erased else 'no key (already erased?)'}")
        return erased

    if not run_async(go):
        raise typer.Exit(1)


def _add_service_commands() -> None:
    """The subcommands services bring (`hotline.commands` entry points: accounts, keys)."""
    from importlib.metadata import entry_points

    for found in sorted(entry_points(group="hotline.commands"), key=lambda e: e.name):
        app.add_typer(found.load(), name=found.name)


_add_service_commands()
