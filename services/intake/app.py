"""Intake's composition root: the FastAPI app over a Platform."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.topics import CALLS, CONTACTS
from hotline.apikeys import ApiKeys
from hotline.runtime import Platform, platform_lifespan, utc_now
from hotline.web import install_basics, problem_response
from services.intake.api import router

SINGLE_LIMIT = 64 * 1024  # one contact: 5,000 characters of text and some metadata
BATCH_LIMIT = 8 * 1024 * 1024



def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
) -> FastAPI:
    """The intake app; it starts and closes `platform` itself unless told it is shared."""

    app = FastAPI(title="12345 热线 · 诉求受理 (intake)", version="1",
                  lifespan=platform_lifespan(platform, manage_platform, (CONTACTS, CALLS)))
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.include_router(router)
    install_basics(app, SINGLE_LIMIT,
                   per_path={"/v1/contacts/batch": BATCH_LIMIT, "/v1/calls": BATCH_LIMIT})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        try:
            await platform.log.end_offsets(CONTACTS)
            await platform.keys.pepper()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return problem_response(503, "not-ready", "服务未就绪 (not ready)",
                                    type(exc).__name__, request.url.path)
        return JSONResponse({"status": "ready", "log": platform.log.engine})

    return app
