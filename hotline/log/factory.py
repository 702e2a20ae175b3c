"""Build the event log named by one setting: `sqlite:///path` or `kafka://host:port`."""

from __future__ import annotations

from hotline.log.embedded import EmbeddedEventLog
from hotline.log.namespaced import NamespacedLog
from hotline.log.port import EventLog
from hotline.settings import Settings


def open_log(settings: Settings) -> EventLog:
    """The engine chosen by HOTLINE_LOG (namespaced by HOTLINE_TOPIC_PREFIX), configured safely."""
    log = _engine(settings)
    return NamespacedLog(log, settings.topic_prefix) if settings.topic_prefix else log


def _engine(settings: Settings) -> EventLog:
    url = settings.log
    if url.startswith("sqlite:///"):
        return EmbeddedEventLog(url.removeprefix("sqlite:///"), allow_unsafe=settings.allow_unsafe)
    if url.startswith("kafka://"):
        from hotline.log.kafka import KafkaEventLog, KafkaOptions  # aiokafka only when used

        options = KafkaOptions(
            bootstrap_servers=url.removeprefix("kafka://"),
            acks=settings.kafka_acks,
            enable_idempotence=settings.kafka_idempotence,
            isolation_level=settings.kafka_isolation,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            prompt_fetch_wait_ms=settings.kafka_prompt_fetch_wait_ms,
            replication_factor=settings.kafka_replication_factor,
            allow_unsafe=settings.allow_unsafe,
        )
        return KafkaEventLog(options)
    raise ValueError(f"HOTLINE_LOG must start with sqlite:/// or kafka://, got {url!r}")
