"""Auditing a ticket from its own history: the ticket as it stood at an instant (the
decider's fold over the stored events), and the integrity check of its stream. Both read
the log itself, not the work-order projection; a unit sees only the tickets sent to it.
"""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hotline.params import Instant, PathId
from hotline.web import Problem, problems
from services.dispatch.api_common import ClockDep, Reader, ServiceDep, visible_ticket
from ticketing.domain import Ticket

router = APIRouter(prefix="/v1", tags=["audit 审计"])

AtQuery = Annotated[Instant, Query(
    description="ISO 8601 with a UTC offset, between 2000 and 2099: the instant to look at")]


def _plain(value: Any) -> Any:
    """A folded value as JSON can hold it: sets sorted into lists, enum keys by value."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, dict):
        return {k.value if isinstance(k, Enum) else k: _plain(v) for k, v in value.items()}
    return value


def ticket_state(ticket: Ticket) -> dict[str, Any]:
    """Every field of the decider's state (personal data as stored: masked, or sealed ids)."""
    return {name: _plain(value) for name, value in asdict(ticket).items()}


@router.get("/tickets/{ticket_id}/as-of", responses=problems(404, 422))
async def ticket_as_of(ticket_id: PathId, at: AtQuery, service: ServiceDep,
                       who: Reader) -> dict[str, Any]:
    """某时点工单状态: the ticket as it stood at `at`, folded by the decider from its stored
    events up to that instant (`version`: how many). 404 `not-yet-registered` when `at`
    lies before its registration; visible as its history is."""
    await visible_ticket(service, who, ticket_id)
    found = await service.as_of(ticket_id, at)
    if found is None:
        raise Problem(404, "not-yet-registered", "该时点工单尚未登记 (not yet registered then)",
                      f"Ticket {ticket_id} was not yet registered at {at.isoformat()}.",
                      rule="not-yet-registered")
    return {"ticket_id": ticket_id, "at": at, "version": found.version,
            "last_event_at": found.last_event_at, "state": ticket_state(found.ticket)}


@router.get("/tickets/{ticket_id}/verification", responses=problems(404))
async def ticket_verification(ticket_id: PathId, service: ServiceDep, clock: ClockDep,
                              who: Reader) -> dict[str, Any]:
    """工单防篡改校验: the hash chain of the ticket's stream checked over its stored bytes
    and the log's recorded head; `intact` when no event was altered, removed or moved
    (each finding names the stream version it was found at)."""
    await visible_ticket(service, who, ticket_id)
    checked = await service.verification(ticket_id)
    return {"stream": checked.stream, "events": checked.events,
            "intact": not checked.findings, "head_hash": checked.head.head_hash,
            "checked_at": clock(),
            "findings": [{"version": f.position, "problem": f.problem}
                         for f in checked.findings]}
