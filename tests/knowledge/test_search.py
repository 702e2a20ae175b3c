"""The search contract, run on the FTS5 index (and on Elasticsearch, when configured): what
is found, what never is, and how well the judged queries are answered (MRR, recall@5).

The figures are printed (`pytest -s`) and held above floors set from measurements here,
so a change to segmentation, synonyms or ranking that makes answers worse fails."""

from __future__ import annotations

import html
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from contracts.knowledge_events import ArticlePublished, ArticleRetired
from contracts.vocabulary import Audience
from services.knowledge.fts import FtsSearch, KnowledgeIndex
from services.knowledge.fts import open_index as open_fts_engine
from services.knowledge.search import Filters, Hit, SearchIndex
from tests.knowledge.corpus import TODAY, judged_queries, sample_articles, valid_on

BOTH = ("public", "internal")
# floors from the measured figures (see the closing note of the knowledge issue), a little
# below them so that noise-free changes do not trip them, far above a broken index
MRR_FLOOR = 0.88  # measured 0.916 (176 queries, 2026-12-04)
RECALL5_FLOOR = 0.91  # measured 0.944


class FtsIndex:
    """The FTS5 projection in a SQLite file of its own, fed events directly."""

    def __init__(self, path: Path) -> None:
        self.engine = open_fts_engine(f"sqlite+aiosqlite:///{path}")
        self.projection = KnowledgeIndex(self.engine)
        self.port: SearchIndex = FtsSearch(self.engine)

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.projection.metadata.create_all)

    async def feed(self, events: Sequence[ArticlePublished | ArticleRetired]) -> None:
        async with self.engine.begin() as conn:
            await self.projection.apply(conn, [(None, e) for e in events])  # type: ignore[misc]

    async def close(self) -> None:
        await self.engine.dispose()


class EsIndex:
    """The Elasticsearch projection on a fresh index of ELASTICSEARCH_URL."""

    def __init__(self, url: str) -> None:
        from elasticsearch import AsyncElasticsearch

        from services.knowledge.es import EsIndexer, EsSearch

        self.client = AsyncElasticsearch(url)
        self.name = f"hotline-test-{uuid.uuid4().hex[:8]}"
        self.projection = EsIndexer(self.client, self.name)
        self.port = EsSearch(self.client, self.name)
        self.versions: dict[str, int] = {}  # the stream versions the events would carry

    async def start(self) -> None:
        await self.projection.ensure()

    async def feed(self, events: Sequence[ArticlePublished | ArticleRetired]) -> None:
        batch = []
        for e in events:
            self.versions[e.article_id] = self.versions.get(e.article_id, 0) + 4
            batch.append((SimpleNamespace(streamversion=self.versions[e.article_id]), e))
        await self.projection.apply(None, batch)  # type: ignore[arg-type]
        await self.client.indices.refresh(index=self.name)

    async def close(self) -> None:
        await self.projection.reset()
        await self.client.close()


class Index:
    """One engine's index, searched through the SearchIndex port."""

    def __init__(self, engine: FtsIndex | EsIndex) -> None:
        self.engine = engine

    async def feed(self, events: Sequence[ArticlePublished | ArticleRetired]) -> None:
        await self.engine.feed(events)

    async def search(self, query: str, filters: Filters, day: date = TODAY,
                     limit: int = 10) -> list[Hit]:
        return await self.engine.port.search(query, filters, day, limit)


ES_URL = os.environ.get("ELASTICSEARCH_URL", "")
ENGINES = ["fts5", pytest.param("elasticsearch", marks=pytest.mark.skipif(
    not ES_URL, reason="ELASTICSEARCH_URL is not set (Elasticsearch cannot run here)"))]


@pytest.fixture(scope="module")
def articles() -> list[ArticlePublished]:
    return sample_articles()


async def open_index(engine: str, tmp_path: Path,
                     articles: list[ArticlePublished]) -> FtsIndex | EsIndex:
    found: FtsIndex | EsIndex = (FtsIndex(tmp_path / "index.db") if engine == "fts5"
                                 else EsIndex(ES_URL))
    await found.start()
    await found.feed(articles)
    return found


