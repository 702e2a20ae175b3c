"""Ready before serving: a service answers only once what it reads and writes is in place.

A service is ready when it holds its log claims (on Kafka: the writer groups
of the topics it appends to, joined and their stream heads loaded) and each of
its projections has made its tables and caught up with the log as it stood at
start. Until then `GET /readyz` and every other route but health and metrics
answer 503 with `Retry-After`, so a load balancer, Kubernetes or a client that
retries never sees a half-started service (a 500 "no such table", a timer
acting on an empty board). Readiness is latched: once caught up, later lag is
normal operation, not unreadiness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from hotline.web import problem_response

ALWAYS_OPEN = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER = "1"


class Readiness:
    """Whether one service may serve; `start` claims, then `ready` watches the runners."""

    def __init__(self, log: EventLog | None, writes: Sequence[str] = (),
                 runners: Sequence[ProjectionRunner] = ()) -> None:
        self.log, self.writes, self.runners = log, tuple(writes), tuple(runners)
        self._targets: dict[int, dict[tuple[str, int], int]] | None = None
        self._latched = False
        self._claimed = asyncio.Event()
        self._conditions: list[tuple[str, Callable[[], bool]]] = []

    def require(self, name: str, check: Callable[[], bool]) -> None:
        """One more thing the service needs before it serves (e.g. the decider answering)."""
        self._conditions.append((name, check))

    @classmethod
    def assumed(cls) -> Readiness:
        """Ready from the start: whoever composed the app claimed and caught up itself."""
        ready = cls(None)
        ready._latched = True
        return ready

    async def start(self) -> None:
        """Hold the claims (every writer group joined at once), then note where the log ends
        now: the projections must reach that before the service serves."""
        if self.log is None:
            return
        await asyncio.gather(*(self.log.claim(topic) for topic in dict.fromkeys(self.writes)))
        targets: dict[int, dict[tuple[str, int], int]] = {}
        for i, runner in enumerate(self.runners):
            ends: dict[tuple[str, int], int] = {}
            for topic in runner.projection.topics:
                ends |= {(topic, p): end for p, end in (await self.log.end_offsets(topic)).items()}
            targets[i] = ends
        self._targets = targets
        self._claimed.set()

    async def wait_claims(self) -> None:
        """Return once the claims are held (what may start then: the decider's answering)."""
        if self.log is not None:
            await self._claimed.wait()

    def pending(self) -> list[str]:
        """What is still missing (empty once ready)."""
        if self._latched:
            return []
        if self._targets is None:
            return ["log claims"]
        waiting = [runner.projection.name for i, runner in enumerate(self.runners)
                   if not runner.started.is_set() or any(
                       runner.stats.positions.get(tp, 0) < end
                       for tp, end in self._targets[i].items())]
        waiting += [name for name, check in self._conditions if not check()]
        self._latched = not waiting
        return waiting

    @property
    def ready(self) -> bool:
        return not self.pending()

    async def wait(self, poll_s: float = 0.05) -> None:
        """Return once ready (timers wait on this before their first tick)."""
        while not self.ready:
            await asyncio.sleep(poll_s)


class ReadinessGate:
    """ASGI middleware: 503 problem+json with Retry-After for every route until ready."""

    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app, self.readiness = app, readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] in ALWAYS_OPEN
                or self.readiness.ready):
            await self.app(scope, receive, send)
            return
        response = problem_response(
            503, "not-ready", "服务启动中, 请稍后重试 (starting, retry shortly)",
            "The service is catching up with the log.", scope["path"],
            headers={"Retry-After": RETRY_AFTER})
        await response(scope, receive, send)


def install_readiness(app: FastAPI, readiness: Readiness) -> None:
    """The gate and `GET /readyz` (public, like health)."""
    app.state.readiness = readiness
    app.add_middleware(ReadinessGate, readiness=readiness)  # type: ignore[arg-type]

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        waiting = readiness.pending()
        if waiting:
            return problem_response(503, "not-ready", "服务未就绪 (not ready)",
                                    "Waiting for: " + ", ".join(waiting), request.url.path,
                                    headers={"Retry-After": RETRY_AFTER}, waiting=waiting)
        body: dict[str, Any] = {"status": "ready"}
        if readiness.log is not None:
            body["log"] = readiness.log.engine
        return JSONResponse(body)
