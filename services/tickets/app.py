"""The decider's app: health, readiness (partitions claimed and loaded) and metrics; its work
arrives on hotline.commands, not over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from contracts.topics import COMMANDS, REPLIES, TICKETS
from hotline.apikeys import ApiKeys
from hotline.auth import roles
from hotline.readiness import Readiness, install_readiness
from hotline.requests import request_cipher
from hotline.responder import Responder
from hotline.runtime import Platform, app_readiness, platform_lifespan, utc_now
from hotline.web import install_basics
from services.tickets.host import DeskHost
from ticketing.client import local_tickets, routed

GROUP = "hotline-deciders"  # where the replicas commit how far they answered each partition


class Partitions(BaseModel):
    answering: list[int]
    answered: int


async def start_decider(platform: Platform, host: DeskHost | None = None) -> Responder:
    """Answer the ticket requests of the partitions this process owns (close it to stop)."""
    host = host or DeskHost(local_tickets(platform))
    responder = Responder(platform.log, owns=TICKETS, requests=COMMANDS, replies=REPLIES,
                          group=GROUP, cipher=await request_cipher(platform.keys),
                          handle=host.handle)
    await responder.start()
    return responder


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
) -> FastAPI:
    """The decider; it answers routed requests when the platform routes them (Kafka, or
    HOTLINE_TICKET_COMMANDS=routed), else it has nothing to do but say so."""
    settings = platform.settings
    answering = routed(settings.ticket_commands, platform.log.engine)
    ready = app_readiness(platform, (TICKETS,) if answering else (), manage_platform, readiness)
    tickets = local_tickets(platform)  # this replica's own desk, always
    host = DeskHost(tickets)
    platform_context = platform_lifespan(platform, manage_platform, ready)
    responder: list[Responder] = []
    if answering:
        ready.require("answering requests", lambda: bool(responder))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with platform_context(app):
            if answering:
                await ready.wait_claims()
                responder.append(await start_decider(platform, host))
            yield
            for found in responder:
                await found.close()

    app = FastAPI(title="12345 热线 · 工单决策 (tickets)", version="1", lifespan=lifespan)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock

    @app.get("/v1/decider/partitions", response_model=Partitions,
             dependencies=[Depends(roles("supervisor", "auditor"))])
    async def partitions() -> Partitions:
        """The partitions of hotline.tickets this replica answers for, and how many so far."""
        found = responder[0] if responder else None
        return Partitions(answering=sorted(found.partitions) if found else [],
                          answered=found.answered if found else 0)

    install_basics(app, 16 * 1024)
    install_readiness(app, ready)
    return app
