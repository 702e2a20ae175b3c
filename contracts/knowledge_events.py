"""Knowledge-base events (知识库), topic hotline.knowledge, keyed by article id.

An article is a stream `article-<id>`. Its life (seed 002: an operator finds new
knowledge → a reviewer checks it → it reaches every operator):

    ArticleDrafted (version N, the whole text; again for each edit)
      → ArticleSubmitted → ArticleReturned (with a reason) → ArticleDrafted … → ArticleSubmitted
      → ArticleApproved → ArticlePublished (version N) → ArticleDrafted (version N+1) → …
      → ArticleRetired

A chat contact may be answered from a public FAQ before it reaches an operator: the
offer and the citizen's answer are the stream `offer-<id>` (AnswerOffered →
OfferAnswered); "not solved" sends the contact on to intake as usual.

Every version's text stays in the log for ever, so a ticket that cites an article
cites its id and version, and what the citizen was told can always be shown.
`ArticlePublished` carries the whole published version: the search index and the
public pages need nothing else.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from contracts.base import (
    Attachment,
    Category,
    Frozen,
    Id,
    KnowledgeEvent,
    Published,
    Reason,
    Timestamp,
    UnitId,
)
from contracts.vocabulary import ArticleKind, Audience, Channel

Term = Annotated[str, Field(min_length=1, max_length=40)]


class ArticleDetails(Frozen):
    """What an article version says besides its title, body and category (a mixin)."""

    kind: ArticleKind | None = Field(default=None, description="None only before kinds existed")
    audience: Audience = Field(default=Audience.INTERNAL,
                               description="public: self-service may show it; else staff only")
    keywords: tuple[Term, ...] = Field(default=(), max_length=30,
                                      description="Terms it must be found by (关键词)")
    synonyms: tuple[Term, ...] = Field(default=(), max_length=30,
                                      description="How callers say it (口语说法): 公积金, 社保 …")
    owning_unit: UnitId | None = Field(default=None, description="The unit answerable for it")
    effective_from: date | None = Field(default=None, description="First day it applies")
    review_by: date | None = Field(default=None, description="Day its owner must review it")
    expires_at: date | None = Field(default=None, description="First day it no longer applies")
    source_ref: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="The document it rests on (文号)")
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)


class ArticleDrafted(KnowledgeEvent, ArticleDetails):
    """知识起草: the text of an article's next version was written or edited."""

    article_id: Id
    version: int = Field(ge=1, description="The version this draft becomes when published")
    title: str = Field(min_length=1, max_length=200)
    body: Published = Field(description="Markdown, as it will be published")
    category: Category
    from_ticket: Id | None = Field(default=None, description="The ticket whose answer it came from")
    source_id: Id | None = Field(default=None, description="Id in an imported collection")


class ArticleSubmitted(KnowledgeEvent):
    """提交审核: the draft goes to a reviewer (knowledge editor or supervisor)."""

    article_id: Id
    version: int = Field(ge=1)


class ArticleReturned(KnowledgeEvent):
    """审核退回: the reviewer sent the draft back to be edited."""

    article_id: Id
    version: int = Field(ge=1)
    reason: Reason


class ArticleApproved(KnowledgeEvent):
    """审核通过: the draft may be published, now or at `publish_at`."""

    article_id: Id
    version: int = Field(ge=1)
    publish_at: Timestamp | None = Field(default=None, description="None: published at once")


class ArticlePublished(KnowledgeEvent, ArticleDetails):
    """知识发布: a version of an article was published, with everything it says."""

    article_id: Id
    title: str = Field(min_length=1, max_length=200)
    body: Published = Field(description="Markdown, as published: not masked")
    category: Category
    version: int = Field(ge=1, description="1 for the first publication, +1 per revision")


class ArticleRetired(KnowledgeEvent):
    """知识下架: an article is withdrawn; it is no longer used to answer."""

    article_id: Id
    version: int = Field(ge=1, description="The last published version")
    reason: Reason | None = None


class AnswerOffered(KnowledgeEvent):
    """自助答复: a chat contact was offered a public FAQ's answer ("是否解决了您的问题?").
    Nothing the citizen typed is kept here: if it is not solved, the contact itself goes
    to intake."""

    offer_id: Id
    channel: Channel
    channel_message_id: Id
    article_id: Id
    version: int = Field(ge=1)
    confidence: float = Field(ge=0, le=1, description="Share of the message's words matched")


class OfferAnswered(KnowledgeEvent):
    """自助答复结果: the citizen said whether the offered answer solved it."""

    offer_id: Id
    solved: bool


class RecommendationRated(KnowledgeEvent):
    """推荐评价: an operator marked a recommended article helpful or not for a contact
    (stream `rating-<id>`, one per operator, article and contact)."""

    article_id: Id
    version: int = Field(ge=1)
    helpful: bool
    contact_id: Id | None = Field(default=None, description="The contact it was recommended for")
