"""The people service's composition root: accounts, keys and their history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from contracts.topics import PEOPLE
from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, platform_lifespan, utc_now
from hotline.web import install_basics
from reference.bundle import reference_of
from services.people import api
from services.people.service import PeopleService

BODY_LIMIT = 16 * 1024


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
) -> FastAPI:
    """The people app; it starts and closes `platform` itself unless told it is shared."""
    ready = app_readiness(platform, (PEOPLE,), manage_platform, readiness)
    app = FastAPI(title="12345 热线 · 人员与权限 (people)", version="1",
                  lifespan=platform_lifespan(platform, manage_platform, ready))
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.service = PeopleService(platform, api_keys)
    app.state.reference = reference_of(platform).data
    app.include_router(api.router)
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    return app
