"""承办单位, the unit inbox: the unit's tickets live, coloured by warning with the phrases
units know (处理期限将至 / 处理期限已到), redo tickets marked; and the one route every
ticket command of the pages goes through (actions.ACTIONS)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from services.console.actions import ACTIONS
from services.console.live import changes
from services.console.upstream import Refused
from services.console.web import Signed, back, command, need, posted, render, upstream

router = APIRouter(include_in_schema=False)
INBOX_LIMIT = 100


@router.get("/inbox", response_model=None)
async def inbox(request: Request, person: Signed) -> HTMLResponse:
    need(person, "unit")
    return render(request, "inbox.html", person, **await _inbox(request, person))


@router.get("/inbox/list", response_model=None)
async def inbox_fragment(request: Request, person: Signed) -> HTMLResponse:
    need(person, "unit")
    return render(request, "inbox_list.html", person, **await _inbox(request, person))


@router.get("/inbox/events", response_model=None)
async def inbox_events(request: Request, person: Signed) -> StreamingResponse:
    need(person, "unit")
    up, who = upstream(request), person.caller()

    async def shown() -> list[tuple[str, int, str | None]]:
        page = await up.get("dispatch", "/v1/inbox", who, {"limit": INBOX_LIMIT})
        return [(t["ticket_id"], t["version"], t["warning_level"]) for t in page["items"]]

    return changes(request, shown)


async def _inbox(request: Request, person: Signed) -> dict[str, Any]:
    """The unit's tickets, and the supervision orders it has still to answer."""
    up, who = upstream(request), person.caller()
    page, orders = await asyncio.gather(
        up.get("dispatch", "/v1/inbox", who, {"limit": INBOX_LIMIT}),
        up.get("supervision", "/v1/supervision/orders", who, {"open": "true"}))
    return {"items": page["items"], "total": page.get("total"), "orders": orders}


@router.post("/tickets/{ticket_id}/act/{verb}", response_model=None)
async def act(ticket_id: str, verb: str, request: Request, person: Signed) -> RedirectResponse:
    """Any ticket command a page offers; back to the ticket, showing the state after it."""
    form = await posted(request, person)
    action = ACTIONS.get(verb)
    if action is None:
        raise Refused(404, "没有该操作 (no such action)")
    done = await command(request, person, form, action.service,
                         f"/v1/tickets/{quote(ticket_id, safe='')}/{action.path(form)}",
                         action.body(form), back_to=f"/tickets/{quote(ticket_id, safe='')}")
    version = (done.get("follow_up") or done).get("version") if isinstance(done, dict) else None
    return back(f"/tickets/{ticket_id}", v=version, ok=action.done)
