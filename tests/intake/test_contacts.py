"""POST /v1/contacts and friends over HTTP, on both log engines."""

from __future__ import annotations

import asyncio
import logging

import pytest

from contracts.envelope import decode
from contracts.personal import Unreadable, unseal
from contracts.topics import CALLS, CONTACTS, DEADLETTER
from hotline.integrity import verify_stream
from tests.intake.conftest import ADDRESS, CALLER, Intake, contact

PROBLEM = "application/problem+json"


async def contact_records(intake: Intake) -> int:
    return sum((await intake.platform.log.end_offsets(CONTACTS)).values())


async def test_a_contact_is_accepted_once_durable(intake: Intake) -> None:
    response = await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth())
    assert response.status_code == 202, response.text
    contact_id = response.json()["contact_id"]
    stored = await intake.platform.log.read_stream(CONTACTS, f"contact-{contact_id}")
    assert len(stored) == 1
    event = decode(stored[0].value)
    assert event.type == "hotline.ContactReceived.v1" and event.actor == "channel:wechat"
    assert event.data["content"].startswith("小区门口的路灯坏了")
    assert event.data["district_code"] == "110101"
    ref = event.data["citizen_ref"]
    key = await intake.platform.keys.key(ref)
    from contracts.personal import Sealed
    caller = unseal(key, Sealed(**event.data["caller"]), f"{contact_id}/caller")
    assert caller == CALLER


async def test_a_repeated_message_id_returns_the_same_contact_and_appends_nothing(
    intake: Intake,
) -> None:
    first = await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth())
    before = await contact_records(intake)
    again = await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth())
    assert again.status_code == 200
    assert again.json() == {"contact_id": first.json()["contact_id"], "status": "duplicate"}
    assert await contact_records(intake) == before


async def test_concurrent_duplicates_append_one_event(intake: Intake) -> None:
    body = contact("wx-race")
    replies = await asyncio.gather(*(
        intake.client.post("/v1/contacts", json=body, headers=intake.auth()) for _ in range(10)
    ))
    assert sorted(r.status_code for r in replies) == [200] * 9 + [202]
    assert len({r.json()["contact_id"] for r in replies}) == 1
    assert await contact_records(intake) == 1


async def test_a_reused_message_id_with_another_body_is_a_conflict(intake: Intake) -> None:
    first = await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth())
    before = await contact_records(intake)
    changed = contact(content="另一件事: 楼下餐馆油烟扰民")
    response = await intake.client.post("/v1/contacts", json=changed, headers=intake.auth())
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["contact_id"] == first.json()["contact_id"]
    assert response.json()["type"].endswith("/idempotency-conflict")
    assert await contact_records(intake) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"content": "长" * 5001}, "content"),
        ({"content": ""}, "content"),
        ({"received_at": "2026-11-23T09:15:00"}, "received_at"),
        ({"caller": {**CALLER, "id_number": "110105194912310021"}}, "caller.id_number"),
        ({"location": {"district_code": "东城区"}}, "location.district_code"),
        ({"received_at": "2036-11-23T09:15:00+08:00"}, "received_at"),
    ],
)
async def test_invalid_contacts_are_422_with_the_field_and_change_nothing(
    intake: Intake, change: dict[str, object], field: str
) -> None:
    response = await intake.client.post("/v1/contacts", json=contact(**change),
                                        headers=intake.auth())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["title"]
    assert field in [e["field"] for e in problem["errors"]]
    for secret in (CALLER["phone"], CALLER["id_number"], CALLER["name"], ADDRESS):
        assert secret not in response.text
    assert await contact_records(intake) == 0


async def test_oversize_bodies_are_413(intake: Intake) -> None:
    body = contact(content="字" * 30_000)  # 90 kB: refused before it is even parsed
    response = await intake.client.post("/v1/contacts", json=body, headers=intake.auth())
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert await contact_records(intake) == 0


async def test_keys_are_required_and_bound_to_their_channel(intake: Intake) -> None:
    missing = await intake.client.post("/v1/contacts", json=contact())
    assert missing.status_code == 401 and missing.headers["content-type"] == PROBLEM
    assert missing.headers["www-authenticate"] == "Bearer"
    forged = await intake.client.post("/v1/contacts", json=contact(),
                                      headers={"Authorization": "Bearer hk_not-a-real-key"})
    assert forged.status_code == 401
    other = await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth("web"))
    assert other.status_code == 403
    assert await contact_records(intake) == 0


async def test_anonymous_contacts_are_welcome(intake: Intake) -> None:
    body = contact("wx-anon", caller=None, location=None)
    response = await intake.client.post("/v1/contacts", json=body, headers=intake.auth())
    assert response.status_code == 202
    stored = await intake.platform.log.read_stream(
        CONTACTS, f"contact-{response.json()['contact_id']}")
    data = decode(stored[0].value).data
    assert data["citizen_ref"] is None and data["caller"] is None and data["address"] is None


