"""Many rows in one statement, without SQLAlchemy's work per row: how projections write.

`conn.execute(table.insert(), rows)` compiles its statement once but then, for every
row, builds the parameters through the compiled statement and each column's bind
processor: in the boards' replay profile that was a fifth of the time (the performance
issue). Here the statement is rendered once per table, columns and dialect, each row
becomes a tuple through the same bind processors (the public `bind_processor` of the
dialect's own type), and the driver's executemany gets them: the same SQL and the same
stored values, at a fraction of the Python work.

Columns with a Python-side default or onupdate (which SQLAlchemy fills in per row) are
not handled here: a table that has one outside the given columns takes SQLAlchemy's own
path, so nothing is ever stored differently.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Mapping[str, Any]
Plan = tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]
_PLANS: dict[tuple[Table, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], str],
             Plan | None] = {}


async def insert_many(conn: AsyncConnection, table: Table, rows: Sequence[Row]) -> None:
    """INSERT every row (each with the first row's keys)."""
    if not rows:
        return
    columns = tuple(rows[0])
    plan = _plan(conn.dialect, table, "insert", columns, ())
    if plan is None:
        await conn.execute(table.insert(), list(rows))
        return
    await _run(conn, plan, rows)


async def update_many(conn: AsyncConnection, table: Table, keys: Sequence[str],
                      columns: Sequence[str], rows: Sequence[Row]) -> None:
    """UPDATE each row's `columns` where its `keys` match (every row has all of them)."""
    if not rows:
        return
    plan = _plan(conn.dialect, table, "update", tuple(columns), tuple(keys))
    if plan is None:
        raise ValueError(f"{table.name}: a column with onupdate needs SQLAlchemy's update")
    await _run(conn, plan, rows)


async def add_many(conn: AsyncConnection, table: Table, keys: Sequence[str],
                   sums: Sequence[str], rows: Sequence[Row]) -> None:
    """INSERT each row, or, where a row with its `keys` is stored, add its `sums` to the
    stored ones (an upsert, ON CONFLICT ... DO UPDATE on SQLite and PostgreSQL alike):
    what a batch adds to running totals, written without reading them first."""
    if not rows:
        return
    plan = _plan(conn.dialect, table, "add", tuple(rows[0]), tuple(keys), tuple(sums))
    if plan is None:
        raise ValueError(f"{table.name}: a column with a default needs SQLAlchemy's insert")
    await _run(conn, plan, rows)


async def _run(conn: AsyncConnection, plan: Plan, rows: Sequence[Row]) -> None:
    sql, binds = plan
    await conn.exec_driver_sql(sql, _params(binds, rows))


def _params(binds: list[tuple[str, Callable[[Any], Any] | None]],
            rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """Each row as the driver's tuple: the values picked in C (itemgetter), then only the
    columns whose type has a processor (SQLite's times and booleans) passed through it."""
    pick = operator.itemgetter(*(name for name, _ in binds))
    if len(binds) == 1:
        picked: list[Any] = [(pick(row),) for row in rows]
    else:
        picked = [pick(row) for row in rows]
    processed = [(i, proc) for i, (_, proc) in enumerate(binds) if proc is not None]
    if not processed:
        return picked
    params = []
    for values in picked:
        out = list(values)
        for i, proc in processed:
            out[i] = proc(out[i])
        params.append(tuple(out))
    return params


def _plan(dialect: Dialect, table: Table, verb: str, columns: tuple[str, ...],
          keys: tuple[str, ...], sums: tuple[str, ...] = ()) -> Plan | None:
    """The statement and, in placeholder order, each parameter's column and processor;
    None when SQLAlchemy must fill in a column itself."""
    cache_key = (table, verb, columns, keys, sums, dialect.name + dialect.paramstyle)
    if cache_key in _PLANS:
        return _PLANS[cache_key]
    plan: Plan | None = None
    named = set(columns) | set(keys)
    if verb in ("insert", "add"):
        if not any(c.default is not None for c in table.columns if c.name not in named):
            plan = _insert(dialect, table, columns)
            if verb == "add":
                plan = _adding(dialect, table, plan, keys, sums)
    elif not any(c.onupdate is not None for c in table.columns if c.name not in named):
        plan = _update(dialect, table, columns, keys)
    _PLANS[cache_key] = plan
    return plan


def _insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> Plan:
    prepare = dialect.identifier_preparer
    names = ", ".join(prepare.quote(c) for c in columns)
    marks = ", ".join(_marks(dialect.paramstyle, len(columns)))
    sql = f"INSERT INTO {prepare.format_table(table)} ({names}) VALUES ({marks})"
    return sql, [(c, _processor(dialect, table, c)) for c in columns]


def _adding(dialect: Dialect, table: Table, plan: Plan, keys: tuple[str, ...],
            sums: tuple[str, ...]) -> Plan:
    """The INSERT of `plan` that, where a row with its `keys` is stored, adds to its `sums`."""
    prepare = dialect.identifier_preparer
    name = prepare.format_table(table)
    conflict = ", ".join(prepare.quote(k) for k in keys)
    added = ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in map(prepare.quote, sums))
    sql, binds = plan
    return f"{sql} ON CONFLICT ({conflict}) DO UPDATE SET {added}", binds


def _update(dialect: Dialect, table: Table, columns: tuple[str, ...],
            keys: tuple[str, ...]) -> Plan:
    prepare = dialect.identifier_preparer
    marks = _marks(dialect.paramstyle, len(columns) + len(keys))
    sets = ", ".join(f"{prepare.quote(c)} = {m}" for c, m in zip(columns, marks, strict=False))
    where = " AND ".join(f"{prepare.quote(k)} = {m}"
                         for k, m in zip(keys, marks[len(columns):], strict=True))
    sql = f"UPDATE {prepare.format_table(table)} SET {sets} WHERE {where}"
    return sql, [(c, _processor(dialect, table, c)) for c in (*columns, *keys)]


def _processor(dialect: Dialect, table: Table, column: str) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value of that column for this dialect (the dialect's own
    type: SQLite's DateTime is text, written without a zone)."""
    impl = table.c[column].type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is not None and type(impl) is SQLITE_DATETIME:
        return _sqlite_times(process)
    return process


_PROBES = (datetime(2026, 11, 23, 2, 0, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5, 6),
           datetime(2027, 2, 1, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8))))


def _sqlite_times(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DATETIME text for a datetime by one tuple format: SQLAlchemy's processor
    fills a dict per value for its format (2.4 µs; 0.8 here), and a board row holds up to
    eight times (a tenth of the work orders' replay). Used only when it writes the very
    text SQLAlchemy's does for the probes (naive, aware, not UTC: SQLite keeps the wall
    clock), so a changed storage format falls back to SQLAlchemy's."""

    def text(value: Any) -> Any:
        if type(value) is datetime:
            return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - faster than f""
                value.year, value.month, value.day, value.hour, value.minute, value.second,
                value.microsecond)
        return process(value)

    return text if all(text(p) == process(p) for p in _PROBES) else process


def _marks(paramstyle: str, n: int) -> list[str]:
    """n placeholders in the driver's style (sqlite3's ?, asyncpg's $1 …)."""
    if paramstyle == "numeric_dollar":
        return [f"${i}" for i in range(1, n + 1)]
    if paramstyle == "numeric":
        return [f":{i}" for i in range(1, n + 1)]
    return [{"qmark": "?", "format": "%s", "pyformat": "%s"}[paramstyle]] * n
