"""Supervision's composition root: the board and orders API, and the ticker that fires
escalations (started with the app unless told otherwise: tests tick by hand)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, lifespan_with, utc_now
from hotline.web import install_basics
from reference.bundle import reference_of
from services.supervision import api
from services.supervision.service import SupervisionService
from services.supervision.ticker import Ticker
from ticketing.client import ticket_claims
from ticketing.web import install_rule_handlers

BODY_LIMIT = 64 * 1024


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
    run_ticker: bool = True,
) -> FastAPI:
    """The supervision app; it starts and closes `platform` itself unless told it is shared."""
    ref = reference_of(platform)
    policy, calendar = ref.policy, ref.calendar
    ticker = Ticker(platform, policy, calendar, clock=clock,
                    interval_s=platform.settings.supervision_tick_seconds)
    ready = app_readiness(platform, ticket_claims(platform), manage_platform, readiness)
    lifespan = lifespan_with(platform, manage_platform, ready, ticker if run_ticker else None)

    app = FastAPI(title="12345 热线 · 督办 (supervision)", version="1", lifespan=lifespan)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.service = SupervisionService(platform, policy, calendar)
    app.state.reference = ref.data
    app.state.ticker = ticker
    app.include_router(api.router)
    install_rule_handlers(app)
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    return app
