"""Answer quality at 130,000 articles, printed beside the speed figures, so that a change
buying speed with answers shows (the judged test in tests/knowledge runs on the few hundred
sample articles, where every word is cheap and no search plan is ever cut short).

Each bench article varies one sample article (`knowledge_corpus.origin`); it answers a
judged query (tests/knowledge/data/judged-*.jsonl) when its sample is one of the query's
relevant ones. Two figures, informative (no target in the issue at this scale):

- search: every judged query, limit 10, public and internal articles: MRR (the first
  answering article's reciprocal rank);
- recommendation: each judged sentence and colloquial question wrapped as an operator types
  a caller's words (`knowledge_corpus.as_typed`, as the bench's contact texts are) and
  recommended within the category of its first relevant sample, limit 5: MRR@5.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Result
from bench.knowledge_corpus import TODAY, as_typed, origin, sample_rows
from services.knowledge import fts
from services.knowledge.search import Filters
from services.knowledge.service import imported_id

JUDGED = Path(__file__).parents[1] / "tests" / "knowledge" / "data"
BOTH = ("public", "internal")
SPOKEN = ("sentence", "colloquial")  # the judged styles a caller's contact text is made of

Ask = tuple[str, Filters, frozenset[str]]  # query, filters, the relevant samples' source ids


def judged() -> list[tuple[str, frozenset[str], str]]:
    """(query, relevant source ids, style) of every judged query."""
    found = []
    for path in sorted(JUDGED.glob("judged-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                found.append((raw["query"], frozenset(raw["relevant"]), raw["style"]))
    return found


def asks(seed: int = 7) -> tuple[list[Ask], list[Ask]]:
    """The search asks and the recommendation asks."""
    rng = random.Random(seed)
    level1 = {row["source_id"]: row["category"]["level1"] for row in sample_rows()}
    searches, recommendations = [], []
    for query, relevant, style in judged():
        searches.append((query, Filters(audiences=BOTH), relevant))
        if style in SPOKEN:
            first = level1[sorted(relevant)[0]]
            recommendations.append((as_typed(rng, query), Filters(audiences=BOTH, level1=first),
                                    relevant))
    return searches, recommendations


async def mrr(engine: AsyncEngine, asked: Sequence[Ask], origins: dict[str, str],
              limit: int) -> float:
    """The mean reciprocal rank of the first article that answers each ask."""
    total = 0.0
    async with engine.connect() as conn:
        for query, filters, relevant in asked:
            hits = await fts.search(conn, query, filters, TODAY, limit)
            rank = next((i for i, h in enumerate(hits, start=1)
                         if origins.get(h.article_id) in relevant), None)
            total += 1 / rank if rank else 0.0
    return total / len(asked)


async def quality(engine: AsyncEngine, articles: int) -> list[Result]:
    """Both figures on the bench's index of `articles` articles."""
    origins = {imported_id(f"GEN-{n:06d}"): origin(n) for n in range(1, articles + 1)}
    searches, recommendations = asks()
    scope = f"{articles:,} articles"
    return [
        Result(f"knowledge judged search MRR, {scope}", await mrr(engine, searches, origins, 10),
               None, "MRR", note=f"{len(searches)} judged queries, limit 10; an article "
               "answers when the sample it varies is relevant"),
        Result(f"knowledge judged recommendation MRR@5, {scope}",
               await mrr(engine, recommendations, origins, 5), None, "MRR",
               note=f"{len(recommendations)} judged sentences and colloquial questions wrapped "
               "as contact texts, within their relevant sample's category, limit 5"),
    ]
