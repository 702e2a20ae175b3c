"""The platform's APIs as the console calls them: on behalf of the signed-in person.

The console holds no data and no second path to it. Every page asks the services'
own HTTP APIs, forwarding the person's session cookie (and, for a change, the CSRF
token the page's form carried), so each service applies its own roles, unit scoping
and masking exactly as it does for any other client. A refusal comes back as the
service's problem+json; the console shows its Chinese title, never a stack trace.

Considered: importing the services' read modules in process (faster, but a second path
to the data, and services never import each other); a generic reverse proxy with the
pages in JavaScript (the intranets' browsers and the no-CDN rule favour server-rendered
pages). httpx is already the platform's client (dispatch asks knowledge with it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from hotline.auth import CSRF_HEADER, SESSION_COOKIE
from hotline.settings import Settings

log = logging.getLogger(__name__)
SERVICES = ("intake", "dispatch", "supervision", "callback", "knowledge", "people",
            "analytics")


@dataclass(frozen=True, slots=True)
class Caller:
    """Whose credentials a call carries: the session token, and the CSRF token a form sent
    (checked by the service against the session, so a forged form is refused there)."""

    session: str
    csrf: str = ""

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Cookie": f"{SESSION_COOKIE}={self.session}"}
        if self.csrf:
            headers[CSRF_HEADER] = self.csrf
        if key:
            headers["Idempotency-Key"] = key
        return headers


class Refused(Exception):
    """A service's problem+json answer: what the page shows (its Chinese title first)."""

    def __init__(self, status: int, title: str, detail: str = "", rule: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.rule = status, title, detail, rule

    @property
    def message(self) -> str:
        """The line a person reads: the title, then the detail when there is one."""
        return f"{self.title}: {self.detail}" if self.detail else self.title


def service_urls(settings: Settings) -> dict[str, str]:
    """Each service's base URL: `HOTLINE_SERVICE_URLS` where given, else this host's port."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    urls = {name: f"http://{host}:{getattr(settings, f'{name}_port')}" for name in SERVICES}
    return urls | settings.service_urls


class Upstream:
    """One HTTP client for every service the console calls."""

    def __init__(self, urls: dict[str, str], timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def get(self, service: str, path: str, who: Caller,
                  params: dict[str, Any] | None = None) -> Any:
        """A read; the JSON answer, or `Refused`."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self._call("GET", service, path, who, params=clean)

    async def send(self, service: str, path: str, who: Caller, body: dict[str, Any] | None,
                   *, key: str | None = None, method: str = "POST") -> Any:
        """A change, with the form's idempotency key (a double submit is one command)."""
        return await self._call(method, service, path, who, json=body, key=key)

    async def raw(self, service: str, path: str, who: Caller,
                  params: dict[str, Any] | None = None) -> httpx.Response:
        """A download (a report's PDF, a chart), passed on as the service answered it."""
        one_level(path)
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = await self.client.get(self.urls[service] + path, params=clean,
                                         headers=who.headers())
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    async def _call(self, method: str, service: str, path: str, who: Caller, *,
                    params: dict[str, Any] | None = None, json: dict[str, Any] | None = None,
                    key: str | None = None) -> Any:
        one_level(path)
        try:
            response = await self.client.request(method, self.urls[service] + path,
                                                 params=params, json=json,
                                                 headers=who.headers(key))
        except httpx.TimeoutException:
            log.warning("console: %s %s timed out", service, path)
            raise Refused(504, "服务响应超时, 请稍后查看结果 (timed out)",
                          f"{service} did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("console: %s %s unreachable: %s", service, path, type(exc).__name__)
            raise Refused(503, "服务暂时不可用, 请稍后重试 (service unavailable)",
                          f"{service} did not answer") from None
        if response.status_code >= 400:
            raise _refusal(response)
        return None if response.status_code == 204 else response.json()

    async def close(self) -> None:
        await self.client.aclose()


def one_level(path: str) -> None:
    """Ids from a page's URL or form go into API paths: a `.` or `..` segment would climb
    to another route (still on the person's own authority, but not the one the page
    meant), so it is refused as the unknown thing it names."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise Refused(404, "不存在 (not found)")


def _refusal(response: httpx.Response) -> Refused:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = problem.get("detail") or ""
    if problem.get("errors"):  # a 422: which field, in the service's words
        detail = "; ".join(f"{e.get('field')}: {e.get('reason')}"
                           for e in problem["errors"][:5]) or detail
    return Refused(response.status_code, problem.get("title") or f"HTTP {response.status_code}",
                   str(detail), str(problem.get("rule") or ""))
