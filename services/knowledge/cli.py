"""`hotline knowledge import FILE…`: load a collection of articles (JSON Lines or CSV).

Each good row goes through `KnowledgeService` as an `Import` (importer.py): an event
on hotline.knowledge like any article, by `editor:cli-<os user>` unless `--by` names
the editor. A row already imported with the same text is left alone; a row whose text
changed becomes the next version. Bad rows are listed with their line and reasons and
nothing of them is applied; the exit status is 1 when there were any. The read model
and search index follow from the log (`hotline run`, or `hotline rebuild knowledge`).
"""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from contracts.topics import KNOWLEDGE
from hotline.cli_kit import console, run_async
from hotline.runtime import Platform
from reference.bundle import reference_of
from services.knowledge.app import search_of
from services.knowledge.domain import Import, Refused
from services.knowledge.importer import Row, read_rows, same_text
from services.knowledge.service import KnowledgeService, imported_id

knowledge = typer.Typer(help="the knowledge base: import a collection of articles",
                        no_args_is_help=True)


def _editor(by: str) -> str:
    if not by:
        try:
            by = "cli-" + getpass.getuser()
        except (KeyError, OSError):
            by = "cli"
    return "editor:" + re.sub(r"[^A-Za-z0-9._@-]", "-", by)


@knowledge.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help=".jsonl or .csv files", exists=True,
                                                dir_okay=False, readable=True)],
    by: Annotated[str, typer.Option("--by", help="the editor importing (default cli-<user>)")] = "",
) -> None:
    """Import articles, idempotent on each row's source_id; bad rows reported, not applied."""
    actor = _editor(by)

    async def go(platform: Platform) -> tuple[int, int, int]:
        ref = reference_of(platform).data
        await platform.log.claim(KNOWLEDGE)  # on Kafka: while the knowledge service is stopped
        rows = [row for path in files for row in read_rows(path, ref)]
        service = KnowledgeService(platform, search_of(platform)[0])
        bad = [row for row in rows if row.write is None]
        for row in bad:
            console.print(f"[red]✗ line {row.line}[/red]: " + "; ".join(row.errors))
        added = unchanged = 0
        with Progress(TextColumn("import"), BarColumn(), MofNCompleteColumn(),
                      console=console) as progress:
            task = progress.add_task("import", total=len(rows) - len(bad))
            for row in rows:
                if row.write is not None:
                    if await _one(service, row, actor):
                        added += 1
                    else:
                        unchanged += 1
                    progress.advance(task)
        return added, unchanged, len(bad)

    added, unchanged, bad = run_async(go)
    console.print(f"{added} imported, {unchanged} unchanged, {bad} bad row(s)")
    if bad:
        raise typer.Exit(1)


async def _one(service: KnowledgeService, row: Row, actor: str) -> bool:
    """Import one good row; False when the article already says it."""
    assert row.write is not None and row.write.source_id is not None
    article_id = imported_id(row.write.source_id)
    article = await service.load(article_id)
    if article.published is not None and same_text(
            row.write, article.published.model_dump(mode="json")):
        return False
    try:
        await service.act(article_id, Import(row.write), actor, datetime.now(UTC))
    except Refused as exc:  # retired, or a new version under review: left as it is
        console.print(f"[yellow]! line {row.line}[/yellow]: {exc.zh} ({exc.rule})")
        return False
    return True
