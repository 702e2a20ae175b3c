"""What a request may not be, checked before any route reads it: larger than its route's
limit (413), or holding the NUL character (422).

No text a person or a channel sends needs NUL (U+0000), and PostgreSQL stores it in no
text or JSON column: accepted into the log, one such event would stop every read model on
PostgreSQL that stores its field, on every replica (hotline/deadletters.py now passes such
a record, but its ticket's row would still miss it), and a query holding one would be a
500. So it is refused at the door, with the fields that hold it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.web import problem_response

# NUL (U+0000) written in JSON: `\u0000` after an even number of backslashes (`\\u0000` is a
# backslash and the text "u0000")
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RequestLimits:
    """ASGI middleware: 413 as soon as a request body passes its route's byte limit, and 422
    for a NUL character in the path, the query or a JSON body. A JSON body is read whole
    here for that (the route reads it whole anyway) and handed on in one message."""

    def __init__(self, app: ASGIApp, default: int, per_path: dict[str, int] | None = None):
        self.app, self.default, self.per_path = app, default, per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await _refuse_nul(scope, receive, send, ["(path or query)"])
            return
        limit = self.per_path.get(scope["path"], self.default)
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        try:
            if b"json" in headers.get(b"content-type", b""):
                receive = await _read_json(receive, limit)
            else:
                receive = _counted(receive, limit)
            await self.app(scope, receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send, limit)
        except _HasNul as nul:
            await _refuse_nul(scope, receive, send, _nul_fields(nul.body))

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413, "payload-too-large", "请求体过大 (request body too large)",
            f"This endpoint accepts at most {limit} bytes.", scope["path"],
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class _HasNul(Exception):
    def __init__(self, body: bytes) -> None:
        super().__init__("NUL in the request body")
        self.body = body


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive`, raising _TooLarge once the body passes `limit` bytes."""
    seen = 0

    async def counting_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return counting_receive


async def _read_json(receive: Receive, limit: int) -> Receive:
    """The whole body read (_TooLarge past `limit`, _HasNul with a NUL in it), and a receive
    that hands it on in one message, then whatever the client sends next (its disconnect)."""
    chunks: list[bytes] = []
    message = await receive()
    size = 0
    while message["type"] == "http.request":
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise _TooLarge
        if not message.get("more_body"):
            break
        message = await receive()
    body = b"".join(chunks)
    if _NUL_ESCAPE.search(body):
        raise _HasNul(body)
    first: list[Message] = [{"type": "http.request", "body": body, "more_body": False}
                            if message["type"] == "http.request" else message]

    async def replay() -> Message:
        return first.pop() if first else await receive()

    return replay


def _nul_fields(body: bytes) -> list[str]:
    """The fields of a JSON body whose keys or strings hold NUL, as `a.b.0.c` paths."""
    try:
        value = json.loads(body)
    except ValueError:
        return ["(body)"]
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, str) and "\x00" in node:
            found.append(path or "(body)")
        elif isinstance(node, dict):
            for key, item in node.items():
                walk(item, f"{path}.{key}" if path else str(key))
                if "\x00" in key:
                    found.append(path or "(body)")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}.{i}" if path else str(i))

    walk(value, "")
    return found or ["(body)"]


async def _refuse_nul(scope: Scope, receive: Receive, send: Send, fields: list[str]) -> None:
    response = problem_response(
        422, "invalid-request", "请求内容不合法 (invalid request)",
        "Text may not contain the NUL character (U+0000).", scope["path"],
        errors=[{"field": f, "reason": "contains NUL (U+0000)"} for f in fields])
    await response(scope, receive, send)
