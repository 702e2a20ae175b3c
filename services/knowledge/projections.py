"""The knowledge base's read model: articles and every version's text, on SQLite or PostgreSQL.

`kb_articles`: one row per article — its review stage, the version under work, the
live published version, the owning unit, dates the reminders need (review by,
submitted at) — what the review queue, the lists and the maintenance figures read.
`kb_versions`: one row per (article, version) with its whole text as last drafted,
and when it was published: what an old ticket's citation opens. `kb_offers`: the
self-service offers on chat channels and whether they solved the citizen's question.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from contracts.knowledge_events import (
    AnswerOffered,
    ArticleApproved,
    ArticleDrafted,
    ArticlePublished,
    ArticleRetired,
    ArticleReturned,
    ArticleSubmitted,
    OfferAnswered,
)
from contracts.topics import KNOWLEDGE
from hotline.board import write_rows
from hotline.builds import projection_metadata
from hotline.projection import READ_CHUNK, Applied, rows_by_id, utc_column

K = TypeVar("K")
VERSION = 2  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
articles = Table(
    f"kb_articles_v{VERSION}", metadata,
    Column("article_id", String(128), primary_key=True),
    Column("stream_version", Integer, nullable=False),  # for read-your-writes
    Column("title", String(200), nullable=False),  # of the version under work, else the live one
    Column("stage", String(16)),  # draft, submitted, returned, approved; None: nothing under work
    Column("draft_version", Integer),
    Column("published_version", Integer),
    Column("retired", Boolean, nullable=False, default=False),
    Column("kind", String(32)),
    Column("level1", String(128), nullable=False),
    Column("level2", String(128)),
    Column("audience", String(16), nullable=False),
    Column("owning_unit", String(64)),
    Column("review_by", String(10)),
    Column("drafted_by", String(200)),
    utc_column("drafted_at"),
    Column("submitted_by", String(200)),
    utc_column("submitted_at"),
    Column("returned_reason", Text),
    utc_column("publish_at"),
    utc_column("published_at"),
    Column("source_id", String(128)),
    Column("from_ticket", String(128)),
    Index("ix_kb_articles_owning_unit", "owning_unit"),
    Index("ix_kb_articles_source_id", "source_id"),
)
versions = Table(
    f"kb_versions_v{VERSION}", metadata,
    Column("article_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("details", Text, nullable=False),  # JSON: kind, category, audience, validity …
    utc_column("drafted_at", nullable=False),
    utc_column("published_at"),
    utc_column("submitted_at"),  # first submission of this version
)
offers = Table(  # self-service on chat channels: what was offered, and did it solve it
    f"kb_offers_v{VERSION}", metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("article_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("confidence", Float, nullable=False),
    utc_column("offered_at", nullable=False),
    Column("solved", Boolean),  # None: not answered (yet)
)


@dataclass
class Rows(Generic[K]):
    """One table's rows while a batch is folded: those stored (loaded once), those the batch
    adds, and which of the stored ones it changed; written at the end in one go each."""

    stored: dict[K, dict[str, Any]]
    new: dict[K, dict[str, Any]] = field(default_factory=dict)
    changed: set[K] = field(default_factory=set)

    def get(self, key: K) -> dict[str, Any] | None:
        return self.new[key] if key in self.new else self.stored.get(key)

    def set(self, key: K, values: dict[str, Any]) -> None:
        """Change a row (stored or new); a row neither stored nor new is created."""
        if key in self.new:
            self.new[key].update(values)
        elif key in self.stored:
            self.stored[key].update(values)
            self.changed.add(key)
        else:
            self.new[key] = values

    def changed_rows(self) -> list[dict[str, Any]]:
        return [self.stored[k] for k in self.changed]


class Articles:
    """kb_articles, kb_versions and kb_offers, from hotline.knowledge: a batch's rows are
    read in a few `IN (...)` queries, its events folded onto them in memory and the rows
    written with one executemany per table (a per-event round trip made a rebuild of
    130,000 articles take a quarter of an hour)."""

    name: str = "knowledge-articles"
    version: int = VERSION
    topics: Sequence[str] = (KNOWLEDGE,)
    events: frozenset[str] = frozenset({"ArticleDrafted", "ArticleSubmitted", "ArticleReturned",
                        "ArticleApproved", "ArticlePublished", "ArticleRetired",
                        "AnswerOffered", "OfferAnswered"})
    metadata: MetaData = metadata

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        items: list[tuple[Envelope, Any]] = [(env, e) for env, e in batch if e is not None]
        on_articles = [e for _, e in items if not isinstance(e, AnswerOffered | OfferAnswered)]
        a = Rows(await rows_by_id(conn, articles, {e.article_id for e in on_articles},
                                  key="article_id"))
        v = Rows(await _versions(conn, {(e.article_id, e.version) for e in on_articles}))
        o: Rows[str] = Rows(await rows_by_id(conn, offers, {
            e.offer_id for _, e in items if isinstance(e, OfferAnswered)}, key="offer_id"))
        for env, e in items:
            _fold(a, v, o, env, e)
        await write_rows(conn, articles, ARTICLE_COLUMNS, list(a.new.values()),
                         a.changed_rows(), key="article_id")
        await write_rows(conn, versions, VERSION_COLUMNS, list(v.new.values()),
                         v.changed_rows(), key=("article_id", "version"))
        await write_rows(conn, offers, ("solved",), list(o.new.values()), o.changed_rows(),
                         key="offer_id")


ARTICLE_COLUMNS = tuple(c.name for c in articles.c if c.name != "article_id")
VERSION_COLUMNS = tuple(c.name for c in versions.c if c.name not in ("article_id", "version"))


async def _versions(conn: AsyncConnection, wanted: set[tuple[str, int]]
                    ) -> dict[tuple[str, int], dict[str, Any]]:
    """The stored kb_versions rows of these (article, version) pairs."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    keys = sorted(wanted)
    pair = tuple_(versions.c.article_id, versions.c.version)
    for i in range(0, len(keys), READ_CHUNK):
        for row in await conn.execute(select(versions).where(pair.in_(keys[i:i + READ_CHUNK]))):
            found[(row.article_id, row.version)] = dict(row._mapping)
    return found


