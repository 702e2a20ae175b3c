"""The decider replica: answers the ticket requests of the partitions it owns.

Its replicas share the writer group of `hotline.tickets`; each owns some partitions and
answers the requests on the same partitions of `hotline.commands` with the desk of its
own process (hotline/requests.py carries them). The desk appends with the version it
decided on, so even two replicas that both believe they own a partition (a frozen one
that has not yet noticed it was replaced) cannot both extend a ticket from one state on
the embedded log; on Kafka that window lasts until the stale replica's next heartbeat
(see ARCHITECTURE.md, "Fencing").
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from hotline.log.port import NotStreamOwner
from hotline.requests import Answer
from ticketing import wire
from ticketing.client import LocalTickets

log = logging.getLogger(__name__)

ANSWERS = Counter("hotline_decider_requests_total", "Ticket requests answered by this replica",
                  ["op", "result"])


class DeskHost:
    """Turns a request into a call on this process's desk, and the result into a reply."""

    def __init__(self, tickets: LocalTickets) -> None:
        self.tickets = tickets

    async def handle(self, key: str, raw: bytes) -> Answer | None:
        """The reply, or None when this replica lost the partition (its next owner answers).
        A refusal is not recorded in the log: asked again, the desk decides again."""
        op = "unreadable"
        try:
            request = wire.decode_request(raw)
            op = type(request).__name__.lower()
            reply = await self._run(request)
        except NotStreamOwner:
            ANSWERS.labels(op, "moved").inc()
            return None
        except Exception as exc:  # every answer travels back; a bug is logged here too
            if not wire.expected(exc):
                log.exception("ticket %s request on %s failed", op, key)
            ANSWERS.labels(op, "error").inc()
            return Answer(wire.error_reply(exc), recorded=False)
        ANSWERS.labels(op, "ok").inc()
        return Answer(reply)

    async def _run(self, request: wire.Request) -> bytes:
        tickets = self.tickets
        match request:
            case wire.Execute():
                return wire.outcome_reply(await tickets.execute(
                    request.command, actor=request.actor, command_id=request.command_id,
                    now=request.now, source=request.source,
                    correlation_id=request.correlation_id))
            case wire.Get():
                return wire.ticket_reply(await tickets.get(request.ticket_id))
            case wire.History():
                return wire.history_reply(await tickets.history(request.ticket_id))
            case wire.Reserve():
                return wire.number_reply(await tickets.reserve_number(
                    request.ticket_id, request.context, request.now))
