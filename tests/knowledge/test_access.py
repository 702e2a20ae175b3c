"""Who may do what in the knowledge base, what the public never sees, bad input as
problem+json, scheduled publication and the maintenance figures (embedded engine: the
rules are engine-independent; the scenario runs on both)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.knowledge.conftest import UNIT, Knowledge
from tests.knowledge.test_scenario import V1, answered_from, edited, ok

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)


async def publish(k: Knowledge, body: dict[str, Any], drafter: str = "operator",
                  reviewer: str = "editor") -> str:
    made = await ok(await k.post("/v1/knowledge/articles", drafter, body), 201)
    base = f"/v1/knowledge/articles/{made['article_id']}"
    await ok(await k.post(f"{base}/submit", drafter, {"version": 1}))
    await ok(await k.post(f"{base}/approve", reviewer, {"version": 1}))
    return str(made["article_id"])


async def test_unit_staff_write_for_their_own_unit_only(knowledge: Knowledge) -> None:
    k = knowledge
    mine = await ok(await k.post("/v1/knowledge/articles", "unit",
                                 edited(owning_unit=None)), 201)
    theirs = await k.post("/v1/knowledge/articles", "unit", edited(owning_unit="city-water"))
    assert theirs.status_code == 403 and theirs.json()["type"].endswith("/other-unit")
    base = f"/v1/knowledge/articles/{mine['article_id']}"
    assert (await k.post(f"{base}/submit", "other-unit", {"version": 1})).status_code == 404
    assert (await k.get(base, "other-unit")).status_code == 404
    await ok(await k.post(f"{base}/submit", "unit", {"version": 1}))
    assert (await k.post(f"{base}/approve", "unit", {"version": 1})).status_code == 403
    await k.settle()
    listed = await ok(await k.get("/v1/knowledge/articles", "unit", unit="city-water"))
    assert [a["owning_unit"] for a in listed["items"]] == [UNIT]  # their own, whatever asked


async def test_four_eyes_over_http(knowledge: Knowledge) -> None:
    k = knowledge
    made = await ok(await k.post("/v1/knowledge/articles", "editor", V1), 201)
    base = f"/v1/knowledge/articles/{made['article_id']}"
    await ok(await k.post(f"{base}/submit", "editor", {"version": 1}))
    own = await k.post(f"{base}/approve", "editor", {"version": 1})
    assert own.status_code == 403 and own.json()["type"].endswith("/own-submission")
    assert "另一位审核人" in own.json()["title"]
    await ok(await k.post(f"{base}/approve", "editor-2", {"version": 1}))
    await k.settle()
    queue = await ok(await k.get("/v1/knowledge/articles", "supervisor", stage="submitted"))
    assert queue["total"] == 0


async def test_the_public_sees_published_public_valid_articles_only(
        knowledge: Knowledge) -> None:
    k = knowledge
    await ok(await k.post("/v1/knowledge/articles", "operator",
                          edited(title="草稿: 公积金新政")), 201)  # never submitted
    internal = await publish(k, edited(title="内部答复口径: 公积金新政", audience="internal"))
    expired = await publish(k, edited(title="已过期通知: 公积金新政", effective_from="2025-01-01",
                                      expires_at="2026-01-01"))
    live = await publish(k, edited(title="公积金新政解读"))
    await k.settle()
    found = await ok(await k.get("/v1/public/knowledge/search", q="公积金新政"))
    assert [h["article_id"] for h in found["items"]] == [live]
    staff = await ok(await k.get("/v1/knowledge/search", "operator", q="公积金新政"))
    assert {h["article_id"] for h in staff["items"]} == {live, internal}  # never the expired
    for hidden in (internal, expired):
        assert (await k.get(f"/v1/public/knowledge/articles/{hidden}")).status_code == 404


async def test_public_routes_are_throttled_per_client(knowledge: Knowledge) -> None:
    k = knowledge
    answers = [(await k.get("/v1/public/knowledge/search", q="停水")).status_code
               for _ in range(61)]
    assert answers[:60] == [200] * 60 and answers[60] == 429
    r = await k.get("/v1/public/knowledge/search", q="停水")
    assert int(r.headers["Retry-After"]) >= 1 and r.json()["status"] == 429
    k.h.clock.advance(minutes=1)
    assert (await k.get("/v1/public/knowledge/search", q="停水")).status_code == 200


@pytest.mark.parametrize("change", [
    {"category": {"level1": "no-such-category"}},
    {"category": {"level1": "housing-provident-fund", "level2": "hukou"}},
    {"owning_unit": "no-such-unit"},
    {"effective_from": "2027-01-01", "expires_at": "2026-01-01"},
    {"kind": "rumour"},
    {"title": ""},
    {"surprise": 1},
    {"keywords": ["x" * 41]},
    {"body": "有疑问请联系经办人 138 1234 5678。"},  # a caller's mobile, however written
    {"body": "咨询电话 +86 １３８-１２３４-５６７８"},
    {"title": "市民440301199001011234的户口迁移"},
    {"keywords": ["13812345678"]},
])
async def test_bad_articles_are_problems(knowledge: Knowledge, change: dict[str, Any]) -> None:
    r = await knowledge.post("/v1/knowledge/articles", "operator", edited(**change))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "1234 5678" not in r.text and "12345678" not in r.text  # named masked, if at all


async def test_an_offices_landline_is_welcome(knowledge: Knowledge) -> None:
    """A contact directory entry gives the office's landline (and extension) and the
    hotline's short numbers: those are no one's personal data."""
    body = "窗口咨询电话 0757-8338 1234 转 801, 或拨打 12345、4008123456。"
    r = await knowledge.post("/v1/knowledge/articles", "operator", edited(body=body))
    assert r.status_code == 201, r.text


async def test_a_scheduled_publication_and_the_maintenance_figures(knowledge: Knowledge) -> None:
    k = knowledge
    made = await ok(await k.post("/v1/knowledge/articles", "operator", V1), 201)
    base = f"/v1/knowledge/articles/{made['article_id']}"
    await ok(await k.post(f"{base}/submit", "operator", {"version": 1}))
    k.h.clock.advance(hours=30)
    at = (k.h.clock.now + timedelta(days=1)).isoformat()
    approved = await ok(await k.post(f"{base}/approve", "editor", {"version": 1,
                                                                   "publish_at": at}))
    assert (approved["stage"], approved["published_version"]) == ("approved", None)
    await k.settle()
    assert await k.publisher.tick() == 0
    k.h.clock.advance(days=1)
    assert await k.publisher.tick() == 1
    await k.settle()
    row = await ok(await k.get(base, "operator"))
    assert (row["stage"], row["published_version"]) == (None, 1)
    figures = await ok(await k.get("/v1/knowledge/maintenance", "analyst"))
    [unit] = figures["units"]
    assert unit["owning_unit"] == UNIT and unit["published"] == 1
    assert unit["mean_hours_to_publish"] == pytest.approx(54.0)  # 30 h + 1 day
    assert unit["on_time_share"] == 1.0  # within three days


async def test_a_draft_from_a_tickets_answer_in_one_step(knowledge: Knowledge) -> None:
    k = knowledge
    article = await publish(k, V1)
    ticket = await answered_from(k, article, 1)
    made = await ok(await k.post("/v1/knowledge/articles/from-ticket", "operator",
                                 {"ticket_id": ticket, "owning_unit": UNIT}), 201)
    row = await ok(await k.get(f"/v1/knowledge/articles/{made['article_id']}", "editor",
                               min_version=made["stream_version"]))
    assert (row["stage"], row["audience"], row["from_ticket"]) == ("draft", "internal", ticket)
    assert row["draft"]["body"] == "可通过公众号申请租房提取, 需本人身份证"  # the answer given
    assert row["draft"]["title"] == "租房提取公积金"  # the ticket's summary
    assert row["draft"]["category"] == {"level1": "housing-provident-fund",
                                        "level2": "hpf-withdrawal"}
    unanswered = await k.post("/v1/knowledge/articles/from-ticket", "operator",
                              {"ticket_id": "no-such-ticket", "owning_unit": UNIT})
    assert unanswered.status_code == 422
