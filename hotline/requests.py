"""Request and reply over the log: ask whichever process owns a stream's partition.

A stream has one writer (DESIGN.md §3.3): on Kafka, the process the writer group
gave its partition. A process that wants something done to a stream it does not
own (a dispatch replica sending a ticket command) writes a *request* to a topic
partitioned like the stream's topic (`hotline.commands` beside `hotline.tickets`,
same partition count, same key), so the request lands on the partition number
its stream lives on; the owner of that number reads it and writes the *reply* to
`hotline.replies`, keyed by the requester, who reads only its own partition of it.
This is how Kafka Streams co-partitions a table with its input, with the answer
going back the way eventsourcing's process applications pass notifications.

The `Responder` follows the writer group (`EventLog.follow_claim`): it reads the
request partitions of exactly the stream partitions it owns, and lets a partition
go only after finishing what it started on it. Its offsets are committed under a
group name, after each reply is written, so the next owner resumes there; a crash
in between makes the next owner answer those requests again, which is safe
because the handler is idempotent by command id. To keep that exact for answers
that appended nothing (a rejection), a stretch of requests between two commits
never holds two requests for the same stream: re-deciding a rejected command
then sees the very state it was rejected on.

Requests carry a deadline: one read after it is dropped unanswered (its caller
has given up and answers 503; a retry under the same command id is answered from
the log if the first attempt was applied). Payloads are sealed (AES-GCM, bound to
the request id) under a key derived from the platform's pepper, so free text a
person typed never sits in clear on the request topics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contracts.ids import new_id
from contracts.topics import REPLIES
from hotline.keystore import KeyStore
from hotline.log.port import EventLog, LogError, OutgoingRecord, PartitionConsumer

if TYPE_CHECKING:
    from hotline.runtime import Platform

log = logging.getLogger(__name__)

REQUEST_ID, REPLY_TO, DEADLINE = "hotline-request-id", "hotline-reply-to", "hotline-deadline-ms"


class NoAnswer(LogError):
    """No reply within the timeout: the owner is moving, busy or down. Safe to retry."""


class Cipher:
    """AES-GCM under a key derived from a platform secret, bound to the request id."""

    def __init__(self, secret: bytes, purpose: bytes = b"hotline.requests") -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, request_id: str, plain: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plain, request_id.encode())

    def open(self, request_id: str, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], request_id.encode())


def requester_name() -> str:
    """A name no other live requester has: host, process and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def request_cipher(keys: KeyStore) -> Cipher:
    """The key requests and replies are sealed under: derived from the pepper, which every
    process of a deployment shares through the key store."""
    return Cipher(await keys.pepper(), b"hotline.requests")


def requester_of(platform: Platform) -> Requester:
    """This process's requester (one reply partition for every service it runs)."""
    return platform.shared("requester", lambda: Requester(platform.log, keys=platform.keys))


class Requester:
    """Sends requests keyed by stream and awaits their replies on its own reply partition."""

    def __init__(self, log: EventLog, *, keys: KeyStore | None = None,
                 cipher: Cipher | None = None, replies: str = REPLIES,
                 name: str | None = None) -> None:
        """Seals with `cipher`, or with the platform's (`request_cipher`) made from `keys`."""
        self.log, self.keys, self.replies, self.cipher = log, keys, replies, cipher
        self.name = name or requester_name()
        self._consumer: PartitionConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Read our reply partition from its end (older replies are someone else's past)."""
        async with self._starting:
            if self._task is not None:
                return
            if self.cipher is None:
                assert self.keys is not None, "a Requester needs a cipher or the key store"
                self.cipher = await request_cipher(self.keys)
            partition = self.log.partition_for(self.name, await self.log.partitions(self.replies))
            consumer = self.log.partition_consumer(None, [self.replies], prompt=True)
            await consumer.assign({(self.replies, partition)}, at_end=True)
            self._consumer = consumer
            self._task = asyncio.create_task(self._listen(consumer), name="replies")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # its cancellation, not ours: ours would propagate
        if self._consumer is not None:
            await self._consumer.close()
            self._consumer = None

    async def request(self, topic: str, key: str, payload: bytes, timeout_s: float) -> bytes:
        """Send `payload` on `topic` to the owner of `key`'s partition; its reply, or
        NoAnswer."""
        await self.start()
        assert self.cipher is not None
        request_id = new_id()
        deadline_ms = int((time.time() + timeout_s) * 1000)
        future = self._waiting[request_id] = asyncio.get_running_loop().create_future()
        headers = {REQUEST_ID: request_id, REPLY_TO: self.name, DEADLINE: str(deadline_ms)}
        try:
            async with asyncio.timeout(timeout_s):  # the send too: a stuck producer is no answer
                await self.log.append(topic, [OutgoingRecord(
                    key, self.cipher.seal(request_id, payload), headers)])
                sealed = await future
        except TimeoutError:
            raise NoAnswer(f"no reply to {key} within {timeout_s:.0f} s") from None
        finally:
            self._waiting.pop(request_id, None)
        return self.cipher.open(request_id, sealed)

    async def _listen(self, consumer: PartitionConsumer) -> None:
        while True:
            try:
                records = await consumer.poll(500, 1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup must not leave every caller waiting forever
                log.exception("reading replies failed; retrying")
                await asyncio.sleep(1)
                continue
            for record in records:
                future = self._waiting.get(record.headers.get(REQUEST_ID, ""))
                if record.key == self.name and future is not None and not future.done():
                    future.set_result(record.value)


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's reply, and whether asking again would find the same outcome in the log
    (`recorded`: an applied command, a read) or decide afresh (a rejection appended nothing)."""

    payload: bytes
    recorded: bool = True
