"""What every service's app shares at its edge: an unexpected exception is a problem+json
500 that keeps the connection, no redirect is ever built from the Host header, and the
OpenAPI document lists the problems each route answers."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from hotline.web import PROBLEM_JSON, install_basics
from tests.api.conftest import Seeded, app_of, clients
from ticketing.rules import RULES

EMBEDDED = pytest.mark.parametrize("log", ["embedded"], indirect=True)
SECRET = "caller 13812345678 at 幸福路18号"  # what an exception's text may hold


def crashing_app() -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET)

    install_basics(app, body_limit=1024)
    return app


def two_requests_on_one_connection(port: int) -> list[tuple[int, str, bytes]]:
    """GET /boom then GET /healthz over one keep-alive connection (blocking)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers = []
    try:
        for path in ("/boom", "/healthz"):
            conn.request("GET", path)
            r = conn.getresponse()
            answers.append((r.status, r.getheader("content-type") or "", r.read()))
    finally:
        conn.close()
    return answers


async def test_an_unexpected_error_is_a_500_problem_and_the_connection_lives_on(
        caplog: pytest.LogCaptureFixture) -> None:
    """Over a real uvicorn: the 500 is problem+json without the exception's text, it is
    logged with its traceback, and the next request on the same connection is answered."""
    config = uvicorn.Config(crashing_app(), host="127.0.0.1", port=0, lifespan="off",
                            ws="none", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with caplog.at_level(logging.ERROR):
            boom, health = await asyncio.to_thread(two_requests_on_one_connection, port)
    finally:
        server.should_exit = True
        await serving
    assert boom[0] == 500 and boom[1].startswith(PROBLEM_JSON)
    body = json.loads(boom[2])
    assert body["type"].endswith("/problems/internal-error") and body["status"] == 500
    assert "13812345678" not in boom[2].decode() and "RuntimeError" not in boom[2].decode()
    assert health[0] == 200  # the same connection, still open
    logged = [r for r in caplog.records if r.name == "hotline.web"]
    assert logged and logged[0].exc_info is not None
    assert "boom" in logged[0].getMessage() and "/boom" not in logged[0].getMessage()
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]


async def test_a_browser_navigating_gets_a_page_not_json() -> None:
    """The console and the survey links are opened in browsers: a crash there is a page in
    Chinese, still without the exception's text."""
    transport = httpx.ASGITransport(app=crashing_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/boom", headers={"Accept": "text/html,application/xhtml+xml"})
        program = await client.get("/boom", headers={"Accept": "application/json"})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "服务内部错误" in page.text and "13812345678" not in page.text
    assert "RuntimeError" not in page.text
    assert program.status_code == 500 and program.headers["content-type"].startswith(PROBLEM_JSON)


@EMBEDDED
async def test_every_service_answers_a_crash_with_a_problem(
        every_app: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard is installed on the real apps: a failing directory is a 500 problem, not
    an exception escaping to the server."""
    h = every_app.h
    service = app_of(h.dispatch).state.service

    def broken(self: object) -> None:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(type(service.ref.directory), "districts", broken)
    r = await h.get("/v1/directory/districts", "operator")
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM_JSON)
    assert "13812345678" not in r.text


@EMBEDDED
@pytest.mark.parametrize("path", ["/v1/tickets/", "/v1/inbox/", "/healthz/", "/v1/contacts/",
                                  "/v1/supervision/tickets/", "/v1/callback/tasks/"])
async def test_no_redirect_is_built_from_the_host_header(every_app: Seeded, path: str) -> None:
    """Starlette would answer 307 with `Location: http://<Host>/…`: a plain 404 instead."""
    h = every_app.h
    for name, client in clients(h).items():
        r = await client.get(path, headers={**h.auth("operator"), "Host": "attacker.example"})
        assert r.status_code == 404, (name, r.status_code, r.headers)
        assert "location" not in r.headers, name
        assert r.headers["content-type"].startswith(PROBLEM_JSON)


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items()
            for method, op in item.items()]


@EMBEDDED
async def test_the_document_lists_problems_and_only_problems(every_app: Seeded) -> None:
    """Every error answer is problem+json with the Problem schema; FastAPI's
    HTTPValidationError is gone; a key check lists 401 and 403, a body 413, all 500."""
    for name, client in clients(every_app.h).items():
        doc = app_of(client).openapi()
        assert "HTTPValidationError" not in json.dumps(doc), name
        assert "Problem" in doc["components"]["schemas"]
        for method, path, op in operations(doc):
            answers = op["responses"]
            assert "500" in answers, (method, path)
            if op.get("security"):
                assert {"401", "403"} <= set(answers), (method, path)
            if "requestBody" in op:
                assert "413" in answers, (method, path)
            for status, answer in answers.items():
                if int(status) >= 400:
                    schema = answer["content"][PROBLEM_JSON]["schema"]
                    assert {"$ref": "#/components/schemas/Problem"} in schema["allOf"]


@EMBEDDED
async def test_ticket_commands_list_their_rules(every_app: Seeded) -> None:
    """A route taking a ticket command lists 404, 409 and 503, its 409 naming every rule the
    decider answers 409 with."""
    conflicts = sorted(r.id for r in RULES.values() if r.status == 409)
    seen = 0
    for client in clients(every_app.h).values():
        for method, path, op in operations(app_of(client).openapi()):
            if method != "POST" or not path.startswith("/v1/tickets/{ticket_id}/"):
                continue
            seen += 1
            assert {"404", "409", "503"} <= set(op["responses"]), path
            schema = op["responses"]["409"]["content"][PROBLEM_JSON]["schema"]
            assert schema["allOf"][1]["properties"]["rule"]["enum"] == conflicts, path
    assert seen > 20
