"""`hotline knowledge import`: a collection in, each row an article on hotline.knowledge
(idempotent on its source id), bad rows listed and not applied; `hotline rebuild
knowledge` then builds the read model and the search index from the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from contracts.topics import KNOWLEDGE
from hotline.cli_kit import platform_from_env
from services.knowledge.service import imported_id, stream_of
from tests.cli import hotline
from tests.knowledge.corpus import SAMPLE

CSV = """source_id,title,body,kind,category,audience,keywords,owning_unit,effective_from
CSV-1,新生儿入户办理指南,新生儿出生后一个月内凭出生医学证明到派出所办理入户。,service_guide,public-security-household-registration/hukou,public,新生儿入户、出生登记,city-police,2026-01-01
CSV-2,坏行,缺少类别,faq,no-such-category,public,,city-police,2026-01-01
CSV-3,坏单位,单位不存在,faq,public-security-household-registration/hukou,public,,no-such-unit,2026-01-01
"""


def stream_types(article_id: str) -> list[str]:
    async def read() -> list[str]:
        async with platform_from_env() as platform:
            stored = await platform.store.load(KNOWLEDGE, stream_of(article_id))
            return [s.envelope.event_name for s in stored]

    return asyncio.run(read())


def test_import_twice_changes_nothing_the_second_time(data_dir: Path) -> None:
    sample = SAMPLE / "people-services.jsonl"
    code, out = hotline("knowledge", "import", str(sample), "--by", "li.na")
    assert code == 0, out
    assert "130 imported, 0 unchanged, 0 bad row(s)" in out
    assert stream_types(imported_id("KB-P-001")) == [
        "ArticleDrafted", "ArticleSubmitted", "ArticleApproved", "ArticlePublished"]
    code, out = hotline("knowledge", "import", str(sample))
    assert code == 0 and "0 imported, 130 unchanged" in out, out
    code, out = hotline("rebuild", "knowledge")
    assert code == 0, out
    assert "knowledge-articles: 520 events applied" in out  # four per article
    assert "knowledge-index: 130 events applied" in out  # its publications


def test_bad_rows_are_reported_and_the_good_ones_applied(data_dir: Path) -> None:
    path = data_dir / "articles.csv"
    path.write_text(CSV, "utf-8")
    code, out = hotline("knowledge", "import", str(path))
    assert code == 1
    assert "line 3" in out and "no-such-category" in out
    assert "line 4" in out and "no-such-unit" in out
    assert "1 imported, 0 unchanged, 2 bad row(s)" in out
    assert stream_types(imported_id("CSV-1"))[-1] == "ArticlePublished"
    assert stream_types(imported_id("CSV-2")) == []
