"""The search index on Elasticsearch (production), through the official async client.

Fed the same segmented text as FTS5 (segment.py: words joined by U+2063, sub-words and
synonyms in `terms`), analysed by a pattern tokenizer that splits where FTS5's
`unicode61` does (anything not a letter or a digit) and lower-cases: so both engines
see the same words. Queried the same way: any of the query's words (with their
alternatives) in title^6, terms^3 or body, summed (`most_fields`, as FTS5's weighted
BM25 sums its columns), filtered by audience, category, kind, unit and validity,
ties by article id.

`EsIndexer` is the projection that feeds it. Elasticsearch has no transaction with
the runner's offsets (kept in the platform's database), so every write is idempotent:
a document per article, written with the event's stream version as an external
version (a replayed or older write is refused with 409 and ignored), and a retired
article becomes a tombstone document, never a delete, so no replay can resurrect it.
`hotline rebuild knowledge` drops and recreates the index (`reset`). A new `VERSION` is
a new index (`index_of`), built beside the old one while the old one serves
(hotline/builds.py); the old one is left for the operator to delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError
from elasticsearch.helpers import async_bulk
from sqlalchemy import MetaData

from contracts.knowledge_events import ArticlePublished, ArticleRetired
from contracts.topics import KNOWLEDGE
from hotline.projection import Applied
from services.knowledge.search import CLOSE, OPEN, ROW_FIELDS, WEIGHTS, Filters, Hit, hit_of
from services.knowledge.segment import SEP, marked, query_alternatives, search_terms

WORDS = {"type": "text", "analyzer": "words"}
KEYWORD = {"type": "keyword"}
SETTINGS = {"analysis": {
    "tokenizer": {"words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
    "analyzer": {"words": {"type": "custom", "tokenizer": "words", "filter": ["lowercase"]}}}}
MAPPINGS = {"dynamic": "strict", "properties": {
    "article_id": KEYWORD, "version": {"type": "integer"}, "retired": {"type": "boolean"},
    "title": WORDS, "terms": WORDS, "body": WORDS,
    "display_title": {"type": "keyword", "index": False},
    "kind": KEYWORD, "level1": KEYWORD, "level2": KEYWORD, "audience": KEYWORD,
    "owning_unit": KEYWORD, "effective_from": {"type": "date"}, "expires_at": {"type": "date"},
    "source_ref": {"type": "keyword", "index": False}}}
SNIPPET_CHARS = 100


def document(a: ArticlePublished) -> dict[str, Any]:
    """The indexed document of a published version."""
    return {"article_id": a.article_id, "version": a.version, "retired": False,
            "title": marked(a.title),
            "terms": search_terms([a.title, a.body, *a.keywords, *a.synonyms],
                                  [a.title, *a.keywords]),
            "body": marked(a.body), "display_title": a.title,
            "kind": a.kind.value if a.kind else None, "level1": a.category.level1,
            "level2": a.category.level2, "audience": a.audience.value,
            "owning_unit": a.owning_unit, "source_ref": a.source_ref,
            "effective_from": a.effective_from.isoformat() if a.effective_from else None,
            "expires_at": a.expires_at.isoformat() if a.expires_at else None}


VERSION = 1  # bump it when the mapping or the documents change: a new index, made from zero


def index_of(base: str) -> str:
    """The index of this version, named by the configured name and the version."""
    return f"{base}-v{VERSION}"


class EsIndexer:
    """The Elasticsearch index of published articles: a projection of hotline.knowledge
    whose offsets stay in the platform's database (no tables of its own)."""

    name: str = "knowledge-es-index"
    version: int = VERSION
    topics: Sequence[str] = (KNOWLEDGE,)
    events: frozenset[str] = frozenset({"ArticlePublished", "ArticleRetired"})
    metadata: MetaData = MetaData()

    def __init__(self, client: AsyncElasticsearch, index: str) -> None:
        self.client, self.index = client, index
        self._ready = False

    async def ensure(self) -> None:
        """Create the index with its analyser and mapping, once."""
        if self._ready:
            return
        if not await self.client.indices.exists(index=self.index):
            await self.client.indices.create(index=self.index, settings=SETTINGS,
                                             mappings=MAPPINGS)
        self._ready = True

    async def reset(self) -> None:
        """Drop the index (a rebuild replays into a fresh one)."""
        await self.client.indices.delete(index=self.index, ignore_unavailable=True)
        self._ready = False

    async def apply(self, conn: object, batch: Sequence[Applied]) -> None:
        await self.ensure()
        actions = []
        for envelope, e in batch:
            if isinstance(e, ArticlePublished):
                source = document(e)
            elif isinstance(e, ArticleRetired):
                source = {"article_id": e.article_id, "version": e.version, "retired": True}
            else:
                continue
            actions.append({"_op_type": "index", "_index": self.index, "_id": e.article_id,
                            "version": envelope.streamversion, "version_type": "external",
                            "_source": source})
        if actions:  # 409: this version or a later one is there already (a replay)
            await async_bulk(self.client, actions, ignore_status=(409,), refresh=False)


