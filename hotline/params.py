"""Typed request values every service's routes share, bounded where they enter.

A value a route cannot use must be a 422 problem at the edge, never a 500 from deep
inside: an integer SQLite cannot bind (above 2^63 - 1), a time whose conversion to UTC
overflows (year 1 at +14:00, year 9999 at -12:00), an id of a megabyte, a page cursor
nested a thousand levels deep. Each type here is what FastAPI validates and what the
OpenAPI document says, so a client reads the bounds instead of finding them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel

MAX_OFFSET = 2**63 - 1  # a log offset is a signed 64-bit integer on Kafka and SQLite alike
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # before the platform, and before any hotline
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # far past any deadline, still converts anywhere
ID_PATTERN = r"^[!-~]{1,200}$"  # printable ASCII, no spaces: every id the platform makes
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"  # unpadded base64url, as the lists give it out
CODE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # unit ids, district and category codes, unit kinds


def in_platform_years(value: datetime) -> datetime:
    """`value` when it lies in 2000..2099 (UTC); a time outside is a typo or a probe."""
    if not EARLIEST <= value < LATEST:
        raise ValueError("must lie between 2000-01-01 and 2099-12-31 (UTC)")
    return value


_NESTED = (datetime, BaseModel, dict, list, tuple)  # what may hold a time


def times_outside(value: object, where: str = "") -> list[str]:
    """The dotted paths of the times in `value` (a model, dict or list, nested) that lie
    outside 2000..2099: for a body whose model declares plain datetimes."""
    if isinstance(value, datetime):
        return [] if EARLIEST <= value < LATEST else [where or "(body)"]
    items: Iterable[tuple[object, object]]
    if isinstance(value, BaseModel):
        items = ((name, getattr(value, name)) for name in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return []
    return [path for key, item in items if isinstance(item, _NESTED)  # not per string leaf
            for path in times_outside(item, f"{where}.{key}" if where else str(key))]


Instant = Annotated[AwareDatetime, AfterValidator(in_platform_years)]
"""A moment with its UTC offset, in the years the platform can place (bodies and queries)."""

InstantQuery = Annotated[Instant | None, Query(
    description="ISO 8601 with a UTC offset, between 2000 and 2099")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Next offset to read")]
Cursor = Annotated[str | None, Query(
    pattern=CURSOR_PATTERN, description="The next_cursor of the previous page, same sort")]
CodeQuery = Annotated[str | None, Query(
    pattern=CODE_PATTERN, description="A code of the directory: unit id, district, category")]
PathId = Annotated[str, Path(pattern=ID_PATTERN, description="An id the platform gave out")]