@pytest.fixture(params=ENGINES)
async def index(request: pytest.FixtureRequest, tmp_path: Path,
                articles: list[ArticlePublished]) -> AsyncIterator[Index]:
    found = await open_index(request.param, tmp_path, articles)
    yield Index(found)
    await found.close()


def ids(hits: list[Hit]) -> list[str]:
    return [h.article_id for h in hits]


async def test_the_sample_corpus_is_large_and_varied(articles: list[ArticlePublished]) -> None:
    assert len(articles) >= 250
    assert {a.kind for a in articles} == {"policy", "service_guide", "faq", "notice", "contact"}
    assert {a.audience for a in articles} == {Audience.PUBLIC, Audience.INTERNAL}


async def test_expired_and_future_articles_are_never_found(
        index: Index, articles: list[ArticlePublished]) -> None:
    expiring = next(a for a in articles if a.expires_at is not None
                    and valid_on(a, a.expires_at - timedelta(days=1)))  # the sample has some
    assert expiring.expires_at is not None
    before, after = expiring.expires_at - timedelta(days=1), expiring.expires_at
    found = ids(await index.search(expiring.title, Filters(BOTH), before))
    assert expiring.article_id in found
    assert expiring.article_id not in ids(await index.search(expiring.title, Filters(BOTH), after))
    future = with_days(expiring, effective_from=TODAY + timedelta(days=30))
    await index.feed([future])
    assert future.article_id not in ids(await index.search(future.title, Filters(BOTH)))


def with_days(article: ArticlePublished, **days: date | None) -> ArticlePublished:
    return article.model_copy(update={"expires_at": None, **days})


async def test_internal_articles_stay_internal(index: Index,
                                               articles: list[ArticlePublished]) -> None:
    internal = next(a for a in articles if a.audience is Audience.INTERNAL
                    and valid_on(a, TODAY))
    assert internal.article_id in ids(await index.search(internal.title, Filters(BOTH)))
    public = await index.search(internal.title, Filters(("public",)), limit=50)
    assert internal.article_id not in ids(public)
    assert all(h.audience == "public" for h in public)


async def test_filters_by_category_kind_and_unit(index: Index) -> None:
    hits = await index.search("公积金", Filters(BOTH, level1="housing-provident-fund",
                                               kind="faq"), limit=50)
    assert hits and all(h.level1 == "housing-provident-fund" and h.kind == "faq" for h in hits)
    hits = await index.search("停水", Filters(BOTH, owning_unit="city-water"), limit=50)
    assert hits and all(h.owning_unit == "city-water" for h in hits)


@pytest.mark.parametrize(("query", "narrow"), [
    ("办理需要什么材料", Filters(("public",))),  # most candidates pass
    ("办理需要什么材料", Filters(BOTH, level1="utilities")),  # few do: ranked again, filtered
    ("投诉", Filters(BOTH, kind="contact")),
    ("拖欠工资", Filters(("internal",), level1="labour-social-security")),
])
@pytest.mark.parametrize("limit", [1, 3, 10])
async def test_a_filtered_page_is_the_best_of_what_the_filters_allow(
        index: Index, query: str, narrow: Filters, limit: int) -> None:
    """Ranking first and filtering the best candidates (or ranking again with the filters
    when they leave too few) gives exactly the first `limit` of the whole ranking that the
    filters allow."""
    everything = await index.search(query, Filters(BOTH), limit=1000)
    allowed = [h for h in everything if h.audience in narrow.audiences
               and all(getattr(narrow, f) in (None, getattr(h, f))
                       for f in ("level1", "level2", "kind", "owning_unit"))]
    found = await index.search(query, narrow, limit=limit)
    assert [(h.article_id, h.score) for h in found] == [
        (h.article_id, h.score) for h in allowed[:limit]]


async def test_a_new_version_replaces_the_old_and_retiring_removes_it(
        index: Index, articles: list[ArticlePublished]) -> None:
    first = next(a for a in articles if valid_on(a, TODAY) and a.audience is Audience.PUBLIC)
    second = first.model_copy(update={"version": 2, "title": "示例市熊猫基地参观预约",
                                      "body": "熊猫基地每周一闭馆。"})
    await index.feed([second])
    [hit, *_] = await index.search("熊猫基地", Filters(BOTH))
    assert (hit.article_id, hit.version) == (first.article_id, 2)
    again = await index.search(first.title, Filters(BOTH), limit=50)
    assert [h.version for h in again if h.article_id == first.article_id] in ([], [2])
    await index.feed([ArticleRetired(article_id=first.article_id, version=2)])
    assert first.article_id not in ids(await index.search("熊猫基地", Filters(BOTH)))


