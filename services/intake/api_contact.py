"""One contact over HTTP, for the operators' console: what was received (read back from its
stream, the log being the truth), the caller and address as the reader's role may see
them (hotline.disclosure), and where it stands in the queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import ContactReceived
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.contacts import Waiting, read_waiting
from hotline.disclosure import disclose
from hotline.params import PathId
from hotline.projection import ReadSide
from hotline.runtime import Platform
from hotline.web import Problem, from_state, problems
from services.intake.queue_board import queue

router = APIRouter(prefix="/v1", tags=["contact queue 来件队列"])
TAKEN = ("registered", "merged")  # the queue board's outcomes that put it in a ticket


async def taken_into(conn: AsyncConnection, contact_id: str) -> str | None:
    """The ticket the queue board saw take the contact in (registered or merged), if any."""
    row = (await conn.execute(select(queue.c.outcome, queue.c.ticket_id)
                              .where(queue.c.contact_id == contact_id))).first()
    return row.ticket_id if row is not None and row.outcome in TAKEN else None


class ContactReader(ReadSide):
    """A contact as a reader of one role sees it: the log's event, opened by role, and its
    place in the queue (the log's claims, the board's ticket)."""

    def __init__(self, platform: Platform) -> None:
        self.db, self.log, self.keys = platform.db, platform.log, platform.keys

    async def contact(self, contact_id: str, role: str,
                      now: datetime) -> dict[str, Any] | None:
        """The contact for `role` at `now`; None when no such contact was received."""
        event, place = await read_waiting(self.log, contact_id)
        if event is None:
            return None
        ticket_id = await self.read(taken_into, contact_id)
        return {**await self._received(event, role),
                "queue": _queue_state(place, ticket_id, now)}

    async def _received(self, event: ContactReceived, role: str) -> dict[str, Any]:
        cid = event.contact_id
        return {
            "contact_id": cid, "channel": event.channel, "channel_zh": event.channel.zh,
            "received_at": event.received_at, "content": event.content,
            "district_code": event.district_code,
            "caller": await disclose(self.keys, event.caller, f"{cid}/caller", role),
            "address": await disclose(self.keys, event.address, f"{cid}/address", role),
        }


def _queue_state(place: Waiting, ticket_id: str | None, now: datetime) -> dict[str, Any]:
    """Who holds it while the claim runs (nobody once it is in a ticket or dismissed)."""
    holder = None if ticket_id or place.dismissed else place.held_by(now)
    return {"holder": holder, "held_until": place.until if holder else None,
            "dismissed": place.dismissed, "taken": ticket_id is not None,
            "ticket_id": ticket_id}


ReaderDep = Annotated[ContactReader, Depends(from_state("contacts"))]
ClockDep = Annotated[Callable[[], datetime], Depends(from_state("clock"))]
Operator = Annotated[Principal, Depends(roles("operator", "supervisor"))]


@router.get("/contacts/{contact_id}", responses=problems(404))
async def contact_detail(contact_id: PathId, reader: ReaderDep, clock: ClockDep,
                         who: Operator) -> dict[str, Any]:
    """来件详情: the contact as received (content with numbers masked), the caller and the
    address as the reader's role may see them, and its queue state: who holds it while the
    claim runs, dismissed, and the ticket that took it in (`taken`, from the queue board,
    which may trail the log by a poll interval)."""
    found = await reader.contact(contact_id, who.role, clock())
    if found is None:
        raise Problem(404, "contact-unknown", "来件不存在 (no such contact)",
                      f"No contact {contact_id}.", rule="contact-unknown")
    return found

