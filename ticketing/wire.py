"""The ticket desk's requests and replies as bytes: what travels on hotline.commands and
hotline.replies between a service and the decider replica that owns the ticket.

A request names its operation (`execute` a command, `get` the ticket's state, read its
`history`, `reserve` the day's next ticket number); a reply is the operation's answer or
the error the desk raised, so the caller raises the same exception it would have met
calling the desk in its own process (a `Rejected` naming its rule, an
`IdempotencyConflict`, a `VersionConflict`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts.commands import COMMANDS, TicketCommand, command_name
from contracts.envelope import Envelope, decode
from contracts.topics import TICKETS
from hotline.eventstore import Context, Stored
from hotline.log.port import Record, VersionConflict
from ticketing.domain import Ticket
from ticketing.handler import IdempotencyConflict, Outcome
from ticketing.rules import Rejected

_TICKET: TypeAdapter[Ticket | None] = TypeAdapter(Ticket | None)


class RemoteError(RuntimeError):
    """The decider failed in a way it could not name (a bug there): a 500 here."""


@dataclass(frozen=True, slots=True)
class Execute:
    command: TicketCommand
    actor: str
    command_id: str
    now: datetime
    source: str
    correlation_id: str | None


@dataclass(frozen=True, slots=True)
class Get:
    ticket_id: str


@dataclass(frozen=True, slots=True)
class History:
    ticket_id: str


@dataclass(frozen=True, slots=True)
class Reserve:
    ticket_id: str
    context: Context
    now: datetime


Request = Execute | Get | History | Reserve


# -- requests -------------------------------------------------------------------------------


def encode_request(request: Request) -> bytes:
    match request:
        case Execute():
            body: dict[str, Any] = {
                "op": "execute", "name": command_name(request.command),
                "command": request.command.model_dump(mode="json"), "actor": request.actor,
                "command_id": request.command_id, "now": request.now.isoformat(),
                "source": request.source, "correlation_id": request.correlation_id}
        case Get() | History():
            body = {"op": type(request).__name__.lower(), "ticket_id": request.ticket_id}
        case Reserve():
            c = request.context
            body = {"op": "reserve", "ticket_id": request.ticket_id,
                    "now": request.now.isoformat(),
                    "context": [c.actor, c.source, c.correlation_id, c.causation_id]}
    return json.dumps(body, ensure_ascii=False).encode()


def decode_request(raw: bytes) -> Request:
    body = json.loads(raw)
    match body["op"]:
        case "execute":
            command = COMMANDS[body["name"]].model_validate(body["command"])
            assert isinstance(command, TicketCommand)
            return Execute(command, body["actor"], body["command_id"],
                           datetime.fromisoformat(body["now"]), body["source"],
                           body["correlation_id"])
        case "get":
            return Get(body["ticket_id"])
        case "history":
            return History(body["ticket_id"])
        case "reserve":
            return Reserve(body["ticket_id"], Context(*body["context"]),
                           datetime.fromisoformat(body["now"]))
    raise ValueError(f"unknown operation {body['op']!r}")


# -- replies --------------------------------------------------------------------------------


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def outcome_reply(outcome: Outcome) -> bytes:
    return _dumps({"ok": "outcome", "ticket": json.loads(_TICKET.dump_json(outcome.ticket)),
                   "version": outcome.version, "duplicate": outcome.duplicate,
                   "events": [e.model_dump(mode="json") for e in outcome.events]})


def ticket_reply(ticket: Ticket | None) -> bytes:
    return _dumps({"ok": "ticket", "ticket": json.loads(_TICKET.dump_json(ticket))})


def history_reply(history: list[Stored]) -> bytes:
    return _dumps({"ok": "history", "records": [
        [r.partition, r.offset, r.key, base64.b64encode(r.value).decode(), dict(r.headers),
         r.timestamp_ms] for r in (s.record for s in history)]})


def number_reply(number: str) -> bytes:
    return _dumps({"ok": "number", "number": number})


def expected(exc: Exception) -> bool:
    """Whether an exception is a named answer (a rule, a conflict), not a failure."""
    return isinstance(exc, Rejected | IdempotencyConflict | VersionConflict | ValidationError)


def error_reply(exc: Exception) -> bytes:
    """The exceptions a caller handles by name travel by name; anything else as a bug."""
    match exc:
        case Rejected():
            return _dumps({"error": "rejected", "rule": exc.rule.id, "detail": exc.detail})
        case IdempotencyConflict():
            return _dumps({"error": "idempotency-conflict", "command_id": exc.command_id})
        case VersionConflict():
            return _dumps({"error": "contended", "key": exc.key})
        case ValidationError():
            return _dumps({"error": "invalid", "title": exc.title,
                           "errors": json.loads(exc.json(include_url=False))})
    return _dumps({"error": "failed", "kind": type(exc).__name__})


def _raise_error(body: dict[str, Any]) -> None:
    match body["error"]:
        case "rejected":
            raise Rejected(body["rule"], body["detail"])
        case "idempotency-conflict":
            raise IdempotencyConflict(body["command_id"])
        case "contended":
            raise VersionConflict(TICKETS, body["key"], -1, -1)
        case "invalid":
            raise ValidationError.from_exception_data(body["title"], [
                {"type": "value_error", "loc": tuple(e["loc"]), "input": e.get("input"),
                 "ctx": {"error": e["msg"]}} for e in body["errors"]])
    raise RemoteError(f"the ticket decider failed ({body.get('kind')})")


def _ok(raw: bytes, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(raw)
    if "error" in body:
        _raise_error(body)
    if body.get("ok") != kind:
        raise RemoteError(f"expected a {kind} reply, got {body.get('ok')!r}")
    return body


def read_outcome(raw: bytes) -> Outcome:
    body = _ok(raw, "outcome")
    ticket = _TICKET.validate_python(body["ticket"])
    assert ticket is not None
    return Outcome(ticket, body["version"],
                   [Envelope.model_validate(e) for e in body["events"]], body["duplicate"])


def read_ticket(raw: bytes) -> Ticket | None:
    return _TICKET.validate_python(_ok(raw, "ticket")["ticket"])


def read_history(raw: bytes) -> list[Stored]:
    stored = []
    for partition, offset, key, value, headers, ts in _ok(raw, "history")["records"]:
        record = Record(TICKETS, partition, offset, key, base64.b64decode(value), headers, ts)
        stored.append(Stored(decode(record.value), record))
    return stored


def read_number(raw: bytes) -> str:
    return str(_ok(raw, "number")["number"])
