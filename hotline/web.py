"""What every service's HTTP side shares: RFC 9457 problem+json errors, body limits, metrics.

Every error leaves as `application/problem+json` with a type, a title, a
status and a detail that never repeats the submitted values (they may hold a
phone number or an address).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://hotline12345.example/problems/"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error answered as problem+json; `kind` becomes the type URI (…/problems/<kind>)."""

    def __init__(self, status: int, kind: str, title: str, detail: str = "", *,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status, self.kind, self.title, self.detail, self.extra = (
            status, kind, title, detail, extra,
        )
        self.headers = headers


def problem_response(
    status: int, kind: str, title: str, detail: str = "", instance: str | None = None,
    headers: dict[str, str] | None = None, **extra: Any,
) -> JSONResponse:
    """The RFC 9457 body, with our extension members (`errors`, `contact_id`…) beside it."""
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def validation_errors(errors: Any) -> list[dict[str, str]]:
    """Field and reason for each error, without the offending input (it may be personal data)."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "(body)", "reason": err.get("msg", "invalid")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` a problem+json response."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.title, exc.detail,
                                request.url.path, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422, "invalid-request", "请求内容不合法 (invalid request)",
            "The request body does not match the contract; see errors.",
            request.url.path, errors=validation_errors(exc.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body (e.g. not UTF-8)
            return problem_response(422, "invalid-request", "请求内容不合法 (invalid request)",
                                    "The request body is not valid JSON.", request.url.path,
                                    errors=[{"field": "(body)", "reason": "not valid JSON"}])
        kind = {401: "unauthenticated", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail), "", request.url.path,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(500, "internal-error", "服务内部错误 (internal error)",
                                "Nothing was accepted; the request may be retried.",
                                request.url.path)


class BodyLimit:
    """ASGI middleware: 413 as soon as a request body passes its route's byte limit."""

    def __init__(self, app: ASGIApp, default: int, per_path: dict[str, int] | None = None):
        self.app, self.default, self.per_path = app, default, per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send, limit)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413, "payload-too-large", "请求体过大 (request body too large)",
            f"This endpoint accepts at most {limit} bytes.", scope["path"],
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def metrics_endpoint(app: FastAPI) -> None:
    """GET /metrics in the Prometheus text format (public, like health)."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def install_basics(app: FastAPI, body_limit: int, per_path: dict[str, int] | None = None) -> None:
    """What every service's app has: problem+json errors, a body-size limit, GET /metrics
    and GET /healthz."""
    install_problem_handlers(app)
    metrics_endpoint(app)
    app.add_middleware(BodyLimit, default=body_limit, per_path=per_path)  # type: ignore[arg-type]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def from_state(attr: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency handing out `app.state.<attr>` (the service, the clock…): routes get
    what the app was built with, tests build apps with their own."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, attr)

    return get
