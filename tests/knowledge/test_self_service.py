"""Self-service on chat channels: a message a public FAQ answers well is offered that
answer; the citizen's "solved" or "not solved" is an event; a vague message, an internal
or non-FAQ article, or a phone call is never offered one."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.knowledge.service import imported_id
from tests.knowledge.conftest import Knowledge
from tests.knowledge.test_access import publish
from tests.knowledge.test_scenario import edited, ok

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)

GAS = imported_id("KB-C-021")  # 家里闻到燃气味怎么办? (a public FAQ of the sample)
CITY_LIFE = "city-life.jsonl"  # its half of the sample (130 articles): enough rivals


async def test_a_sure_answer_is_offered_and_its_outcome_recorded(knowledge: Knowledge,
                                                                 tmp_path: Path) -> None:
    k = knowledge
    await k.import_sample(CITY_LIFE)
    asked = {"channel_message_id": "wx-100", "content": "家里闻到一股燃气味, 怎么办?"}
    offered = await ok(await k.post("/v1/knowledge/offers", "wechat", asked))
    offer = offered["offer"]
    assert offer is not None and offer["article_id"] == GAS and offer["version"] == 1
    assert offer["question"] == "是否解决了您的问题?" and "燃气" in offer["answer"]
    again = await ok(await k.post("/v1/knowledge/offers", "wechat", asked))
    assert again["offer"]["offer_id"] == offer["offer_id"]  # a retried message, the same offer

    path = f"/v1/knowledge/offers/{offer['offer_id']}/answer"
    no = await ok(await k.post(path, "wechat", {"solved": False}))
    assert no["next"] == "post the message to intake"
    assert (await k.post(path, "wechat", {"solved": False})).status_code == 200  # a retry
    assert (await k.post(path, "wechat", {"solved": True})).status_code == 409
    yes = await ok(await k.post("/v1/knowledge/offers", "wechat", {
        "channel_message_id": "wx-101", "content": "闻到燃气味道了怎么办"}))
    await ok(await k.post(f"/v1/knowledge/offers/{yes['offer']['offer_id']}/answer", "wechat",
                          {"solved": True}))
    await k.settle()
    figures = await ok(await k.get("/v1/knowledge/self-service", "supervisor"))
    assert figures["channels"]["wechat"] == {"offered": 2, "solved": 1, "not_solved": 1,
                                             "unanswered": 0}
    assert figures["top_articles"] == [{"article_id": GAS, "solved": 1}]
    await k.assert_rebuilds_the_same(tmp_path)


@pytest.mark.parametrize("content", [
    "你好",                                              # nothing to match
    "我想了解一下火星移民的申请条件",                        # no FAQ about it
    "燃气味有点重, 另外小区垃圾没人收, 广场舞噪音也很大, 路灯也坏了",  # a FAQ covers a part only
])
async def test_no_offer_without_a_sure_answer(knowledge: Knowledge, content: str) -> None:
    k = knowledge
    await k.import_sample(CITY_LIFE)
    r = await ok(await k.post("/v1/knowledge/offers", "wechat",
                              {"channel_message_id": "wx-200", "content": content}))
    assert r["offer"] is None


async def test_internal_articles_and_voice_channels_are_never_offered(
        knowledge: Knowledge) -> None:
    k = knowledge
    await publish(k, edited(title="燃气泄漏内部处置口径", kind="faq", audience="internal",
                            body="闻到燃气味: 先关阀开窗, 转燃气集团抢修。", owning_unit="city-gas",
                            category={"level1": "utilities", "level2": "gas-supply"}))
    await k.settle()
    asked = {"channel_message_id": "wx-300", "content": "闻到燃气味怎么办"}
    assert (await ok(await k.post("/v1/knowledge/offers", "wechat", asked)))["offer"] is None
    phone = await k.post("/v1/knowledge/offers", "phone", asked)
    assert phone.status_code == 403
    assert (await k.post("/v1/knowledge/offers", "operator", asked)).status_code == 403
    unknown = "/v1/knowledge/offers/00000000-0000-0000-0000-000000000000/answer"
    assert (await k.post(unknown, "wechat", {"solved": True})).status_code == 404
