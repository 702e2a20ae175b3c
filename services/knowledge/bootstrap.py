"""知识库 knowledge's composition root: what `hotline run` and `hotline serve knowledge` start.

Registered as the entry point `hotline.services:knowledge` (pyproject.toml). Its read
model (articles, versions, offers, use) lives in the platform's database; its search
index in a SQLite file of its own (FTS5, the runner pointed at it by the projection's
`engine`) or, with HOTLINE_ELASTICSEARCH_URL, in Elasticsearch. It writes
hotline.knowledge: one replica on Kubernetes, like people.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.topics import KNOWLEDGE
from hotline.projection import Projection
from hotline.runtime import Platform, ServiceSpec
from services.knowledge.app import create_app, search_of
from services.knowledge.projections import Articles
from services.knowledge.usage import KnowledgeUse


def _knowledge_example(base: str, keys: dict[str, str]) -> str:
    return (f"curl -sS '{base}/v1/public/knowledge/search?q=公积金提取'\n"
            f"curl -sS '{base}/v1/knowledge/articles?stage=submitted' -H 'Authorization: Bearer "
            f"{keys['supervisor']}'")


def projections(platform: Platform) -> Sequence[Projection]:
    return [Articles(), KnowledgeUse(), search_of(platform)[1]]


def _writes(platform: Platform) -> Sequence[str]:
    return (KNOWLEDGE,)


SERVICE = ServiceSpec(
    name="knowledge", title="知识库 knowledge", order=5, port=lambda s: s.knowledge_port,
    create_app=create_app, projections=projections, writes=_writes,
    example=_knowledge_example)
