"""Records a read model cannot take: copied to the dead-letter topic, so its runner goes on.

Two kinds. A record that does not decode as an event the projection reads (the runner finds
those while decoding a batch). And a record the database refuses a value of: text it cannot
store (PostgreSQL stores no NUL), a string longer than its column, a number out of range —
SQLSTATE class 22, "data exception". Applying such a batch again fails again, on every
replica, forever: the runner would restart on it every 30 s and its read model would never
move past it. So a batch refused that way is applied again one record at a time; the record
refused goes to the dead letters with the database's reason, its offset is stored past it,
and the rest is applied. Any other failure (a lost connection, a lock, a full disk, a bug
that raises) is the moment's or the code's, not the record's: it still fails the batch, and
the runner is started again (hotline/restarts.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.exc import DataError, DBAPIError

from contracts.topics import DEADLETTER
from hotline.log.port import EventLog, OutgoingRecord, Record

log = logging.getLogger(__name__)

DATA_EXCEPTION = "22"  # the SQLSTATE class of a value the database cannot take


def dead_letter(record: Record, reason: str, consumer: str) -> OutgoingRecord:
    """The dead-letter copy of a record: same key and bytes, origin and reason in headers."""
    headers = {
        "dlq_reason": reason[:1000],
        "dlq_topic": record.topic,
        "dlq_partition": str(record.partition),
        "dlq_offset": str(record.offset),
        "dlq_consumer": consumer,
    }
    return OutgoingRecord(record.key, record.value, headers)


def refused_value(exc: BaseException) -> bool:
    """Whether the database refused a value (not the connection, a lock or the schema).

    psycopg and sqlite3 raise DataError; SQLAlchemy's asyncpg adapter raises its base
    error for every PostgreSQL error but keeps the SQLSTATE."""
    if isinstance(exc, DataError):
        return True
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(state, str) and state.startswith(DATA_EXCEPTION)


def reason_of(exc: DBAPIError) -> str:
    """The database's own words, without the statement and its parameters (SQLAlchemy's
    text of the error carries them, and they may hold what a person typed)."""
    orig = exc.orig if exc.orig is not None else exc
    words = str(orig).split("\n", 1)[0].split(": ", 1)[-1] if str(orig) else ""
    return f"refused by the database ({type(orig).__name__}): {words}"


async def apply_or_isolate(records: Sequence[Record], consumer: str, event_log: EventLog,
                           process: Callable[..., Awaitable[None]]) -> int:
    """`process(records)`; if the database refuses a value of the batch, each record again
    on its own, a refused one dead-lettered and passed (`process([r], skip=True)`). How many
    were dead-lettered."""
    try:
        await process(records)
        return 0
    except DBAPIError as exc:
        if not refused_value(exc):
            raise
        log.warning("%s: the database refused a value of a batch of %d: applying them one "
                    "at a time", consumer, len(records))
    refused = 0
    for record in records:
        try:
            await process([record])
        except DBAPIError as exc:
            if not refused_value(exc):
                raise
            reason = reason_of(exc)
            await event_log.append(DEADLETTER, [dead_letter(record, reason, consumer)])
            await process([record], skip=True)  # durable in the dead letters first
            refused += 1
            log.error("%s: %s/%d@%d dead-lettered: %s", consumer, record.topic,
                      record.partition, record.offset, reason)
    return refused
