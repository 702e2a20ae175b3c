"""The callback board (回访台): every ticket's stage in the loop's last leg, and every survey
with its answer — the callback staff's work list, the reviewer's queue and satisfaction.

`CallbackBoard` folds `hotline.tickets` into:

- `cb_tickets`: one row per ticket with its `Case` (services/callback/domain.py) as JSON and
  the columns the lists read: stage, the unit whose reply is surveyed, when the callback is
  due (reply + the policy's `due_hours`), the open survey, and `next_check_at`, the first
  moment the worker may have something to send (an index range, like supervision's);
- `cb_surveys`: one row per survey opened or skipped, with its outcome and the two ratings,
  attributed to the replying unit and to the agent (咨询员) who registered the ticket: the
  satisfaction figures are GROUP BYs on it.

Free text kept here (the unit's reply, a redo reason) has phone and ID numbers masked.
Times are stored in UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as e
from contracts.envelope import Envelope
from contracts.events import LIFECYCLE
from hotline.board import Folded, TicketBoard, write_rows
from hotline.builds import projection_metadata
from hotline.bulk import insert_many
from hotline.projection import aware, rows_by_id, utc_column
from services.callback.domain import (
    CallbackPolicy,
    Case,
    case_from_json,
    case_to_json,
    evolve_case,
    load_callback_policy,
    next_check,
)

VERSION = 1  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
cases = Table(
    f"cb_tickets_v{VERSION}", metadata,
    Column("ticket_id", String(128), primary_key=True),
    Column("ticket_number", String(32), nullable=False),
    Column("ticket_type", String(32), nullable=False),
    Column("category1", String(128), nullable=False),
    Column("district_code", String(12), nullable=False),
    Column("summary", Text, nullable=False),
    Column("agent", String(128), nullable=False),  # who registered it: rated by the citizen
    Column("citizen_ref", String(64)),  # to match an SMS reply to its survey
    Column("status", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("lead_unit", String(64)),
    Column("replied_by", String(64)),
    utc_column("replied_at"),
    Column("reply_text", Text),
    utc_column("due_at"),  # callback due while the ticket waits for it; NULL otherwise
    Column("survey_id", String(128)),
    Column("survey_channel", String(16)),
    utc_column("survey_expires_at"),
    Column("redone", Boolean, nullable=False),
    Column("redo_reason", Text),
    Column("close_reason", String(32)),
    utc_column("next_check_at"),
    utc_column("updated_at", nullable=False),
    Column("version", Integer, nullable=False),
    Column("case_json", Text, nullable=False),
    Index("ix_cb_tickets_next_check", "next_check_at", "ticket_id"),
    Index("ix_cb_tickets_stage_due", "stage", "due_at", "ticket_id"),
    Index("ix_cb_tickets_citizen", "citizen_ref", "survey_channel"),
)
surveys = Table(
    f"cb_surveys_v{VERSION}", metadata,
    Column("survey_id", String(128), primary_key=True),  # a skip: skip-<ticket>-<version>
    Column("ticket_id", String(128), nullable=False),
    Column("unit_id", String(64)),
    Column("agent", String(128), nullable=False),
    Column("district_code", String(12), nullable=False),
    Column("category1", String(128), nullable=False),
    Column("round", Integer, nullable=False),
    Column("channel", String(16)),
    utc_column("opened_at", nullable=False),
    utc_column("expires_at"),
    Column("outcome", String(16), nullable=False),  # open, answered, unanswered, skipped
    utc_column("answered_at"),
    Column("answered_via", String(16)),
    Column("hotline_service", String(32)),
    Column("handling", String(32)),
    Column("solved", Boolean),
    Index("ix_cb_surveys_unit_outcome", "unit_id", "outcome"),
    Index("ix_cb_surveys_ticket", "ticket_id"),
)

# Columns a later event may change (registration writes them all).
MUTABLE = ("ticket_type", "category1", "status", "stage", "lead_unit", "replied_by",
           "replied_at", "reply_text", "due_at", "survey_id", "survey_channel",
           "survey_expires_at", "redone", "redo_reason", "close_reason", "next_check_at",
           "updated_at", "version", "case_json")


Row = Folded[Case]  # a ticket's row with its case, while a batch is folded


@dataclass
class _Side:
    """A batch's surveys: opened (by id) and settled, written after the tickets."""

    opened: dict[str, dict[str, Any]] = field(default_factory=dict)
    settled: list[dict[str, Any]] = field(default_factory=list)


