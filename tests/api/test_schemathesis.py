"""Schemathesis against every service's app, as every role, a bogus key and no key: no
5xx, nothing outside the OpenAPI document (status, content type, body, headers), and no
2xx without a valid key but on the public routes.

Fixed seed (derandomize) and a bounded number of examples per operation and identity, so
a run is the same run every time and takes a minute or two. Positive and negative data
alike, and the ids of tickets that exist (tests/api/conftest.py) beside generated ones,
so the routes are driven past their 404s.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.api.conftest import ROLE_KEYS, Seeded, app_of, clients
from tests.api.fuzz import BOGUS_KEY, Fuzzer, Identity

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)

EXAMPLES = 20  # Hypothesis examples per operation and admitted identity
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/v1/public/progress", "/s/{token}",
                    "/v1/surveys/{token}", "/v1/surveys/{token}/answer",
                    "/v1/public/knowledge/search", "/v1/public/knowledge/articles/{article_id}"})
FIXED = {"wait": "0"}  # the feed's long-poll would hold each request for up to 30 s
# signing in is hotline.signin's router on every app: fuzzed once, in the people app (each
# attempt verifies an Argon2id hash; 630 of them took 28 s in every app's run)
SHARED = {"/v1/session": "people"}


def is_public(method: str, path: str) -> bool:
    """Routes a citizen or a probe reaches without a key (the survey link is its own key),
    and signing in."""
    return path in PUBLIC or (method.upper() == "POST" and path == "/v1/session")


@pytest.mark.parametrize("service", ["intake", "dispatch", "supervision", "callback",
                                     "people", "knowledge", "analytics"])
async def test_the_app_answers_within_its_document(every_app: Seeded, service: str) -> None:
    h = every_app.h
    app = app_of(clients(h)[service])
    identities = [Identity(role, h.keys[key]) for role, key in ROLE_KEYS.items()]
    identities += [Identity("a bogus key", BOGUS_KEY), Identity("no key", None)]
    fuzzer = Fuzzer(app, asyncio.get_running_loop(), is_public, EXAMPLES, FIXED,
                    elsewhere=frozenset(p for p, owner in SHARED.items() if owner != service))
    started = time.monotonic()
    report = await asyncio.to_thread(fuzzer.run, app.openapi(), identities, every_app.known)
    took = time.monotonic() - started
    assert report.requests > 100, report.requests
    assert not report.failures, (
        f"{len(report.failures)} failing operations in {report.requests} requests "
        f"({took:.0f} s):\n\n" + "\n\n".join(f"{k}: {v}" for k, v in report.failures.items()))
