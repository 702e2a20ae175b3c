"""Intake's composition root: the FastAPI app over a Platform."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from contracts.topics import CALLS, CONTACTS
from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, platform_lifespan, utc_now
from hotline.web import install_basics
from services.intake.api import router

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
    app = FastAPI(title="12345 热线 · 诉求受理 (intake)", version="1",
                  lifespan=platform_lifespan(platform, manage_platform, ready))
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.include_router(router)
    install_basics(app, SINGLE_LIMIT,
                   per_path={"/v1/contacts/batch": BATCH_LIMIT, "/v1/calls": BATCH_LIMIT})
    install_readiness(app, ready)

    return app