async def test_a_batch_answers_item_by_item(intake: Intake) -> None:
    items = [contact(f"wx-b{i}") for i in range(300)]
    items[10] = contact("wx-b10", content="")  # invalid
    items[20] = contact("wx-b19")  # a duplicate of item 19
    items[30] = contact("sms-1", channel="sms")  # not this adapter's channel
    response = await intake.client.post("/v1/contacts/batch", json={"contacts": items},
                                        headers=intake.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    by_index = {r["index"]: r for r in body["results"]}
    assert by_index[10]["status"] == 422
    assert {by_index[19]["status"], by_index[20]["status"]} == {200, 202}
    assert by_index[20]["contact_id"] == by_index[19]["contact_id"]
    assert by_index[30]["status"] == 403
    assert body["accepted"] == 297 and body["duplicates"] == 1 and body["rejected"] == 2
    assert await contact_records(intake) == 297


async def test_call_records_are_kept_once(intake: Intake) -> None:
    calls = {"calls": [
        {"call_id": "c-1", "seat_id": "A017", "offered_at": "2026-11-23T09:00:00+08:00",
         "answered_at": "2026-11-23T09:00:09+08:00", "outcome": "answered",
         "wait_seconds": 9, "talk_seconds": 180},
        {"call_id": "c-2", "offered_at": "2026-11-23T09:01:00+08:00", "outcome": "abandoned",
         "wait_seconds": 41},
    ]}
    first = await intake.client.post("/v1/calls", json=calls, headers=intake.auth("phone"))
    assert first.status_code == 202 and first.json() == {"recorded": 2, "duplicates": 0}
    again = await intake.client.post("/v1/calls", json=calls, headers=intake.auth("phone"))
    assert again.json() == {"recorded": 0, "duplicates": 2}
    assert sum((await intake.platform.log.end_offsets(CALLS)).values()) == 2
    wrong = await intake.client.post("/v1/calls", json=calls, headers=intake.auth())
    assert wrong.status_code == 403


async def test_erasing_a_citizen_key_shreds_their_data_but_history_verifies(
    intake: Intake,
) -> None:
    response = await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth())
    stream = f"contact-{response.json()['contact_id']}"
    stored = await intake.platform.log.read_stream(CONTACTS, stream)
    event = decode(stored[0].value)
    assert await intake.platform.keys.erase(event.data["citizen_ref"])
    from contracts.personal import Sealed
    with pytest.raises(Unreadable):
        unseal(await intake.platform.keys.key(event.data["citizen_ref"]),
               Sealed(**event.data["caller"]), f"{event.data['contact_id']}/caller")
    head = await intake.platform.log.stream_head(CONTACTS, stream)
    assert verify_stream(stream, [r.value for r in stored], head) == []


async def test_no_personal_data_in_clear_in_the_log_or_the_service_logs(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await intake.client.post("/v1/contacts", json=contact(), headers=intake.auth())
    await intake.client.post("/v1/contacts", json=contact(content="x" * 6000),
                             headers=intake.auth())
    everything = b""
    for topic in (CONTACTS, CALLS, DEADLETTER):
        for partition in await intake.platform.log.end_offsets(topic):
            for record in await intake.platform.log.read(topic, partition, 0, 100_000):
                everything += record.value + repr(record.headers).encode()
    assert everything, "the scan must see the stored contact"
    logs = caplog.text.encode()
    for secret in (CALLER["phone"], CALLER["id_number"], CALLER["name"], ADDRESS, "幸福路18号"):
        assert secret.encode() not in everything
        assert secret.encode() not in logs


async def test_numbers_in_the_content_are_masked_and_the_original_sealed(intake: Intake) -> None:
    text = "我的另一个电话是13987654321, 身份证11010519491231002X, 请回电"
    body = contact("wx-numbers", caller=None, location=None, content=text)
    response = await intake.client.post("/v1/contacts", json=body, headers=intake.auth())
    assert response.status_code == 202
    contact_id = response.json()["contact_id"]
    stored = await intake.platform.log.read_stream(CONTACTS, f"contact-{contact_id}")
    assert b"13987654321" not in stored[0].value and b"1949123" not in stored[0].value
    data = decode(stored[0].value).data
    assert data["content"] == "我的另一个电话是139****4321, 身份证110105********002X, 请回电"
    from contracts.personal import Sealed
    key = await intake.platform.keys.key(data["citizen_ref"])
    original = unseal(key, Sealed(**data["content_sealed"]), f"{contact_id}/content_sealed")
    assert original == {"content": text}


async def test_unknown_routes_and_methods_are_problems_too(intake: Intake) -> None:
    missing = await intake.client.get("/v1/nothing-here", headers=intake.auth())
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    wrong = await intake.client.get("/v1/contacts", headers=intake.auth())
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
    broken = await intake.client.post("/v1/contacts", content=b"{not json", headers={
        **intake.auth(), "content-type": "application/json"})
    assert broken.status_code == 422 and broken.headers["content-type"] == PROBLEM
