"""`hotline run`: every service and its projections in one process, on the settings' engines."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI
from rich.cells import cell_len
from rich.console import Console

from contracts.topics import PEOPLE
from contracts.vocabulary import Channel
from hotline import redact
from hotline.apikeys import ApiKeyStore, Principal, Role, open_api_keys
from hotline.devpeople import DEV_UNITS, dev_accounts, ensure_dev_accounts
from hotline.projection import engine_of
from hotline.readiness import Readiness
from hotline.runner import ProjectionRunner
from hotline.runtime import Platform, ServiceSpec, service_specs, tune_gc
from hotline.settings import Settings

SHUTDOWN_GRACE_S = 5  # after SIGTERM; a client cut off retries with its Idempotency-Key

DEV_STAFF: tuple[Role, ...] = ("operator", "supervisor", "callback", "analyst", "auditor",
                              "editor", "admin")


def _dev_principals() -> dict[str, Principal]:
    found = {c.value: Principal(f"dev-{c.value}", "channel", channel=c.value) for c in Channel}
    found |= {role: Principal(f"dev-{role}", role) for role in DEV_STAFF}
    found |= {f"unit:{u}": Principal(f"dev-unit-{u}", "unit", unit=u) for u in DEV_UNITS}
    return found


async def dev_keys(settings: Settings, keys: ApiKeyStore) -> dict[str, str]:
    """On a development machine, one key per channel, staff role and a few units, kept in
    data_dir/dev-keys.json (0600). Anywhere else those keys are revoked and the file removed:
    a data dir first run in development must not open production to whoever read it."""
    path = settings.data_dir / "dev-keys.json"
    wanted = _dev_principals()
    if settings.environment != "development":
        revoked = sum([await keys.revoke(p.name) for p in wanted.values()])
        path.unlink(missing_ok=True)
        if revoked:
            logging.getLogger(__name__).warning(
                "revoked %d development API keys found in %s", revoked, settings.data_dir)
        return {}
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if set(known) == set(wanted) and all([await keys.authenticate(k) for k in known.values()]):
        return known
    created = {name: await keys.create(p) for name, p in wanted.items()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(created, f, indent=1)
    return created


def server(app: FastAPI, settings: Settings, port: int) -> uvicorn.Server:
    """A uvicorn server for one app. Forwarding headers (X-Forwarded-For) are believed only
    from the proxies in HOTLINE_TRUSTED_PROXIES: anyone else could claim any address."""
    trusted = settings.trusted_proxies
    # on SIGTERM, requests in flight get SHUTDOWN_GRACE_S to finish; then the connections
    # still open (live lists over server-sent events never finish by themselves) are cut,
    # so a rolling update or `hotline run` stopping is never held by a browser left open
    config = uvicorn.Config(app, host=settings.host, port=port, log_level="warning",
                            access_log=False, proxy_headers=bool(trusted),
                            forwarded_allow_ips=trusted or None,
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    return uvicorn.Server(config)


def chosen(names: Sequence[str]) -> list[ServiceSpec]:
    """The installed services named (all of them for none), in the loop's order."""
    specs = service_specs()
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise SystemExit(f"no such service: {', '.join(unknown)} (installed: "
                         f"{', '.join(specs)})")
    return [spec for name, spec in specs.items() if not names or name in names]


def refuse_taken_ports(specs: Sequence[ServiceSpec], settings: Settings) -> None:
    """Stop before anything starts when a service's port is held (often a platform left
    running): one line naming the setting to change, not a traceback per server."""
    for spec in specs:
        port = spec.port(settings)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((settings.host, port))
            except OSError as error:
                raise SystemExit(f"{spec.name}: cannot listen on {settings.host}:{port} "
                                 f"({error.strerror}); stop what holds it or set "
                                 f"HOTLINE_{spec.name.upper()}_PORT") from None


