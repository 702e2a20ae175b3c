"""`an_kpi_cube`: every KPI's numerator and denominator summed per registration day and
per registration month, for the whole city and per value of each dimension — what a
year's breakdown reads instead of a million fact rows.

A KPI query over the fact rows evaluates about thirty CASE expressions per ticket: fine
for a week, seconds for a year of a mid-size city. The cube holds, per (grain, dimension,
value, day or month), the sums those expressions would give (dimension `all` for the city
as a whole), so a year by unit by month reads some 1,500 rows of plain numbers (by day,
44,000: 80 ms, hence the month grain; when the period asked is the grain, each group is
one cell, read as it is, not summed: half the query's time). It is kept by the fact projection
itself (`TicketFacts.write`), in the same transaction as the fact rows, one of two ways:

- A batch of the live flow: a changed ticket takes its old contribution out of the cells
  it was counted in and puts its new one in (a reassignment moves it to another unit's
  cell): `Deltas`.
- A batch of a replay (hundreds of events): its tickets' registration days are marked
  pending in `an_kpi_pending`, and the pending days' cells are counted again from the fact
  rows (`recount`: one INSERT ... SELECT ... GROUP BY per dimension, their months' cells
  summed from the day cells) when the projection has caught up. Keeping the cells up per
  batch was a fifth of a replay's main thread and most of its statements' time (py-spy,
  a year of 30,000 tickets), the recount of that year takes 1.8 s. While a day is
  pending, `figures` answers from the fact rows (`is_pending`): no reader sees cells
  behind them.

It answers what one dimension can: no filter, or a filter on the dimension broken down by
(or, without a breakdown, on one dimension), between local month starts (month grain, for
no period or by month, quarter or year) or local midnights (day grain). Anything else (a
unit's figures within one district, a range from noon) is summed from the fact rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.bulk import add_many
from services.analytics.kpi import DIMENSIONS, KPIS, PERIODS, Kpi, Total, counter
from services.analytics.sums import aggregate

ALL = "all"  # the dimension of the city as a whole (value "")
CUBE_DIMENSIONS: dict[str, str | None] = {ALL: None, **DIMENSIONS}
GRAINS = {"day": "reg_day", "month": "reg_month"}  # grain -> the fact column of its cells
PERIOD_COLUMNS = ("reg_day", "reg_week", "reg_month", "reg_quarter", "reg_year")
SUMS = tuple(name for k in KPIS for name in (f"n_{k.id}", f"d_{k.id}")
             if name.startswith("n_") or k.denominator is not None)
KEY = ("grain", "dimension", "value", "at")
_TICKETS = SUMS.index("n_tickets")
_COUNTERS = [(counter(kpi), kpi.denominator is not None) for kpi in KPIS]  # SUMS' order
_PARTS = [part for k in KPIS for part in (k.numerator, k.denominator)
          if part is not None]  # SUMS' order: each numerator, then its denominator if any


def _is_total(column: str) -> bool:
    kpi = next(k for k in KPIS if column in (f"n_{k.id}", f"d_{k.id}"))
    return column.startswith("n_") and isinstance(kpi.numerator, Total)


TOTALS = frozenset(name for name in SUMS if _is_total(name))  # the Float columns
Cell = tuple[str, str, str, str]  # (grain, dimension, value, day or month)
Vector = tuple[float, ...]  # one per SUMS column
Counted = tuple[list[Cell], dict[str, str], Vector]  # a fact row's part in the cube


def table_in(metadata: MetaData, version: int) -> Table:
    """The cube's table, in the fact projection's metadata (rebuilt with it); clustered by
    its key on SQLite, so a dimension's cells are read in one sweep."""
    return Table(
        f"an_kpi_cube_v{version}", metadata,
        Column("grain", String(8), primary_key=True),
        Column("dimension", String(16), primary_key=True),
        Column("value", String(128), primary_key=True),  # "" for none (not dispatched …)
        Column("at", String(10), primary_key=True),  # the cell's day or month
        # the periods the cell lies in ("" where a month cell has none: its day and week)
        *(Column(name, String(10), nullable=False) for name in PERIOD_COLUMNS),
        *(Column(name, Float if name in TOTALS else Integer, nullable=False)
          for name in SUMS),
        sqlite_with_rowid=False)


