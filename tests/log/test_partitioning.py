"""Our murmur2 places keys exactly where Kafka's default partitioner (aiokafka's copy) does."""

from __future__ import annotations

import random
import uuid

from aiokafka.partitioner import murmur2 as kafka_murmur2

from hotline.log.partitioning import murmur2, partition_for


def test_murmur2_matches_kafka_on_every_length_and_on_chinese_keys() -> None:
    rng = random.Random(12345)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(0, 64) for _ in range(20)]
    keys += [f"ticket-{uuid.uuid4()}".encode() for _ in range(500)]
    keys += ["工单-东城区-路灯".encode(), b"", b"a", b"ab", b"abc"]
    for key in keys:
        assert murmur2(key) & 0x7FFFFFFF == kafka_murmur2(key) & 0x7FFFFFFF, key


def test_partition_for_is_stable_and_in_range() -> None:
    for i in range(1000):
        p = partition_for(f"contact-{i}", 12)
        assert 0 <= p < 12 and p == partition_for(f"contact-{i}", 12)
