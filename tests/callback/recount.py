"""Satisfaction counted straight from the tickets' events, independently of the board."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contracts import events as e
from contracts.events import from_envelope
from contracts.vocabulary import CloseReason, HandlingRating, HotlineServiceRating
from hotline.runtime import Platform
from ticketing.client import tickets_of

GOOD = ("satisfied", "basically_satisfied")


def _empty() -> dict[str, Any]:
    return {"answered": 0, "unanswered": 0, "skipped": 0, "redone": 0,
            "closed_unsatisfied": 0,
            "hotline_service": {r.value: 0 for r in HotlineServiceRating},
            "handling": {r.value: 0 for r in HandlingRating}}


async def recount(platform: Platform, ticket_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per replying unit: answers by rating, unanswered and skipped surveys, tickets redone,
    tickets closed unsatisfied, and the two satisfied rates."""
    units: dict[str, dict[str, Any]] = {}
    for tid in ticket_ids:
        unit: str | None = None
        for stored in await tickets_of(platform).history(tid):
            event = from_envelope(stored.envelope)
            if isinstance(event, e.TicketReplied):
                unit = event.unit_id
            if unit is None:
                continue
            u = units.setdefault(unit, _empty())
            match event:
                case e.SurveyAnswered():
                    u["answered"] += 1
                    u["hotline_service"][event.hotline_service.value] += 1
                    if event.handling is not None:
                        u["handling"][event.handling.value] += 1
                case e.SurveyUnanswered():
                    u["unanswered"] += 1
                case e.SurveySkipped():
                    u["skipped"] += 1
                case e.RedoAccepted():
                    u["redone"] += 1
                case e.TicketClosed() if event.reason in (
                        CloseReason.UNSATISFIED, CloseReason.UNSATISFIED_AFTER_REDO):
                    u["closed_unsatisfied"] += 1
    for u in units.values():
        for dim in ("hotline_service", "handling"):
            rated = sum(u[dim].values())
            good = sum(u[dim][g] for g in GOOD)
            u[f"{dim}_satisfied_rate"] = round(good / rated, 4) if rated else None
    return units