def pending_in(metadata: MetaData, version: int) -> Table:
    """The registration days whose cells are behind the fact rows, and how many ticket
    changes each has waiting (rebuilt with the fact projection)."""
    return Table(
        f"an_kpi_pending_v{version}", metadata,
        Column("day", String(10), primary_key=True),
        Column("changes", Integer, nullable=False))


def contribution(row: Mapping[str, Any]) -> Counted:
    """The cells a fact row counts in, its period keys, and what it adds to each sum."""
    cells = [(grain, dim, (row[column] or "") if column else "", row[at])
             for grain, at in GRAINS.items() for dim, column in CUBE_DIMENSIONS.items()]
    vector: list[float] = []
    for part, has_denominator in _COUNTERS:
        num, den = part(row)
        vector.append(num)
        if has_denominator:
            vector.append(den)
    return cells, {p: row[p] for p in PERIOD_COLUMNS}, tuple(vector)


class Deltas:
    """What a batch changes in the cube: per cell, the parts to add (summed when written)."""

    def __init__(self) -> None:
        self.cells: dict[Cell, list[Vector]] = {}
        self.periods: dict[Cell, dict[str, str]] = {}

    def add(self, counted: Counted, sign: int) -> None:
        """Add (sign 1) or take out (-1) a fact row's part in each of its cells.
        The parts are kept and summed column by column when written (`sums`): a batch
        counts a hundred tickets in the same day's cells, and adding some forty sums per
        ticket and cell, even element-wise in C, was a sixth of the fact replay's time."""
        cells, periods, vector = counted
        signed = vector if sign == 1 else tuple(-v for v in vector)
        for cell in cells:
            parts = self.cells.get(cell)
            if parts is not None:
                parts.append(signed)
                continue
            self.cells[cell] = [signed]
            self.periods[cell] = periods if cell[0] == "day" else {
                **periods, "reg_day": "", "reg_week": ""}

    def sums(self, cell: Cell) -> list[float]:
        """What the batch adds to each of a cell's sums."""
        return [sum(column) for column in zip(*self.cells[cell], strict=True)]

    async def write(self, conn: AsyncConnection, cube: Table) -> None:
        """Add the deltas to the stored cells in one upsert (hotline.bulk.add_many), reading
        nothing first: a year's replay touches some 4,000 cells a batch (a ticket's day cells
        are rarely another's), and reading them back, adding in Python and writing every sum
        again held its fact replay to 4,100 events/s (5,500 now). Then the cells a ticket
        left that no ticket counts in any more (it was reassigned, reclassified) are
        deleted: the cube of a replay, which never saw the ticket there, has no such cell
        either."""
        rows, left = [], []
        for cell in self.cells:
            delta = [_plain(c, d) for c, d in zip(SUMS, self.sums(cell), strict=True)]
            if not any(delta):  # counted out and back in: nothing changes
                continue
            rows.append({**dict(zip(KEY, cell, strict=True)), **self.periods[cell],
                         **dict(zip(SUMS, delta, strict=True))})
            if delta[_TICKETS] < 0:  # a ticket left the cell
                left.append({f"b_{k}": v for k, v in zip(KEY, cell, strict=True)})
        await add_many(conn, cube, KEY, SUMS, rows)
        if left:
            await conn.execute(cube.delete().where(
                *(cube.c[k] == bindparam(f"b_{k}") for k in KEY), cube.c.n_tickets == 0), left)


async def mark(conn: AsyncConnection, pending: Table, rows: Sequence[Mapping[str, Any]]
               ) -> None:
    """Mark the registration days of these fact rows pending."""
    days: dict[str, int] = {}
    for row in rows:
        days[row["reg_day"]] = days.get(row["reg_day"], 0) + 1
    await add_many(conn, pending, ("day",), ("changes",),
                   [{"day": day, "changes": n} for day, n in days.items()])


async def is_pending(conn: AsyncConnection, pending: Table) -> bool:
    """Whether any day's cells are behind the fact rows."""
    return (await conn.execute(select(pending.c.day).limit(1))).first() is not None


