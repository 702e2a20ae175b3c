"""Long-running work started again when it fails: a projection's runner, the hotspot
detector. Their state is stored (offsets with the rows, a checkpoint), so a new start
resumes where the last one committed; a task that died instead left its service serving,
and ready, from what nothing updated any more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import prometheus_client

log = logging.getLogger(__name__)

PAUSES_S = (1.0, 2.0, 5.0, 15.0, 30.0)  # before each start again after a failure
STEADY_S = 60.0  # a run this long before it failed starts the count of failures anew
RESTARTS = prometheus_client.Counter(
    "hotline_restarts_total", "Starts again after a failure, by worker", ["worker"])

T = TypeVar("T")


async def keep_running(run: Callable[[], Awaitable[T]], stop: asyncio.Event, worker: str,
                       pauses: Sequence[float] = PAUSES_S) -> T | None:
    """`run()` until it returns or `stop` is set; each failure (a database or broker gone a
    while, a bug) logged with its traceback and counted in `hotline_restarts_total`, then
    `run()` again after a pause growing along `pauses`. None when stopped in a pause."""
    failures = 0
    while True:
        began = time.monotonic()
        try:
            return await run()
        except Exception:
            failures = 1 if time.monotonic() - began >= STEADY_S else failures + 1
            pause = pauses[min(failures, len(pauses)) - 1]
            RESTARTS.labels(worker).inc()
            log.exception("%s failed (%d in a row); starting it again in %.1f s",
                          worker, failures, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        if stop.is_set():
            return None
