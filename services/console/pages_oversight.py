"""督办 and 回访: the supervisors' board by colour, unit, district and category with the
queues they decide (extension requests, redo reviews, orders), a unit's page; and the
callback staff's work list. Orders are issued and answered through `actions.ACTIONS`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.console.web import Signed, need, render, upstream

router = APIRouter(include_in_schema=False)
COLOURS = ("red", "orange", "blue")
CALLBACK_STAGES = ("to_survey", "survey_open", "unanswered", "answered", "redo_review")


@router.get("/supervision", response_model=None)
async def board(request: Request, person: Signed, colour: str = "", unit: str = "",
                district: str = "", category1: str = "") -> HTMLResponse:
    """督办台: counts by colour, the board filtered, and what waits for a decision."""
    need(person, "supervisor")
    up, who = upstream(request), person.caller()
    filters = {"colour": colour if colour in COLOURS else None, "unit": unit or None,
               "district": district or None, "category1": category1 or None, "limit": 100}
    tickets, by_unit, extensions, redos, orders = await asyncio.gather(
        up.get("supervision", "/v1/supervision/tickets", who, filters),
        up.get("supervision", "/v1/supervision/summary", who, {"by": "unit"}),
        up.get("dispatch", "/v1/extension-requests", who),
        up.get("callback", "/v1/callback/redo-requests", who),
        up.get("supervision", "/v1/supervision/orders", who, {"open": "true"}))
    totals = {c: sum(g[c] for g in by_unit["groups"]) for c in (*COLOURS, "none", "total")}
    names = request.app.state.names
    return render(request, "supervision.html", person, tickets=tickets["items"],
                  units=names.unit_choices, districts=names.district_choices,
                  categories=names.level1_choices,
                  groups=by_unit["groups"], totals=totals, extensions=extensions,
                  redos=redos["items"], orders=orders,
                  filters={"colour": colour, "unit": unit, "district": district,
                           "category1": category1})


@router.get("/supervision/units/{unit_id}", response_model=None)
async def unit_page(unit_id: str, request: Request, person: Signed) -> HTMLResponse:
    """A unit's warnings, cards and orders, and its tickets on the board."""
    need(person, "supervisor")
    up, who = upstream(request), person.caller()
    tallies, tickets, orders = await asyncio.gather(
        up.get("supervision", "/v1/supervision/units", who),
        up.get("supervision", "/v1/supervision/tickets", who, {"unit": unit_id, "limit": 100}),
        up.get("supervision", "/v1/supervision/orders", who, {"unit": unit_id}))
    tally = next((u for u in tallies["units"] if u["unit_id"] == unit_id), None)
    return render(request, "supervision_unit.html", person, unit_id=unit_id, tally=tally,
                  tickets=tickets["items"], orders=orders)


@router.get("/callback", response_model=None)
async def work_list(request: Request, person: Signed, stage: str = "",
                    channel: str = "") -> HTMLResponse:
    """回访工作台: tickets waiting for their callback, earliest due first, by stage;
    `channel=phone&stage=survey_open` is the calls to make."""
    need(person, "callback", "supervisor")
    tasks = await upstream(request).get(
        "callback", "/v1/callback/tasks", person.caller(),
        {"stage": stage if stage in CALLBACK_STAGES else None,
         "channel": "phone" if channel == "phone" else None, "limit": 100})
    return render(request, "callback.html", person, tasks=tasks, stage=stage, channel=channel)