def _fold(a: Rows[str], v: Rows[tuple[str, int]], o: Rows[str], env: Envelope, e: Any) -> None:
    """One event onto the batch's rows."""
    if isinstance(e, AnswerOffered):
        o.set(e.offer_id, {"offer_id": e.offer_id, "channel": e.channel.value,
                           "article_id": e.article_id, "version": e.version,
                           "confidence": e.confidence, "offered_at": env.time, "solved": None})
        return
    if isinstance(e, OfferAnswered):
        if o.get(e.offer_id) is not None:
            o.set(e.offer_id, {"solved": e.solved})
        return
    if isinstance(e, ArticleDrafted):
        _drafted(a, v, env, e)
        return
    key = (e.article_id, e.version)
    changes: dict[str, Any] = {}
    if isinstance(e, ArticleSubmitted):
        changes = {"stage": "submitted", "submitted_by": env.actor, "submitted_at": env.time,
                   "returned_reason": None}
        if (text := v.get(key)) is not None and text["submitted_at"] is None:
            v.set(key, {"submitted_at": env.time})
    elif isinstance(e, ArticleReturned):
        changes = {"stage": "returned", "returned_reason": e.reason}
    elif isinstance(e, ArticleApproved):
        changes = {"stage": "approved", "publish_at": e.publish_at}
    elif isinstance(e, ArticlePublished):
        changes = {"stage": None, "draft_version": None, "published_version": e.version,
                   "title": e.title, "published_at": env.time, "publish_at": None,
                   "submitted_at": None, "returned_reason": None}
        if v.get(key) is not None:
            v.set(key, {"published_at": env.time})
    elif isinstance(e, ArticleRetired):
        changes = {"retired": True, "stage": None, "draft_version": None}
    if a.get(e.article_id) is not None:
        a.set(e.article_id, {"stream_version": env.streamversion, **changes})


def details_of(e: ArticleDrafted | ArticlePublished) -> dict[str, Any]:
    """What a version says besides title and body, as JSON-ready values."""
    return e.model_dump(mode="json", exclude={"article_id", "version", "title", "body"})


def _drafted(a: Rows[str], v: Rows[tuple[str, int]], env: Envelope, e: ArticleDrafted) -> None:
    row = {"title": e.title, "stage": "draft", "draft_version": e.version,
           "stream_version": env.streamversion,
           "kind": e.kind.value if e.kind else None, "level1": e.category.level1,
           "level2": e.category.level2, "audience": e.audience.value,
           "owning_unit": e.owning_unit, "review_by": e.review_by.isoformat()
           if e.review_by else None, "drafted_by": env.actor, "drafted_at": env.time,
           "returned_reason": None}
    if a.get(e.article_id) is None:
        row = {column: None for column in ARTICLE_COLUMNS} | row | {
            "article_id": e.article_id, "retired": False, "source_id": e.source_id,
            "from_ticket": e.from_ticket}
    a.set(e.article_id, row)
    key = (e.article_id, e.version)
    text = {"title": e.title, "body": e.body, "details": json.dumps(details_of(e),
                                                                      ensure_ascii=False),
            "drafted_at": env.time}
    if v.get(key) is None:
        text |= {"article_id": e.article_id, "version": e.version, "published_at": None,
                 "submitted_at": None}
    v.set(key, text)
