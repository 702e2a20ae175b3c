"""Where a contact or a call record is appended: on the intake replica that owns its partition.

One contact is one stream with one event, appended at version 0: that is what makes the
same channel message id posted twice one contact (service.py). On Kafka each intake
replica owns some partitions of hotline.contacts and hotline.calls (their writer
groups); a replica that receives a contact whose partition another replica owns hands it
over through hotline.contacts.requests (hotline/requests.py: partitioned like the
contacts, answered by the owner) and answers the channel with the owner's receipt. On
the embedded log every replica appends itself.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from contracts.base import EventData
from contracts.events import EVENTS, event_name
from contracts.topics import CALL_REQUESTS, CALLS, CONTACT_REQUESTS, CONTACTS, REPLIES
from hotline.log.port import NotStreamOwner
from hotline.requests import Answer, Requester, request_cipher
from hotline.responder import Responder
from hotline.runtime import Platform
from services.intake import domain, queue, service

GROUP = "hotline-intake"  # where the replicas commit how far they answered each partition


class IntakeWriter:
    """Receives contacts and calls here when this replica owns them, else through their owner."""

    def __init__(self, platform: Platform, requester: Requester | None,
                 timeout_s: float) -> None:
        self.platform, self.requester, self.timeout_s = platform, requester, timeout_s
        self.owners: dict[str, Responder] = {}  # topic -> what answers for its partitions here
        self.targets = queue.load_targets()

    # -- the channels' side ------------------------------------------------------------------

    async def receive_contact(self, contact: domain.ContactIn, actor: str,
                              now: datetime) -> service.Receipt:
        stream = domain.contact_stream(domain.contact_id_for(contact.channel,
                                                             contact.channel_message_id))
        if await self._mine(CONTACTS, stream):
            try:
                return await service.receive_contact(self.platform, contact, actor, now)
            except NotStreamOwner:
                pass  # it moved meanwhile: its new owner receives it
        body = {"op": "contact", "contact": contact.model_dump(mode="json"), "actor": actor,
                "now": now.isoformat()}
        return _receipt(await self._ask(CONTACT_REQUESTS, stream, body))

    async def record_calls(self, calls: Sequence[domain.CallIn], actor: str,
                           now: datetime) -> tuple[int, int]:
        """(recorded, duplicates): this replica's calls here, each other partition's calls
        in one request to its owner."""
        by_partition: dict[int, list[domain.CallIn]] = defaultdict(list)
        n = await self.platform.log.partitions(CALLS)
        for call in calls:
            by_partition[self.platform.log.partition_for(call_stream(call), n)].append(call)
        recorded = duplicates = 0
        for group in by_partition.values():
            done = await self._calls(group, actor, now)
            recorded, duplicates = recorded + done[0], duplicates + done[1]
        return recorded, duplicates

    async def _calls(self, calls: list[domain.CallIn], actor: str,
                     now: datetime) -> tuple[int, int]:
        stream = call_stream(calls[0])  # every call of the group lies on its partition
        if await self._mine(CALLS, stream):
            try:
                return await service.record_calls(self.platform, calls, actor, now)
            except NotStreamOwner:
                pass
        body = {"op": "calls", "calls": [c.model_dump(mode="json") for c in calls],
                "actor": actor, "now": now.isoformat()}
        reply = await self._ask(CALL_REQUESTS, stream, body)
        return int(reply["recorded"]), int(reply["duplicates"])

    async def act(self, action: service.QueueAction, now: datetime) -> EventData:
        """Claim, release or dismiss a queued contact on the replica owning its stream
        (QueueRefused when its state does not allow it)."""
        stream = domain.contact_stream(action.contact_id)
        if await self._mine(CONTACTS, stream):
            try:
                return await service.act_on_queue(self.platform, action, self.targets, now)
            except NotStreamOwner:
                pass
        body = {"op": "queue", "action": asdict(action), "now": now.isoformat()}
        return _queue_answer(await self._ask(CONTACT_REQUESTS, stream, body))

    async def _mine(self, topic: str, stream: str) -> bool:
        owner = self.owners.get(topic)
        if self.requester is None or owner is None:
            return True  # the embedded log: every process appends
        partition = self.platform.log.partition_for(stream, await self.platform.log.partitions(
            topic))
        return partition in owner.partitions

    async def _ask(self, topic: str, stream: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.requester is not None
        raw = await self.requester.request(topic, stream, json.dumps(body).encode(),
                                           self.timeout_s)
        reply: dict[str, Any] = json.loads(raw)
        return reply

    # -- the owner's side --------------------------------------------------------------------

    async def answer(self) -> None:
        """Answer the contacts and calls other replicas hand over for our partitions."""
        cipher = await request_cipher(self.platform.keys)
        for owns, requests in ((CONTACTS, CONTACT_REQUESTS), (CALLS, CALL_REQUESTS)):
            responder = Responder(self.platform.log, owns=owns, requests=requests,
                                  replies=REPLIES, group=GROUP, cipher=cipher,
                                  handle=self.handle)
            await responder.start()
            self.owners[owns] = responder

    async def close(self) -> None:
        for responder in self.owners.values():
            await responder.close()
        self.owners.clear()

    async def handle(self, key: str, raw: bytes) -> Answer | None:
        """Receive what another replica handed over; None if this one lost the partition too."""
        body = json.loads(raw)
        now = datetime.fromisoformat(body["now"])
        try:
            if body["op"] == "queue":  # a refusal appends nothing: asked again, decide again
                result = await self._queue(body, now)
                return Answer(json.dumps(result).encode(), recorded="event" in result)
            if body["op"] == "contact":
                contact = domain.ContactIn.model_validate(body["contact"])
                receipt = await service.receive_contact(self.platform, contact, body["actor"],
                                                        now)
                return Answer(json.dumps({"receipt": [receipt.contact_id, receipt.status,
                                                      receipt.correlation_id]}).encode())
            calls = [domain.CallIn.model_validate(c) for c in body["calls"]]
            recorded, duplicates = await service.record_calls(self.platform, calls,
                                                              body["actor"], now)
            return Answer(json.dumps({"recorded": recorded, "duplicates": duplicates}).encode())
        except NotStreamOwner:
            return None
        except service.IdempotencyConflict as exc:
            return Answer(json.dumps({"conflict": exc.contact_id}).encode())
        except service.ClockSkew:
            return Answer(json.dumps({"clock_skew": True}).encode())


    async def _queue(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        action = service.QueueAction(**body["action"])
        try:
            event = await service.act_on_queue(self.platform, action, self.targets, now)
        except queue.QueueRefused as refused:
            return {"refused": [refused.rule, refused.detail]}
        return {"event": event_name(event), "data": event.model_dump(mode="json")}


def _queue_answer(reply: dict[str, Any]) -> EventData:
    if "refused" in reply:
        raise queue.QueueRefused(*reply["refused"])
    return EVENTS[reply["event"]].model_validate(reply["data"])


def call_stream(call: domain.CallIn) -> str:
    return f"call-{call.call_id}"


def _receipt(reply: dict[str, Any]) -> service.Receipt:
    if "conflict" in reply:
        raise service.IdempotencyConflict(reply["conflict"])
    if "clock_skew" in reply:
        raise service.ClockSkew
    contact_id, status, correlation = reply["receipt"]
    return service.Receipt(contact_id, status, correlation)
