"""The KPIs (考核指标) as data: each an id, a Chinese label, what its numerator and
denominator count, and its unit, over the ticket fact rows (services/analytics/facts.py);
and the call KPIs (话务指标, `CALL_KPIS`) the same way over the call fact rows
(services/analytics/calls.py), kept apart because calls have no unit, district, category,
channel or ticket type and are not in the ticket cube.

Pure. A numerator or denominator is a `Count` of the fact rows meeting every condition, or
a `Total` of one column over them; the query module turns them into SQL sums (so a figure
is one GROUP BY on either engine), and `tally` computes the same figure over rows in
memory. Every figure travels with its numerator and denominator, so it can be checked by
hand and reproduced from the rows behind it (`GET /v1/analytics/facts/tickets`).

Tickets are counted in the period they were registered in, whatever happened to them later;
calls in the period they were offered in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from services.analytics.facts import DISSATISFIED, GOOD

Op = Literal["eq", "in", "true", "false", "not_null", "gt"]
Check = Callable[[Mapping[str, Any]], bool]
Unit = Literal["%", "hours", "seconds", "count"]


@dataclass(frozen=True, slots=True)
class Cond:
    """One condition on a fact column: `column op value`."""

    column: str
    op: Op
    value: Any = None

    def test(self) -> Check:
        """Whether a row meets the condition, as a function with the column, operator and
        value bound once (`counter`: the cube runs it for every changed ticket)."""
        column, value = self.column, self.value
        match self.op:
            case "eq":
                return lambda row: bool(row[column] == value)
            case "in":
                return lambda row: row[column] in value
            case "true":
                return lambda row: row[column] is True
            case "false":
                return lambda row: row[column] is False
            case "not_null":
                return lambda row: row[column] is not None
            case "gt":
                return lambda row: row[column] is not None and row[column] > value
        raise AssertionError(self.op)


@dataclass(frozen=True, slots=True)
class Count:
    """How many fact rows meet every condition."""

    where: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class Total:
    """The sum of `column` over the fact rows meeting every condition (NULLs left out)."""

    column: str
    where: tuple[Cond, ...] = ()


@dataclass(frozen=True, slots=True)
class Kpi:
    id: str
    label_zh: str
    unit: Unit
    definition_zh: str
    numerator: Count | Total
    denominator: Count | None = None  # None: the figure is the numerator itself
    scale: float = 1.0  # a Total's unit to the KPI's (seconds → hours)
    target: float | None = None  # the norm (考核标准) a share must reach, in %, if any


def _c(column: str, op: Op, value: Any = None) -> Cond:
    return Cond(column, op, value)


NOT_MERGED = _c("merged", "false")
COMPLAINT = _c("ticket_type", "eq", "complaint")
DISPATCHED = _c("dispatched", "true")
REPLIED = _c("replied_at", "not_null")
HOUR = 1 / 3600

KPIS: tuple[Kpi, ...] = (
    Kpi("tickets", "工单量", "count", "登记的工单数(按登记时间计入期间)。", Count()),
    Kpi("direct_answer_rate", "直接答复率", "%",
        "分子: 由话务员直接答复(即时办结)的工单数; 分母: 登记的工单数(不含被并入其他工单的)。",
        Count((_c("answered_directly", "true"), NOT_MERGED)), Count((NOT_MERGED,))),
    Kpi("dispatch_accuracy", "派单准确率", "%",
        "分子: 派出后从未被承办单位退回的工单数; 分母: 派出过的工单数。",
        Count((DISPATCHED, _c("returns", "eq", 0))), Count((DISPATCHED,))),
    Kpi("on_time_ack_rate", "按时签收率", "%",
        "分子: 首次签收在当时签收时限内的工单数; 分母: 已签收且设有签收时限的工单数。",
        Count((_c("ack_on_time", "true"),)), Count((_c("ack_on_time", "not_null"),))),
    Kpi("on_time_reply_rate", "按时办结率", "%",
        "分子: 首次办结反馈在当时办结时限(含批准的延期)内的工单数; "
        "分母: 已办结反馈且设有办结时限的工单数。",
        Count((_c("reply_on_time", "true"),)), Count((_c("reply_on_time", "not_null"),))),
    Kpi("extension_rate", "延期率", "%",
        "分子: 至少获批一次延期的工单数; 分母: 派出过的工单数。",
        Count((DISPATCHED, _c("extensions_approved", "gt", 0))), Count((DISPATCHED,))),
    Kpi("return_rate", "退单率", "%",
        "分子: 至少被退回一次的工单数; 分母: 派出过的工单数。",
        Count((DISPATCHED, _c("returns", "gt", 0))), Count((DISPATCHED,))),
    Kpi("redo_rate", "重办率", "%",
        "分子: 回访不满意且经审核同意重办的工单数; 分母: 已办结反馈的工单数。",
        Count((REPLIED, _c("redos", "gt", 0))), Count((REPLIED,))),
    Kpi("satisfaction_handling", "满意率(办理)", "%",
        "分子: 最后一次回访对单位办理评价为满意或基本满意的工单数; "
        "分母: 最后一次回访对办理作出评价的工单数。",
        Count((_c("handling", "in", GOOD),)), Count((_c("handling", "not_null"),))),
    Kpi("satisfaction_hotline", "满意率(热线服务)", "%",
        "分子: 最后一次回访对热线服务评价为满意或基本满意的工单数; 分母: 回访有应答的工单数。",
        Count((_c("hotline_service", "in", GOOD),)),
        Count((_c("hotline_service", "not_null"),))),
    Kpi("response_rate", "响应率(三率)", "%",
        "三率之一。分子: 及时响应的工单数, 即直接答复的, 或承办单位在签收时限内首次签收的"
        "(未设时限的签收也算及时); 分母: 登记的工单数(不含被并入其他工单的)。"
        "尚未签收的工单计为未响应。",
        Count((_c("responded", "true"), NOT_MERGED)), Count((NOT_MERGED,))),
    Kpi("resolution_rate", "解决率(三率)", "%",
        "三率之一。分子: 最后一次回访中市民表示问题已解决的工单数; "
        "分母: 最后一次回访中对是否解决作出回答的工单数。",
        Count((_c("solved", "true"),)), Count((_c("solved", "not_null"),))),
    Kpi("satisfaction_rate", "满意率(三率)", "%",
        "三率之一。分子: 最后一次回访评价为满意或基本满意的工单数(有单位办理的看办理评价, "
        "直接答复的看热线服务评价); 分母: 回访有应答的工单数。",
        Count((_c("rating", "in", GOOD),)), Count((_c("rating", "not_null"),))),
    Kpi("unsatisfied_after_redo", "重办后仍不满意率", "%",
        "分子: 重办后回访对办理仍不满意的工单数; 分母: 重办后回访对办理作出评价的工单数。",
        Count((_c("after_redo_handling", "in", DISSATISFIED),)),
        Count((_c("after_redo_handling", "not_null"),))),
    Kpi("repeat_complaint_rate", "重复投诉率", "%",
        "分子: 投诉类工单中有重复来电来信的工单数, 即由两件及以上来件登记的, 或登记后又有"
        "同一诉求的来电来信并入(合并来电)的; 分母: 登记的投诉类工单数(不含被并入其他工单的)。"
        "工单类型以最后一次分类为准。",
        Count((COMPLAINT, NOT_MERGED, _c("contacts", "gt", 1))), Count((COMPLAINT, NOT_MERGED))),
    Kpi("avg_reply_work_hours", "平均办结用时(工作小时)", "hours",
        "分子: 各工单自首次派单至首次办结反馈的工作时间之和(按工作日历, 小时); "
        "分母: 已办结反馈且工作时间可计的工单数。",
        Total("reply_work_s"), Count((_c("reply_work_s", "not_null"),)), HOUR),
    Kpi("avg_ack_work_hours", "平均签收用时(工作小时)", "hours",
        "分子: 各工单自首次派单至首次签收的工作时间之和(小时); "
        "分母: 已签收且工作时间可计的工单数。",
        Total("ack_work_s"), Count((_c("ack_work_s", "not_null"),)), HOUR),
)
BY_ID: dict[str, Kpi] = {k.id: k for k in KPIS}

ANSWERED = _c("answered", "true")
ANSWER_TARGET_SECONDS = 15  # 15秒接通率: answered after at most this long in the queue

# the call KPIs, over the call fact rows (an_call_facts): calls count in the local period
# they were offered in; an overflowed call (溢出转出) is offered, neither answered nor abandoned
CALL_KPIS: tuple[Kpi, ...] = (
    Kpi("calls_offered", "呼入量", "count",
        "话务系统报告的呼入来电数(按来电进入排队的时间计入期间), 含接通、放弃和溢出转出的。",
        Count()),
    Kpi("connect_rate", "接通率", "%",
        "分子: 人工接通的来电数; 分母: 呼入来电数(接通、放弃与溢出转出之和)。"
        "考核标准: 不低于95%。",
        Count((ANSWERED,)), Count(), target=95.0),
    Kpi("answered_15s_rate", "15秒接通率", "%",
        f"分子: 排队等待不超过{ANSWER_TARGET_SECONDS}秒即接通的来电数; 分母: 接通的来电数"
        "(热线通行口径: 15秒内接通量 / 接通总量, 衡量接通的及时性; 未接通的来电由接通率和"
        "放弃率反映)。",
        Count((_c("answered_in_target", "true"),)), Count((ANSWERED,))),
    Kpi("abandon_rate", "放弃率", "%",
        "分子: 接通前来电人挂断(放弃)的来电数; 分母: 呼入来电数。溢出转出的来电既不计接通, "
        "也不计放弃。",
        Count((_c("abandoned", "true"),)), Count()),
    Kpi("avg_wait_seconds", "平均等待时长", "seconds",
        "分子: 接通来电的排队等待时长之和(秒); 分母: 接通的来电数。",
        Total("wait_seconds", (ANSWERED,)), Count((ANSWERED,))),
)
CALL_BY_ID: dict[str, Kpi] = {k.id: k for k in CALL_KPIS}
CALL_DIMENSIONS: dict[str, str] = {"queue": "queue"}  # what call figures break down by



class Dimension(StrEnum):
    """What a figure is broken down or filtered by (the unit is the last lead unit)."""

    UNIT = "unit"
    DISTRICT = "district"
    CATEGORY1 = "category1"
    CHANNEL = "channel"
    TICKET_TYPE = "ticket_type"


class Period(StrEnum):
    """The periods a figure is grouped by, in the jurisdiction's local time."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# dimension → the fact column it reads
