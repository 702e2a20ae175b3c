"""The search index on the embedded default: SQLite FTS5 with BM25, a projection of the log.

`KnowledgeIndex` keeps one row per published, unretired article (its current version)
in `kb_search` (what results are filtered and shown by) and the words in the FTS5
table `kb_fts` with the same rowid: the title and body cut into words by
`segment.marked`, and a hidden column of search-mode sub-words, keywords and synonyms.
It lives in a SQLite file of its own (`knowledge-index.db` in the data directory),
whatever database the other read models use, because FTS5 is SQLite's; on
PostgreSQL deployments Elasticsearch takes its place. Its engine (`open_index`) runs the
SQLite the pysqlite3 wheel bundles, whose FTS5 ranks about a quarter faster than the
system's (hotline/bundled_sqlite.py).

Ranking: BM25 with the title weighing 6, the terms 3, the body 1 (so a word in the
title beats the same word deep in a long body), over the query's most telling words
(fts_plan.py); ties by article id, so the order is the same on every run.

Filters: a fourth column, `facets`, holds a token per filter field of the article
(fts_plan.facets_of), so a filter is part of the MATCH and BM25 ranks only the rows it
allows (a recommendation within one category ranks a quarter to a third of the rows its
words find in the whole bench index). The column weighs 0, so it scores nothing, and
every row holds five facet tokens, so it lengthens all alike. Validity (dates) cannot be
a token and is checked on the ranked rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    DDL,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    event,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.knowledge_events import ArticlePublished, ArticleRetired
from contracts.topics import KNOWLEDGE
from hotline.builds import projection_metadata
from hotline.database import open_database
from hotline.projection import READ_CHUNK, Applied
from services.knowledge.fts_plan import FACETED, TERM_COUNTS, facets_of, match_of, planned
from services.knowledge.fts_tables import FTS, SEARCH, VERSION, VOCAB
from services.knowledge.highlight import highlight, snippet
from services.knowledge.search import ROW_FIELDS, WEIGHTS, Filters, Hit, hit_of
from services.knowledge.segment import SEP, marked, search_terms

metadata = projection_metadata(VERSION)
search_table = Table(
    SEARCH, metadata,
    Column("rowid", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(128), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("kind", String(32)),
    Column("level1", String(128), nullable=False),
    Column("level2", String(128)),
    Column("audience", String(16), nullable=False),
    Column("owning_unit", String(64)),
    Column("effective_from", String(10)),  # ISO dates compare as text
    Column("expires_at", String(10)),
    Column("source_ref", Text),
)
event.listen(search_table, "after_create", DDL(
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, terms, body, facets, "
    f"tokenize = \"unicode61 separators '{SEP}'\")"))
event.listen(search_table, "after_create", DDL(  # each word's document count, for `plan`
    f"CREATE VIRTUAL TABLE {VOCAB} USING fts5vocab({FTS}, 'row')"))
event.listen(search_table, "before_drop", DDL(f"DROP TABLE IF EXISTS {VOCAB}"))
event.listen(search_table, "before_drop", DDL(f"DROP TABLE IF EXISTS {FTS}"))


def open_index(url: str) -> AsyncEngine:
    """The index's engine: every connection to its file on the bundled SQLite.

    A connection given back to the pool is not rolled back again (`pool_reset_on_return`):
    SQLAlchemy's own transactions (the projection's writes, its reads of offsets) roll back
    or commit when their connection closes, and a search reads below SQLAlchemy
    (`_fetch`: SELECTs, which the driver runs outside any transaction). The rollback was a
    round trip to the connection's thread on every search: 0.23 -> 0.08 ms."""
    return open_database(url, bundled=True, pool_reset_on_return=None)


