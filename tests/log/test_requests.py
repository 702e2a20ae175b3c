"""Request and reply to the owner of a stream's partition (hotline.requests, hotline.responder):
one contract, on the embedded engine and on a real Kafka broker."""

from __future__ import annotations

import asyncio
import os

import pytest

from hotline.log.port import EventLog, LogError, TopicSpec
from hotline.requests import Answer, Cipher, NoAnswer, Requester
from hotline.responder import Responder
from tests.conftest import unique

PARTITIONS = 4


async def topics(log: EventLog, requests_partitions: int = PARTITIONS) -> tuple[str, str, str]:
    """A stream topic, its request topic and a reply topic."""
    names = unique("streams"), unique("requests"), unique("replies")
    await log.create_topics([TopicSpec(names[0], PARTITIONS, -1, 1),
                             TopicSpec(names[1], requests_partitions, -1, 1),
                             TopicSpec(names[2], 2, -1, 1)])
    return names


class Echo:
    """A handler that answers with what it was asked; 'no …' requests are refusals."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.before: list[int] = []  # per request: how many requests were answered before

    async def __call__(self, key: str, payload: bytes) -> Answer:
        self.seen.append((key, payload))
        return Answer(b"re: " + payload, recorded=not payload.startswith(b"no "))


async def responder(log: EventLog, names: tuple[str, str, str], handle: Echo,
                    cipher: Cipher) -> Responder:
    found = Responder(log, owns=names[0], requests=names[1], replies=names[2],
                      group=unique("answering"), cipher=cipher, handle=handle)
    await found.start()
    return found


async def test_a_request_is_answered_by_the_owner_of_its_partition(log: EventLog) -> None:
    names, cipher, echo = await topics(log), Cipher(os.urandom(32)), Echo()
    owner = await responder(log, names, echo, cipher)
    asker = Requester(log, replies=names[2], cipher=cipher)
    try:
        keys = [f"stream-{n}" for n in range(20)]
        replies = await asyncio.gather(*(asker.request(names[1], k, f"do {k}".encode(), 10)
                                         for k in keys))
        assert replies == [f"re: do {k}".encode() for k in keys]
        assert {p for p in range(PARTITIONS)} == set(owner.partitions)
        assert sorted(k for k, _ in echo.seen) == sorted(keys)
        # sealed on the way: the request topic holds no clear payload
        stored = [r for p in range(PARTITIONS) for r in await log.read(names[1], p, 0, 100)]
        assert stored and all(b"do stream" not in r.value for r in stored)
    finally:
        await asker.close()
        await owner.close()


async def test_after_a_refusal_the_next_request_on_the_stream_waits_for_its_commit(
        log: EventLog) -> None:
    """A refusal leaves no trace in the log: before the stream's next request is decided the
    refusal's offset is committed, so a new owner never re-decides it on a later state."""
    names, cipher = await topics(log), Cipher(os.urandom(32))
    group = unique("answering")
    committed_when_asked: list[int] = []

    async def handle(key: str, payload: bytes) -> Answer:
        if payload == b"then":
            reader = log.partition_consumer(group, [names[1]])
            await reader.assign({(names[1], log.partition_for(key, PARTITIONS))})
            first = await reader.poll(10, 2.0)  # the first record after the committed offset
            committed_when_asked.append(first[0].offset if first else -1)
            await reader.close()
        return Answer(b"ok", recorded=payload != b"no")

    owner = Responder(log, owns=names[0], requests=names[1], replies=names[2], group=group,
                      cipher=cipher, handle=handle)
    await owner.start()
    asker = Requester(log, replies=names[2], cipher=cipher)
    try:
        await asker.request(names[1], "stream-a", b"no", 10)
        await asker.request(names[1], "stream-a", b"then", 10)
        assert committed_when_asked == [1]  # the refusal (offset 0) was committed first
    finally:
        await asker.close()
        await owner.close()


async def test_a_request_past_its_deadline_is_never_acted_on(log: EventLog) -> None:
    names, cipher, echo = await topics(log), Cipher(os.urandom(32)), Echo()
    asker = Requester(log, replies=names[2], cipher=cipher)
    try:
        with pytest.raises(NoAnswer):  # nobody answers yet: the caller gives up
            await asker.request(names[1], "stream-late", b"late", 0.2)
        owner = await responder(log, names, echo, cipher)
        assert await asker.request(names[1], "stream-on-time", b"now", 10) == b"re: now"
        assert echo.seen == [("stream-on-time", b"now")]  # the late one was dropped
        await owner.close()
    finally:
        await asker.close()


async def test_requests_must_be_partitioned_like_their_streams(log: EventLog) -> None:
    names = await topics(log, requests_partitions=PARTITIONS + 1)
    with pytest.raises(LogError, match="partitioned like"):
        await responder(log, names, Echo(), Cipher(os.urandom(32)))