DIMENSIONS: dict[str, str] = {"unit": "lead_unit", "district": "district_code",
                              "category1": "category1", "channel": "channel",
                              "ticket_type": "ticket_type"}
# period → the column holding the ticket's local period key
PERIODS: dict[str, str] = {"day": "reg_day", "week": "reg_week", "month": "reg_month",
                           "quarter": "reg_quarter", "year": "reg_year"}
assert set(DIMENSIONS) == set(Dimension) and set(PERIODS) == set(Period)


class Figure(NamedTuple):
    """One KPI's value for one group: reproducible from its numerator and denominator. A
    named tuple: a year by unit and month is 23,000 of them, made in a third of the time
    a frozen dataclass takes."""

    numerator: float
    denominator: int | None
    value: float | None  # None when the denominator is 0


def value_of(kpi: Kpi, numerator: float, denominator: int | None) -> Figure:
    """The figure from its two counts: a share in % (two decimals), a mean in the KPI's
    unit (two decimals), or the count itself."""
    return figure(numerator, None if kpi.denominator is None else denominator,
                  *how_shown(kpi))


def how_shown(kpi: Kpi) -> tuple[float | None, bool]:
    """What `figure` needs of a KPI: a Total's scale (None for a count) and whether it is a
    percentage; taken once per request, not per figure."""
    return (kpi.scale if isinstance(kpi.numerator, Total) else None), kpi.unit == "%"


