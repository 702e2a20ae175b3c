"""An article as a person or a file writes it (the API's body, an import's row), checked
against the directory: a category of the taxonomy, a unit that exists, dates in order."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Attachment, Category
from contracts.knowledge_events import ArticleDetails
from contracts.personal import personal_numbers
from contracts.vocabulary import ArticleKind, Audience
from reference.directory import ReferenceData
from services.knowledge.domain import Write

Term = Annotated[str, Field(min_length=1, max_length=40)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleIn(Strict):
    """An article's text and what it says about itself (the whole version, each time)."""

    title: str = Field(min_length=1, max_length=200, examples=["租房提取住房公积金"])
    body: str = Field(min_length=1, max_length=20000, description="Markdown")
    kind: ArticleKind
    category: Category
    audience: Audience = Audience.INTERNAL
    keywords: tuple[Term, ...] = Field(default=(), max_length=30)
    synonyms: tuple[Term, ...] = Field(default=(), max_length=30)
    owning_unit: str | None = Field(default=None, max_length=64,
                                    description="Default: a unit's own unit; required otherwise")
    effective_from: date | None = None
    review_by: date | None = None
    expires_at: date | None = None
    source_ref: str | None = Field(default=None, min_length=1, max_length=200)
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)
    from_ticket: str | None = Field(default=None, min_length=1, max_length=128,
                                    description="The ticket whose answer this drafts")
    source_id: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="Id in an imported collection (idempotent)")


def refuse_personal_numbers(body: ArticleIn) -> None:
    """ValueError when a field holds a mobile, ID or card number: an article goes to every
    operator and perhaps the public, so a citizen's number from the call it was drafted from
    must be taken out by its writer (masking would publish 138****5678 as advice)."""
    texts = {"title": body.title, "body": body.body, "source_ref": body.source_ref or "",
             "keywords": " ".join(body.keywords), "synonyms": " ".join(body.synonyms),
             "attachments": " ".join(a.filename for a in body.attachments)}
    for field, text in texts.items():
        if found := personal_numbers(text):
            raise ValueError(f"{field} holds a personal number ({', '.join(found)}): an "
                             "article may give an office's landline, never a mobile, ID or "
                             "card number")


def checked_write(body: ArticleIn, unit: str | None, ref: ReferenceData) -> Write:
    """The domain's Write owned by `unit`; ValueError, UnknownCategory or UnknownUnit when the
    directory does not know what it names."""
    if unit is None:
        raise ValueError("owning_unit is required")
    if body.expires_at and body.effective_from and body.expires_at <= body.effective_from:
        raise ValueError("expires_at must come after effective_from")
    refuse_personal_numbers(body)
    ref.taxonomy.validate(body.category.level1, body.category.level2)
    ref.directory.get(unit)
    fields = body.model_dump(include=set(ArticleDetails.model_fields))
    details = ArticleDetails(**{**fields, "owning_unit": unit})
    return Write(title=body.title, body=body.body, category=body.category, details=details,
                 from_ticket=body.from_ticket, source_id=body.source_id)
