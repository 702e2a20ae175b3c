"""话务员工作台, the operator desk: the contact queue live, a contact with its caller,
duplicates and knowledge recommendations, register, merge, answer directly, dispatch
with the catalogue's suggestion and assisting units, returned tickets to reassign."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from services.console.live import changes
from services.console.web import Signed, back, command, need, posted, render, upstream

router = APIRouter(include_in_schema=False)
DESK = ("operator", "supervisor")


@router.get("/desk", response_model=None)
async def desk(request: Request, person: Signed) -> HTMLResponse:
    need(person, *DESK)
    up, who = upstream(request), person.caller()
    queue, returned, registered = await asyncio.gather(
        up.get("intake", "/v1/contact-queue", who),
        up.get("dispatch", "/v1/tickets", who, {"status": "returned", "limit": 50}),
        up.get("dispatch", "/v1/tickets", who, {"status": "registered", "limit": 50}))
    return render(request, "desk.html", person, queue=queue, returned=returned["items"],
                  registered=registered["items"])


@router.get("/desk/queue", response_model=None)
async def queue_fragment(request: Request, person: Signed) -> HTMLResponse:
    """The queue's table alone: what the live page reloads when the queue changes."""
    need(person, *DESK)
    queue = await upstream(request).get("intake", "/v1/contact-queue", person.caller())
    return render(request, "desk_queue.html", person, queue=queue)


@router.get("/desk/events", response_model=None)
async def queue_events(request: Request, person: Signed) -> StreamingResponse:
    """Server-sent events: `changed` whenever the waiting contacts or their holders change."""
    need(person, *DESK)
    up, who = upstream(request), person.caller()

    async def shown() -> list[tuple[str, str, bool]]:
        queue = await up.get("intake", "/v1/contact-queue", who)
        return [(i["contact_id"], i["holder"], i["late"]) for i in queue["items"]]

    return changes(request, shown)


@router.post("/desk/contacts/{contact_id}/claim", response_model=None)
async def claim(contact_id: str, request: Request, person: Signed) -> RedirectResponse:
    form = await posted(request, person)
    await command(request, person, form, "intake", f"/v1/contacts/{contact_id}/claim", None,
                  back_to="/desk")
    return back(f"/desk/contacts/{contact_id}", ok="已认领")


@router.post("/desk/contacts/{contact_id}/release", response_model=None)
async def release(contact_id: str, request: Request, person: Signed) -> RedirectResponse:
    form = await posted(request, person)
    await command(request, person, form, "intake", f"/v1/contacts/{contact_id}/release", None,
                  back_to=f"/desk/contacts/{contact_id}")
    return back("/desk", ok="已释放, 来件回到队列")


@router.post("/desk/contacts/{contact_id}/dismiss", response_model=None)
async def dismiss(contact_id: str, request: Request, person: Signed) -> RedirectResponse:
    """无效来件: spam, a test, a repeat, not for the hotline (the holder only)."""
    form = await posted(request, person)
    body = {"reason": form.get("reason"), "note": form.get("note") or None}
    await command(request, person, form, "intake", f"/v1/contacts/{contact_id}/dismiss", body,
                  back_to=f"/desk/contacts/{contact_id}")
    return back("/desk", ok="已作无效来件处理")


@router.post("/desk/contacts/{contact_id}/rate", response_model=None)
async def rate(contact_id: str, request: Request, person: Signed) -> RedirectResponse:
    """推荐评价: was a recommended article helpful for this contact?"""
    form = await posted(request, person)
    article, _, version = form.get("article").partition("@")
    body = {"version": int(version) if version.isdigit() else 0,
            "helpful": form.get("helpful") == "yes", "contact_id": contact_id}
    await command(request, person, form, "knowledge",
                  f"/v1/knowledge/articles/{quote(article, safe='')}/feedback", body,
                  back_to=f"/desk/contacts/{contact_id}")
    return back(f"/desk/contacts/{contact_id}", ok="已记录推荐评价")


@router.get("/desk/contacts/{contact_id}", response_model=None)
async def contact_page(contact_id: str, request: Request, person: Signed) -> HTMLResponse:
    """A claimed contact: the caller (clear for operators), duplicates, recommendations,
    and the registration form."""
    need(person, *DESK)
    up, who = upstream(request), person.caller()
    contact, duplicates, recommended = await asyncio.gather(
        up.get("intake", f"/v1/contacts/{contact_id}", who),
        up.get("dispatch", f"/v1/contacts/{contact_id}/duplicates", who),
        up.get("dispatch", f"/v1/contacts/{contact_id}/recommendations", who))
    names = request.app.state.names
    return render(request, "desk_contact.html", person, contact=contact,
                  duplicates=duplicates, recommended=recommended,
                  categories=names.category_choices, districts=names.district_choices)


