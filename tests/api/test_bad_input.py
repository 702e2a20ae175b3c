"""Each bad input that once answered 500 (or was taken where it makes no sense) is a 4xx
problem+json now, one test per example found; the fuzzing of tests/api/test_schemathesis.py
covers their classes."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from hotline.web import PROBLEM_JSON
from tests.api.conftest import UNIT, Seeded

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)
NESTED = base64.urlsafe_b64encode(b"[" * 100 + b"]" * 100).decode().rstrip("=")


def problem(r: httpx.Response, status: int, kind: str = "invalid-request") -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].endswith(f"/problems/{kind}"), body
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


@pytest.mark.parametrize(("district", "kind"), [("zzz", "invalid-request"),
                                                ("999999", "invalid-reference")])
async def test_an_unknown_district_in_the_directory_is_422(every_app: Seeded, district: str,
                                                           kind: str) -> None:
    r = await every_app.h.get("/v1/directory/units", "operator", district=district)
    assert fields(problem(r, 422, kind)) == {"query.district"}


@pytest.mark.parametrize("path", ["/v1/tickets", "/v1/inbox"])
@pytest.mark.parametrize("cursor", ["null", NESTED, "bnVsbA",  # base64 of "null"
                                    "WyJyZWdpc3RlcmVkX2Rlc2MiLCAxLCAyXQ",  # numbers, not text
                                    "x" * 2000])
async def test_a_cursor_the_list_never_gave_out_is_422(every_app: Seeded, path: str,
                                                       cursor: str) -> None:
    """`null`, JSON nested a hundred deep, a number where the time goes: 422, on every list
    that pages (the inbox answered 500 for all of them)."""
    r = await every_app.h.get(path, UNIT, cursor=cursor)
    body = r.json()
    assert r.status_code == 422, body
    assert fields(body) == {"query.cursor"}


async def test_the_next_cursor_still_pages(every_app: Seeded) -> None:
    h = every_app.h
    first = (await h.get("/v1/tickets", "operator", limit=1)).json()
    assert first["next_cursor"]
    r = await h.get("/v1/tickets", "operator", limit=1, cursor=first["next_cursor"])
    assert r.status_code == 200 and r.json()["items"] != first["items"]


@pytest.mark.parametrize("after", [2**63, 2**64 + 5, 10**30])
async def test_a_feed_offset_beyond_64_bits_is_422(every_app: Seeded, after: int) -> None:
    r = await every_app.h.get("/v1/inbox/feed", UNIT, after=after)
    assert fields(problem(r, 422)) == {"query.after"}


async def test_the_largest_feed_offset_is_an_empty_page(every_app: Seeded) -> None:
    r = await every_app.h.get("/v1/inbox/feed", UNIT, after=2**63 - 1)
    assert r.status_code == 200 and r.json()["items"] == []


@pytest.mark.parametrize("last_event_id", ["²", "12a", "9" * 30])
async def test_a_last_event_id_that_is_not_an_offset_is_422(every_app: Seeded,
                                                             last_event_id: str) -> None:
    """`"²".isdigit()` is true and `int("²")` raises: the stream once died on it."""
    h = every_app.h
    headers = [(k.encode(), v.encode()) for k, v in h.auth(UNIT).items()]
    r = await h.dispatch.get("/v1/inbox/stream", headers=[
        *headers, (b"Last-Event-ID", last_event_id.encode("latin-1"))])
    problem(r, 422)


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
async def test_a_survey_form_that_is_not_utf8_is_422(every_app: Seeded, accept: str) -> None:
    h = every_app.h
    assert h.callback is not None
    [link] = every_app.known["token"]
    r = await h.callback.post(f"/s/{link}", content=b"hotline_service=\xff\xfe&handling=x",
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Accept": accept})
    assert r.status_code == 422, r.text
    if accept == "text/html":
        assert r.headers["content-type"].startswith("text/html")
    else:
        problem(r, 422)


async def test_a_survey_form_with_more_fields_than_the_page_is_422(every_app: Seeded) -> None:
    h = every_app.h
    assert h.callback is not None
    [link] = every_app.known["token"]
    form = "&".join(f"f{i}=1" for i in range(50))
    r = await h.callback.post(f"/s/{link}", content=form.encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    problem(r, 422)


YEAR_1 = "0001-01-01T00:00:00+14:00"  # overflows on its way to UTC
YEAR_9999 = "9999-12-31T23:59:59-12:00"  # so does this one


@pytest.mark.parametrize("when", [YEAR_1, YEAR_9999, "1999-12-31T23:59:59Z",
                                  "2026-11-23T09:00:00"])  # no offset
@pytest.mark.parametrize("param", ["registered_from", "due_to"])
async def test_a_list_filter_outside_the_platform_years_is_422(every_app: Seeded, when: str,
                                                               param: str) -> None:
    r = await every_app.h.get("/v1/tickets", "supervisor", **{param: when})
    assert fields(problem(r, 422)) == {f"query.{param}"}


@pytest.mark.parametrize("when", [YEAR_1, YEAR_9999])
async def test_an_extension_to_a_year_without_sense_is_422(every_app: Seeded,
                                                          when: str) -> None:
    h = every_app.h
    held = every_app.known["ticket_id"][1]
    r = await h.post(f"/v1/tickets/{held}/extension-requests", UNIT,
                     {"reason": "需协调", "requested_due_at": when})
    assert fields(problem(r, 422)) == {"requested_due_at"}


@pytest.mark.parametrize("when", [YEAR_1, YEAR_9999])
async def test_a_supervision_order_due_in_a_year_without_sense_is_422(every_app: Seeded,
                                                                     when: str) -> None:
    h = every_app.h
    assert h.supervision is not None
    held = every_app.known["ticket_id"][1]
    r = await h.supervision.post(f"/v1/tickets/{held}/orders", headers=h.auth("supervisor"),
                                 json={"text": "请加快办理", "due_at": when})
    assert fields(problem(r, 422)) == {"due_at"}


@pytest.mark.parametrize("when", [YEAR_1, YEAR_9999])
async def test_satisfaction_since_a_year_without_sense_is_422(every_app: Seeded,
                                                             when: str) -> None:
    h = every_app.h
    assert h.callback is not None
    r = await h.callback.get("/v1/callback/satisfaction", params={"since": when},
                             headers=h.auth("supervisor"))
    assert fields(problem(r, 422)) == {"query.since"}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z"])
async def test_a_contact_received_before_the_platform_years_is_422(every_app: Seeded,
                                                                  when: str) -> None:
    h = every_app.h
    body = {"channel": "wechat", "channel_message_id": "wx-old-1", "received_at": when,
            "content": "路灯不亮。"}
    r = await h.intake.post("/v1/contacts", json=body, headers=h.auth("wechat"))
    assert fields(problem(r, 422)) == {"received_at"}
    batch = await h.intake.post("/v1/contacts/batch", json={"contacts": [body]},
                                headers=h.auth("wechat"))
    assert batch.status_code == 200 and batch.json()["results"][0]["status"] == 422


CALL = {"call_id": "c-1", "offered_at": "2026-11-23T09:00:00+08:00", "outcome": "answered",
        "answered_at": "2026-11-23T09:00:05+08:00", "wait_seconds": 5.0}


@pytest.mark.parametrize("change", [{"offered_at": "0001-01-01T00:00:00Z"},
                                    {"answered_at": None}])  # answered, but never picked up
async def test_a_call_record_the_event_refuses_is_422(every_app: Seeded,
                                                      change: dict[str, Any]) -> None:
    """A call the request model takes but the event model refuses was a 500."""
    h = every_app.h
    r = await h.intake.post("/v1/calls", json={"calls": [{**CALL, **change}]},
                            headers=h.auth("phone"))
    problem(r, 422)


async def test_a_cursor_is_checked_before_it_is_used(every_app: Seeded) -> None:
    """The shape of what a cursor decodes to: three strings, the sort's name first."""
    other_sort = base64.urlsafe_b64encode(json.dumps(
        ["due_asc", None, "t-1"]).encode()).decode().rstrip("=")
    r = await every_app.h.get("/v1/tickets", "operator", cursor=other_sort)
    assert fields(problem(r, 422, "bad-cursor")) == {"query.cursor"}


