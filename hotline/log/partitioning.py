"""Key-to-partition mapping shared by both engines.

Both engines use Kafka's default partitioner (murmur2, positive, modulo), so a
ticket lands on the same partition number whether the platform runs on the
embedded engine or on a Kafka cluster, and a log copied from one to the other
keeps each stream on one partition, in order.
"""

from aiokafka.partitioner import murmur2


def partition_for(key: str, partitions: int) -> int:
    """The partition of `key` among `partitions`, as Kafka's default partitioner places it."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
