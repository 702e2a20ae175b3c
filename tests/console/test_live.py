"""A live list's stream ends with `event: ended` when the person's session is gone, so the
page closes its EventSource instead of reconnecting to the sign-in page; any other refusal
just ends the stream (the browser asks again). Synchronous, as this package's browser tests
keep Playwright's loop running in this thread (conftest.py): the app is asked on a loop of
a thread of its own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from services.console.live import changes
from services.console.upstream import Refused


def app_refusing(status: int) -> FastAPI:
    app = FastAPI()

    @app.get("/live")
    async def live(request: Request) -> StreamingResponse:
        async def read() -> None:
            raise Refused(status, "拒绝")

        return changes(request, read)

    return app


@pytest.mark.parametrize(("status", "ended"), [(401, True), (403, False), (503, False)])
def test_the_stream_says_when_the_session_is_gone(status: int, ended: bool) -> None:
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app_refusing(status))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            return await client.get("/live")

    with ThreadPoolExecutor(1) as thread:
        answer = thread.submit(asyncio.run, ask()).result()
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.startswith("retry: 3000\n\n")
    assert ("event: ended\n" in answer.text) is ended


def test_a_quiet_list_says_it_is_alive_and_a_change_is_sent_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Polled every 10 ms for 0.3 s: keep-alive comments while nothing changes (a proxy cuts
    a silent stream), one `changed` for the one change."""
    from services.console import live

    monkeypatch.setattr(live, "POLL_S", 0.01)
    monkeypatch.setattr(live, "SSE_KEEPALIVE_S", 0.05)
    monkeypatch.setattr(live, "OPEN_FOR_S", 0.3)
    asked = 0

    async def read() -> dict[str, int]:
        nonlocal asked
        asked += 1
        return {"items": 1 if asked < 10 else 2}

    app = FastAPI()

    @app.get("/live")
    async def stream(request: Request) -> StreamingResponse:
        return changes(request, read)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            return await client.get("/live")

    with ThreadPoolExecutor(1) as thread:
        answer = thread.submit(asyncio.run, ask()).result()
    assert answer.text.count("event: changed\n") == 1
    assert answer.text.count(": keep-alive\n\n") >= 2