_tuple = tuple.__new__  # Figure's generated __new__ was a third of a year's breakdown


def figure(numerator: float, denominator: int | None, scale: float | None,
           percent: bool) -> Figure:
    """`value_of` with the KPI taken apart (`how_shown`); `denominator` None for a KPI that
    is a count. A year by unit and month makes 25,000 of them per request."""
    if scale is not None:
        numerator = numerator * scale
    if denominator is None:
        return _tuple(Figure, (numerator, None, numerator))
    if not denominator:
        return _tuple(Figure, (numerator, denominator, None))
    ratio = numerator / denominator
    return _tuple(Figure, (numerator, denominator, two_places(ratio * 100 if percent else ratio)))


def two_places(x: float) -> float:
    """`round(x, 2)`, the same float, without its decimal conversion where the answer is
    plain: x·100 is then far from a half, so the nearest whole number to it is the one the
    exact value rounds to, and k / 100 is the float nearest k hundredths, as round's is.
    Near a half (and for negatives or huge values) round itself decides. A year by unit
    and month rounds 25,000 figures per request, and this is twice as fast as round."""
    y = x * 100.0
    if 0.0 <= y < 1e9:  # y's error is then below 1e-7: far from a half, k is the nearest
        k = int(y + 0.5)
        if -0.4999 < y - k < 0.4999:
            return k / 100
    return round(x, 2)


