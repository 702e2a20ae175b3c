"""The console's composition root: pages over the services' APIs, its static files, and
the error pages every refusal becomes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, platform_lifespan, utc_now
from hotline.web import http_problem, install_basics
from reference.bundle import reference_of
from services.console import (
    pages_admin,
    pages_analytics,
    pages_auth,
    pages_desk,
    pages_dispute,
    pages_knowledge,
    pages_oversight,
    pages_ticket,
    pages_units,
)
from services.console.names import Names
from services.console.upstream import Refused, Upstream, service_urls
from services.console.web import (
    Bounced,
    SignInNeeded,
    back,
    render,
    sign_in_page,
    signed_in,
)

BODY_LIMIT = 64 * 1024
STATIC = Path(__file__).parent / "static"


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The console app; `transport` lets a test reach the services without sockets."""
    ready = app_readiness(platform, (), manage_platform, readiness)
    upstream = Upstream(service_urls(platform.settings), transport=transport)
    inner = platform_lifespan(platform, manage_platform, ready)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            yield
        await upstream.close()

    app = FastAPI(title="12345 热线 · 工作台 (console)", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.upstream, app.state.names = upstream, Names(reference_of(platform).data)
    for pages in (pages_auth, pages_desk, pages_units, pages_ticket, pages_oversight,
                  pages_dispute, pages_knowledge, pages_analytics, pages_admin):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    _install_pages_errors(app)
    return app


def _install_pages_errors(app: FastAPI) -> None:
    """A refusal is a page with the service's Chinese message; no session, the sign-in."""

    @app.exception_handler(Bounced)
    async def _bounced(request: Request, exc: Bounced) -> Response:
        return back(exc.to, error=exc.message)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        return sign_in_page(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """A path or method no page has: for a browser a page saying so, in the frame; for
        a program (the session API the console shares) the usual problem+json."""
        if not request.headers.get("accept", "").startswith("text/html"):
            return await http_problem(request, exc)
        title = "页面不存在 (not found)" if exc.status_code == 404 else f"无法完成 ({exc.detail})"
        return await _refused(request, Refused(exc.status_code, title))

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        if exc.status == 401:
            return sign_in_page(request)
        try:
            person = await signed_in(request)
        except SignInNeeded:
            person = None
        return render(request, "error.html", person, code=exc.status, status=exc.status,
                      message=exc.message)
