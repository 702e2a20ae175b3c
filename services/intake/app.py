"""Intake's composition root: the FastAPI app over a Platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from contracts.topics import CALLS, CONTACTS
from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.requests import requester_of
from hotline.runtime import Platform, app_readiness, platform_lifespan, utc_now
from hotline.web import install_basics
from services.intake import api_contact, api_queue
from services.intake.api import router
from services.intake.writer import IntakeWriter

SINGLE_LIMIT = 64 * 1024  # one contact: 5,000 characters of text and some metadata
BATCH_LIMIT = 8 * 1024 * 1024



def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
) -> FastAPI:
    """The intake app; it starts and closes `platform` itself unless told it is shared."""

    ready = app_readiness(platform, (CONTACTS, CALLS), manage_platform, readiness)
    kafka = platform.log.engine == "kafka"  # writer groups: each replica owns some partitions
    writer = IntakeWriter(platform, requester_of(platform) if kafka else None,
                          platform.settings.command_timeout_seconds)
    if kafka:
        ready.require("answering other replicas", lambda: bool(writer.owners))
    platform_context = platform_lifespan(platform, manage_platform, ready)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with platform_context(app):
            if kafka:
                await ready.wait_claims()
                await writer.answer()
            yield
            await writer.close()

    app = FastAPI(title="12345 热线 · 诉求受理 (intake)", version="1", lifespan=lifespan)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.writer = writer
    app.state.desk = api_queue.ContactDesk(platform, writer)
    app.state.contacts = api_contact.ContactReader(platform)
    app.include_router(router)
    app.include_router(api_queue.router)
    app.include_router(api_contact.router)
    install_basics(app, SINGLE_LIMIT,
                   per_path={"/v1/contacts/batch": BATCH_LIMIT, "/v1/calls": BATCH_LIMIT})
    install_readiness(app, ready)

    return app
