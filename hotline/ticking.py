"""The loop every periodic worker runs (the ticket timers, scheduled publication, the
report schedule): tick every `interval_s` until stopped, a failed tick logged and tried
again next time, so one bad tick never stops the work or the app serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(interval_s: float, stop: asyncio.Event, tick: Callable[[], Awaitable[object]],
                what: str, *, at_once: bool = False) -> None:
    """Run `tick` every `interval_s` seconds (the first at once when `at_once`, else after
    one interval) until `stop` is set; an exception is logged as "<what> tick failed"."""
    if not at_once:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    while not stop.is_set():
        try:
            await tick()
        except Exception:
            log.exception("%s tick failed", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
