"""Knowledge search at 130,000 articles: search, recommendation, index build and `rebuild
knowledge`, each beside the bare SQLite it runs on (the knowledge issue's "done means").

Search, ours: `services.knowledge.fts.search` (public and internal articles, limit 10) on
a connection of the index's own sqlite+aiosqlite engine, checked out per query as
`KnowledgeService.search` does: the query cut into words with their synonyms, the match
expression, the audience and validity filters, the join with kb_search, highlight and
snippet, the Hit objects. Raw: the DB-API module of the same SQLite build (the one the
pysqlite3 wheel bundles, hotline/bundled_sqlite.py; the note names it) on the same file
running the same MATCH expression (built before the clock starts) with bm25 and LIMIT:
the engine alone.
Recommendation: the same, given a caller's whole contact text (40–120 characters) and
its category, limit 5. A few hundred fixed queries, each once per side per repetition,
the sides alternating query by query; queries/s is one caller's rate (queries over the
time spent in them), best repetition.

Quality (bench/knowledge_quality.py): the judged queries' MRR on the same index, so a plan
that buys speed with answers shows beside the speed it bought.

Index build, ours: `KnowledgeIndex.apply` of `ArticlePublished` events, 500 per
transaction, into a fresh file (what a rebuild does per batch: segmentation included).
Raw: that module's executemany of the same rows, segmented before the clock starts, into the
same two tables. That index is the one searched.

Rebuild: the articles imported into an embedded log (the four events an import writes
each, 64 appends at a time), then `hotline.runner.rebuild` of `Articles` and of
`KnowledgeIndex` (each its own SQLite file), timed whole; raw: sqlite3 SELECT of the
topic's records, 500 at a time (bench/replay.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Result, Timer, best_of, percentile, rate, say, temp_dir
from bench.knowledge_corpus import TODAY, articles, contacts, published_of, queries, write_of
from bench.knowledge_quality import quality
from bench.replay import raw_sqlite
from contracts.knowledge_events import ArticlePublished
from contracts.topics import CATALOGUE, KNOWLEDGE
from hotline import bundled_sqlite
from hotline.database import open_database
from hotline.eventstore import Context, EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.projection import Applied, Projection
from hotline.runner import rebuild
from hotline.runtime import tune_gc
from services.knowledge import fts, fts_plan
from services.knowledge.domain import Article, Import, ReviewPolicy, decide
from services.knowledge.fts import KnowledgeIndex
from services.knowledge.fts_tables import FTS, SEARCH
from services.knowledge.projections import Articles
from services.knowledge.search import Filters
from services.knowledge.service import SOURCE, imported_id, stream_of

SEARCH_N = 130_000
REBUILD_N = 130_000
BATCH = 500  # events per transaction of the index build
REPS = 3
WARM_UP = 20  # asks our side runs before the clock starts
FILL_CONCURRENCY = 64
BOTH = ("public", "internal")
ACTOR = "editor:bench"
SQLITE = bundled_sqlite.dbapi()  # both sides on the SQLite the index runs on
BUILD = f"{SQLITE.__name__} (SQLite {SQLITE.sqlite_version})"
RAW_SQL = f"SELECT rowid, {fts.SCORE} AS s FROM {FTS} WHERE {FTS} MATCH ? ORDER BY s LIMIT ?"
RAW_SEARCH = (f"INSERT INTO {SEARCH} (rowid, article_id, version, title, kind, level1, level2, "
              "audience, owning_unit, effective_from, expires_at, source_ref) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
RAW_FTS = f"INSERT INTO {FTS} (rowid, title, terms, body, facets) VALUES (?, ?, ?, ?, ?)"

Ask = tuple[str, Filters, str]  # what ours is given, and the match expression raw is given
RawRows = list[tuple[tuple[Any, ...], tuple[Any, ...]]]


# -- the index build ------------------------------------------------------------------------


async def build_ours(path: Path, events: Sequence[ArticlePublished]) -> float:
    """Seconds to index `events` through the projection, 500 per transaction."""
    engine = fts.open_index(f"sqlite+aiosqlite:///{path}")
    projection = KnowledgeIndex(engine)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(projection.metadata.create_all)
        with Timer() as t:
            for i in range(0, len(events), BATCH):
                batch = cast(list[Applied], [(None, e) for e in events[i:i + BATCH]])
                async with engine.begin() as conn:
                    await projection.apply(conn, batch)
    finally:
        await engine.dispose()
    return t.seconds


def segmented(events: Sequence[ArticlePublished]) -> RawRows:
    """The rows the projection writes, cut into words in advance (the raw side's input)."""
    rows: RawRows = []
    for n, a in enumerate(events, start=1):
        iso = [d.isoformat() if d else None for d in (a.effective_from, a.expires_at)]
        rows.append(((n, a.article_id, a.version, a.title, a.kind.value if a.kind else None,
                      a.category.level1, a.category.level2, a.audience.value, a.owning_unit,
                      *iso, a.source_ref),
                     tuple(fts.words_row(n, a).values())))
    return rows


def build_raw(path: Path, rows: RawRows) -> float:
    """Seconds to insert the segmented rows with the bare DB-API, 500 per transaction."""
    sync = create_engine(f"sqlite:///{path}")
    fts.metadata.create_all(sync)  # the same DDL (kb_fts by the listener)
    sync.dispose()
    conn = SQLITE.connect(path)
    try:
        with Timer() as t:
            for i in range(0, len(rows), BATCH):
                chunk = rows[i:i + BATCH]
                with conn:
                    conn.executemany(RAW_SEARCH, [s for s, _ in chunk])
                    conn.executemany(RAW_FTS, [f for _, f in chunk])
    finally:
        conn.close()
    return t.seconds


# -- searching ------------------------------------------------------------------------------


async def ours_query(engine: AsyncEngine, query: str, filters: Filters, limit: int) -> int:
    async with engine.connect() as conn:  # as KnowledgeService.search does
        return len(await fts.search(conn, query, filters, TODAY, limit))


def raw_query(conn: Any, expression: str, limit: int) -> int:
    return len(conn.execute(RAW_SQL, (expression, limit)).fetchall())


async def compare(engine: AsyncEngine, conn: Any, asks: Sequence[Ask],
                  limit: int) -> tuple[list[float], list[float], list[float], list[float], int]:
    """(ours ms, raw ms, ours rates, raw rates, queries ours found nothing for): every ask
    once per side per repetition, which side goes first alternating, after a warm-up (the
    file's pages read by a raw pass, our statement cache by a few asks)."""
    for n, (query, filters, expression) in enumerate(asks):
        raw_query(conn, expression, limit)
        if n < WARM_UP:
            await ours_query(engine, query, filters, limit)
    empty = 0
    mine: list[float] = []
    theirs: list[float] = []
    mine_rates, their_rates = [], []
    for rep in range(REPS):
        rep_mine: list[float] = []
        rep_theirs: list[float] = []
        for i, (query, filters, expression) in enumerate(asks):
            for ours_side in ((True, False) if (i + rep) % 2 == 0 else (False, True)):
                start = time.perf_counter()
                if ours_side:
                    found = await ours_query(engine, query, filters, limit)
                    empty += rep == 0 and found == 0
                else:
                    raw_query(conn, expression, limit)
                (rep_mine if ours_side else rep_theirs).append(
                    (time.perf_counter() - start) * 1000)
        mine += rep_mine
        theirs += rep_theirs
        mine_rates.append(rate(len(asks), sum(rep_mine) / 1000))
        their_rates.append(rate(len(asks), sum(rep_theirs) / 1000))
        say(f"    rep {rep + 1}: ours p95 {percentile(rep_mine, 95):.1f} ms, "
            f"{mine_rates[-1]:,.0f}/s; raw p95 {percentile(rep_theirs, 95):.1f} ms, "
            f"{their_rates[-1]:,.0f}/s")
    return mine, theirs, mine_rates, their_rates, empty


async def asked(engine: AsyncEngine, pairs: Sequence[tuple[str, Filters]]) -> list[Ask]:
    """The asks with the MATCH our search plans for each (the raw side runs the same one;
    queries with nothing searchable dropped)."""
    found = []
    async with engine.connect() as conn:
        for query, filters in pairs:
            for expression in await fts_plan.expressions(conn, query, filters):
                found.append((query, filters, expression))
    return found


def results_of(what: str, limit: int, asks: Sequence[Ask],
               measured: tuple[list[float], list[float], list[float], list[float], int],
               target_ms: float) -> list[Result]:
    mine, theirs, mine_rates, their_rates, empty = measured
    terms = sum(e.count(" OR ") + 1 for _, _, e in asks) / len(asks)
    return [
        Result(f"knowledge {what} p95, {SEARCH_N:,} articles", percentile(mine, 95),
               percentile(theirs, 95), "ms", max_ours=target_ms,
               note=f"{len(asks)} queries x {REPS}, limit {limit}, {terms:.1f} MATCH terms on "
                    f"average, {empty} found nothing; p50 ours {percentile(mine, 50):.1f} ms, "
                    f"raw {percentile(theirs, 50):.1f} ms; raw: {BUILD} MATCH + bm25 LIMIT"),
        Result(f"knowledge {what} throughput, one caller", best_of(mine_rates),
               best_of(their_rates), "queries/s", 0.5,
               note="queries / time spent in them, best repetition"),
    ]


async def search_part(tmp: Path, rows: list[dict[str, Any]]) -> list[Result]:
    events = [published_of(r) for r in rows]
    with Timer() as t:
        prepared = segmented(events)
    say(f"  raw side's rows segmented in {t.seconds:.0f} s (not timed)")
    raw_s = build_raw(tmp / "raw-index.db", prepared)
    del prepared
    (tmp / "raw-index.db").unlink()
    say(f"  raw build: {len(events):,} rows in {raw_s:.1f} s ({rate(len(events), raw_s):,.0f}/s)")
    ours_s = await build_ours(tmp / "index.db", events)
    say(f"  ours build: {len(events):,} events in {ours_s:.1f} s "
        f"({rate(len(events), ours_s):,.0f}/s)")
    del events
    results = [Result(f"knowledge index build, {SEARCH_N:,} articles", rate(SEARCH_N, ours_s),
                      rate(SEARCH_N, raw_s), "events/s",
                      note=f"ours {ours_s:.0f} s: KnowledgeIndex.apply, 500 per transaction, "
                           f"segmentation included; raw {raw_s:.0f} s: {BUILD} executemany of "
                           "the rows segmented beforehand")]
    engine = fts.open_index(f"sqlite+aiosqlite:///{tmp / 'index.db'}")
    conn = SQLITE.connect(tmp / "index.db")  # the build ours runs on (hotline/bundled_sqlite.py)
    try:
        searches = await asked(engine, [(q, Filters(audiences=BOTH)) for q in queries()])
        say(f"  search: {len(searches)} queries")
        results += results_of("search", 10, searches,
                              await compare(engine, conn, searches, 10), 10)
        recommended = await asked(engine, [(text, Filters(audiences=BOTH, level1=level1))
                                           for level1, text in contacts()])
        say(f"  recommendation: {len(recommended)} contact texts")
        results += results_of("recommendation", 5, recommended,
                              await compare(engine, conn, recommended, 5), 10)
        results += await quality(engine, SEARCH_N)
    finally:
        conn.close()
        await engine.dispose()
    return results


# -- rebuild knowledge ----------------------------------------------------------------------


async def fill(log: EmbeddedEventLog, rows: Sequence[dict[str, Any]]) -> None:
    """Each row imported: its four events appended to a new stream, 64 streams at a time."""
    await log.create_topics([CATALOGUE[KNOWLEDGE].spec])
    store, policy = EventStore(log), ReviewPolicy()
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

    async def one(row: dict[str, Any]) -> None:
        article_id = imported_id(row["source_id"])
        events = decide(Article(article_id), Import(write_of(row)), ACTOR, now, policy)
        await store.append(stream_of(article_id), events, expected_version=0,
                           context=Context.new(ACTOR, SOURCE), now=now)

    for i in range(0, len(rows), FILL_CONCURRENCY):
        await asyncio.gather(*(one(r) for r in rows[i:i + FILL_CONCURRENCY]))


async def timed_rebuild(log: EmbeddedEventLog, path: Path, index: bool, total: int) -> float:
    url = f"sqlite+aiosqlite:///{path}"
    engine = fts.open_index(url) if index else open_database(url)
    projection: Projection = KnowledgeIndex(engine) if index else Articles()
    try:
        with Timer() as t:
            stats = await rebuild(log, engine, projection)
    finally:
        await engine.dispose()
    read = sum(stats.positions.values())
    if read != total:
        raise AssertionError(f"{projection.name}: read {read} of {total} records")
    say(f"  rebuild {projection.name}: {stats.applied:,} applied of {read:,} records in "
        f"{t.seconds:.1f} s")
    return t.seconds


async def rebuild_part(tmp: Path, rows: Sequence[dict[str, Any]]) -> list[Result]:
    log = EmbeddedEventLog(str(tmp / "log.db"))
    await log.start()
    try:
        with Timer() as t:
            await fill(log, rows)
        total = 4 * len(rows)
        say(f"  log: {len(rows):,} articles imported ({total:,} events) in {t.seconds:.0f} s")
        raw = raw_sqlite(log.path, KNOWLEDGE, total)
        raw_s = raw.end - raw.start
        found = []
        for index, name in ((False, "knowledge-articles"), (True, "knowledge-index")):
            seconds = await timed_rebuild(log, tmp / f"{name}.db", index, total)
            found.append((name, seconds))
    finally:
        await log.close()
    scope = f"{len(rows):,} articles, {total:,} events"
    results = []
    for name, seconds in found:
        results.append(Result(f"rebuild {name}, {len(rows):,} articles", seconds, None, "s",
                              note=f"{scope}; raw sqlite3 SELECT of the topic {raw_s:.1f} s"))
        results.append(Result(f"rebuild {name}, events/s", rate(total, seconds),
                              rate(total, raw_s), "events/s",
                              note="hotline.runner.rebuild; raw: sqlite3 SELECT "
                                   "fetchmany(500) of the same records"))
    return results


async def run(parts: Sequence[str] = ("search", "rebuild"), rebuilt: int = REBUILD_N
              ) -> list[Result]:
    with Timer() as t:
        rows = list(articles(SEARCH_N if "search" in parts else rebuilt))
    say(f"  {len(rows):,} articles generated in {t.seconds:.1f} s")
    results = []
    with temp_dir("knowledge") as tmp:
        if "search" in parts:
            results += await search_part(tmp, rows)
        if "rebuild" in parts:
            results += await rebuild_part(tmp, rows[:rebuilt])
    return results


if __name__ == "__main__":
    import argparse

    from bench.__main__ import table

    parser = argparse.ArgumentParser(description="knowledge search, index build and rebuild "
                                     "(the whole run takes about half an hour)")
    parser.add_argument("parts", nargs="*", choices=["search", "rebuild"],
                        default=["search", "rebuild"])
    parser.add_argument("--articles", type=int, default=REBUILD_N,
                        help="articles imported for the rebuild part")
    args = parser.parse_args()
    tune_gc()  # as `python -m bench` does before each benchmark
    found = asyncio.run(run(args.parts, args.articles))
    print(table([("knowledge", r) for r in found]))
