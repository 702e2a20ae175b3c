"""The search index port: what the knowledge service asks of its index, on either engine.

Two adapters answer it the same way: `fts.FtsSearch` (SQLite FTS5, the embedded
default) and `es.EsSearch` (Elasticsearch through the official async client). Both
index the same segmented text (`segment.py`), weigh title, terms and body alike
(`WEIGHTS`), filter the same way (audience, category, kind, unit, validity on the
day asked) and answer `Hit`s with highlights as escaped HTML with <mark>. Each is fed
by a projection of hotline.knowledge (`fts.KnowledgeIndex`, `es.EsIndexer`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from services.knowledge.segment import plain

WEIGHTS = (6.0, 3.0, 1.0)  # title, terms, body: a word in the title beats one deep in a body
OPEN, CLOSE = "\x02", "\x03"  # highlight markers from the engine, replaced after escaping
_MARKED = re.compile(f"{OPEN}(.*?){CLOSE}", re.S)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search may return: audiences, and optionally a category, kind or unit."""

    audiences: tuple[str, ...] = ("public",)
    level1: str | None = None
    level2: str | None = None
    kind: str | None = None
    owning_unit: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One article found, with why: the words that matched, highlighted in title and snippet."""

    article_id: str
    version: int
    title: str
    kind: str | None
    level1: str
    level2: str | None
    audience: str
    owning_unit: str | None
    effective_from: str | None
    expires_at: str | None
    source_ref: str | None
    score: float
    title_html: str
    snippet_html: str
    matched: tuple[str, ...]


ROW_FIELDS = ("article_id", "version", "title", "kind", "level1", "level2", "audience",
              "owning_unit", "effective_from", "expires_at", "source_ref")


class SearchIndex(Protocol):
    """What the service needs of its index."""

    async def search(self, query: str, filters: Filters, today: date,
                     limit: int = 10) -> list[Hit]:
        """The best `limit` articles valid `today` that `filters` allow, best first."""
        ...

    async def words_of(self, article_id: str) -> set[str]:
        """Every word the index holds for an article (title, body, sub-words, synonyms)."""
        ...

    async def public_row(self, article_id: str, today: date) -> dict[str, Any] | None:
        """The index's row (ROW_FIELDS) of a public article valid `today`, else None."""
        ...


def as_html(marked_text: str) -> str:
    """Index text with markers → escaped HTML with <mark>, word separators gone."""
    return html.escape(plain(marked_text)).replace(OPEN, "<mark>").replace(CLOSE, "</mark>")


def hit_of(row: dict[str, Any], score: float, title_marked: str, body_marked: str) -> Hit:
    """A Hit from an index row, its score (higher is better) and its marked texts."""
    found = _MARKED.findall(title_marked + body_marked)
    matched = tuple(dict.fromkeys(plain(m) for m in found))
    return Hit(**{k: row[k] for k in ROW_FIELDS}, score=round(score, 4),
               title_html=as_html(title_marked), snippet_html=as_html(body_marked),
               matched=matched)
