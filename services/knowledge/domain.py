"""The knowledge base's write model: an article's review workflow, pure (no I/O, no clock).

`evolve` folds an article's events into an `Article`; `decide` turns a command into
new events or a `Refused` naming its rule. The published version and the version
under review are kept apart: while version 3 is being edited and reviewed, version
2 stays what operators and citizens read.

Who may do what is the API's business (roles); what the workflow allows is here,
including the four-eyes rule (`ReviewPolicy.second_reviewer`): whoever drafted or
submitted a version may not approve it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contracts.base import Category, EventData
from contracts.frozen import with_changes
from contracts.knowledge_events import (
    ArticleApproved,
    ArticleDetails,
    ArticleDrafted,
    ArticlePublished,
    ArticleRetired,
    ArticleReturned,
    ArticleSubmitted,
)


class Stage(StrEnum):
    """Where the version under work stands (审核状态)."""

    DRAFT = "draft"          # 草稿
    SUBMITTED = "submitted"  # 待审核
    RETURNED = "returned"    # 已退回
    APPROVED = "approved"    # 待发布 (scheduled)


STAGE_ZH = {Stage.DRAFT: "草稿", Stage.SUBMITTED: "待审核", Stage.RETURNED: "已退回",
            Stage.APPROVED: "待发布"}


@dataclass(frozen=True, slots=True)
class Draft:
    """The version under work: its text (as last drafted) and who touched it."""

    event: ArticleDrafted
    stage: Stage = Stage.DRAFT
    drafted_by: frozenset[str] = frozenset()  # every actor who wrote this version's text
    submitted_by: str | None = None
    publish_at: datetime | None = None

    @property
    def version(self) -> int:
        return self.event.version


@dataclass(frozen=True, slots=True)
class Article:
    """An article as its events left it."""

    article_id: str
    stream_version: int = 0
    published: ArticlePublished | None = None
    retired: bool = False
    draft: Draft | None = None
    source_id: str | None = None

    @property
    def exists(self) -> bool:
        return self.stream_version > 0

    @property
    def owning_unit(self) -> str | None:
        """The unit answerable for it: as the version under work says, else the live one."""
        latest = self.draft.event if self.draft else self.published
        return latest.owning_unit if latest else None

    @property
    def next_version(self) -> int:
        return (self.published.version + 1) if self.published else 1


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    """How strict the review is (a setting, not code)."""

    second_reviewer: bool = True  # 四眼原则: the drafter or submitter may not approve


class Refused(Exception):
    """A command the workflow does not allow; `rule` names why (problem type)."""

    def __init__(self, rule: str, status: int, zh: str, en: str) -> None:
        super().__init__(f"{rule}: {en}")
        self.rule, self.status, self.zh, self.en = rule, status, zh, en


def _refuse(rule: str) -> Refused:
    status, zh, en = RULES[rule]
    return Refused(rule, status, zh, en)


RULES: dict[str, tuple[int, str, str]] = {
    "article-unknown": (404, "知识条目不存在", "There is no such article."),
    "article-retired": (409, "知识已下架, 只读", "The article is retired."),
    "under-review": (409, "该版本正在审核, 请等待审核结果",
                     "The version is under review; wait for the reviewer's decision."),
    "nothing-to-submit": (409, "没有可提交的草稿", "There is no draft to submit."),
    "not-submitted": (409, "该版本未提交审核", "The version has not been submitted for review."),
    "not-approved": (409, "该版本尚未审核通过", "The version has not been approved."),
    "own-submission": (403, "不能审核自己起草或提交的知识 (需另一位审核人)",
                       "Who drafted or submitted a version may not approve it: a second "
                       "reviewer must."),
    "not-published": (409, "知识尚未发布", "The article has never been published."),
    "wrong-version": (409, "版本号与当前待审版本不符, 请刷新后重试",
                      "The version named is not the one under work; reload and retry."),
}


# -- commands (what the service asks of one article) --------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    """Draft a new article, or edit the version under work (a new version after publication)."""

    title: str
    body: str
    category: Category
    details: ArticleDetails = field(default_factory=ArticleDetails)
    from_ticket: str | None = None
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class Submit:
    version: int


@dataclass(frozen=True, slots=True)
class Return:
    version: int
    reason: str


@dataclass(frozen=True, slots=True)
class Approve:
    version: int
    publish_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublishDue:
    """The scheduled publication of an approved version whose time has come."""

    version: int


@dataclass(frozen=True, slots=True)
class Import:
    """An article reviewed where it came from (its `source_ref` names the document):
    drafted, submitted, approved and published in one append by the importing editor."""

    write: Write


@dataclass(frozen=True, slots=True)
class Retire:
    reason: str | None = None


Command = Write | Submit | Return | Approve | PublishDue | Retire | Import


def decide(article: Article, command: Command, actor: str, now: datetime,
           policy: ReviewPolicy) -> list[EventData]:
    """The events `command` adds to `article`, or Refused."""
    if article.retired:
        raise _refuse("article-retired")
    if isinstance(command, Write):
        return [_write(article, command, actor)]
    if isinstance(command, Import):
        drafted = _write(article, command.write, actor)
        at = article.article_id, drafted.version
        return [drafted, ArticleSubmitted(article_id=at[0], version=at[1]),
                ArticleApproved(article_id=at[0], version=at[1]), published(at[0], drafted)]
    if not article.exists:
        raise _refuse("article-unknown")
    if isinstance(command, Retire):
        if article.published is None:
            raise _refuse("not-published")
        return [ArticleRetired(article_id=article.article_id, version=article.published.version,
                               reason=command.reason)]
    draft = _draft_at(article, command.version)
    if isinstance(command, Submit):
        if draft.stage not in (Stage.DRAFT, Stage.RETURNED):
            raise _refuse("under-review" if draft.stage is Stage.SUBMITTED else "not-approved")
        return [ArticleSubmitted(article_id=article.article_id, version=draft.version)]
    if isinstance(command, Return):
        _expect(draft, Stage.SUBMITTED, "not-submitted")
        return [ArticleReturned(article_id=article.article_id, version=draft.version,
                                reason=command.reason)]
    if isinstance(command, Approve):
        return _approve(article, draft, command, actor, now, policy)
    _expect(draft, Stage.APPROVED, "not-approved")
    return [published(article.article_id, draft.event)]


def _write(article: Article, command: Write, actor: str) -> ArticleDrafted:
    if article.draft is not None and article.draft.stage in (Stage.SUBMITTED, Stage.APPROVED):
        raise _refuse("under-review")
    return ArticleDrafted(
        article_id=article.article_id, version=article.next_version, title=command.title,
        body=command.body, category=command.category, from_ticket=command.from_ticket,
        source_id=command.source_id or article.source_id, **dict(command.details))


def _draft_at(article: Article, version: int) -> Draft:
    if article.draft is None:
        raise _refuse("nothing-to-submit")
    if article.draft.version != version:
        raise _refuse("wrong-version")
    return article.draft


def _expect(draft: Draft, stage: Stage, rule: str) -> None:
    if draft.stage is not stage:
        raise _refuse(rule)


def _approve(article: Article, draft: Draft, command: Approve, actor: str, now: datetime,
             policy: ReviewPolicy) -> list[EventData]:
    _expect(draft, Stage.SUBMITTED, "not-submitted")
    if policy.second_reviewer and (actor in draft.drafted_by or actor == draft.submitted_by):
        raise _refuse("own-submission")
    later = command.publish_at if command.publish_at and command.publish_at > now else None
    approved = ArticleApproved(article_id=article.article_id, version=draft.version,
                               publish_at=later)
    if later is not None:
        return [approved]
    return [approved, published(article.article_id, draft.event)]


def published(article_id: str, draft: ArticleDrafted) -> ArticlePublished:
    """The publication of a drafted version: everything it says, nothing about its making."""
    details = {name: getattr(draft, name) for name in ArticleDetails.model_fields}
    return ArticlePublished(article_id=article_id, title=draft.title, body=draft.body,
                            category=draft.category, version=draft.version, **details)


def evolve(article: Article, event: EventData, actor: str) -> Article:
    """`article` after `event`, written by `actor`."""
    article = with_changes(article, stream_version=article.stream_version + 1)
    draft = article.draft
    if isinstance(event, ArticleDrafted):
        kept = draft.drafted_by if draft and draft.version == event.version else frozenset()
        return with_changes(article, draft=Draft(event, drafted_by=kept | {actor}),
                            source_id=article.source_id or event.source_id)
    if isinstance(event, ArticlePublished):
        return with_changes(article, published=event, draft=None)
    if isinstance(event, ArticleRetired):
        return with_changes(article, retired=True, draft=None)
    if draft is None:
        return article
    if isinstance(event, ArticleSubmitted):
        draft = with_changes(draft, stage=Stage.SUBMITTED, submitted_by=actor)
    elif isinstance(event, ArticleReturned):
        draft = with_changes(draft, stage=Stage.RETURNED, submitted_by=None)
    elif isinstance(event, ArticleApproved):
        draft = with_changes(draft, stage=Stage.APPROVED, publish_at=event.publish_at)
    return with_changes(article, draft=draft)


def fold(article_id: str, events: list[tuple[EventData, str]]) -> Article:
    """An article from its (event, actor) history."""
    article = Article(article_id)
    for event, actor in events:
        article = evolve(article, event, actor)
    return article
