"""Dispatch's composition root: the FastAPI app (operator desk, units, citizens) over a Platform."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.topics import TICKETS
from hotline.apikeys import ApiKeys
from hotline.log.port import NotStreamOwner, VersionConflict
from hotline.runtime import Platform, platform_lifespan, utc_now
from hotline.web import (
    BodyLimit,
    install_problem_handlers,
    metrics_endpoint,
    problem_response,
    validation_errors,
)
from services.dispatch import api_desk, api_public, api_read, api_units
from services.dispatch.api_public import Throttle
from services.dispatch.directory import load_reference_data
from services.dispatch.service import DispatchService, InvalidReference
from services.supervision.calendar import MissingYear
from services.tickets.handler import IdempotencyConflict
from services.tickets.rules import Rejected

BODY_LIMIT = 256 * 1024  # a reply of 20,000 characters with attachment references



def install_rule_handlers(app: FastAPI) -> None:
    """Rejections name the rule broken; nothing was appended for any of these."""

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> JSONResponse:
        rule = exc.rule
        return problem_response(rule.status, rule.id, f"{rule.zh} ({rule.en})", exc.detail,
                                request.url.path, rule=rule.id)

    @app.exception_handler(InvalidReference)
    async def _reference(request: Request, exc: InvalidReference) -> JSONResponse:
        return problem_response(422, "invalid-reference", "引用的对象不存在 (unknown reference)",
                                exc.reason, request.url.path,
                                errors=[{"field": exc.field, "reason": exc.reason}])

    @app.exception_handler(ValidationError)  # a command model refused what the body allowed
    async def _invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(422, "invalid-request", "请求内容不合法 (invalid request)",
                                "The command breaks its contract; see errors.", request.url.path,
                                errors=validation_errors(exc.errors()))

    @app.exception_handler(IdempotencyConflict)
    async def _conflict(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return problem_response(409, "idempotency-conflict",
                                "幂等键已用于其他请求 (Idempotency-Key reused)",
                                "This Idempotency-Key was used before with a different body.",
                                request.url.path)

    @app.exception_handler(MissingYear)
    async def _no_calendar(request: Request, exc: MissingYear) -> JSONResponse:
        return problem_response(503, "calendar-missing-year",
                                "缺少该年度节假日安排, 无法计算时限 (no holiday schedule)",
                                str(exc), request.url.path)

    @app.exception_handler(NotStreamOwner)
    async def _not_owner(request: Request, exc: NotStreamOwner) -> JSONResponse:
        return problem_response(503, "not-owner", "暂时无法处理, 请重试 (retry shortly)",
                                "This instance does not own the ticket's partition.",
                                request.url.path, headers={"Retry-After": "1"})

    @app.exception_handler(VersionConflict)
    async def _busy(request: Request, exc: VersionConflict) -> JSONResponse:
        return problem_response(503, "contended", "工单正被频繁修改, 请重试 (retry shortly)",
                                "Too many concurrent changes to this ticket.", request.url.path,
                                headers={"Retry-After": "1"})


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
) -> FastAPI:
    """The dispatch app; it starts and closes `platform` itself unless told it is shared."""

    app = FastAPI(title="12345 热线 · 派单与承办 (dispatch)", version="1", 
                  lifespan=platform_lifespan(platform, manage_platform, (TICKETS,)))
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    settings = platform.settings
    app.state.service = DispatchService(
        platform, load_reference_data(),
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        similarity_threshold=settings.duplicate_similarity)
    app.state.throttle = Throttle()
    for module in (api_desk, api_units, api_read, api_public):
        app.include_router(module.router)
    install_problem_handlers(app)
    install_rule_handlers(app)
    metrics_endpoint(app)
    app.add_middleware(BodyLimit, default=BODY_LIMIT)  # type: ignore[arg-type]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