async def test_a_word_nobody_wrote_is_found_once_published(
        index: Index, articles: list[ArticlePublished]) -> None:
    """A search for a word no article holds (remembered as absent by the FTS5 index's
    counts) finds the article that brings it as soon as it is published."""
    assert await index.search("Xylophone", Filters(BOTH)) == []
    first = next(a for a in articles if valid_on(a, TODAY) and a.audience is Audience.PUBLIC)
    await index.feed([first.model_copy(update={"version": 2, "title": "Xylophone 乐器培训"})])
    assert ids(await index.search("xylophone", Filters(BOTH))) == [first.article_id]


async def test_highlights_read_as_the_original_text(
        index: Index, articles: list[ArticlePublished]) -> None:
    """Full-width punctuation, Latin letters and digits kept as written, separators gone."""
    article = next(a for a in articles if "？" in a.title and valid_on(a, TODAY))
    hits = await index.search(article.title, Filters(BOTH))
    [hit] = [h for h in hits if h.article_id == article.article_id]
    assert "<mark>" in hit.title_html + hit.snippet_html
    assert unmarked(hit.title_html) == html.escape(article.title)
    assert unmarked(hit.snippet_html).strip("…") in html.escape(article.body)
    assert hit.matched and all("\u2063" not in m for m in hit.matched)


def unmarked(text: str) -> str:
    return text.replace("<mark>", "").replace("</mark>", "")


async def test_a_query_of_stop_words_and_punctuation_finds_nothing(index: Index) -> None:
    assert await index.search("请问一下？？", Filters(BOTH)) == []
    assert await index.search('"OR" AND NOT (*)', Filters(BOTH)) == []


async def test_the_judged_queries_are_answered(index: Index,
                                               articles: list[ArticlePublished]) -> None:
    judged = judged_queries(articles)
    assert len(judged) >= 150
    by_style: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for case in judged:
        found = ids(await index.search(case.query, Filters(BOTH), limit=10))
        rank = next((i + 1 for i, a in enumerate(found) if a in case.relevant), None)
        reciprocal = 1 / rank if rank else 0.0
        recall5 = len(set(found[:5]) & set(case.relevant)) / min(len(case.relevant), 5)
        by_style[case.style].append((reciprocal, recall5))
    every = [m for ms in by_style.values() for m in ms]
    mrr, recall = (sum(m[i] for m in every) / len(every) for i in (0, 1))
    lines = [f"{style:>10}: n={len(ms):3d} MRR {sum(m[0] for m in ms) / len(ms):.3f} "
             f"recall@5 {sum(m[1] for m in ms) / len(ms):.3f}"
             for style, ms in sorted(by_style.items())]
    engine = type(index.engine).__name__
    print(f"\n{engine}, {len(every)} judged queries: MRR {mrr:.3f}, recall@5 {recall:.3f}\n"
          + "\n".join(lines))
    assert mrr >= MRR_FLOOR and recall >= RECALL5_FLOOR


@pytest.mark.skipif(not ES_URL, reason="ELASTICSEARCH_URL is not set")
async def test_both_engines_rank_the_judged_queries_alike(
        tmp_path: Path, articles: list[ArticlePublished]) -> None:
    """The same best answer on both engines for most judged queries (BM25 differs in its
    length normalisation per field, so a few near-ties may swap)."""
    fts_index = await open_index("fts5", tmp_path, articles)
    es_index = await open_index("elasticsearch", tmp_path, articles)
    try:
        judged = judged_queries(articles)
        same = 0
        for case in judged:
            first = [ids(await Index(i).search(case.query, Filters(BOTH), limit=1))
                     for i in (fts_index, es_index)]
            same += first[0] == first[1]
        assert same / len(judged) >= 0.8, f"{same} of {len(judged)} with the same best answer"
    finally:
        await fts_index.close()
        await es_index.close()
