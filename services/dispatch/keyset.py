"""Keyset paging of the ticket lists: the sort orders, the cursor a page hands out and the
condition that starts the next page after it.

A cursor is the last row's sort value and ticket id (base64 JSON): page 500 costs what
page 1 costs, and a ticket registered meanwhile does not shift the pages. It comes back
from the client, so it is checked for shape before anything is done with it.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, literal, tuple_

from services.dispatch.projections import tickets

t = tickets.c


class BadCursor(ValueError):
    """A cursor that was not made by this module for this sort."""


class Sort(StrEnum):
    """Orders a list can take; each pages by keyset on (sort value, ticket id)."""

    REGISTERED_DESC = "registered_desc"
    REGISTERED_ASC = "registered_asc"
    DUE_ASC = "due_asc"  # tickets without a reply deadline last
    UPDATED_DESC = "updated_desc"


def bound(value: datetime) -> datetime:
    """A time to compare with stored ones: in UTC, since SQLite compares the text."""
    if value.tzinfo is None:
        raise ValueError("times passed to queries must carry a timezone")
    return value.astimezone(UTC)


def encode_cursor(sort: Sort, value: datetime | None, ticket_id: str) -> str:
    raw = json.dumps([sort.value, value.isoformat() if value else None, ticket_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


MAX_CURSOR = 400  # characters: what encode_cursor gives out is about 150


def decode_cursor(cursor: str, sort: Sort) -> tuple[datetime | None, str]:
    """The (sort value, ticket id) a cursor holds; BadCursor for anything encode_cursor did
    not make: the cursor comes from the client, so every part of it is checked for shape
    (a JSON nested a thousand deep, a number or null where a string belongs, a time that
    cannot be placed in UTC) before anything is done with it."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursor("the cursor is not one this list gave out")
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise BadCursor("the cursor is not one this list gave out") from exc
    if not (isinstance(parts, list) and len(parts) == 3
            and all(p is None or isinstance(p, str) for p in parts)):
        raise BadCursor("the cursor is not one this list gave out")
    name, value, ticket_id = parts
    if name != sort.value or ticket_id is None:
        raise BadCursor("the cursor belongs to another sort order")
    try:
        when = bound(datetime.fromisoformat(value)) if value is not None else None
    except (ValueError, OverflowError) as exc:  # no offset, or beyond UTC's datetime range
        raise BadCursor("the cursor's sort value is not a time") from exc
    if when is None and sort is not Sort.DUE_ASC:
        raise BadCursor("the cursor has no sort value")
    return when, ticket_id


SORT_COLUMN = {Sort.REGISTERED_DESC: t.registered_at, Sort.REGISTERED_ASC: t.registered_at,
                Sort.UPDATED_DESC: t.updated_at, Sort.DUE_ASC: t.reply_due_at}


def after_cursor(sort: Sort, value: datetime, ticket_id: str) -> list[ColumnElement[bool]]:
    """Rows after (value, ticket_id) in the sort order. The plain bound on the sort column
    beside the row comparison lets either planner start the index range at the cursor."""
    column = SORT_COLUMN[sort]
    key = tuple_(column, t.ticket_id)
    at = tuple_(literal(bound(value), column.type), literal(ticket_id))
    if sort in (Sort.REGISTERED_DESC, Sort.UPDATED_DESC):
        return [column <= bound(value), key < at]
    return [column >= bound(value), key > at]


def order_by(sort: Sort) -> list[tuple[str, bool]]:
    desc = sort in (Sort.REGISTERED_DESC, Sort.UPDATED_DESC)
    return [(SORT_COLUMN[sort].name, desc), ("ticket_id", desc)]
