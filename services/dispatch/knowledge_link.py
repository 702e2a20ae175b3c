"""知识推荐 at the operator desk: the knowledge service's recommendations for a contact.

Dispatch does not search articles itself (services never reach into each other): it
asks the knowledge service over HTTP (`POST /v1/knowledge/recommendations`), on behalf
of the operator, forwarding their own credentials (the bearer key, or the session
cookie with its CSRF token), so knowledge applies its own roles. A knowledge service
that is down or slow (over `timeout_s`) costs the desk nothing but the recommendations:
the answer says they are unavailable and registration goes on.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)
FORWARDED = ("authorization", "cookie", "x-csrf-token")


class KnowledgeLink:
    """The knowledge service's recommendations, asked over HTTP."""

    def __init__(self, client: httpx.AsyncClient, timeout_s: float = 0.8) -> None:
        self.client, self.timeout_s = client, timeout_s

    async def recommend(self, content: str, level1: str | None,
                        credentials: dict[str, str]) -> list[dict[str, Any]] | None:
        """The top articles for `content` (within `level1` when known); None when the
        knowledge service cannot answer now."""
        body: dict[str, Any] = {"content": content}
        if level1:
            body["category"] = {"level1": level1}
        try:
            r = await self.client.post("/v1/knowledge/recommendations", json=body,
                                       headers=credentials, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            log.warning("knowledge recommendations unavailable: %s", type(exc).__name__)
            return None
        if r.status_code != 200:
            log.warning("knowledge recommendations answered %s", r.status_code)
            return None
        return list(r.json()["items"])

    async def close(self) -> None:
        await self.client.aclose()


def credentials_of(headers: Any) -> dict[str, str]:
    """The caller's own credentials, to act on their behalf (nothing else is forwarded)."""
    return {name: headers[name] for name in FORWARDED if name in headers}
