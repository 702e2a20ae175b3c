"""The topic catalogue: names, keys, partitions and retention of every topic.

The ticket topic keeps everything forever: it is the evidence a dispute is
settled from. Keys decide order: everything of one ticket is on one partition,
in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000
FOREVER = -1


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created: partitions, retention and extra broker config."""

    name: str
    partitions: int
    retention_ms: int = -1  # -1 keeps everything forever
    replication_factor: int = 3
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicEntry:
    """A catalogue entry: the broker settings plus what the key is and what flows on it."""

    spec: TopicSpec
    key: str
    carries: str


def _entry(name: str, partitions: int, retention_ms: int, key: str, carries: str) -> TopicEntry:
    config = {"cleanup.policy": "delete", "min.insync.replicas": "2"}
    return TopicEntry(TopicSpec(name, partitions, retention_ms, 3, config), key, carries)


CONTACTS = "hotline.contacts"
CALLS = "hotline.calls"
TICKETS = "hotline.tickets"
COMMANDS = "hotline.commands"
REPLIES = "hotline.replies"
CONTACT_REQUESTS = "hotline.contacts.requests"
CALL_REQUESTS = "hotline.calls.requests"
KNOWLEDGE = "hotline.knowledge"
PEOPLE = "hotline.people"
DEADLETTER = "hotline.deadletter"
ANALYTICS = "hotline.analytics"
DISPATCH_PREFIX = "hotline.dispatch."

CATALOGUE: dict[str, TopicEntry] = {
    e.spec.name: e
    for e in [
        _entry(CONTACTS, 12, FOREVER, "contact stream id (contact-<uuid>)",
               "ContactReceived: every inbound message on every channel"),
        _entry(CALLS, 6, 400 * DAY_MS, "call id",
               "CallRecorded: call statistics from the phone system"),
        _entry(TICKETS, 24, FOREVER, "ticket stream id (ticket-<uuid>)",
               "every event of the ticket lifecycle; the source of truth, kept forever"),
        _entry(COMMANDS, 24, DAY_MS, "ticket stream id (co-partitioned with hotline.tickets)",
               "requests to the ticket decider replica owning the ticket's partition: commands "
               "and reads, sealed; a request is dead after its deadline (seconds)"),
        _entry(REPLIES, 12, DAY_MS, "requester name (one process)",
               "the answers of the partition owners (deciders, intake), sealed; each "
               "requester reads its own partition"),
        _entry(CONTACT_REQUESTS, 12, DAY_MS, "contact stream id (co-partitioned with "
               "hotline.contacts)", "contacts one intake replica hands to the replica owning "
               "their partition, sealed"),
        _entry(CALL_REQUESTS, 6, DAY_MS, "call stream id (co-partitioned with hotline.calls)",
               "call records handed to the intake replica owning their partition, sealed"),
        _entry(KNOWLEDGE, 3, FOREVER, "article id", "knowledge-base article events"),
        _entry(PEOPLE, 3, FOREVER, "account-<login> or key-<holder>",
               "who was given which access, by whom, when: staff accounts and API keys"),
        _entry(ANALYTICS, 3, FOREVER, "hotspot-<id> or foresight-<id>",
               "hotspots detected and cleared, periodic demands foreseen, with their evidence"),
        _entry(DEADLETTER, 3, 90 * DAY_MS, "original key",
               "records that failed to decode, with source topic/partition/offset and reason"),
    ]
}

_UNIT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def dispatch_topic(unit_id: str) -> str:
    """Per-unit dispatch stream, so a unit's Kafka ACL can name its own topic only."""
    if not _UNIT_ID.match(unit_id):
        raise ValueError(f"unit id not usable in a topic name: {unit_id!r}")
    return DISPATCH_PREFIX + unit_id


def dispatch_spec(unit_id: str) -> TopicSpec:
    """Settings of a unit's dispatch topic: one partition keeps the unit's order total."""
    return TopicSpec(dispatch_topic(unit_id), 1, 90 * DAY_MS, 3, {"cleanup.policy": "delete"})


def core_specs() -> list[TopicSpec]:
    """Every fixed topic of the catalogue, for `create_topics` at start-up."""
    return [e.spec for e in CATALOGUE.values()]


STREAM_PREFIXES = {"contact-": CONTACTS, "ticket-": TICKETS, "call-": CALLS, "article-": KNOWLEDGE,
                   "offer-": KNOWLEDGE, "rating-": KNOWLEDGE, "account-": PEOPLE, "key-": PEOPLE,
                   "hotspot-": ANALYTICS, "foresight-": ANALYTICS}


def stream_topic(stream: str) -> str:
    """The topic a stream lives on, from its id's prefix (ticket-…, contact-…, call-…)."""
    for prefix, topic in STREAM_PREFIXES.items():
        if stream.startswith(prefix):
            return topic
    raise ValueError(f"not a stream id: {stream!r} (expected one of {', '.join(STREAM_PREFIXES)})")
