"""Importing a collection of articles (JSON Lines or CSV), idempotent on each row's source id.

A row is the API's `ArticleIn` (title, body, kind, category, audience, keywords,
synonyms, owning unit, validity, source reference, source id); in CSV, `category`
is `level1/level2` and `keywords`/`synonyms` are separated by `|` or `、`. Every
row is checked whole before anything is written: a bad row is reported with its
line number and reasons, and nothing of it is applied; the good rows go on.

What is imported was reviewed where it came from (its `source_ref` names the
document), so an import records the whole review in one append — drafted,
submitted, approved, published — by the importing editor (`Import` in domain.py).
The article id is derived from the source id, so importing the same file twice
changes nothing, and a row whose text changed becomes the article's next version.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reference.directory import ReferenceData, UnknownCategory, UnknownUnit
from services.knowledge.article_in import ArticleIn, checked_write
from services.knowledge.domain import Write

LIST_SEPARATORS = ("|", "、")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a file: where it was, and the article it says or why it cannot be one."""

    line: int
    write: Write | None
    errors: tuple[str, ...] = ()


def read_rows(path: Path, ref: ReferenceData) -> Iterator[Row]:
    """Each row of a .jsonl or .csv file, checked."""
    text = path.read_text("utf-8-sig")
    raws = _csv(text) if path.suffix.lower() == ".csv" else _jsonl(text)
    for line, raw in raws:
        yield _row(line, raw, ref)


def _jsonl(text: str) -> Iterator[tuple[int, Any]]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, exc


def _csv(text: str) -> Iterator[tuple[int, Any]]:
    for n, record in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        row: dict[str, Any] = {k: v for k, v in record.items() if k and v not in (None, "")}
        if "category" in row:
            level1, _, level2 = str(row["category"]).partition("/")
            row["category"] = {"level1": level1, "level2": level2 or None}
        for key in ("keywords", "synonyms"):
            if key in row:
                value = str(row[key])
                for sep in LIST_SEPARATORS[1:]:
                    value = value.replace(sep, LIST_SEPARATORS[0])
                row[key] = [t.strip() for t in value.split(LIST_SEPARATORS[0]) if t.strip()]
        yield n, row


def _row(line: int, raw: Any, ref: ReferenceData) -> Row:
    if isinstance(raw, Exception):
        return Row(line, None, (f"not JSON: {raw}",))
    if not isinstance(raw, dict) or not raw.get("source_id"):
        return Row(line, None, ("a row must be an object with a source_id",))
    try:
        body = ArticleIn.model_validate(raw)
        return Row(line, checked_write(body, body.owning_unit, ref))
    except ValidationError as exc:
        return Row(line, None, tuple(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()))
    except (UnknownCategory, UnknownUnit, ValueError) as exc:
        return Row(line, None, (str(exc),))


def same_text(write: Write, current: dict[str, Any] | None) -> bool:
    """Whether an article's latest version already says what the row says."""
    if current is None:
        return False
    wanted = {"title": write.title, "body": write.body,
              "category": write.category.model_dump(mode="json"),
              **write.details.model_dump(mode="json")}
    return all(current.get(key) == value for key, value in wanted.items())