class KnowledgeIndex:
    """The FTS5 index of published articles: a projection of hotline.knowledge."""

    name: str = "knowledge-index"
    version: int = VERSION
    topics: Sequence[str] = (KNOWLEDGE,)
    events: frozenset[str] = frozenset({"ArticlePublished", "ArticleRetired"})
    metadata: MetaData = metadata
    virtual_tables = (VOCAB, FTS)  # made and dropped with kb_search: a build drops them first

    def __init__(self, engine: AsyncEngine | None = None) -> None:
        self.engine = engine  # its own SQLite file (hotline.projection.engine_of)

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        """The batch's last word on each article, written with a few statements per batch
        (not per article: a rebuild writes 130,000)."""
        last: dict[str, ArticlePublished | ArticleRetired] = {}
        for _, payload in batch:
            if isinstance(payload, ArticlePublished | ArticleRetired):
                last[payload.article_id] = payload
        ids = sorted(last)
        for i in range(0, len(ids), READ_CHUNK):
            await _remove(conn, ids[i:i + READ_CHUNK])
        live = [a for a in last.values() if isinstance(a, ArticlePublished)]
        if live:
            await conn.execute(search_table.insert(), [_row(a) for a in live])
            s = search_table.c
            rowids: dict[str, int] = {}
            for i in range(0, len(live), READ_CHUNK):
                chunk = [a.article_id for a in live[i:i + READ_CHUNK]]
                rowids |= dict((await conn.execute(select(s.article_id, s.rowid).where(
                    s.article_id.in_(chunk)))).all())
            await conn.execute(text(f"INSERT INTO {FTS} (rowid, title, terms, body, facets) "
                                    "VALUES (:r, :t, :k, :b, :f)"),
                               [words_row(rowids[a.article_id], a) for a in live])
        TERM_COUNTS.forget_absent()


async def _remove(conn: AsyncConnection, article_ids: list[str]) -> None:
    s = search_table.c
    await conn.execute(text(f"DELETE FROM {FTS} WHERE rowid IN (SELECT rowid FROM {SEARCH} "
                            "WHERE article_id IN :ids)").bindparams(
                                bindparam("ids", expanding=True)), {"ids": article_ids})
    await conn.execute(delete(search_table).where(s.article_id.in_(article_ids)))


def _row(a: ArticlePublished) -> dict[str, Any]:
    return {"article_id": a.article_id, "version": a.version, "title": a.title,
            "kind": a.kind.value if a.kind else None, "level1": a.category.level1,
            "level2": a.category.level2, "audience": a.audience.value,
            "owning_unit": a.owning_unit, "source_ref": a.source_ref,
            "effective_from": _iso(a.effective_from), "expires_at": _iso(a.expires_at)}


def words_row(rowid: int, a: ArticlePublished) -> dict[str, Any]:
    """The kb_fts row of an article (title, terms, body, facets: the INSERT's order)."""
    terms = search_terms([a.title, a.body, *a.keywords, *a.synonyms], [a.title, *a.keywords])
    return {"r": rowid, "t": marked(a.title), "k": terms, "b": marked(a.body),
            "f": facets_of(a)}


async def words_of(conn: AsyncConnection, article_id: str) -> set[str]:
    """Every word the index holds for an article (title, body, sub-words, synonyms)."""
    row = (await conn.execute(text(
        f"SELECT f.title, f.terms, f.body FROM {FTS} f JOIN {SEARCH} s ON s.rowid = f.rowid "
        "WHERE s.article_id = :a"), {"a": article_id})).first()
    if row is None:
        return set()
    title, terms, body = row
    return {*title.split(SEP), *terms.split(" "), *body.split(SEP)}


async def public_row(conn: AsyncConnection, article_id: str,
                     today: date) -> dict[str, Any] | None:
    """The index's row of a public article valid `today`, else None."""
    where, params = _where(Filters(audiences=("public",)), today)
    row = (await conn.execute(text(f"SELECT s.* FROM {SEARCH} s WHERE s.article_id = :a{where}"),
                              params | {"a": article_id})).first()
    return {k: row._mapping[k] for k in ROW_FIELDS} if row else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


OVERFETCH = 3  # candidates ranked per hit asked for, before the filters
SCORE = f"bm25({FTS}, {{}}, {{}}, {{}}, 0.0)".format(*WEIGHTS)  # facets score nothing


