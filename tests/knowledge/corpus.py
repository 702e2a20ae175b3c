"""The sample corpus (services/knowledge/data/sample) as published articles, and the judged
queries (tests/knowledge/data): what the search tests and their figures are made of."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from contracts.knowledge_events import ArticlePublished
from reference.bundle import load_reference
from services.knowledge.domain import Article, Import, ReviewPolicy, decide
from services.knowledge.importer import read_rows
from services.knowledge.service import imported_id

SAMPLE = Path(__file__).parents[2] / "services" / "knowledge" / "data" / "sample"
JUDGED = Path(__file__).parent / "data"
TODAY = date(2026, 12, 4)


@dataclass(frozen=True)
class Judged:
    query: str
    relevant: tuple[str, ...]  # article ids, best first
    style: str


def sample_articles() -> list[ArticlePublished]:
    """Every sample article as its importer would publish it (ids from source ids)."""
    ref = load_reference().data
    found = []
    for path in sorted(SAMPLE.glob("*.jsonl")):
        for row in read_rows(path, ref):
            assert row.write is not None, (path.name, row.line, row.errors)
            article = Article(imported_id(row.write.source_id or ""))
            events = decide(article, Import(row.write), "editor:import", datetime.now(UTC),
                            ReviewPolicy())
            found += [e for e in events if isinstance(e, ArticlePublished)]
    return found


def valid_on(article: ArticlePublished, day: date) -> bool:
    return ((article.effective_from is None or article.effective_from <= day)
            and (article.expires_at is None or article.expires_at > day))


def judged_queries(articles: list[ArticlePublished], day: date = TODAY) -> list[Judged]:
    """The judged queries, their relevant articles narrowed to those valid on `day` (an
    expired notice is rightly never found); queries left with none are dropped."""
    valid = {a.article_id for a in articles if valid_on(a, day)}
    found = []
    for path in sorted(JUDGED.glob("judged-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            relevant = tuple(i for i in (imported_id(s) for s in raw["relevant"]) if i in valid)
            if relevant:
                found.append(Judged(raw["query"], relevant, raw["style"]))
    return found
