"""热点问答 and the operators' feedback: uses counted from the log (answers citing an
article, helpful marks), the week's most used public articles for the public."""

from __future__ import annotations

import pytest

from tests.knowledge.conftest import Knowledge
from tests.knowledge.test_access import publish
from tests.knowledge.test_scenario import answered_from, edited, ok

pytestmark = pytest.mark.parametrize("log", ["embedded"], indirect=True)


async def test_the_weeks_most_used_public_articles(knowledge: Knowledge) -> None:
    k = knowledge
    cited = await publish(k, edited(title="租房提取公积金"))
    rated = await publish(k, edited(title="公积金贷款额度怎么算"))
    internal = await publish(k, edited(title="公积金答复口径", audience="internal"))
    await answered_from(k, cited, 1)
    for who, helpful in (("operator", True), ("supervisor", True), ("editor", False)):
        r = await ok(await k.post(f"/v1/knowledge/articles/{rated}/feedback", who,
                                  {"version": 1, "helpful": helpful, "contact_id": "c-1"}))
        assert r["recorded"]
    again = await ok(await k.post(f"/v1/knowledge/articles/{rated}/feedback", "operator",
                                  {"version": 1, "helpful": False, "contact_id": "c-1"}))
    assert not again["recorded"]  # one mark per operator, article and contact
    for who in ("operator", "supervisor", "editor"):
        await ok(await k.post(f"/v1/knowledge/articles/{internal}/feedback", who,
                              {"version": 1, "helpful": True}))
    bad = await k.post(f"/v1/knowledge/articles/{rated}/feedback", "operator",
                       {"version": 2, "helpful": True})
    assert bad.status_code == 404  # a version never published
    await k.settle()
    hot = await ok(await k.get("/v1/public/knowledge/hot"))
    assert [(i["article_id"], i["uses"]) for i in hot["items"]] == [(rated, 2), (cited, 1)]
    k.h.clock.advance(days=7)
    assert (await ok(await k.get("/v1/public/knowledge/hot")))["items"] == []  # a week on
