"""Reading work orders: the list with filters, a ticket's detail and history, duplicate
candidates and routing suggestions. Lists come from the work-order projection
(eventually consistent, usually within a poll interval); history from the log itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from contracts.vocabulary import Channel, TicketStatus, TicketType, Urgency
from hotline.params import CODE_PATTERN, CodeQuery, Cursor, InstantQuery, PathId
from hotline.web import Problem, problems
from services.dispatch import queries
from services.dispatch.api_common import (
    ClockDep,
    Operator,
    Reader,
    ServiceDep,
    jsonable,
    not_found,
    visible_ticket,
)
from services.dispatch.knowledge_link import KnowledgeLink, credentials_of
from services.dispatch.service import DispatchService

router = APIRouter(prefix="/v1", tags=["work orders 工单"])


@router.get("/tickets")
async def list_tickets(
    service: ServiceDep, clock: ClockDep, who: Reader,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    unit: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Held now by this unit")
                    ] = None,
    lead_unit: CodeQuery = None, district: CodeQuery = None,
    category1: CodeQuery = None, category2: CodeQuery = None,
    ticket_type: TicketType | None = None, channel: Channel | None = None,
    urgency: Urgency | None = None,
    registered_from: InstantQuery = None, registered_to: InstantQuery = None,
    due_from: InstantQuery = None, due_to: InstantQuery = None,
    overdue: bool | None = None,
    text: Annotated[str | None, Query(max_length=100)] = None,
    sort: queries.Sort = queries.Sort.REGISTERED_DESC,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """工单列表: filtered, sorted, paged by cursor; a unit's key lists its own tickets only."""
    flt = queries.TicketFilter(
        statuses=tuple(status or ()), unit=unit, lead_unit=lead_unit, district_code=district,
        category1=category1, category2=category2, ticket_type=ticket_type, channel=channel,
        urgency=urgency, registered_from=registered_from, registered_to=registered_to,
        due_from=due_from, due_to=due_to, overdue=overdue, text=text,
        visible_to_unit=who.unit if who.role == "unit" else None)
    page = await service.read(queries.list_tickets, flt, sort, limit, cursor, clock())  # a bad
    # cursor: 422 (app.py)
    return jsonable(page)  # type: ignore[no-any-return]


async def _caught_up(service: DispatchService, ticket_id: str, version: int) -> None:
    """Return once the row shows `version` (422 for a version the ticket never had, 503
    when the row is still behind after a short wait)."""
    if await service.caught_up(ticket_id, version, wait_s=0):
        return
    stored = len(await service.tickets.history(ticket_id))
    if version > stored:  # no command answered that version: nothing to wait for
        raise Problem(422, "version-unknown", "工单没有该版本 (no such version)",
                      f"The ticket has {stored} events.")
    if not await service.caught_up(ticket_id, version):
        raise Problem(503, "not-caught-up", "数据同步中, 请稍后重试 (catching up, retry)",
                      f"The list has not reached version {version} yet.",
                      headers={"Retry-After": "1"})


@router.get("/tickets/{ticket_id}", responses=problems(404, 422, 503))
async def ticket_detail(ticket_id: PathId, service: ServiceDep, who: Reader,
                        min_version: Annotated[int | None, Query(
                            ge=1, le=1_000_000, description="the `version` a command answered: "
                            "wait (2 s at most) until the row shows it")] = None,
                        ) -> dict[str, Any]:
    """工单详情: the ticket, its units, its timeline, and its contacts — callers' personal
    data in clear for operators, callback staff and supervisors, masked for everyone else.
    With `min_version`, never the row as it was before the reader's own command."""
    ticket = await visible_ticket(service, who, ticket_id)
    if min_version is not None:
        await _caught_up(service, ticket_id, min_version)
    detail = await service.read(queries.ticket_detail, ticket_id,
                                visible_to_unit=who.unit if who.role == "unit" else None)
    if detail is None:  # registered a moment ago: the projection has not caught up yet
        raise not_found(ticket_id)
    contacts = []
    for contact_id in ticket.contact_ids:
        contact = await service.contact(contact_id)
        contacts.append({
            "contact_id": contact_id, "channel": contact.channel,
            "received_at": contact.received_at, "content": contact.content,
            "caller": await service.disclosed(contact.caller, f"{contact_id}/caller",
                                              who.role),
            "address": await service.disclosed(contact.address, f"{contact_id}/address",
                                               who.role),
        })
    pending = ticket.extension
    return {
        **jsonable(detail),
        "category_zh": service.ref.taxonomy.label_zh(ticket.category.level1,
                                                     ticket.category.level2),
        "pending_extension": None if pending is None else {
            "request_id": pending.request_id, "unit_id": pending.unit_id,
            "requested_due_at": pending.requested_due_at},
        "contacts": contacts,
    }