async def _log_size(h: Any) -> int:
    log = h.platform.log
    return sum([sum((await log.end_offsets(t.name)).values()) for t in await log.topics()])


@pytest.mark.parametrize(("change", "where"), [
    ({"content": "路灯\u0000坏了"}, {"content"}),
    ({"caller": {"name": "张\u0000三"}}, {"caller.name"}),
    ({"channel_message_id": "wx-\u0000"}, {"channel_message_id"}),
    ({"attachments": [{"uri": "s3://a/b.jpg", "media_type": "image/jpeg",
                       "filename": "a\u0000.jpg"}]}, {"attachments.0.filename"}),
])
async def test_a_nul_character_anywhere_in_a_body_is_422_and_nothing_is_written(
        every_app: Seeded, change: dict[str, Any], where: set[str]) -> None:
    """PostgreSQL stores NUL in no text or JSON column: one event holding it would stop
    every read model on PostgreSQL that stores the field. Refused at the door, whatever the
    field (the batch too), with the fields named."""
    h = every_app.h
    before = await _log_size(h)
    body = {"channel": "wechat", "channel_message_id": "wx-nul-1",
            "received_at": "2026-11-23T08:15:00+08:00", "content": "路灯不亮。", **change}
    r = await h.intake.post("/v1/contacts", json=body, headers=h.auth("wechat"))
    assert fields(problem(r, 422)) == where
    batch = await h.intake.post("/v1/contacts/batch", json={"contacts": [body]},
                                headers=h.auth("wechat"))
    assert fields(problem(batch, 422)) == {f"contacts.0.{f}" for f in where}
    assert await _log_size(h) == before


