"""What an FTS5 search looks for: the query's most telling words (`plan`, from each word's
document count in the index: `TermCounts`), and the filters as facet tokens (`facet_match`),
joined into one MATCH expression (`match_of`). fts.py runs it; the articles' facet tokens
(`facets_of`) are written by its projection.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.knowledge_events import ArticlePublished
from contracts.vocabulary import Audience
from services.knowledge.fts_tables import SEARCH, VOCAB
from services.knowledge.search import Filters
from services.knowledge.segment import Group, query_groups

# groups a search looks for at most: the most telling words of a long text. 6, not 8: the
# judged sentences wrapped as contact texts (a caller's opening, place and details around
# them) and recommended within their category on the bench's 130,000 articles found the
# right article first as often (MRR@5 0.748 → 0.759, 80 texts) and the rows ranked fell
# (p50 12.4 → 9.0 ms); 5 lost answers (0.734), 4 many (0.647)
RAREST = 6
COMMON = 0.05  # an alternative in more than this share of the articles tells little
FEW = 50  # ... but in a small index every alternative is cheap


def plan(groups: Sequence[Group], counts: dict[str, int], total: int) -> list[list[str]]:
    """The words a search looks for (any of them, `match_of`): of the query's word groups
    found in the index, the rarest, and up to `RAREST` - 1 more not in over `COMMON` of the
    articles; each group in its rarest form and those of its synonyms, sub-words and sounds
    not in over `COMMON` of the articles.

    FTS5 ranks every row a MATCH finds before it can return the best ten, so the cost is
    the rows matched: a contact's whole text, OR'ed word by word, matched most of a
    130,000-article index, and a sub-word like 时间 (of 办公时间) a third of it. The
    rarest words rank the same articles first (BM25 weighs a word by its rarity) at a
    fraction of the rows. Requiring all of them first was measured too: twice as fast
    again, but a caller's incidental words (楼下, 天天) then outranked the article about
    the matter (MRR 0.92 → 0.78 on the judged queries). A common word beside rarer ones
    (不, 上, 月: in half the articles) adds next to nothing to BM25 but all its rows: left
    out, the search queries' p95 fell from 28 to 9 ms at an unchanged MRR (0.908 → 0.905)."""
    cap = max(COMMON * total, FEW)
    kept = []
    for group in groups:
        found = sorted((counts[t], t) for t in group.terms if counts.get(t))
        if found:  # its rarest form stays, whatever its count
            kept.append((found[0][0], sorted(t for n, t in found if n <= cap or t == found[0][1])))
    kept.sort(key=lambda g: (g[0], g[1]))
    return [g for i, (n, g) in enumerate(kept) if i == 0 or n <= cap][:RAREST]


def match_of(groups: Sequence[Sequence[str]], filters: Filters | None = None) -> str:
    """The MATCH expression for any of these words, in rows the filters allow."""
    words = " OR ".join(_quoted(t) for g in groups for t in g)
    return f"({words}){facet_match(filters)}" if filters else words


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class TermCounts:
    """Each word's document count (and the index's size), remembered for `ttl_s` once the
    index held it; a word it did not hold, for `absent_s` or until this process's index
    applies its next batch (`forget_absent`).

    fts5vocab counts a word's documents by walking its whole list (about 1 ms a word on
    130,000 articles): more than the search itself. The counts only choose which words to
    look for, so a few minutes old is as good as exact. Absent words (pinyin of a query,
    sub-words no article has: three in most queries) cost a round trip each search if
    never remembered; forgotten when the index changes, a newly published word is found
    at once (at worst `absent_s` later, when a search read between a batch and its commit)."""

    def __init__(self, ttl_s: float = 600.0, absent_s: float = 30.0,
                 size: int = 200_000) -> None:
        self.ttl_s, self.absent_s, self.size = ttl_s, absent_s, size
        self._known: dict[tuple[str, str], tuple[int, float]] = {}
        self._absent: dict[tuple[str, str], float] = {}
        self._totals: dict[str, tuple[int, float]] = {}

    async def of(self, conn: AsyncConnection, terms: Sequence[str]) -> dict[str, int]:
        now, index = time.monotonic(), str(conn.engine.url)
        found: dict[str, int] = {}
        for term in terms:
            known = self._known.get((index, term))
            if known is not None and known[1] > now:
                found[term] = known[0]
            elif self._absent.get((index, term), 0.0) > now:
                found[term] = 0
        missing = [t for t in terms if t not in found]
        if missing:
            marks = ", ".join(f":t{i}" for i in range(len(missing)))
            read: dict[str, int] = dict((await conn.execute(text(
                f"SELECT term, doc FROM {VOCAB} WHERE term IN ({marks})"),
                {f"t{i}": t for i, t in enumerate(missing)})).all())
            if len(self._known) + len(self._absent) > self.size:
                self._known.clear()
                self._absent.clear()
            self._known |= {(index, t): (n, now + self.ttl_s) for t, n in read.items()}
            self._absent |= {(index, t): now + self.absent_s for t in missing if t not in read}
            found |= read
        return found

    def forget_absent(self) -> None:
        """The index changed: a word it lacked may be there now."""
        self._absent.clear()

    async def total(self, conn: AsyncConnection) -> int:
        """About how many articles the index holds (its highest rowid), as old as a count."""
        now, index = time.monotonic(), str(conn.engine.url)
        known = self._totals.get(index)
        if known is None or known[1] <= now:
            found = (await conn.execute(text(f"SELECT max(rowid) FROM {SEARCH}"))).scalar()
            known = self._totals[index] = (found or 0, now + self.ttl_s)
        return known[0]


TERM_COUNTS = TermCounts()


async def planned(conn: AsyncConnection, query: str) -> list[list[str]]:
    """`plan` for a query, with its words' document counts from the index."""
    groups = query_groups(query)
    terms = sorted({t for g in groups for t in g.terms})
    if not terms:
        return []
    counts = await TERM_COUNTS.of(conn, terms)
    return plan(groups, counts, await TERM_COUNTS.total(conn))


async def expressions(conn: AsyncConnection, query: str, filters: Filters) -> list[str]:
    """The MATCH a search for `query` runs (none when nothing in it is searchable)."""
    groups = await planned(conn, query)
    return [match_of(groups, filters)] if groups else []


FACETED = ("level1", "level2", "kind", "owning_unit")  # the Filters fields that are facets


def facets_of(a: ArticlePublished) -> str:
    """The article's facet tokens: one per field, an empty value a token too (so every row
    holds five and BM25's length normalisation treats all alike)."""
    kind = a.kind.value if a.kind else None
    fields = [("audience", a.audience.value), ("level1", a.category.level1),
              ("level2", a.category.level2), ("kind", kind), ("owning_unit", a.owning_unit)]
    return " ".join(facet(name, value or "") for name, value in fields)


def facet(name: str, value: str) -> str:
    """The token of a filter value: letters and digits only, so the tokenizer keeps it
    whole whatever the value holds (category codes have hyphens, units Chinese)."""
    return "f" + hashlib.blake2b(f"{name}\0{value}".encode(), digest_size=8).hexdigest()


def facet_match(filters: Filters) -> str:
    """The MATCH terms of the filters that are facets ("" when none narrows anything)."""
    terms = [f"facets : {facet(name, value)}" for name in FACETED
             if (value := getattr(filters, name)) is not None]
    if filters.audiences and not {a.value for a in Audience} <= set(filters.audiences):
        terms.append("(" + " OR ".join(f"facets : {facet('audience', a)}"
                                       for a in sorted(set(filters.audiences))) + ")")
    return "".join(f" AND {t}" for t in terms)
