"""争议报告, the dispute report an auditor hands over: every event of the ticket as the log
holds it, the hash that links each to the one before, and the check of the whole chain,
with personal data as the requesting role may see it (the history API decides). The
same page printed by WeasyPrint is the PDF, so the two never say different things."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from services.console.web import TEMPLATES, Signed, upstream

router = APIRouter(include_in_schema=False)


async def _report(ticket_id: str, request: Request, person: Signed) -> str:
    up, who = upstream(request), person.caller()
    detail, history, verification = await asyncio.gather(
        up.get("dispatch", f"/v1/tickets/{ticket_id}", who),
        up.get("dispatch", f"/v1/tickets/{ticket_id}/history", who),
        up.get("dispatch", f"/v1/tickets/{ticket_id}/verification", who))
    names = request.app.state.names
    return TEMPLATES.get_template("dispute.html").render(
        t=detail["ticket"], events=_chained(history, verification["head_hash"]),
        verification=verification, person=person, made_at=datetime.now(UTC),
        unit_zh=names.unit, district_zh=names.district)


def _chained(history: list[dict[str, Any]], head_hash: str) -> list[dict[str, Any]]:
    """Each event with its own hash: the next event's `prevhash`, the log's head for the
    last (so a reader can follow the chain link by link on paper)."""
    hashes = [e["prevhash"] for e in history[1:]] + [head_hash]
    return [{**event, "hash": own} for event, own in zip(history, hashes, strict=True)]


@router.get("/tickets/{ticket_id}/dispute", response_model=None)
async def dispute_page(ticket_id: str, request: Request, person: Signed) -> HTMLResponse:
    return HTMLResponse(await _report(ticket_id, request, person))


@router.get("/tickets/{ticket_id}/dispute.pdf", response_model=None)
async def dispute_pdf(ticket_id: str, request: Request, person: Signed) -> Response:
    page = await _report(ticket_id, request, person)
    pdf = await run_in_threadpool(_print, page)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="dispute-{ticket_id}.pdf"',
        "Cache-Control": "no-store"})


def _print(page: str) -> bytes:
    from weasyprint import HTML  # imported here: Pango is loaded only by who prints

    return bytes(HTML(string=page).write_pdf())
