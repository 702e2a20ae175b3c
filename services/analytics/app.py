"""The analytics app: KPI definitions and figures, and the fact rows behind them; the only
thing it writes to the log is hotspots (hotline.analytics, by its hotspot runner, which
claims that topic itself)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, lifespan_with, utc_now
from hotline.web import install_basics
from reference.bundle import reference_of
from services.analytics import api, api_tiers
from services.analytics.hotspots import api as hotspots_api
from services.analytics.reports import api as reports_api
from services.analytics.reports import jobs as report_jobs
from services.analytics.service import AnalyticsService

BODY_LIMIT = 16 * 1024  # every route is a GET


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
    run_reports: bool = True,  # the report schedule (tests make reports by hand)
) -> FastAPI:
    """The analytics app; it starts and closes `platform` itself unless told it is shared."""
    ready = app_readiness(platform, (), manage_platform, readiness)
    reports, schedule = report_jobs.reports_of(platform, clock)
    hotspots, background = hotspots_api.background(
        platform, clock, schedule if run_reports else None)
    lifespan = lifespan_with(platform, manage_platform, ready, background)
    app = FastAPI(title="12345 热线 · 数据分析 (analytics)", version="1", lifespan=lifespan)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.service = AnalyticsService(platform)
    app.state.reference = reference_of(platform).data
    app.include_router(api.router)
    api_tiers.attach(app, app.state.reference)
    app.state.reports = reports
    app.include_router(reports_api.router)
    hotspots_api.attach(app, hotspots)
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    return app
