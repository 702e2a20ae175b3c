"""The knowledge service's app: the workflow and reading APIs, the public self-service,
and the scheduled publisher (started with the app unless told otherwise: tests tick)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from elasticsearch import AsyncElasticsearch
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import KNOWLEDGE
from hotline.apikeys import ApiKeys
from hotline.projection import Projection
from hotline.readiness import Readiness, install_readiness
from hotline.runtime import Platform, app_readiness, lifespan_with, utc_now
from hotline.web import install_basics
from reference.bundle import reference_of
from services.knowledge import api, api_offers, api_read, public
from services.knowledge.domain import ReviewPolicy
from services.knowledge.es import EsIndexer, EsSearch, index_of
from services.knowledge.fts import FtsSearch, KnowledgeIndex, open_index
from services.knowledge.publisher import Publisher
from services.knowledge.search import SearchIndex
from services.knowledge.service import KnowledgeService

BODY_LIMIT = 64 * 1024  # an article's Markdown (20,000 characters) and its details


class IndexStore:
    """The search index's own database (SQLite FTS5), one per process, closed with it."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = open_index(url)

    async def close(self) -> None:
        await self.engine.dispose()


class EsStore:
    """The Elasticsearch client, one per process, closed with it."""

    def __init__(self, url: str) -> None:
        self.client = AsyncElasticsearch(url)

    async def close(self) -> None:
        await self.client.close()


def index_engine(platform: Platform) -> AsyncEngine:
    """The FTS5 index's engine: HOTLINE_KNOWLEDGE_INDEX, else a file in the data directory."""
    settings = platform.settings
    url = settings.knowledge_index or (
        f"sqlite+aiosqlite:///{settings.data_dir / 'knowledge-index.db'}")
    return platform.shared("knowledge-index", lambda: IndexStore(url)).engine


def search_of(platform: Platform) -> tuple[SearchIndex, Projection]:
    """The search index and the projection that feeds it: Elasticsearch when
    HOTLINE_ELASTICSEARCH_URL is set, else FTS5 in a SQLite file of its own."""
    settings = platform.settings
    if settings.elasticsearch_url:
        url, name = settings.elasticsearch_url, index_of(settings.elasticsearch_index)
        client = platform.shared("knowledge-es", lambda: EsStore(url)).client
        return EsSearch(client, name), EsIndexer(client, name)
    engine = index_engine(platform)
    return FtsSearch(engine), KnowledgeIndex(engine)


def create_app(
    platform: Platform,
    api_keys: ApiKeys,
    *,
    clock: Callable[[], datetime] = utc_now,
    manage_platform: bool = True,
    readiness: Readiness | None = None,
    run_publisher: bool = True,
) -> FastAPI:
    """The knowledge app; it starts and closes `platform` itself unless told it is shared."""
    policy = ReviewPolicy(second_reviewer=platform.settings.knowledge_second_reviewer)
    service = KnowledgeService(platform, search_of(platform)[0], policy)
    publisher = Publisher(service, clock)
    ready = app_readiness(platform, (KNOWLEDGE,), manage_platform, readiness)
    lifespan = lifespan_with(platform, manage_platform, ready, publisher if run_publisher else None)

    app = FastAPI(title="12345 热线 · 知识库 (knowledge)", version="1", lifespan=lifespan)
    app.state.platform, app.state.api_keys, app.state.clock = platform, api_keys, clock
    app.state.service, app.state.publisher = service, publisher
    app.state.reference = reference_of(platform).data
    app.state.throttle = public.Throttle()
    for module in (api, api_read, api_offers, public):
        app.include_router(module.router)
    install_basics(app, BODY_LIMIT)
    install_readiness(app, ready)
    return app
