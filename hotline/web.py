"""What every service's HTTP side shares: RFC 9457 problem+json errors, body limits, metrics.

Every error leaves as `application/problem+json` with a type, a title, a
status and a detail that never repeats the submitted values (they may hold a
phone number or an address) — an unexpected exception too (`CrashGuard`), and
the OpenAPI document says so for every route (`problems`, `install_document`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.log.port import NotStreamOwner
from hotline.requests import NoAnswer

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://hotline12345.example/problems/"
# what a server-sent event stream sends after this long without an event: a comment line,
# ignored by EventSource, so a proxy never cuts it as idle (nginx's default: 60 s)
SSE_KEEPALIVE_S = 15.0
SSE_KEEPALIVE = ": keep-alive\n\n"
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


async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors (no such path, wrong method, unparsable body) as problem+json."""
    if exc.status_code == 400:  # FastAPI could not parse the body (e.g. not UTF-8)
        return problem_response(422, "invalid-request", "请求内容不合法 (invalid request)",
                                "The request body is not valid JSON.", request.url.path,
                                errors=[{"field": "(body)", "reason": "not valid JSON"}])
    kind = {401: "unauthenticated", 403: "forbidden", 404: "not-found",
            405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem_response(exc.status_code, kind, str(exc.detail), "", request.url.path,
                            headers=getattr(exc, "headers", None))


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

    # a command or event model, built in a route, refused what the body's model allowed
    @app.exception_handler(ValidationError)
    async def _refused(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(422, "invalid-request", "请求内容不合法 (invalid request)",
                                "The request breaks its contract; see errors.", request.url.path,
                                errors=validation_errors(exc.errors()))

    @app.exception_handler(NoAnswer)  # the owner of a stream's partition did not answer
    async def _no_answer(request: Request, exc: NoAnswer) -> JSONResponse:
        return problem_response(503, "owner-unavailable",
                                "处理服务暂时无应答, 请重试 (retry shortly)",
                                "The replica owning this record did not answer in time; a "
                                "retry with the same Idempotency-Key or message id applies it "
                                "at most once.", request.url.path, headers={"Retry-After": "1"})

    @app.exception_handler(NotStreamOwner)  # Kafka: another replica owns the partition
    async def _not_owner(request: Request, exc: NotStreamOwner) -> JSONResponse:
        return problem_response(503, "not-owner", "暂时无法处理, 请重试 (retry shortly)",
                                "This instance does not own the stream's partition.",
                                request.url.path, headers={"Retry-After": "1"})

    app.exception_handler(StarletteHTTPException)(http_problem)


CRASH_PAGE = ("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>服务内部错误"
              "</title><h1>服务内部错误</h1><p>出现了意外错误, 已记录供运维人员处理。请返回上一页"
              "重试; 重复提交同一表单不会重复办理。</p></html>")


def _browser(scope: Scope) -> bool:
    """A browser navigating (it asks for HTML first), not a program calling the API."""
    accept = dict(scope.get("headers") or ()).get(b"accept", b"")
    return bool(accept.startswith(b"text/html"))


class CrashGuard:
    """Pure ASGI middleware, outermost: any exception becomes a problem+json 500.

    Starlette's `exception_handler(Exception)` answers from ServerErrorMiddleware, which
    re-raises afterwards: uvicorn then logs "Exception in ASGI application" and drops the
    keep-alive connection, so the client's next request on it is reset. Here the error is
    logged (the logging layer masks numbers) and answered, and the connection lives on.
    The body never carries the exception's text: it may hold personal data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            # the route, not the path: a path may carry a survey link's token
            endpoint = getattr(scope.get("endpoint"), "__qualname__", "no route")
            log.exception("unhandled error in %s %s", scope.get("method"), endpoint)
            if started:  # the status is out: the server closes the connection, the body cut
                return
            if _browser(scope):  # a page navigation (the console, a survey link): a page
                await HTMLResponse(CRASH_PAGE, status_code=500)(scope, receive, send)
                return
            await problem_response(
                500, "internal-error", "服务内部错误 (internal error)",
                "An unexpected error, logged for the operators. A command retried with the "
                "same Idempotency-Key is applied at most once.", scope["path"],
            )(scope, receive, send)


FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError", "type": "object", "required": ["field", "reason"],
    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status"],
    "description": "RFC 9457 problem details, with extension members beside them.",
    "properties": {
        "type": {"type": "string", "description": TYPE_BASE + "<kind>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "rule": {"type": "string", "description": "The rule broken (ticketing/rules.py)"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
}
ANSWERS = {
    401: "需要有效的 API 密钥或登录 (no valid API key or session)",
    403: "无权执行该操作 (not allowed for this key or person)",
    404: "不存在, 或对该密钥不可见 (no such thing, or not visible to this key)",
    409: "与当前状态冲突 (conflicts with the current state)",
    410: "已过期 (expired)",
    413: "请求体过大 (request body too large)",
    422: "请求内容不合法 (invalid request)",
    429: "请求过于频繁 (too many attempts)",
    500: "服务内部错误 (internal error)",
    503: "暂时无法处理, 请重试 (retry shortly)",
}


def problems(*statuses: int, rules: Mapping[int, Iterable[str]] | None = None,
             html: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: each status answered as problem+json (also as a
    page when `html`), its `rule` one of `rules[status]` when given."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        named = sorted(set((rules or {}).get(status, ())))
        only: dict[str, Any] = {"status": {"const": status}}
        description = ANSWERS[status]
        if named:
            only["rule"] = {"enum": named}
            description += "; rule: " + ", ".join(named)
        content: dict[str, Any] = {PROBLEM_JSON: {"schema": {"allOf": [
            {"$ref": "#/components/schemas/Problem"}, {"properties": only}]}}}
        if html:
            content["text/html"] = {"schema": {"type": "string"}}
        out[status] = {"description": description, "content": content}
    return out


def install_document(app: FastAPI) -> None:
    """Make the app's OpenAPI document list what every route really answers: its 422 as the
    problem+json it is (not FastAPI's HTTPValidationError), 401 and 403 where a key is
    checked, 413 where a body is read, 500 and 503 (starting, hotline.readiness) everywhere;
    routes add theirs with `problems`."""
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _truthful(build())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _truthful(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (FastAPI's) with the Problem schema and the answers every route shares."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(Problem=PROBLEM_SCHEMA, FieldError=FIELD_ERROR_SCHEMA)
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            answers = operation.setdefault("responses", {})
            fastapi_422 = "application/json" in answers.get("422", {}).get("content", {})
            derived = [422] if fastapi_422 else []
            if operation.get("security"):
                derived += [401, 403]
            if "requestBody" in operation:
                derived.append(413)
            for status, answer in problems(*derived, 500, 503).items():  # 503: not ready yet
                if str(status) not in answers or (status == 422 and fastapi_422):
                    answers[str(status)] = answer
    return doc


def metrics_endpoint(app: FastAPI) -> None:
    """GET /metrics in the Prometheus text format (public, like health)."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def install_basics(app: FastAPI, body_limit: int, per_path: dict[str, int] | None = None) -> None:
    """What every service's app has: problem+json errors (an unexpected exception too), a
    body-size limit, a truthful OpenAPI document, no redirects, GET /metrics and /healthz,
    and the session routes (sign in on any service, act on all of them)."""
    from hotline.signin import router as sessions  # it answers with our Problem: no cycle

    app.include_router(sessions)
    install_problem_handlers(app)
    install_document(app)
    metrics_endpoint(app)
    # Starlette's trailing-slash redirect builds its Location from the Host header, which
    # the client chose: a wrong path is a plain 404 instead
    app.router.redirect_slashes = False
    from hotline.limits import RequestLimits  # it answers with this module's problems

    app.add_middleware(RequestLimits, default=body_limit,  # type: ignore[arg-type]
                       per_path=per_path)
    app.add_middleware(CrashGuard)  # added last: the outermost, around RequestLimits too

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def from_state(attr: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency handing out `app.state.<attr>` (the service, the clock…): routes get
    what the app was built with, tests build apps with their own."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, attr)

    return get
