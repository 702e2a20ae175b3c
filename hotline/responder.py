"""The owner's side of hotline.requests: answer the requests of the partitions this process
owns as a writer, as soon as they arrive, in order per stream.

Each request is answered by its own task, chained after the previous request on the same
stream (a ticket's commands are decided in the order they were sent; different tickets
concurrently). A reply is written as soon as its answer is ready. Offsets are committed
every COMMIT_S for the requests answered without a gap, so a crash repeats at most that
much answering, which the idempotent handler makes harmless. One case needs more: an
answer that left no trace in the log (a rejection) would be decided afresh if repeated,
possibly against a later state; so the next request on that stream waits until the
rejected one is committed, and a repeat always meets the state it was rejected on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hotline.log.port import EventLog, LogError, OutgoingRecord, PartitionConsumer, Record
from hotline.requests import DEADLINE, REPLY_TO, REQUEST_ID, Answer, Cipher

log = logging.getLogger(__name__)

POLL_S = 0.1  # the longest a change of partitions waits for the loop's next look
COMMIT_S = 0.5  # at most this much answering is repeated by a partition's next owner
MAX_IN_FLIGHT = 2_000  # requests being answered at once; beyond, reading waits

# the handler: (stream key, request payload) -> its Answer, or None when this process lost
# the stream's partition meanwhile (then the next owner answers)
Handler = Callable[[str, bytes], Awaitable[Answer | None]]


@dataclass(frozen=True, slots=True)
class _Done:
    recorded: bool = True  # asked again, the log gives the same outcome
    moved: bool = False  # not answered here: the partition went to another owner


@dataclass
class _Partition:
    """The requests of one partition being answered, in offset order, since the last commit."""

    answering: deque[tuple[int, asyncio.Task[_Done]]] = field(default_factory=deque)
    committed: int = -1  # the next offset stored for the group (-1: none stored by us)

    def answered_to(self) -> int | None:
        """The offset after the answered requests without a gap; pops them."""
        upto = None
        while self.answering and self.answering[0][1].done():
            offset, task = self.answering[0]
            if task.cancelled() or task.result().moved:
                break  # never past a request its next owner must answer
            self.answering.popleft()
            upto = offset + 1
        return upto


class Responder:
    """Answers the requests of the stream partitions this process owns as their writer."""

    def __init__(self, log: EventLog, *, owns: str, requests: str, replies: str, group: str,
                 cipher: Cipher, handle: Handler) -> None:
        self.log, self.owns, self.requests, self.replies = log, owns, requests, replies
        self.group, self.cipher, self.handle = group, cipher, handle
        self.partitions: dict[int, _Partition] = {}  # those being answered now
        self.answered = 0
        self._wanted: set[int] | None = None
        self._applied = asyncio.Event()
        self._committed = asyncio.Condition()
        self._commit_soon = asyncio.Event()
        self._tails: dict[str, tuple[int, int, asyncio.Task[_Done]]] = {}  # stream's last
        self._room = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._consumer: PartitionConsumer | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        """Check the co-partitioning, then follow the writer group."""
        ours = await self.log.partitions(self.owns)
        theirs = await self.log.partitions(self.requests)
        if ours != theirs:
            raise LogError(f"{self.requests} has {theirs} partitions, {self.owns} {ours}: "
                           "requests must be partitioned like the streams they are for")
        self._consumer = self.log.partition_consumer(self.group, [self.requests], prompt=True)
        self._tasks = [asyncio.create_task(self._read(self._consumer), name="responder"),
                       asyncio.create_task(self._commits(self._consumer), name="commits")]
        await self.log.follow_claim(self.owns, self._claim_changed)

    async def close(self) -> None:
        """Stop reading, let the answers under way finish, commit them."""
        for task in self._tasks:
            task.cancel()
            await asyncio.wait([task])  # its cancellation, not ours: ours would propagate
        under_way = [t for part in self.partitions.values() for _, t in part.answering]
        for task in under_way:  # unanswered: the partitions' next owner answers them
            task.cancel()
        if under_way:
            await asyncio.wait(under_way)
        if self._consumer is not None:
            try:
                await self._commit(self._consumer)
            except LogError:
                log.warning("final commit of %s failed", self.requests, exc_info=True)
            await self._consumer.close()

    # -- following the writer group ----------------------------------------------------------

    async def _claim_changed(self, gained: set[int], lost: set[int]) -> None:
        """Called by the writer group; returns once the loop answers exactly the new set (a
        lost partition's answers under way finished and committed first)."""
        current = self._wanted if self._wanted is not None else set(self.partitions)
        self._wanted = (current | gained) - lost
        self._applied.clear()
        if self._tasks and not self._tasks[0].done():
            await self._applied.wait()

    async def _apply(self, consumer: PartitionConsumer, wanted: set[int]) -> None:
        lost = set(self.partitions) - wanted
        if lost:
            await self._drain(lost)
            await self._commit(consumer)
            for p in lost:
                del self.partitions[p]
        for p in wanted - set(self.partitions):
            self.partitions[p] = _Partition()
        await consumer.assign({(self.requests, p) for p in wanted})
        log.info("answering %s for partitions %s", self.requests, sorted(wanted))
        self._applied.set()

    async def _drain(self, partitions: set[int]) -> None:
        tasks = [t for p in partitions if p in self.partitions
                 for _, t in self.partitions[p].answering]
        if tasks:
            await asyncio.wait(tasks)

    # -- reading and answering ---------------------------------------------------------------

    async def _read(self, consumer: PartitionConsumer) -> None:
        while True:
            if self._wanted is not None:
                wanted, self._wanted = self._wanted, None
                await self._apply(consumer, wanted)
            try:
                records = await consumer.poll(500, POLL_S)
            except LogError:
                log.exception("reading %s failed; retrying", self.requests)
                await asyncio.sleep(1)
                continue
            for record in records:
                if record.partition in self.partitions:
                    await self._room.acquire()
                    self._start(record)

    def _start(self, record: Record) -> None:
        """Answer `record` in a task of its own, after the stream's previous request."""
        previous = self._tails.get(record.key)
        task = asyncio.create_task(self._answer(record, previous))
        self.partitions[record.partition].answering.append((record.offset, task))
        self._tails[record.key] = (record.partition, record.offset, task)
        task.add_done_callback(lambda _: self._finished(record.key, task))

    def _finished(self, key: str, task: asyncio.Task[_Done]) -> None:
        self._room.release()
        if self._tails.get(key, (0, 0, None))[2] is task:
            del self._tails[key]
        if task.cancelled() or not task.result().recorded:
            self._commit_soon.set()  # a later request on the stream waits for that commit

    async def _answer(self, record: Record,
                      previous: tuple[int, int, asyncio.Task[_Done]] | None) -> _Done:
        try:
            return await self._answer_after(record, previous)
        except Exception:  # noqa: BLE001 - one bad request (or a lost reply) must not stop the rest
            log.exception("answering %s/%d@%d failed; the caller's retry is answered afresh",
                          record.topic, record.partition, record.offset)
            return _Done(recorded=False)

    async def _answer_after(self, record: Record,
                            previous: tuple[int, int, asyncio.Task[_Done]] | None) -> _Done:
        if previous is not None:
            partition, offset, task = previous
            await asyncio.wait([task])
            if not task.cancelled() and not task.result().recorded:
                await self._committed_past(partition, offset)
        request_id = record.headers.get(REQUEST_ID, "")
        if not request_id or REPLY_TO not in record.headers:
            log.error("dropping a request without id or reply address at %s/%d@%d",
                      record.topic, record.partition, record.offset)
            return _Done()
        if int(record.headers.get(DEADLINE, "0")) < time.time() * 1000:
            return _Done()  # its caller gave up: never act late
        answer = await self.handle(record.key, self.cipher.open(request_id, record.value))
        if answer is None:
            return _Done(moved=True)
        reply = OutgoingRecord(record.headers[REPLY_TO],
                               self.cipher.seal(request_id, answer.payload),
                               {REQUEST_ID: request_id})
        await self.log.append(self.replies, [reply])
        self.answered += 1
        return _Done(recorded=answer.recorded)

    # -- committing --------------------------------------------------------------------------

    async def _commits(self, consumer: PartitionConsumer) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(COMMIT_S):  # not wait_for: see embedded.pulse
                    await self._commit_soon.wait()
            self._commit_soon.clear()
            try:
                await self._commit(consumer)
            except LogError:
                log.warning("committing %s failed; retried", self.requests, exc_info=True)

    async def _commit(self, consumer: PartitionConsumer) -> None:
        """Store, per partition, the offset after the requests answered without a gap."""
        positions = {p: upto for p, part in self.partitions.items()
                     if (upto := part.answered_to()) is not None}
        if positions:
            await consumer.commit({(self.requests, p): o for p, o in positions.items()})
        async with self._committed:
            for p, upto in positions.items():
                self.partitions[p].committed = upto
            self._committed.notify_all()

    async def _committed_past(self, partition: int, offset: int) -> None:
        """Wait until `offset` of `partition` is committed (or the partition is gone)."""
        async with self._committed:
            await self._committed.wait_for(lambda: partition not in self.partitions
                                           or self.partitions[partition].committed > offset)