class CallbackBoard(TicketBoard[Row, _Side]):
    """Stages, surveys and answers of every ticket (see the module doc)."""

    name: str = "callback"
    version: int = VERSION
    events: frozenset[str] = LIFECYCLE
    metadata: MetaData = metadata

    def __init__(self, policy: CallbackPolicy | None = None) -> None:
        self.policy = policy or load_callback_policy()

    async def load(self, conn: AsyncConnection, ids: set[str]) -> dict[str, Row]:
        rows = await rows_by_id(conn, cases, ids)
        return {tid: Folded(row, case_from_json(tid, json.loads(row["case_json"])))
                for tid, row in rows.items()}

    def side(self) -> _Side:
        return _Side()

    def start(self, ticket_id: str, env: Envelope, event: e.TicketRegistered) -> Row:
        return Folded({"ticket_id": ticket_id, "ticket_number": event.ticket_number,
                     "district_code": event.district_code, "summary": event.summary,
                     "agent": event.registered_by, "citizen_ref": event.citizen_ref,
                     "category1": event.category.level1, "reply_text": None,
                     "redo_reason": None})

    def step(self, state: Row, env: Envelope, event: Any, side: _Side) -> Row:
        state.folded = evolve_case(state.folded, event, env.time, env.streamversion)
        assert state.folded is not None
        row = state.row
        row.update(updated_at=env.time, version=env.streamversion)
        match event:
            case e.TicketClassified():
                row["category1"] = event.category.level1
            case e.TicketReplied():
                row["reply_text"] = event.text  # masked on the way into the log
            case e.RedoRequested():
                row["redo_reason"] = event.reason
        _survey(row, state.folded, env, event, side)
        return state

    def _derived(self, case: Case) -> dict[str, Any]:
        stage = case.stage
        waiting = stage not in ("handling", "closed", "merged")
        due = case.replied_at + timedelta(hours=self.policy.due_hours) \
            if waiting and case.replied_at is not None else None
        survey = case.survey
        return {
            "ticket_type": case.ticket_type.value, "status": case.status.value, "stage": stage,
            "lead_unit": case.lead_unit, "replied_by": case.replied_by,
            "replied_at": aware(case.replied_at),
            "due_at": aware(due),
            "survey_id": survey.survey_id if survey else None,
            "survey_channel": survey.channel.value if survey else None,
            "survey_expires_at": aware(survey.expires_at) if survey else None,
            "redone": case.redone,
            "close_reason": case.close_reason.value if case.close_reason else None,
            "next_check_at": aware(next_check(case, self.policy)),
            "case_json": json.dumps(case_to_json(case), ensure_ascii=False, separators=(",", ":")),
        }

    async def write(self, conn: AsyncConnection, new: list[Row], changed: list[Row],
                    side: _Side) -> None:
        for state in (*new, *changed):
            assert state.folded is not None
            state.row.update(self._derived(state.folded))
        await write_rows(conn, cases, MUTABLE, [s.row for s in new], [s.row for s in changed])
        await insert_many(conn, surveys, list(side.opened.values()))
        if side.settled:
            await write_rows(conn, surveys, SETTLED, [], side.settled, key="survey_id")


def _survey(row: dict[str, Any], case: Case, env: Envelope, data: object, side: _Side) -> None:
    """The cb_surveys row an event opens or settles."""
    base = {"ticket_id": row["ticket_id"], "unit_id": case.replied_by, "agent": row["agent"],
            "district_code": row["district_code"], "category1": row["category1"],
            "round": case.round, "opened_at": env.time, "expires_at": None,
            "answered_at": None, "answered_via": None, "hotline_service": None,
            "handling": None, "solved": None}
    match data:
        case e.SurveyOpened():
            side.opened[data.survey_id] = base | {
                "survey_id": data.survey_id, "round": data.round, "channel": data.channel.value,
                "outcome": "open", "expires_at": aware(data.expires_at)}
        case e.SurveySkipped():
            sid = f"skip-{row['ticket_id']}-{env.streamversion}"
            side.opened[sid] = base | {"survey_id": sid, "channel": None, "outcome": "skipped"}
        case e.SurveyAnswered():
            _settle(data.survey_id, {
                "outcome": "answered", "answered_at": env.time,
                "answered_via": data.answered_via.value,
                "hotline_service": data.hotline_service.value,
                "handling": data.handling.value if data.handling else None,
                "solved": data.solved}, side)
        case e.SurveyUnanswered():
            _settle(data.survey_id, {"outcome": "unanswered", "answered_at": None,
                                     "answered_via": None, "hotline_service": None,
                                     "handling": None, "solved": None}, side)


def _settle(survey_id: str, settled: dict[str, Any], side: _Side) -> None:
    if survey_id in side.opened:  # opened in this same batch
        side.opened[survey_id].update(settled)
    else:
        side.settled.append({**settled, "survey_id": survey_id})


SETTLED = ("outcome", "answered_at", "answered_via", "hotline_service", "handling", "solved")