class EsSearch:
    """The SearchIndex port on Elasticsearch (search.py)."""

    def __init__(self, client: AsyncElasticsearch, index: str) -> None:
        self.client, self.index = client, index

    async def search(self, query: str, filters: Filters, today: date,
                     limit: int = 10) -> list[Hit]:
        terms = query_alternatives(query)
        if not terms:
            return []
        title_w, terms_w, body_w = WEIGHTS
        fields = [f"title^{title_w}", f"terms^{terms_w}", f"body^{body_w}"]
        should = [{"multi_match": {"query": t, "fields": fields, "type": "most_fields",
                                   "operator": "and"}} for t in terms]
        try:
            found = await self.client.search(
                index=self.index, size=limit, track_total_hits=False,
                query={"bool": {"should": should, "minimum_should_match": 1,
                                "filter": _filters(filters, today)}},
                sort=[{"_score": "desc"}, {"article_id": "asc"}],
                highlight={"pre_tags": [OPEN], "post_tags": [CLOSE], "fields": {
                    "title": {"number_of_fragments": 0},
                    "body": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 1,
                             "no_match_size": SNIPPET_CHARS}}})
        except NotFoundError:  # nothing indexed yet
            return []
        return [_hit(h) for h in found["hits"]["hits"]]

    async def words_of(self, article_id: str) -> set[str]:
        source = await self._source(article_id)
        if source is None or source.get("retired"):
            return set()
        return {*source["title"].split(SEP), *source["terms"].split(" "),
                *source["body"].split(SEP)}

    async def public_row(self, article_id: str, today: date) -> dict[str, Any] | None:
        found = await self.client.search(
            index=self.index, size=1, query={"bool": {"filter": [
                {"term": {"article_id": article_id}}, *_filters(Filters(), today)]}})
        hits = found["hits"]["hits"]
        return _row(hits[0]["_source"]) if hits else None

    async def _source(self, article_id: str) -> dict[str, Any] | None:
        try:
            found = await self.client.get(index=self.index, id=article_id)
        except NotFoundError:
            return None
        return dict(found["_source"])


def _filters(filters: Filters, today: date) -> list[dict[str, Any]]:
    day = today.isoformat()
    found: list[dict[str, Any]] = [
        {"term": {"retired": False}}, {"terms": {"audience": list(filters.audiences)}},
        {"bool": {"should": [{"bool": {"must_not": {"exists": {"field": "effective_from"}}}},
                             {"range": {"effective_from": {"lte": day}}}]}},
        {"bool": {"should": [{"bool": {"must_not": {"exists": {"field": "expires_at"}}}},
                             {"range": {"expires_at": {"gt": day}}}]}}]
    for name in ("level1", "level2", "kind", "owning_unit"):
        value = getattr(filters, name)
        if value is not None:
            found.append({"term": {name: value}})
    return found


def _row(source: dict[str, Any]) -> dict[str, Any]:
    return {k: source.get(k) for k in ROW_FIELDS} | {"title": source["display_title"]}


def _hit(h: dict[str, Any]) -> Hit:
    source, marks = h["_source"], h.get("highlight", {})
    title = marks.get("title", [source["title"]])[0]
    body = marks.get("body", [source["body"][:SNIPPET_CHARS]])[0]
    return hit_of(_row(source), float(h["_score"] or 0.0), title, body)
