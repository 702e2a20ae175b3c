"""工单, the ticket pages every role reads as its masking allows: the list, the ticket
with the actions of the reader's role, and the audit view (the timeline replayed from
the log with the hash chain's check, and the ticket as it stood at any moment)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.console.labels import BEIJING
from services.console.upstream import Caller, Refused, Upstream
from services.console.web import Signed, render, upstream

router = APIRouter(include_in_schema=False)
STATUSES = ("registered", "dispatched", "acknowledged", "returned", "replied", "closed",
            "merged")
CALLBACK_READERS = ("callback", "supervisor")


@router.get("/tickets", response_model=None)
async def ticket_list(request: Request, person: Signed, status: str = "", text: str = "",
                      district: str = "", overdue: str = "", cursor: str = "") -> HTMLResponse:
    """工单列表, newest first; a unit sees its own tickets only (the service decides)."""
    names = request.app.state.names
    shown = {"status": status if status in STATUSES else "", "text": text,
             "district": district if district in names.districts else "",
             "overdue": "true" if overdue == "true" else ""}
    page = await upstream(request).get("dispatch", "/v1/tickets", person.caller(),
                                       {**shown, "cursor": cursor, "limit": 50})
    return render(request, "tickets.html", person, page=page, statuses=STATUSES,
                  districts=names.district_choices, shown=shown, query=urlencode(shown))


@router.get("/tickets/{ticket_id}", response_model=None)
async def ticket_page(ticket_id: str, request: Request, person: Signed,
                      v: int | None = None) -> HTMLResponse:
    """The ticket after the reader's own last command (`v`: read-your-writes)."""
    up, who = upstream(request), person.caller()
    detail, task, orders = await asyncio.gather(
        up.get("dispatch", f"/v1/tickets/{ticket_id}", who, {"min_version": v}),
        _callback_task(up, who, ticket_id, person.role),
        _open_orders(up, who, ticket_id, person.role))
    return render(request, "ticket.html", person, detail=detail, t=detail["ticket"],
                  task=task, orders=orders, mine=_units_role(detail, person.principal.unit))


async def _open_orders(up: Upstream, who: Caller, ticket_id: str,
                       role: str) -> list[dict[str, Any]]:
    """The supervision orders on this ticket still waiting for an answer (a unit sees its
    own only: the service scopes the list)."""
    if role not in ("unit", "supervisor"):
        return []
    found = await up.get("supervision", "/v1/supervision/orders", who,
                         {"open": "true", "ticket": ticket_id})
    return list(found["items"])


async def _callback_task(up: Upstream, who: Caller, ticket_id: str,
                         role: str) -> dict[str, Any] | None:
    """The ticket's callback (survey, script, the number for callback staff), if it has one."""
    if role not in CALLBACK_READERS:
        return None
    try:
        task: dict[str, Any] = await up.get("callback", f"/v1/callback/tasks/{ticket_id}", who)
    except Refused as refused:
        if refused.status == 404:
            return None
        raise
    return task


def _units_role(detail: dict[str, Any], unit: str | None) -> str | None:
    """`lead` or `assisting` for the reader's unit on this ticket now (None otherwise)."""
    for a in detail.get("assignments", []):
        if unit and a["unit_id"] == unit and a["active"]:
            return str(a["role"])
    return None


@router.get("/tickets/{ticket_id}/audit", response_model=None)
async def audit_page(ticket_id: str, request: Request, person: Signed,
                     at: str = "") -> HTMLResponse:
    """工单轨迹: every event from the log (who, what, when, why), the chain's check, and the
    ticket as it stood at `at` (Beijing time, from the page's picker)."""
    up, who = upstream(request), person.caller()
    history, verification = await asyncio.gather(
        up.get("dispatch", f"/v1/tickets/{ticket_id}/history", who),
        up.get("dispatch", f"/v1/tickets/{ticket_id}/verification", who))
    as_of, as_of_error = None, None
    if at:
        try:
            as_of = await up.get("dispatch", f"/v1/tickets/{ticket_id}/as-of", who,
                                 {"at": _instant(at)})
        except (Refused, ValueError) as exc:
            as_of_error = exc.message if isinstance(exc, Refused) else "时间格式错误"
    return render(request, "audit.html", person, ticket_id=ticket_id, history=history,
                  verification=verification, at=at, as_of=as_of, as_of_error=as_of_error)


def _instant(at: str) -> str:
    """The page's picker gives Beijing wall time (`2026-12-04T09:15:00`); an event's link
    gives its exact instant with its zone: both as an aware ISO instant."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)).isoformat()
