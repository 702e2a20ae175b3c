"""The console's calls to the services: a service that answers too late is a timeout
(504, "服务响应超时"), not "unavailable". Against a real socket: a server that
answers after a delay. Synchronous, as this package's browser tests keep Playwright's loop
in this thread (conftest.py): each case runs its own loop in a thread of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from services.console.upstream import Caller, Refused, Upstream

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
          b'{"ok":true}')


async def with_slow_service(delay_s: float, ask: Callable[[Upstream], Awaitable[Any]],
                            timeout_s: float = 0.3) -> Any:
    """Run `ask` against a service on a real port that answers every request after `delay_s`."""

    handlers: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        await reader.readuntil(b"\r\n\r\n")
        try:  # the caller may hang up first (its timeout): then nothing is answered
            await asyncio.wait_for(reader.read(), delay_s)
        except TimeoutError:
            writer.write(ANSWER)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = Upstream({"analytics": f"http://127.0.0.1:{port}"}, timeout_s=timeout_s)
    try:
        return await ask(upstream)
    finally:
        await upstream.close()  # its connections closed: each handler sees the end, ends
        if handlers:  # let them end rather than be cancelled (3.11 logs that as an error)
            await asyncio.wait(handlers, timeout=delay_s + 1)
        server.close()


def run(coro: Awaitable[Any]) -> Any:
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


WHO = Caller("session-token")


def test_a_late_answer_is_a_timeout_not_unavailable() -> None:
    with pytest.raises(Refused) as refused:
        run(with_slow_service(1.0, lambda up: up.get("analytics", "/v1/analytics/kpis", WHO)))
    assert refused.value.status == 504 and "超时" in refused.value.message


def test_a_service_that_is_down_is_unavailable() -> None:
    async def ask() -> Any:
        upstream = Upstream({"analytics": "http://127.0.0.1:9"}, timeout_s=1.0)
        try:
            return await upstream.get("analytics", "/v1/analytics/kpis", WHO)
        finally:
            await upstream.close()

    with pytest.raises(Refused) as refused:
        run(ask())
    assert refused.value.status == 503
