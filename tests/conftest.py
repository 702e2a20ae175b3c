"""Shared fixtures: real engines only (embedded SQLite, a Kafka-protocol broker, PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.log.embedded import EmbeddedEventLog
from hotline.log.namespaced import NamespacedLog
from hotline.log.port import EventLog
from tests.fixtures import BROKER_PROPERTY

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.databases"]

ENGINES = ["embedded", pytest.param("kafka", marks=pytest.mark.kafka)]


def unique(prefix: str) -> str:
    """A topic or group name no other test uses (the broker lives for the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def open_engine(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> EventLog:
    """A started log of the given engine; Kafka engines talk to the session's real broker."""
    if engine == "embedded":
        log: EventLog = EmbeddedEventLog(str(tmp_path / "log.db"))
    else:
        from hotline.log.kafka import KafkaEventLog

        # each test in its own namespace: the broker lives for the whole session
        kafka = KafkaEventLog(request.getfixturevalue("kafka_options"))
        log = NamespacedLog(kafka, unique("t") + ".")
    await log.start()
    return log


@pytest.fixture(params=ENGINES)
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    """The contract suite's subject: once per engine."""
    engine = await open_engine(request.param, tmp_path, request)
    yield engine
    await engine.close()


def settings_env(log: EventLog) -> dict[str, str]:
    """HOTLINE_* variables that make a child process open the same log as `log`."""
    if log.engine == "embedded":
        return {"HOTLINE_LOG": f"sqlite:///{log.path}"}  # type: ignore[attr-defined]
    opts = log.inner.options  # type: ignore[attr-defined]
    return {
        "HOTLINE_TOPIC_PREFIX": log.prefix,  # type: ignore[attr-defined]
        "HOTLINE_LOG": f"kafka://{opts.bootstrap_servers}",
        "HOTLINE_KAFKA_IDEMPOTENCE": str(opts.enable_idempotence).lower(),
        "HOTLINE_KAFKA_REPLICATION_FACTOR": "1",
        "HOTLINE_KAFKA_SESSION_TIMEOUT_MS": str(opts.session_timeout_ms),
        "HOTLINE_KAFKA_HEARTBEAT_INTERVAL_MS": str(opts.heartbeat_interval_ms),
        "HOTLINE_KAFKA_PROMPT_FETCH_WAIT_MS": str(opts.prompt_fetch_wait_ms),
    }


# modules whose tests take a minute or more each, longest first: run before the rest, so
# that on `make test`'s two workers they overlap the many short tests instead of finishing
# alone at the end (the decider failover test, 4-8 minutes, ran last and made the suite 33 min)
FIRST = ("tests/e2e/test_decider_failover.py", "tests/e2e/", "tests/api/test_schemathesis.py",
         "tests/privacy/test_typed_numbers.py", "tests/analytics/test_month.py",
         "tests/supervision/test_scenario.py", "tests/console/test_browser_loop.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow modules first (`FIRST`), each module's tests still together and in order."""
    def rank(item: pytest.Item) -> int:
        return next((n for n, prefix in enumerate(FIRST) if item.nodeid.startswith(prefix)),
                    len(FIRST))

    items.sort(key=rank)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly how many tests ran on the real broker and on PostgreSQL."""
    counts: dict[str, dict[str, int]] = {"kafka": {}, "postgres": {}}
    brokers: set[str] = set()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            brokers |= {value for key, value in getattr(report, "user_properties", ())
                        if key == BROKER_PROPERTY}
            if getattr(report, "when", "call") != "call" and outcome != "error":
                continue
            for marker in counts:
                if marker in getattr(report, "keywords", {}):
                    counts[marker][outcome] = counts[marker].get(outcome, 0) + 1
    broker = ", ".join(sorted(brokers)) or "no broker started"
    labels = {"kafka": f"on {broker}", "postgres": "on PostgreSQL"}
    terminalreporter.section("real engines")
    for marker, by_outcome in counts.items():
        summary = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items())) or "none ran"
        terminalreporter.write_line(f"{marker} tests {labels[marker]}: {summary}")