async def recount(conn: AsyncConnection, cube: Table, pending: Table, facts: Table,
                  zone: tzinfo, most: int = 31) -> bool:
    """Count the first `most` pending days' cells again from the fact rows and their
    months' cells from the day cells, clear those days' marks, and say whether days are
    still pending. A month of days a transaction: a year's recount in one took a minute at
    1,000,000 tickets, and the projections sharing a SQLite file wait 30 s at most for
    another's write. The fact rows are read between the local midnights around the days
    (their registration index) and picked by their day."""
    days = [r.day for r in await conn.execute(
        select(pending.c.day).order_by(pending.c.day).limit(most))]
    if not days:
        return False
    c, f = cube.c, facts.c
    since = datetime.fromisoformat(days[0]).replace(tzinfo=zone)
    until = datetime.fromisoformat(days[-1]).replace(tzinfo=zone) + timedelta(days=1)
    months = sorted({day[:7] for day in days})
    await conn.execute(cube.delete().where(c.grain == "day", c.at.in_(days)))
    await conn.execute(cube.delete().where(c.grain == "month", c.at.in_(months)))
    columns = [*KEY, *PERIOD_COLUMNS, *SUMS]
    sums = [aggregate(part, facts) for part in _PARTS]
    where = [f.registered_at >= since.astimezone(UTC), f.registered_at < until.astimezone(UTC),
             f.reg_day.in_(days)]
    for dimension, column in CUBE_DIMENSIONS.items():
        value = func.coalesce(f[column], "") if column else literal("", String)
        periods = [f[p] for p in PERIOD_COLUMNS]
        query = select(literal("day", String), literal(dimension, String), value,
                       f.reg_day.label("at"), *periods, *sums).where(*where)
        await conn.execute(cube.insert().from_select(
            columns, query.group_by(*([value] if column else []), *periods)))
    keys = [c.dimension, c.value, c.reg_month, c.reg_quarter, c.reg_year]
    await conn.execute(cube.insert().from_select(columns, select(
        literal("month", String), c.dimension, c.value, c.reg_month.label("month"),
        literal("", String).label("no_day"), literal("", String).label("no_week"),
        c.reg_month, c.reg_quarter, c.reg_year,
        *(func.sum(c[name]) for name in SUMS),
    ).where(c.grain == "day", c.reg_month.in_(months)).group_by(*keys)))
    await conn.execute(pending.delete().where(pending.c.day.in_(days)))
    return await is_pending(conn, pending)


def _plain(column: str, value: float) -> float | int:
    return float(value) if column in TOTALS else int(round(value))


def cube_query(cube: Table, kpis: Sequence[Kpi], since: datetime | None,
               until: datetime | None, zone: tzinfo, filters: Mapping[str, str],
               period: str | None, by: str | None) -> Any | None:
    """The SELECT that answers a figures request from the cube, or None when the cube
    cannot (see the module doc). Its columns are named as the fact query's are."""
    grain = _grain([t for t in (since, until) if t is not None], zone, period)
    if grain is None or len(filters) > 1:
        return None
    dimension = by or next(iter(filters), ALL)
    if filters and next(iter(filters)) != dimension:
        return None
    c = cube.c
    where = [c.grain == grain, c.dimension == dimension]
    if since is not None:
        where.append(c.at >= _key(since, zone, grain))
    if until is not None:
        where.append(c.at < _key(until, zone, grain))
    if filters:
        where.append(c.value == filters[dimension])
    keys = []
    if period is not None:
        keys.append(c[PERIODS[period]].label("period"))
    if by is not None:
        keys.append(func.nullif(c.value, "").label("key"))
    names = [name for k in kpis for name in (f"n_{k.id}", f"d_{k.id}") if name in SUMS]
    if period == grain:  # each group is one cell: read, not summed
        return select(*keys, *(c[name] for name in names)).where(*where).order_by(*keys)
    sums = [func.coalesce(func.sum(c[name]), 0).label(name) for name in names]
    query = select(*keys, *sums).where(*where)
    return query.group_by(*keys).order_by(*keys) if keys else query


def _grain(bounds: Sequence[datetime], zone: tzinfo, period: str | None) -> str | None:
    """Months when the bounds are local month starts and no finer period is asked; days
    when they are local midnights; None otherwise."""
    local = [t.astimezone(zone) for t in bounds]
    if any(t.hour or t.minute or t.second or t.microsecond for t in local):
        return None
    if period in (None, "month", "quarter", "year") and all(t.day == 1 for t in local):
        return "month"
    return "day"


def _key(moment: datetime, zone: tzinfo, grain: str) -> str:
    day = moment.astimezone(zone).date().isoformat()
    return day[:7] if grain == "month" else day