async def search(conn: AsyncConnection, query: str, filters: Filters, today: date,
                 limit: int = 10) -> list[Hit]:
    """The best `limit` valid articles for `query` (expired and not yet effective ones never).

    Ranked on the FTS table alone, the filters in the MATCH as facets, then checked for
    validity: joining kb_search to every matched row to check it first cost as much again
    as ranking. The best `OVERFETCH` x `limit` (+ 10) are ranked and checked; only when
    fewer than `limit` of a full ranking are valid (a category of expired notices, say)
    is the search run again with the check inside, which is exact whatever it leaves.
    Equal scores on a page are in article id order."""
    groups = await planned(conn, query)
    if not groups:
        return []
    match = match_of(groups, filters)
    wanted = limit * OVERFETCH + 10
    ranked = f"SELECT rowid, {SCORE} AS score FROM {FTS} WHERE {FTS} MATCH :q "
    rows, ranked_n = await _best(conn, ranked + "ORDER BY score, rowid LIMIT :n", match,
                                 wanted, limit, filters, today)
    if len(rows) < limit and ranked_n == wanted:
        where, _ = _where(filters, today)
        rows, _ = await _best(conn, f"SELECT f.rowid, {SCORE} AS score FROM {FTS} f JOIN "
                              f"{SEARCH} s ON s.rowid = f.rowid WHERE {FTS} MATCH :q {where} "
                              "ORDER BY score, s.article_id LIMIT :n", match, limit, limit,
                              filters, today)
    words = {t.casefold() for g in groups for t in g}
    return [hit_of(r, -r["score"], highlight(r["marked_title"], words),
                   snippet(r["marked_body"], words)) for r in rows]


_PAGE = ("ranked", "score", *ROW_FIELDS, "marked_title", "marked_body")


async def _best(conn: AsyncConnection, ranking: str, match: str, n: int, limit: int,
                filters: Filters, today: date) -> tuple[list[dict[str, Any]], int]:
    """The best `limit` of the best `n` of a ranking that `filters` allow on `today`, with
    their rows and indexed words, and how many were ranked: one statement that reads the
    long marked texts of the page only, and one round trip to the SQLite thread."""
    where, params = _where(filters, today)
    rows = [dict(zip(_PAGE, r, strict=True)) for r in await _fetch(
        conn,
        f"WITH top AS MATERIALIZED ({ranking}), ok AS (SELECT top.score, s.* FROM top "
        f"JOIN {SEARCH} s ON s.rowid = top.rowid WHERE 1 = 1{where} "
        "ORDER BY top.score, s.article_id LIMIT :limit) "
        f"SELECT counted.ranked, ok.score, {', '.join('ok.' + c for c in ROW_FIELDS)}, "
        "f.title, f.body FROM (SELECT count(*) AS ranked FROM top) counted "
        f"LEFT JOIN ok ON 1 LEFT JOIN {FTS} f ON f.rowid = ok.rowid "
        "ORDER BY ok.score, ok.article_id",
        params | {"q": match, "n": n, "limit": limit})]
    return [r for r in rows if r["article_id"] is not None], rows[0]["ranked"] if rows else 0


async def _fetch(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> list[Any]:
    """Every row of a statement, in one hop to the connection's SQLite thread (aiosqlite's
    `execute_fetchall`). Through SQLAlchemy's result the same statement takes four (cursor,
    execute, fetch, close) and the parameters are compiled into it anew: 0.6-0.8 ms more a
    search on the bench's index (mean of 450 searches, 3.7 against 4.5 ms)."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None, "a checked-out connection has its driver's"
    return list(await driver.execute_fetchall(sql, params))


def _where(filters: Filters, today: date) -> tuple[str, dict[str, Any]]:
    audiences = ", ".join(f":aud{i}" for i in range(len(filters.audiences)))
    clauses = [f"s.audience IN ({audiences})",
               "(s.effective_from IS NULL OR s.effective_from <= :today)",
               "(s.expires_at IS NULL OR s.expires_at > :today)"]
    params: dict[str, Any] = {"today": today.isoformat()} | {
        f"aud{i}": a for i, a in enumerate(filters.audiences)}
    for name in FACETED:
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f"s.{name} = :{name}")
            params[name] = value
    return "".join(f" AND {c}" for c in clauses), params


class FtsSearch:
    """The SearchIndex port on the FTS5 file (search.py)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def search(self, query: str, filters: Filters, today: date,
                     limit: int = 10) -> list[Hit]:
        async with self.engine.connect() as conn:
            return await search(conn, query, filters, today, limit)

    async def words_of(self, article_id: str) -> set[str]:
        async with self.engine.connect() as conn:
            return await words_of(conn, article_id)

    async def public_row(self, article_id: str, today: date) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            return await public_row(conn, article_id, today)
