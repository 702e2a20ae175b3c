"""`hotline run`: every service and its projections in one process, on the settings' engines."""

from __future__ import annotations

import asyncio
import json
import logging
import os

import uvicorn
from rich.console import Console

from contracts.vocabulary import Channel
from hotline import redact
from hotline.apikeys import ApiKeys, Principal, Role
from hotline.projection import ProjectionRunner
from hotline.runtime import Platform, tune_gc
from hotline.settings import Settings

DEV_STAFF: tuple[Role, ...] = ("operator", "supervisor", "callback", "analyst", "auditor")
DEV_UNITS = ("d01-urban-squad", "city-urban-mgmt", "d01-street-1", "city-water")


def _dev_principals() -> dict[str, Principal]:
    found = {c.value: Principal(f"dev-{c.value}", "channel", channel=c.value) for c in Channel}
    found |= {role: Principal(f"dev-{role}", role) for role in DEV_STAFF}
    found |= {f"unit:{u}": Principal(f"dev-unit-{u}", "unit", unit=u) for u in DEV_UNITS}
    return found


def dev_keys(settings: Settings, keys: ApiKeys) -> dict[str, str]:
    """On a development machine, one key per channel, staff role and a few units, kept in
    data_dir/dev-keys.json (0600)."""
    path = settings.data_dir / "dev-keys.json"
    wanted = _dev_principals()
    if path.exists():
        known: dict[str, str] = json.loads(path.read_text())
        if set(known) == set(wanted) and all(keys.authenticate(k) for k in known.values()):
            return known
    if settings.environment != "development":
        return {}
    created = {name: keys.create(p) for name, p in wanted.items()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(created, f, indent=1)
    return created


async def serve_all(settings: Settings, console: Console) -> None:
    """Start every service of `services.SERVICES`; returns on Ctrl-C or SIGTERM."""
    from services import SERVICES

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redact.install()
    platform = Platform.from_settings(settings)
    await platform.start()
    api_keys = ApiKeys(settings.data_dir / "api_keys.json")
    keys = dev_keys(settings, api_keys)
    servers, runners = [], []
    for spec in SERVICES.values():
        for topic in spec.writes:  # before serving: on Kafka, a join and an index load
            await platform.log.claim(topic)
        app = spec.create_app(platform, api_keys, manage_platform=False)
        config = uvicorn.Config(app, host=settings.host, port=spec.port(settings),
                                log_level="warning", access_log=False)
        servers.append((spec, uvicorn.Server(config)))
        runners += [ProjectionRunner(platform.log, platform.db, p)
                    for p in (*spec.projections, *spec.relays(platform))]
    tune_gc()
    tasks = [asyncio.create_task(server.serve()) for _, server in servers]
    projection_tasks = [asyncio.create_task(r.run()) for r in runners]
    while not all(server.started for _, server in servers):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    console.print(f"[bold]12345 热线平台[/bold] — log: {platform.log.engine} ({settings.log}), "
                  f"projections: {settings.db}")
    for spec, _ in servers:
        base = f"http://{settings.host}:{spec.port(settings)}"
        console.print(f"  {spec.title:<20} {base}   (docs {base}/docs, metrics {base}/metrics)")
        if keys:
            console.print("  try:\n" + spec.example(base, keys), markup=False,
                          highlight=False, soft_wrap=True)
    if keys:
        console.print("  development API keys (channels, staff, units): "
                      f"{settings.data_dir / 'dev-keys.json'}")
    try:
        await asyncio.gather(*tasks)
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.gather(*projection_tasks, return_exceptions=True)
        await platform.close()