async def test_a_nul_in_a_command_a_path_or_a_query_is_422(every_app: Seeded) -> None:
    h = every_app.h
    [ticket, held] = every_app.known["ticket_id"]
    r = await h.post(f"/v1/tickets/{held}/progress", UNIT,
                     {"note": "已到现场\u0000", "public": True})
    assert fields(problem(r, 422)) == {"note"}
    assert fields(problem(await h.get("/v1/tickets", "operator", q="路灯\u0000"), 422)) == {
        "(path or query)"}
    problem(await h.dispatch.get(f"/v1/tickets/{ticket}%00", headers=h.auth("operator")), 422)


async def test_a_backslash_before_u0000_is_text_not_nul(every_app: Seeded) -> None:
    """`\\u0000` in JSON is a backslash and the letters u0000: a person may type that."""
    h = every_app.h
    raw = json.dumps({"channel": "wechat", "channel_message_id": "wx-nul-2",
                      "received_at": "2026-11-23T08:15:00+08:00",
                      "content": "路径写成 C:\\u0000 了"}, ensure_ascii=False).encode()
    assert b"\\\\u0000" in raw
    r = await h.intake.post("/v1/contacts", content=raw, headers={
        **h.auth("wechat"), "Content-Type": "application/json"})
    assert r.status_code == 202, r.text


async def test_a_chunked_json_body_past_the_limit_is_413(every_app: Seeded) -> None:
    """Without a Content-Length the limit is counted as the body arrives; the route never
    sees the body (it answered 422 "not valid JSON" before)."""
    h = every_app.h

    async def chunks() -> Any:
        yield b'{"channel": "wechat", "content": "'
        for _ in range(40):
            yield ("字" * 1000).encode()
        yield b'"}'

    r = await h.intake.post("/v1/contacts", content=chunks(), headers={
        **h.auth("wechat"), "Content-Type": "application/json"})
    problem(r, 413, "payload-too-large")