def counter(kpi: Kpi) -> Callable[[Mapping[str, Any]], tuple[float, int]]:
    """What one fact row adds to the KPI's numerator and denominator, as a function of the
    row with the KPI's conditions bound once: the cube
    takes every changed ticket's part of some forty sums, and interpreting each condition
    per row was most of that."""
    numerator, denominator = kpi.numerator, kpi.denominator
    counts_in = _all([c.test() for c in numerator.where])
    total = numerator.column if isinstance(numerator, Total) else None
    counted = _all([c.test() for c in denominator.where]) if denominator is not None else None

    def part(row: Mapping[str, Any]) -> tuple[float, int]:
        num: float = 0
        if counts_in(row):
            num = (row[total] or 0) if total is not None else 1
        return num, int(counted is not None and counted(row))

    return part


def _all(tests: list[Check]) -> Check:
    """Every test met, as one function: none, or up to three chained with `and` (a
    generator for `all` per row took as long as the tests)."""
    match tests:
        case []:
            return lambda row: True
        case [only]:
            return only
        case [first, second]:
            return lambda row: first(row) and second(row)
        case [first, second, third]:
            return lambda row: first(row) and second(row) and third(row)
    return lambda row: all(test(row) for test in tests)


def tally(kpi: Kpi, rows: Iterable[Mapping[str, Any]]) -> Figure:
    """The KPI over fact rows in memory (what the SQL query computes, for checks)."""
    num: float = 0
    den = 0
    part = counter(kpi)
    for row in rows:
        n, d = part(row)
        num, den = num + n, den + d
    return value_of(kpi, num, den if kpi.denominator is not None else None)


def definitions() -> list[dict[str, Any]]:
    """Every KPI as the API lists it."""
    return [{"id": k.id, "label_zh": k.label_zh, "unit": k.unit,
             "definition_zh": k.definition_zh} for k in KPIS]


def call_definitions() -> list[dict[str, Any]]:
    """Every call KPI as the API lists it, with its norm (`target`, in %) where it has one."""
    return [{"id": k.id, "label_zh": k.label_zh, "unit": k.unit,
             "definition_zh": k.definition_zh, "target": k.target} for k in CALL_KPIS]
