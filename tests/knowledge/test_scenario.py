"""The knowledge workflow over HTTP on both engines: an operator drafts from a call, a
supervisor returns it, it is edited, approved and published, found by the public and
recommended for a matching contact, updated to version 2 while version 1 stays readable,
retired and no longer found; the log holds every step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.dispatch.conftest import LOCATION
from tests.knowledge.conftest import UNIT, Knowledge

V1 = {
    "title": "租房提取住房公积金怎么办理",
    "body": "在本市无自有住房且租赁住房的缴存职工, 可申请提取住房公积金支付房租。\n\n"
            "**所需材料**: 居民身份证、租房合同。\n\n咨询电话: 0999-81000004",
    "kind": "service_guide",
    "category": {"level1": "housing-provident-fund", "level2": "hpf-withdrawal"},
    "audience": "public", "keywords": ["租房提取", "公积金提取"], "synonyms": ["取公积金"],
    "owning_unit": UNIT, "effective_from": "2026-01-01", "review_by": "2027-06-30",
    "from_ticket": "t-0001",
}


def edited(**changes: Any) -> dict[str, Any]:
    return {**V1, **changes}


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


async def test_draft_review_publish_find_update_retire(knowledge: Knowledge,
                                                       tmp_path: Path) -> None:
    k = knowledge
    made = await ok(await k.post("/v1/knowledge/articles", "operator", V1), 201)
    article = made["article_id"]
    assert (made["stage"], made["draft_version"], made["published_version"]) == ("draft", 1, None)
    base = f"/v1/knowledge/articles/{article}"
    await ok(await k.post(f"{base}/submit", "operator", {"version": 1}))
    back = await ok(await k.post(f"{base}/return", "supervisor",
                                 {"version": 1, "reason": "请补充办理时限"}))
    assert back["stage"] == "returned"
    row = await ok(await k.get(base, "operator", min_version=back["stream_version"]))
    assert (row["stage"], row["returned_reason"]) == ("returned", "请补充办理时限")

    fixed = edited(body=str(V1["body"]) + "\n\n**办理时限**: 材料齐全的, 3个工作日内到账。")
    await ok(await k.put(f"{base}/draft", "operator", fixed))
    await ok(await k.post(f"{base}/submit", "operator", {"version": 1}))
    refused = await k.post(f"{base}/approve", "operator", {"version": 1})
    assert refused.status_code == 403  # operators propose, reviewers approve
    done = await ok(await k.post(f"{base}/approve", "editor", {"version": 1}))
    assert (done["stage"], done["published_version"]) == (None, 1)
    await k.settle()

    found = await ok(await k.get("/v1/public/knowledge/search", q="租房怎么取公积金"))
    assert found["items"][0]["article_id"] == article
    assert found["items"][0]["owning_unit_zh"] == "市住房公积金管理中心"
    assert "<mark>" in found["items"][0]["title_html"]
    tips = await ok(await k.post("/v1/knowledge/recommendations", "operator", {
        "content": "市民来电: 我在外面租房子住, 想把公积金取出来交房租, 要带什么材料?",
        "category": {"level1": "housing-provident-fund"}}))
    assert tips["items"][0]["article_id"] == article
    assert {"公积金", "住房公积金", "房租"} & set(tips["items"][0]["matched"])
    ticket = await answered_from(k, article, tips["items"][0]["version"])

    v2 = edited(title="租房提取住房公积金办理指南 (2027年版)",
                body="自2027年起, 租房提取每年可办理一次。所需材料: 居民身份证。")
    started = await ok(await k.put(f"{base}/draft", "operator", v2))
    assert (started["draft_version"], started["published_version"]) == (2, 1)
    await ok(await k.post(f"{base}/submit", "operator", {"version": 2}))
    await ok(await k.post(f"{base}/approve", "supervisor", {"version": 2}))
    await k.settle()
    cited = await ok_list(await k.h.get(f"/v1/tickets/{ticket}/history", "auditor"))
    [answer] = [e["data"] for e in cited if e["type"] == "hotline.TicketAnsweredDirectly.v1"]
    assert (answer["knowledge_article_id"], answer["knowledge_article_version"]) == (article, 1)
    old = await ok(await k.get(f"{base}/versions/1", "callback"))  # what that citizen was told
    assert "租房合同" in old["body"] and old["published_at"] is not None
    live = await ok(await k.get(f"/v1/public/knowledge/articles/{article}"))
    assert (live["version"], live["title"]) == (2, v2["title"])
    assert (live["effective_from"], live["owning_unit"]) == ("2026-01-01", UNIT)

    await ok(await k.post(f"{base}/retire", "editor", {"reason": "政策已调整"}))
    await k.settle()
    gone = await ok(await k.get("/v1/public/knowledge/search", q="租房提取公积金"))
    assert article not in [h["article_id"] for h in gone["items"]]
    assert (await k.get(f"/v1/public/knowledge/articles/{article}")).status_code == 404
    assert (await k.get(f"{base}/versions/2", "operator")).status_code == 200  # still citable

    history = await ok_list(await k.get(f"{base}/history", "auditor"))
    assert [e["type"].split(".")[1] for e in history] == [
        "ArticleDrafted", "ArticleSubmitted", "ArticleReturned", "ArticleDrafted",
        "ArticleSubmitted", "ArticleApproved", "ArticlePublished", "ArticleDrafted",
        "ArticleSubmitted", "ArticleApproved", "ArticlePublished", "ArticleRetired"]
    assert history[0]["actor"] == "operator:operator-01"
    assert history[5]["actor"] == "editor:editor-01"
    await k.assert_rebuilds_the_same(tmp_path)


async def answered_from(k: Knowledge, article: str, version: int) -> str:
    """A contact registered and answered directly from the article (recommended first at
    the desk); the ticket's id."""
    await k.settle()
    contact = await k.h.contact("wx-kb-1", content="我租房子住, 想把公积金取出来交房租",
                                location=LOCATION)
    tips = await ok(await k.h.get(f"/v1/contacts/{contact}/recommendations", "operator"))
    assert tips["available"] and tips["items"][0]["article_id"] == article  # at the desk
    r = await k.h.post("/v1/tickets", "operator", {
        "contact_ids": [contact], "ticket_type": "consultation", "summary": "租房提取公积金",
        "category": {"level1": "housing-provident-fund", "level2": "hpf-withdrawal"}})
    ticket = str((await ok(r, 201))["ticket_id"])
    await ok(await k.h.post(f"/v1/tickets/{ticket}/answer", "operator", {
        "answer": "可通过公众号申请租房提取, 需本人身份证", "knowledge_article_id": article,
        "knowledge_article_version": version}))
    return ticket


async def ok_list(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json())
