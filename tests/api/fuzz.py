"""Schemathesis over the services' ASGI apps, in-process, on the test's own event loop.

Hypothesis drives synchronously, so it runs in a worker thread; every request it makes is
handed to the app on the test's loop (where the apps, their platform and their projections
live) with `run_coroutine_threadsafe`, as a plain ASGI call (`call_asgi`). So the suites'
fixtures are reused as they are, an exception escaping an app surfaces here as a failure
rather than a test client's 500, and an event stream is read for a moment and then left,
as a client hanging up (httpx's ASGITransport would wait for its end, which never comes).

`Fuzzer.run` takes every operation of an app's OpenAPI document and sends, as every
identity (a role's key, a bogus key, no key): schemathesis's coverage cases (each
parameter at and past its bounds, each required part missing, each type wrong), then
Hypothesis's positive and negative data, with the ids of things that exist beside
generated ones. Identities the route turns away at the door (401, or 403 for the role)
get a few of each only. Every failure is collected rather than stopping at the first:
a 5xx, an answer outside the document (status, content type, body, headers), or a 2xx
without a valid key on a route that is not public.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.core.transport import Response
from schemathesis.generation.drivers import CoverageGenerator  # pinned: see pyproject
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.overrides import Override
from schemathesis.openapi import from_dict
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
BOGUS_KEY = "hk_not-a-key-anyone-holds"
TURNED_AWAY = 3  # coverage cases and examples for an identity the route does not admit
STREAM_GRACE_S = 0.2  # how long an event stream is read before the client hangs up
ASGIApp = Callable[..., Any]


@dataclass(frozen=True)
class Identity:
    """Who a run sends as: `key` None sends no Authorization header."""

    name: str
    key: str | None

    @property
    def holds_a_key(self) -> bool:
        return self.key is not None and self.key != BOGUS_KEY


@dataclass
class Report:
    """What a run found (the first failure of each operation and identity), and how much
    it sent."""

    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def fail(self, where: str, what: str) -> None:
        self.failures.setdefault(where, what[:2000])


@dataclass
class Fuzzer:
    """One app, the loop it runs on, and which routes are public."""

    app: ASGIApp
    loop: asyncio.AbstractEventLoop
    is_public: Callable[[str, str], bool]
    examples: int = 10  # Hypothesis examples per operation and admitted identity
    fixed: Mapping[str, str] = field(default_factory=dict)  # query values always sent so
    report: Report = field(default_factory=Report)
    elsewhere: frozenset[str] = frozenset()  # paths another app's run fuzzes (shared routes)

    def run(self, document: dict[str, Any], identities: Sequence[Identity],
            known: Mapping[str, Sequence[str]]) -> Report:
        """Every operation, as every identity; blocking (call it in a worker thread).
        `known`: ids that exist, by path parameter name, sent beside generated ones."""
        schema = from_dict(document)
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # the document itself is broken: that is the finding
                raise result.err()
            operation = result.ok()
            if operation.path in self.elsewhere:
                continue
            coverage = list(CoverageGenerator(
                operation=operation, generation_modes=MODES, auth_storage=None,
                generation_config=schema.config.generation_for(operation=operation,
                                                               phase="coverage"),
                override=Override(), feedback=NO_FEEDBACK))
            strategy = _strategy(operation, known)
            for identity in identities:
                where = f"{operation.label} as {identity.name}"
                admitted = not coverage or self._admits(coverage[0], identity)
                for case in coverage if admitted else coverage[:TURNED_AWAY]:
                    try:
                        self.check(case, identity)
                    except (Exception, FailureGroup) as exc:  # noqa: BLE001 - reported
                        self.report.fail(where, f"(coverage) {exc}")
                self._fuzz(where, strategy, identity,
                           self.examples if admitted else TURNED_AWAY)
        return self.report

    def check(self, case: Case, identity: Identity) -> None:
        """One case: sent, then held to the document and to the key rule."""
        try:
            response = self.send(case, identity)
        except Exception as exc:  # noqa: BLE001 - an exception escaping the app is the finding
            raise AssertionError(f"the app raised {type(exc).__name__}: {exc}") from None
        method, path = case.operation.method.upper(), case.operation.path
        if (200 <= response.status_code < 300 and not identity.holds_a_key
                and not self.is_public(method, path)):
            raise AssertionError(f"{response.status_code} without a valid key")
        case.validate_response(response, checks=CHECKS)

    def send(self, case: Case, identity: Identity) -> Response:
        """The case as bytes on the wire (requests prepares them), answered by the app."""
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        headers = {k: v for k, v in (kwargs.pop("headers") or {}).items()
                   if k.lower() != "authorization"}
        if identity.key is not None:
            headers["Authorization"] = f"Bearer {identity.key}"
        params = dict(kwargs.pop("params") or {})
        params.update({k: v for k, v in self.fixed.items()
                       if any(p.name == k for p in case.operation.query)})
        prepared = requests.Session().prepare_request(requests.Request(
            headers=headers, params=params, **kwargs))
        body = prepared.body or b""
        assert isinstance(body, str | bytes), "requests prepares a body as text or bytes"
        started = time.monotonic()
        future = asyncio.run_coroutine_threadsafe(call_asgi(
            self.app, prepared.method or "GET", prepared.url or "/",
            {k: str(v) for k, v in prepared.headers.items()},
            body.encode() if isinstance(body, str) else body), self.loop)
        status, answer_headers, content = future.result(timeout=60)
        self.report.requests += 1
        grouped: dict[str, list[str]] = {}
        for name, value in answer_headers:
            grouped.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        return Response(status, grouped, content, prepared, time.monotonic() - started,
                        verify=True)

    def _admits(self, case: Case, identity: Identity) -> bool:
        """Whether the route lets `identity` past its key and role check."""
        try:
            response = self.send(case, identity)
        except Exception:  # noqa: BLE001 - the cases themselves will report it
            return True
        refused = response.status_code == 401 or (
            response.status_code == 403 and response.content.find(b"/problems/forbidden") >= 0)
        return not refused

    def _fuzz(self, where: str, strategy: st.SearchStrategy[Case], identity: Identity,
              examples: int) -> None:
        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  phases=(Phase.explicit, Phase.generate, Phase.shrink))
        @given(case=strategy)
        def one(case: Case) -> None:
            self.check(case, identity)

        try:
            one()
        except (Exception, FailureGroup) as exc:  # noqa: BLE001 - reported together
            self.report.fail(where, str(exc))


def _strategy(operation: APIOperation, known: Mapping[str, Sequence[str]],
              ) -> st.SearchStrategy[Case]:
    """Positive and negative cases, and positive ones naming ids that exist."""
    ways = [operation.as_strategy(generation_mode=mode) for mode in MODES]
    names = [p.name for p in operation.path_parameters]
    if names and all(name in known for name in names):
        ways += [operation.as_strategy(path_parameters=dict(zip(names, ids, strict=True)))
                 for ids in itertools.product(*(known[name] for name in names))]
    return st.one_of(ways)


def headers_of(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


async def call_asgi(app: ASGIApp, method: str, url: str, headers: dict[str, str],
                    body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request as a server would hand it to `app`: status, headers and body. The client
    hangs up STREAM_GRACE_S after a response that is still streaming; a response the app
    leaves unfinished without that is an AssertionError (a server would cut the body)."""
    parts = urlsplit(url)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": parts.scheme, "path": unquote(parts.path), "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(), "root_path": "", "state": {},
        "headers": headers_of(headers.items()),
        "client": ("127.0.0.1", 50000), "server": (parts.hostname or "testserver", 80),
    }
    complete, hung_up, received = asyncio.Event(), False, False
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received, hung_up
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(complete.wait(), STREAM_GRACE_S)
        hung_up = True
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                complete.set()

    await app(scope, receive, send)
    assert start, "the app answered nothing"
    assert complete.is_set() or hung_up, "the app left its response unfinished"
    return start["status"], list(start.get("headers", [])), b"".join(chunks)