@router.get("/tickets/{ticket_id}/history", responses=problems(404))
async def ticket_history(ticket_id: PathId, service: ServiceDep,
                         who: Reader) -> list[dict[str, Any]]:
    """工单轨迹: every event of the ticket's stream as stored (CloudEvents), for disputes;
    operators, callback staff and supervisors also get `text_as_typed`, the free text with
    the numbers that were masked on the way into the log."""
    await visible_ticket(service, who, ticket_id)
    events = []
    for stored in await service.tickets.history(ticket_id):
        event = stored.envelope.model_dump(mode="json")
        typed = await service.as_typed(stored.envelope, who.role)
        events.append({**event, "text_as_typed": typed} if typed else event)
    return events


@router.get("/contacts/{contact_id}/duplicates")
async def duplicates(contact_id: PathId, service: ServiceDep, clock: ClockDep,
                     who: Operator) -> list[dict[str, Any]]:
    """重复件: open tickets this contact may repeat (same caller, or similar text nearby)."""
    found = await service.duplicates(contact_id, clock())
    return [{"ticket_id": c.ticket.ticket_id, "ticket_number": c.ticket.ticket_number,
             "summary": c.ticket.summary, "registered_at": c.ticket.registered_at,
             "score": round(c.score, 3), "reasons": list(c.reasons)} for c in found]


@router.get("/contacts/{contact_id}/recommendations", responses=problems(422))
async def contact_recommendations(contact_id: PathId, request: Request, service: ServiceDep,
                                  who: Operator, level1: CodeQuery = None) -> dict[str, Any]:
    """知识推荐 for a contact, from the knowledge service, asked with the operator's own
    credentials (within a first-level category once chosen); `available: false` when the
    knowledge service cannot answer now."""
    contact = await service.contact(contact_id)
    return await _recommended(request, contact.content, level1)


@router.get("/tickets/{ticket_id}/recommendations", responses=problems(404))
async def ticket_recommendations(ticket_id: PathId, request: Request, service: ServiceDep,
                                 who: Operator) -> dict[str, Any]:
    """知识推荐 for a registered ticket: its summary, within its category."""
    ticket = await service.tickets.get(ticket_id)
    if ticket is None:
        raise not_found(ticket_id)
    return await _recommended(request, ticket.summary, ticket.category.level1)


async def _recommended(request: Request, text: str, level1: str | None) -> dict[str, Any]:
    link: KnowledgeLink = request.app.state.knowledge
    items = await link.recommend(text, level1, credentials_of(request.headers))
    return {"available": items is not None, "items": items or []}


@router.get("/tickets/{ticket_id}/suggestions", responses=problems(404))
async def suggestions(ticket_id: PathId, service: ServiceDep,
                      who: Operator) -> list[dict[str, Any]]:
    """派单建议: the catalogue's unit, then the units that handled the most similar tickets."""
    directory = service.ref.directory
    return [{"unit_id": s.unit_id, "unit_zh": directory.get(s.unit_id).name_zh,
             "source": s.source, "reason_zh": s.reason_zh, "score": s.score}
            for s in await service.suggestions(ticket_id)]
