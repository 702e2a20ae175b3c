"""The KPIs' numerators and denominators (services/analytics/kpi.py) as SQL: each part
one aggregate column, `SUM(CASE WHEN … THEN 1 ELSE 0 END)` for a count and the column's
sum for a total, over whichever fact table it is asked of. The figures queries
(queries.py) and the KPI cube's recount from the fact rows (cube.py) use the same
columns, so the cube holds what the query over the rows would say."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, func, true

from services.analytics.kpi import Cond, Count, Total


def condition(cond: Cond, table: Table) -> ColumnElement[bool]:
    """One condition of a part, on `table`'s column."""
    column = table.c[cond.column]
    match cond.op:
        case "eq":
            return column == cond.value
        case "in":
            return column.in_(sorted(cond.value))
        case "true":
            return column.is_(True)
        case "false":
            return column.is_(False)
        case "not_null":
            return column.is_not(None)
        case "gt":
            return column > cond.value
    raise AssertionError(cond.op)


def all_of(where: tuple[Cond, ...], table: Table) -> ColumnElement[bool]:
    """Every condition met (true when there are none)."""
    return and_(*(condition(c, table) for c in where)) if where else true()


def aggregate(part: Count | Total, table: Table) -> ColumnElement[Any]:
    """A numerator or denominator as one aggregate column over `table`'s rows."""
    if isinstance(part, Count):
        if not part.where:
            return func.count()
        return func.coalesce(func.sum(case((all_of(part.where, table), 1), else_=0)), 0)
    column = table.c[part.column]
    value = case((all_of(part.where, table), column), else_=0) if part.where else column
    return func.coalesce(func.sum(value), 0)
