"""Dispatch's composition root: the FastAPI app (operator desk, units, citizens) over a Platform."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hotline.apikeys import ApiKeys
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, platform_lifespan, utc_now
from hotline.web import install_basics, problem_response
from reference.bundle import reference_of
from services.dispatch import api_audit, api_desk, api_public, api_read, api_units
from services.dispatch.guesses import GuessLimit
from services.dispatch.keyset import BadCursor
from services.dispatch.knowledge_link import KnowledgeLink
from services.dispatch.service import ContactTaken, DispatchService, InvalidReference
from ticketing.client import ticket_claims
from ticketing.web import install_rule_handlers

BODY_LIMIT = 256 * 1024  # a reply of 20,000 characters with attachment references


def install_dispatch_handlers(app: FastAPI) -> None:
    """Ticket rules, plus dispatch's own: a command naming something unknown."""
    install_rule_handlers(app)

    @app.exception_handler(InvalidReference)
    async def _reference(request: Request, exc: InvalidReference) -> JSONResponse:
        return problem_response(422, "invalid-reference", "引用的对象不存在 (unknown reference)",
                                exc.reason, request.url.path,
                                errors=[{"field": exc.field, "reason": exc.reason}])

    @app.exception_handler(ContactTaken)  # the contact queue: held by another, or dismissed
    async def _taken(request: Request, exc: ContactTaken) -> JSONResponse:
        return problem_response(409, exc.rule, "来件已被他人认领或已作无效处理 (contact taken)",
                                exc.detail, request.url.path, rule=exc.rule)

    @app.exception_handler(BadCursor)  # every list that pages: the tickets, the inbox
    async def _cursor(request: Request, exc: BadCursor) -> JSONResponse:
        return problem_response(422, "bad-cursor", "翻页游标无效 (invalid cursor)",
                                "Use the next_cursor of a list with the same sort.",
                                request.url.path, errors=[{"field": "query.cursor",
                                                           "reason": str(exc)}])


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
) -> FastAPI:
    """The dispatch app; it starts and closes `platform` itself unless told it is shared."""

    ready = app_readiness(platform, ticket_claims(platform), manage_platform, readiness)
    app = FastAPI(title="12345 热线 · 派单与承办 (dispatch)", version="1",
                  lifespan=platform_lifespan(platform, manage_platform, ready))
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    settings = platform.settings
    app.state.service = DispatchService(
        platform, reference_of(platform),
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        similarity_threshold=settings.duplicate_similarity)
    app.state.guesses = GuessLimit()
    app.state.knowledge = platform.shared("knowledge-link", lambda: KnowledgeLink(
        httpx.AsyncClient(base_url=settings.knowledge_url)))
    for module in (api_desk, api_units, api_read, api_audit, api_public):
        app.include_router(module.router)
    install_dispatch_handlers(app)
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    return app
