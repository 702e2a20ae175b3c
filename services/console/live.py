"""Live lists over server-sent events: the page's list reloads itself when it changed.

The stream asks the list's API every two seconds on the person's own session and sends
`changed` when what the list shows differs from the last answer. Considered: relaying the
services' own streams (dispatch has `/v1/inbox/stream`; intake has none), which would
tie the console to one stream per service and still need the list re-read to draw it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from hotline.web import SSE_KEEPALIVE, SSE_KEEPALIVE_S
from services.console.upstream import Refused

POLL_S = 2.0
OPEN_FOR_S = 600.0  # then the browser's EventSource reconnects (and the session is checked)


def changes(request: Request, read: Callable[[], Awaitable[Any]]) -> StreamingResponse:
    """`event: changed` each time `read()` answers something new; `event: ended` when the
    session is gone (signed out, deactivated), so the page closes its EventSource instead
    of reconnecting to a sign-in page it cannot read as a stream."""

    async def stream() -> AsyncIterator[str]:
        last, waited, quiet = "", 0.0, 0.0
        yield "retry: 3000\n\n"
        while waited < OPEN_FOR_S and not await request.is_disconnected():
            try:
                digest = _digest(await read())
            except Refused as refused:  # anything else: the browser asks again in 3 s
                if refused.status == 401:
                    yield "event: ended\ndata: {}\n\n"
                return
            if last and digest != last:
                yield "event: changed\ndata: {}\n\n"
                quiet = 0.0
            elif quiet >= SSE_KEEPALIVE_S:
                yield SSE_KEEPALIVE
                quiet = 0.0
            last = digest
            await asyncio.sleep(POLL_S)
            waited += POLL_S
            quiet += POLL_S

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


def _digest(answer: Any) -> str:
    return hashlib.sha256(json.dumps(answer, sort_keys=True, default=str).encode()).hexdigest()
