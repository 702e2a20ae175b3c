"""The article workflow, pure: every rule by its id, and what each step leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.base import Category, EventData
from contracts.knowledge_events import (
    ArticleApproved,
    ArticleDetails,
    ArticleDrafted,
    ArticlePublished,
    ArticleRetired,
    ArticleSubmitted,
)
from contracts.vocabulary import ArticleKind, Audience
from services.knowledge.domain import (
    RULES,
    Approve,
    Article,
    Command,
    Import,
    PublishDue,
    Refused,
    Retire,
    Return,
    ReviewPolicy,
    Stage,
    Submit,
    Write,
    decide,
    evolve,
)

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
OP, ED, ED2 = "operator:op-1", "editor:ed-1", "editor:ed-2"
WRITE = Write(title="居住证办理", body="持有效身份证件到社区服务站申请。",
              category=Category(level1="public-security-household-registration", level2="hukou"),
              details=ArticleDetails(kind=ArticleKind.SERVICE_GUIDE, audience=Audience.PUBLIC,
                                     owning_unit="city-police"))


STRICT = ReviewPolicy()


def run(article: Article, command: Command, actor: str, policy: ReviewPolicy = STRICT
        ) -> Article:
    for event in decide(article, command, actor, NOW, policy):
        article = evolve(article, event, actor)
    return article


def refused(article: Article, command: Command, actor: str, rule: str,
            policy: ReviewPolicy = STRICT) -> None:
    with pytest.raises(Refused) as caught:
        decide(article, command, actor, NOW, policy)
    assert caught.value.rule == rule and caught.value.status == RULES[rule][0]


def submitted(by: str = OP) -> Article:
    return run(run(Article("a-1"), WRITE, by), Submit(1), by)


def test_a_draft_through_review_to_publication() -> None:
    article = run(Article("a-1"), WRITE, OP)
    assert article.draft is not None and article.draft.stage is Stage.DRAFT
    article = run(article, Submit(1), OP)
    assert article.draft is not None and article.draft.submitted_by == OP
    article = run(article, Return(1, "请补充材料清单"), ED)
    assert article.draft is not None and article.draft.stage is Stage.RETURNED
    article = run(run(article, WRITE, OP), Submit(1), OP)
    events = decide(article, Approve(1), ED, NOW, ReviewPolicy())
    assert [type(e) for e in events] == [ArticleApproved, ArticlePublished]
    article = run(article, Approve(1), ED)
    assert (article.published and article.published.version, article.draft) == (1, None)
    article = run(article, WRITE, OP)  # the next version begins; version 1 stays published
    assert article.draft is not None and article.draft.version == 2
    assert article.published is not None and article.published.version == 1


def test_a_scheduled_publication_waits_for_its_time() -> None:
    later = NOW + timedelta(days=1)
    article = run(submitted(), Approve(1, publish_at=later), ED)
    assert article.draft is not None and article.draft.stage is Stage.APPROVED
    assert article.draft.publish_at == later and article.published is None
    refused(article, WRITE, OP, "under-review")  # approved text is not edited in place
    article = run(article, PublishDue(1), "system:knowledge")
    assert article.published is not None and article.published.title == WRITE.title


def test_four_eyes_whoever_drafted_or_submitted_may_not_approve() -> None:
    refused(submitted(ED), Approve(1), ED, "own-submission")
    article = run(run(run(Article("a-1"), WRITE, ED), WRITE, OP), Submit(1), OP)
    refused(article, Approve(1), ED, "own-submission")  # ED wrote part of this version
    assert run(submitted(ED), Approve(1), ED2).published is not None
    lax = ReviewPolicy(second_reviewer=False)
    assert run(submitted(ED), Approve(1), ED, lax).published is not None


@pytest.mark.parametrize(("rule", "article", "command"), [
    ("article-unknown", Article("a-1"), Submit(1)),
    ("nothing-to-submit", None, Submit(1)),
    ("wrong-version", "submitted", Approve(2)),
    ("under-review", "submitted", Submit(1)),
    ("under-review", "submitted", WRITE),
    ("not-submitted", "draft", Approve(1)),
    ("not-submitted", "draft", Return(1, "x")),
    ("not-approved", "submitted", PublishDue(1)),
    ("not-published", "draft", Retire()),
    ("article-retired", "retired", WRITE),
])
def test_each_rule_refuses(rule: str, article: Article | str | None, command: Command) -> None:
    states = {"draft": run(Article("a-1"), WRITE, OP), "submitted": submitted(),
              "retired": run(run(submitted(), Approve(1), ED), Retire("政策废止"), ED)}
    if article is None:  # published, nothing under work
        article = run(submitted(), Approve(1), ED)
    elif isinstance(article, str):
        article = states[article]
    refused(article, command, ED2, rule)


def test_every_rule_says_why_in_chinese_and_english() -> None:
    assert all(zh and en and status in (403, 404, 409) for status, zh, en in RULES.values())


def test_an_import_records_the_whole_review_and_keeps_its_source() -> None:
    write = Write(**{**{f: getattr(WRITE, f) for f in WRITE.__slots__}, "source_id": "KB-1"})
    events: list[EventData] = decide(Article("a-1"), Import(write), ED, NOW, ReviewPolicy())
    assert [type(e) for e in events] == [ArticleDrafted, ArticleSubmitted, ArticleApproved,
                                         ArticlePublished]
    article = Article("a-1")
    for event in events:
        article = evolve(article, event, ED)
    assert article.source_id == "KB-1" and article.published is not None
    retired = run(article, Retire(), ED)
    assert retired.retired and isinstance(decide(article, Retire(), ED, NOW, ReviewPolicy())[0],
                                          ArticleRetired)
