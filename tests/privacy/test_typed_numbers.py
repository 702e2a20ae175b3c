"""No phone or ID number, e-mail address or room of a home that a person types reaches a
unit, an analyst or an auditor (issue 11 §1).

Hypothesis writes a number in one of its many forms, an e-mail address and an address
down to its room (幸福路18号3单元502室 and its kin), inside random Chinese, into every
free-text field of the whole loop — the contact, registration,
classification, dispatch with an assisting unit, return, reassignment,
progress, the assisting reply, an extension refused, a supervision order and
its answer, the reply, a dissatisfied survey and its redo, the reply again, a
satisfied survey, reopening, closing, a direct answer, a merge, an SMS reply
— then scans the log (every topic, the units' included), every projection
table, the outbox, the service logs and every GET answer a unit, analyst and
auditor key receives: no number, mailbox or room survives in clear. Operators still read them.

The fields are not listed here: each request body is filled from its route's
OpenAPI schema (every property marked `x-personal-text`), and the log is then
checked to hold every free-text field of the ticket and contact events in the
catalogue, except the few only the platform writes. A new free-text field is
therefore typed into by this test, or makes it fail until it is reachable.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, table, text

from contracts.base import EventData
from contracts.envelope import decode
from contracts.events import EVENTS, from_envelope
from contracts.free_text import text_fields, texts
from contracts.topics import COMMANDS, CONTACTS, REPLIES, TICKETS
from hotline import redact
from hotline.log.port import EventLog
from tests.callback.conftest import messages, token, work_at
from tests.dispatch.conftest import Hotline
from tests.privacy.dwellings import Dwelling, dwellings, leaks_dwelling
from tests.privacy.mailboxes import emails, leaks_email
from tests.privacy.numbers import Number, leaks, mobiles, numbers, typed_text

LEAD, ASSIST, FIRST = "d01-urban-squad", "d01-street-1", "city-urban-mgmt"
READERS = (LEAD, ASSIST, "analyst", "auditor")
CATEGORY = {"level1": "urban-management", "level2": "street-lights"}
ATTACHMENT = {"uri": "s3://attachments/a.jpg", "media_type": "image/jpeg", "filename": "a.jpg"}
# free text only the platform writes: no person can put a number there
SYSTEM_WRITTEN = {("DeadlinesSet", "reason"), ("SurveySkipped", "note"),
                  ("RedoRejected", "reason")}


class Typist:
    """Fills every free-text property of a request body with a number, an e-mail address and
    a home hidden in Chinese."""

    def __init__(self, h: Hotline, data: st.DataObject) -> None:
        self.h, self.data = h, data
        self.typed: list[Number] = []
        self.homes: list[Dwelling] = []
        self.mailboxes: list[str] = []
        self.specs = {name: app.openapi() for name, app in h.apps.items()}

    def text(self) -> str:
        number, home = self.data.draw(numbers()), self.data.draw(dwellings())
        email, mailbox = self.data.draw(emails())
        self.typed.append(number)
        self.homes.append(home)
        self.mailboxes.append(mailbox)
        return f"{self.data.draw(typed_text(number))}，{home.written}，邮箱 {email} "

    def body(self, service: str, path: str, base: dict[str, Any]) -> dict[str, Any]:
        spec = self.specs[service]
        operation = spec["paths"][path]["post"]
        if "requestBody" not in operation:
            return base
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return self._fill(spec, _resolve(spec, ref), dict(base))

    def _fill(self, spec: dict[str, Any], schema: dict[str, Any],
              body: dict[str, Any]) -> dict[str, Any]:
        for name, prop in schema.get("properties", {}).items():
            if _personal(prop):
                body[name] = self.text()[: prop.get("maxLength", 10_000)]
            elif isinstance(body.get(name), list) and (item := _item_schema(spec, prop)):
                body[name] = [self._fill(spec, item, dict(x)) for x in body[name]]
        return body


def _resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def _personal(prop: dict[str, Any]) -> bool:
    return bool(prop.get("x-personal-text")) or any(
        alt.get("x-personal-text") for alt in prop.get("anyOf", ()))


def _item_schema(spec: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any] | None:
    for alt in (prop, *prop.get("anyOf", ())):
        ref = alt.get("items", {}).get("$ref")
        if ref:
            return _resolve(spec, ref)
    return None


async def _post(h: Hotline, typist: Typist, service: str, path: str, who: str,
                base: dict[str, Any], *, prefix: dict[str, str] | None = None,
                **ids: str) -> dict[str, Any]:
    """POST `base` with every free-text field typed into (after `prefix`, if given)."""
    client = {"intake": h.intake, "dispatch": h.dispatch, "supervision": h.supervision,
              "callback": h.callback}[service]
    assert client is not None
    body = typist.body(service, path, base)
    body |= {k: v + body[k] for k, v in (prefix or {}).items()}
    auth = h.auth(who) if who else {}
    r = await client.post(path.format(**ids), json=body, headers=auth)  # type: ignore[union-attr]
    assert r.status_code in (200, 201, 202), (path, r.text)
    answer: dict[str, Any] = r.json()
    return answer


async def _contact(h: Hotline, typist: Typist, n: int, channel: str = "wechat") -> str:
    caller = typist.data.draw(mobiles()).digits
    base = {"channel": channel, "channel_message_id": f"{channel}-{n}-{uuid.uuid4().hex[:8]}",
            "received_at": h.clock.now.isoformat(), "caller": {"name": "王小明", "phone": caller},
            "location": {"address": "东湖区幸福路18号", "district_code": "990101"},
            "attachments": [ATTACHMENT]}
    answer = await _post(h, typist, "intake", "/v1/contacts", channel, base)
    return str(answer["contact_id"])


async def _register(h: Hotline, typist: Typist, contact_id: str) -> str:
    answer = await _post(h, typist, "dispatch", "/v1/tickets", "operator", {
        "contact_ids": [contact_id], "ticket_type": "request", "category": CATEGORY})
    return str(answer["ticket_id"])


async def _on(h: Hotline, typist: Typist, ticket_id: str, service: str, action: str,
              who: str, base: dict[str, Any] | None = None, **ids: str) -> dict[str, Any]:
    """POST /v1/tickets/{ticket_id}/<action> with every free-text field typed into."""
    return await _post(h, typist, service, "/v1/tickets/{ticket_id}/" + action, who,
                       base or {}, ticket_id=ticket_id, **ids)


async def _the_long_loop(h: Hotline, typist: Typist, n: int) -> str:
    """One ticket through every step a person types into, from contact to reopened and
    closed."""
    t = await _register(h, typist, await _contact(h, typist, n))

    async def on(service: str, action: str, who: str, base: dict[str, Any] | None = None,
                 **ids: str) -> dict[str, Any]:
        return await _on(h, typist, t, service, action, who, base, **ids)

    await on("dispatch", "classify", "operator",
             {"ticket_type": "complaint", "category": CATEGORY, "urgency": "normal"})
    await on("dispatch", "dispatch", "operator", {"lead_unit": FIRST})
    await on("dispatch", "return", FIRST)
    await on("dispatch", "reassign", "operator", {"lead_unit": LEAD, "assisting_units": [ASSIST]})
    await on("dispatch", "acknowledge", LEAD)
    await on("dispatch", "progress", LEAD, {"public": True})
    await on("dispatch", "assist-reply", ASSIST, {"attachments": [ATTACHMENT]})
    due = (h.clock.now + timedelta(days=20)).isoformat()
    asked = await on("dispatch", "extension-requests", LEAD, {"requested_due_at": due})
    await on("dispatch", "extension-requests/{request_id}/reject", "supervisor",
             request_id=asked["request_id"])
    await on("supervision", "orders", "supervisor", {"kind": "supervision"})
    history = (await h.get(f"/v1/tickets/{t}/history", "supervisor")).json()
    [order] = [e["data"]["order_id"] for e in history if "SupervisionOrderIssued" in e["type"]]
    await on("supervision", "orders/{order_id}/answer", LEAD, order_id=order)
    await on("dispatch", "reply", LEAD, {"attachments": [ATTACHMENT]})
    await _survey(h, typist, t, "dissatisfied_with_result")
    await on("callback", "redo/accept", "supervisor")
    await on("dispatch", "reply", LEAD)
    await _survey(h, typist, t, "satisfied")
    await on("callback", "reopen", "supervisor")
    await on("callback", "close", "callback", {"reason": "withdrawn"})
    return t


async def _survey(h: Hotline, typist: Typist, ticket_id: str, handling: str) -> None:
    await work_at(h)
    number = (await h.get(f"/v1/tickets/{ticket_id}", "operator")).json()["ticket"]
    link = token(messages(h, number["ticket_number"])[-1])
    await _post(h, typist, "callback", "/v1/surveys/{token}/answer", "",
                {"hotline_service": "satisfied", "handling": handling}, token=link)


async def _the_short_ones(h: Hotline, typist: Typist, n: int) -> None:
    """A direct answer, a merge, an SMS survey answered by reply codes, and a contact
    dismissed from the queue with a note."""
    answered = await _register(h, typist, await _contact(h, typist, n, "wechat"))
    await _on(h, typist, answered, "dispatch", "answer", "operator")
    kept = await _register(h, typist, await _contact(h, typist, n + 1, "phone"))
    merged = await _register(h, typist, await _contact(h, typist, n + 2, "wechat"))
    await _on(h, typist, merged, "dispatch", "merge", "operator", {"target_ticket_id": kept})
    await _on(h, typist, kept, "dispatch", "dispatch", "operator", {"lead_unit": LEAD})
    for action in ("acknowledge", "reply"):
        await _on(h, typist, kept, "dispatch", action, LEAD)
    await work_at(h)  # the phone caller's survey goes out by SMS
    detail = (await h.get(f"/v1/tickets/{kept}", "operator")).json()
    await _post(h, typist, "callback", "/v1/callback/sms-replies", "sms", {
        "message_id": f"sms-{n}", "from_phone": detail["contacts"][0]["caller"]["phone"],
        "received_at": h.clock.now.isoformat()}, prefix={"text": "13 "})
    spam = await _contact(h, typist, n + 3, "wechat")
    r = await h.intake.post(f"/v1/contacts/{spam}/claim", headers=h.auth("operator"))
    assert r.status_code == 200, r.text
    await _post(h, typist, "intake", "/v1/contacts/{contact_id}/dismiss", "operator",
                {"reason": "spam"}, contact_id=spam)


@settings(max_examples=3, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_typed_numbers_reach_no_unit_analyst_or_auditor(
        hotline_cb: Hotline, log: EventLog, data: st.DataObject) -> None:
    h = hotline_cb
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    redact.install()
    logging.getLogger().addHandler(handler)
    try:
        typist = Typist(h, data)
        n = len(list(await _events(log, TICKETS))) + 1
        tickets = [await _the_long_loop(h, typist, n)]
        await _the_short_ones(h, typist, n + 10)
        await h.settle()
        blobs = [*(json.dumps(e, ensure_ascii=False) for e in await _everything(log)),
                 *await _tables(h), h.outbox.path.read_text() if h.outbox else "",
                 *await _answers(h, tickets), captured.getvalue()]
    finally:
        logging.getLogger().removeHandler(handler)
    for number in typist.typed:
        leaked = [b[:300] for b in blobs if leaks(b, number)]
        assert not leaked, f"{number.written!r} in clear: {leaked[:3]}"
    for home in typist.homes:
        leaked = [b[:300] for b in blobs if leaks_dwelling(b, home)]
        assert not leaked, f"{home.written!r} in clear: {leaked[:3]}"
    for mailbox in typist.mailboxes:
        leaked = [b[:300] for b in blobs if leaks_email(b, mailbox)]
        assert not leaked, f"{mailbox!r} in clear: {leaked[:3]}"
    await _operators_still_read_them(h, tickets[0], typist)
    _every_free_text_field_was_typed_into(await _events(log, TICKETS, CONTACTS))


async def _operators_still_read_them(h: Hotline, ticket_id: str, typist: Typist) -> None:
    history = (await h.get(f"/v1/tickets/{ticket_id}/history", "supervisor")).json()
    clear = json.dumps([e.get("text_as_typed") for e in history], ensure_ascii=False)
    assert sum(leaks(clear, number) for number in typist.typed) >= 10
    assert sum(leaks_dwelling(clear, home) for home in typist.homes) >= 10
    assert sum(leaks_email(clear, mailbox) for mailbox in typist.mailboxes) >= 10
    unit_view = (await h.get(f"/v1/tickets/{ticket_id}/history", LEAD)).json()
    assert all("text_as_typed" not in e for e in unit_view)


def _every_free_text_field_was_typed_into(events: list[EventData]) -> None:
    wanted = {(name, path.split(".")[0]) for name, cls in EVENTS.items()
              if cls.topic in (TICKETS, CONTACTS) for path in _field_names(cls)}
    typed = {(type(e).__name__, path.split(".")[0]) for e in events for path, _ in texts(e)}
    assert wanted - SYSTEM_WRITTEN <= typed, f"never typed into: {wanted - typed}"


def _field_names(cls: type[EventData]) -> Iterator[str]:
    return (name for name, _ in text_fields(cls))


def _readable(value: bytes) -> bool:
    try:
        json.loads(value)
    except ValueError:  # not UTF-8, or not JSON
        return False
    return True


async def _everything(log: EventLog) -> list[dict[str, Any]]:
    """Every record of every topic (the units' dispatch topics too), decoded."""
    found = []
    for info in await log.topics():
        for p, end in (await log.end_offsets(info.name)).items():
            for start in range(0, end, 5000):
                for record in await log.read(info.name, p, start, 5000):
                    if info.name in (COMMANDS, REPLIES):  # requests and replies: sealed
                        assert not _readable(record.value), record.value[:200]
                        continue
                    found.append(json.loads(record.value))
    return found


async def _events(log: EventLog, *topics: str) -> list[EventData]:
    found = []
    for topic in topics:
        for p, end in (await log.end_offsets(topic)).items():
            for record in await log.read(topic, p, 0, end):
                found.append(from_envelope(decode(record.value)))
    return found


async def _tables(h: Hotline) -> list[str]:
    """Every row of every projection table, as text."""
    async with h.platform.db.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        rows = []
        for name in names:
            result = await conn.execute(select(text("*")).select_from(table(name)))
            rows += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in result]
    return rows


async def _answers(h: Hotline, tickets: list[str]) -> list[str]:
    """Every GET answer of every service for a unit, an analyst and an auditor."""
    found = []
    for service, app in h.apps.items():
        client = {"dispatch": h.dispatch, "supervision": h.supervision,
                  "callback": h.callback}.get(service)
        if client is None:
            continue
        for path, operations in app.openapi()["paths"].items():
            if "get" not in operations or "{token}" in path or path.endswith("/stream"):
                continue
            if "{" in path and "{ticket_id}" not in path:
                continue  # a contact's duplicates: operators only
            for who in READERS:
                for ticket_id in tickets if "{" in path else [""]:
                    url = path.replace("{ticket_id}", ticket_id)
                    r = await client.get(url, headers=h.auth(who))
                    found.append(r.text)
    return found