@router.post("/desk/contacts/{contact_id}/register", response_model=None)
async def register(contact_id: str, request: Request, person: Signed) -> RedirectResponse:
    form = await posted(request, person)
    level1, level2 = _category(form.get("category"))
    body = {"contact_ids": [contact_id], "ticket_type": form.get("ticket_type"),
            "category": {"level1": level1, "level2": level2},
            "urgency": form.get("urgency") or "normal", "summary": form.get("summary"),
            "district_code": form.get("district_code") or None}
    done = await command(request, person, form, "dispatch", "/v1/tickets",
                         body, back_to=f"/desk/contacts/{contact_id}")
    return back(f"/desk/tickets/{done['ticket_id']}", v=done["version"],
                ok=f"已登记 {done['ticket_number']}")


@router.post("/desk/contacts/{contact_id}/merge", response_model=None)
async def merge(contact_id: str, request: Request, person: Signed) -> RedirectResponse:
    """合并来电: the contact joins an open ticket it repeats."""
    form = await posted(request, person)
    target = form.get("ticket_id")
    done = await command(request, person, form, "dispatch", f"/v1/tickets/{target}/contacts",
                         {"contact_id": contact_id}, back_to=f"/desk/contacts/{contact_id}")
    return back(f"/tickets/{target}", v=done["version"], ok="已合并到该工单")


@router.get("/desk/tickets/{ticket_id}", response_model=None)
async def dispatch_page(ticket_id: str, request: Request, person: Signed,
                        v: int | None = None) -> HTMLResponse:
    """派单 (or 改派 after a return) and 直接答复: the ticket, the catalogue's suggestion,
    every unit to choose from, and the knowledge base's answers."""
    need(person, *DESK)
    up, who = upstream(request), person.caller()
    detail, suggestions, recommended = await asyncio.gather(
        up.get("dispatch", f"/v1/tickets/{ticket_id}", who, {"min_version": v}),
        up.get("dispatch", f"/v1/tickets/{ticket_id}/suggestions", who),
        up.get("dispatch", f"/v1/tickets/{ticket_id}/recommendations", who))
    return render(request, "desk_dispatch.html", person, detail=detail, t=detail["ticket"],
                  suggestions=suggestions, units=request.app.state.names.unit_choices,
                  recommended=recommended)


@router.post("/desk/tickets/{ticket_id}/dispatch", response_model=None)
async def dispatch(ticket_id: str, request: Request, person: Signed) -> RedirectResponse:
    """派单, or 改派 when the ticket came back (`reassign` in the form)."""
    form = await posted(request, person)
    body = {"lead_unit": form.get("lead_unit"),
            "assisting_units": [u for u in form.all("assisting_units")
                                if u != form.get("lead_unit")],
            "note": form.get("note") or None, "urgent": form.get("urgent") == "on"}
    verb = "reassign" if form.get("reassign") else "dispatch"
    done = await command(request, person, form, "dispatch", f"/v1/tickets/{ticket_id}/{verb}",
                         body, back_to=f"/desk/tickets/{ticket_id}")
    return back(f"/tickets/{ticket_id}", v=done["version"],
                ok="已改派" if verb == "reassign" else "已派单")


@router.post("/desk/tickets/{ticket_id}/answer", response_model=None)
async def answer(ticket_id: str, request: Request, person: Signed) -> RedirectResponse:
    """直接答复, citing the article and version the answer came from."""
    form = await posted(request, person)
    article, _, version = form.get("article").partition("@")
    body = {"answer": form.get("answer"), "knowledge_article_id": article or None,
            "knowledge_article_version": int(version) if version.isdigit() else None}
    done = await command(request, person, form, "dispatch", f"/v1/tickets/{ticket_id}/answer",
                         body, back_to=f"/desk/tickets/{ticket_id}")
    return back(f"/tickets/{ticket_id}", v=done["version"], ok="已直接答复并办结")


def _category(value: str) -> tuple[str, str | None]:
    """`level1/level2` from the form's one select."""
    level1, _, level2 = value.partition("/")
    return level1, level2 or None
