"""Knowledge-base events (知识库), topic hotline.knowledge, keyed by article id."""

from __future__ import annotations

from pydantic import Field

from contracts.base import Category, Id, KnowledgeEvent, Published, Reason


class ArticlePublished(KnowledgeEvent):
    """知识发布: a version of an article was published (also to the public)."""

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
