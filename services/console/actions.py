"""The commands a ticket page offers, as one table: which form sends what to which API.

Each action names the service, the path under `/v1/tickets/{id}/`, how the form becomes
the request body, and the line shown after it worked. The page shows only the actions
of the person's role; the service decides whether the ticket's state allows them and
answers the rule it broke (shown as its Chinese title).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from urllib.parse import quote

from services.console.labels import BEIJING
from services.console.web import Form


@dataclass(frozen=True, slots=True)
class Action:
    service: str
    path: Callable[[Form], str]  # below /v1/tickets/{id}/
    body: Callable[[Form], dict[str, Any] | None]
    done: str


def _fixed(path: str) -> Callable[[Form], str]:
    return lambda form: path


def _id(form: Form, name: str) -> str:
    """An id the form carries, as one path segment (never `..` or a slash)."""
    return quote(form.get(name), safe="") or "-"


def _optional(form: Form, name: str) -> str | None:
    return form.get(name) or None


def _end_of_day(day: str) -> str:
    """A date picked on the page as the end of that Beijing working day (18:00)."""
    moment = datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), time(18, 0), BEIJING)
    return moment.isoformat()


def _extension(form: Form) -> dict[str, Any]:
    try:
        due = _end_of_day(form.get("requested_due_on"))
    except ValueError:
        due = ""  # the service answers 422 for the missing date, in its words
    return {"reason": form.get("reason"), "requested_due_at": due}


def _ratings(form: Form) -> dict[str, Any]:
    solved = form.get("solved")
    return {"hotline_service": form.get("hotline_service"), "handling": form.get("handling"),
            "comment": _optional(form, "comment"),
            "solved": None if not solved else solved == "yes"}


ACTIONS: dict[str, Action] = {
    # the member units (承办单位)
    "acknowledge": Action("dispatch", _fixed("acknowledge"), lambda f: {}, "已签收"),
    "return": Action("dispatch", _fixed("return"), lambda f: {"reason": f.get("reason")},
                     "已退回热线"),
    "progress": Action("dispatch", _fixed("progress"),
                       lambda f: {"note": f.get("note"), "public": f.get("public") == "on"},
                       "已记录办理进展"),
    "extension": Action("dispatch", _fixed("extension-requests"), _extension, "已申请延期"),
    "reply": Action("dispatch", _fixed("reply"),
                    lambda f: {"text": f.get("text"), "solved": f.get("solved") == "on"},
                    "已反馈办理结果"),
    "assist-reply": Action("dispatch", _fixed("assist-reply"),
                           lambda f: {"text": f.get("text")}, "已提交协办意见"),
    # supervisors (督办)
    "approve-extension": Action(
        "dispatch", lambda f: f"extension-requests/{_id(f, 'request_id')}/approve",
        lambda f: {}, "已批准延期"),
    "reject-extension": Action(
        "dispatch", lambda f: f"extension-requests/{_id(f, 'request_id')}/reject",
        lambda f: {"reason": f.get("reason")}, "已驳回延期申请"),
    "accept-redo": Action("callback", _fixed("redo/accept"),
                          lambda f: {"reason": f.get("reason"),
                                     "unit_id": _optional(f, "unit_id")}, "已同意重办"),
    "reject-redo": Action("callback", _fixed("redo/reject"),
                          lambda f: {"reason": f.get("reason")}, "已驳回重办申请"),
    "order": Action("supervision", _fixed("orders"),
                    lambda f: {"kind": f.get("kind") or "supervision", "text": f.get("text")},
                    "已发出督办"),
    "answer-order": Action("supervision", lambda f: f"orders/{_id(f, 'order_id')}/answer",
                           lambda f: {"text": f.get("text")}, "已回复督办"),
    # callback staff (回访)
    "survey-answer": Action("callback", lambda f: f"surveys/{_id(f, 'survey_id')}/answer",
                            _ratings, "已记录回访结果"),
    "close": Action("callback", _fixed("close"),
                    lambda f: {"reason": f.get("reason"), "note": _optional(f, "note")},
                    "已办结"),
}
