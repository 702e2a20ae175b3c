"""Callback's composition root: the staff API, the citizen's survey pages and the SMS
replies, and the worker that opens, expires and closes surveys (started with the app unless
told otherwise: tests tick by hand). The survey sender runs as a relay (services/__init__)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, lifespan_with, utc_now
from hotline.web import install_basics
from reference.bundle import reference_of
from services.callback import api, public
from services.callback.domain import CallbackPolicy, load_callback_policy
from services.callback.links import Links
from services.callback.service import CallbackService
from services.callback.worker import CallbackWorker
from ticketing.client import ticket_claims
from ticketing.web import install_rule_handlers

BODY_LIMIT = 64 * 1024


def survey_links(platform: Platform) -> Links:
    """The platform's survey links: keyed on its pepper secret, under its public base."""
    return Links(platform.keys.pepper, platform.settings.survey_base_url)


def callback_policy_of(platform: Platform) -> CallbackPolicy:
    """The callback policy (services/callback/data), read once per process."""
    return platform.shared("callback-policy", load_callback_policy)


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
    run_worker: bool = True,
) -> FastAPI:
    """The callback app; it starts and closes `platform` itself unless told it is shared."""
    policy, ref = callback_policy_of(platform), reference_of(platform)
    worker = CallbackWorker(platform, policy, clock=clock,
                            interval_s=platform.settings.callback_tick_seconds)
    ready = app_readiness(platform, ticket_claims(platform), manage_platform, readiness)
    lifespan = lifespan_with(platform, manage_platform, ready, worker if run_worker else None)

    app = FastAPI(title="12345 热线 · 回访 (callback)", version="1", lifespan=lifespan)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.service = CallbackService(platform, policy, survey_links(platform), ref.policy,
                                        ref.calendar)
    app.state.reference = ref.data
    app.state.worker = worker
    app.include_router(api.router)
    app.include_router(public.router)
    install_rule_handlers(app)
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    return app