async def serve_all(settings: Settings, console: Console, names: Sequence[str] = ()) -> None:
    """Start the named installed services (`service_specs`; every one for none) in this
    process; returns on Ctrl-C or SIGTERM.

    The servers listen at once (health and readiness answer), the writer groups are joined
    concurrently, and each service serves once its claims are held and its projections
    have caught up; only then is it announced as ready."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redact.install()
    for warning in settings.inapplicable():
        logging.getLogger(__name__).warning(warning)
    started = time.monotonic()
    specs = chosen(names)
    refuse_taken_ports(specs, settings)
    platform = Platform.from_settings(settings)
    await platform.start()
    api_keys = open_api_keys(settings)
    await api_keys.start()
    keys = await dev_keys(settings, api_keys)
    servers, runners, readies = [], [], []
    for spec in specs:
        mine = [ProjectionRunner(platform.log, engine_of(p, platform.db), p)
                for p in spec.projections(platform)]
        # ready once its own read models caught up; relays share their work between
        # replicas and lag without making any answer wrong
        readiness = Readiness(platform.log, spec.writes(platform), mine)
        mine += [ProjectionRunner(platform.log, platform.db, p, shared=True)
                 for p in spec.relays(platform)]
        app = spec.create_app(platform, api_keys, manage_platform=False, readiness=readiness)
        servers.append((spec, server(app, settings, spec.port(settings))))
        runners += mine
        readies.append(readiness)
    tune_gc()
    tasks = [asyncio.create_task(s.serve()) for _, s in servers]
    projection_tasks = [asyncio.create_task(r.keep_running()) for r in runners]
    try:
        await _until_ready(readies, tasks)
        password = None  # made (or, outside development, refused) where hotline.people is
        if any(PEOPLE in spec.writes(platform) for spec in specs):
            password = await ensure_dev_accounts(settings, api_keys, platform.store)
        _announce(settings, platform, servers, keys, console, time.monotonic() - started)
        if password:
            _announce_people(settings, console, password)
        await asyncio.gather(*tasks)
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.gather(*projection_tasks, return_exceptions=True)
        await platform.close()
        await api_keys.close()


async def _until_ready(readies: list[Readiness], tasks: list[asyncio.Task[None]]) -> None:
    """Claims (every service's at once), then the projections caught up; a server that
    exits meanwhile (a port taken) ends the wait with its error."""
    claiming: asyncio.Future[list[None]] = asyncio.gather(*(r.start() for r in readies))
    while not (claiming.done() and all(r.ready for r in readies)):
        if claiming.done():
            claiming.result()  # a claim failed: raise its error
        if any(t.done() for t in tasks):
            raise SystemExit("a server stopped during start-up (see above)")
        await asyncio.sleep(0.05)
    claiming.result()


def _announce_people(settings: Settings, console: Console, password: str) -> None:
    base = f"http://{settings.host}:{settings.people_port}"
    logins = ", ".join(a.login for a in dev_accounts())
    console.print(f"  sign in as a development person ({logins}), password {password}:\n"
                  f"  curl -s -c jar {base}/v1/session -H 'Content-Type: application/json' "
                  f"-d '{{\"login\":\"dev.operator\",\"password\":\"{password}\"}}'\n"
                  f"  (kept in {settings.data_dir / 'dev-accounts.json'}; a change sent with "
                  "the cookie carries the answer's csrf_token as X-CSRF-Token)",
                  markup=False, highlight=False, soft_wrap=True)


def _announce(settings: Settings, platform: Platform,
              servers: list[tuple[ServiceSpec, uvicorn.Server]], keys: dict[str, str],
              console: Console, seconds: float) -> None:
    console.print(f"[bold]12345 热线平台[/bold] — log: {platform.log.engine} ({settings.log}), "
                  f"projections: {settings.db}; ready in {seconds:.1f} s", soft_wrap=True)
    for spec, server in servers:
        base = f"http://{settings.host}:{spec.port(settings)}"
        docs = f"docs {base}/docs, " if getattr(server.config.app, "docs_url", None) else ""
        # soft_wrap: an address is never cut in two where the output is not a terminal
        title = spec.title + " " * max(22 - cell_len(spec.title), 1)  # 汉字 are two columns
        console.print(f"  {title}{base}   ready ({docs}metrics {base}/metrics)",
                      soft_wrap=True)
        if keys:
            console.print("  try:\n" + spec.example(base, keys), markup=False,
                          highlight=False, soft_wrap=True)
    if keys:
        console.print("  development API keys (channels, staff, units): "
                      f"{settings.data_dir / 'dev-keys.json'}", soft_wrap=True)
