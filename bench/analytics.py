"""Analytics: the ticket facts rebuilt from the log beside a raw read, and KPI queries.

Replay: whole tickets written through the ticket decider (`bench.replay_boards.fill`: the
event mix the boards see), then `hotline.runner.rebuild` of `an_ticket_facts` into a
fresh SQLite file, beside the same topic read by hand (target: 30 % of raw, the issue's),
on both engines. A year of a mid-size city (1,000,000 tickets) is replayed for real on the
embedded log by `bench.analytics_year` (`python -m bench analytics-year`).

Queries: a year of a mid-size city's fact rows (`HOTLINE_BENCH_ANALYTICS_ROWS`, default
1,000,000, synthetic: random registration times, units, districts, categories, channels,
types and outcomes), written in chunks, the KPI cube then counted from them as a replay
counts it (`cube.recount`, timed), then every KPI of the catalogue for the year broken
down by one dimension (each of unit, district, first-level category, channel and type, and
by month), `RUNS` times: the p95 of one request's query (the issue's target, ≤ 50 ms for
any one-dimension breakdown), beside a bare `SELECT key, count(*) … GROUP BY key` over the
same rows (`RAW_RUNS` times: it reads every row); for information, each dimension by month
too (two dimensions: a unit's twelve months are 12 times the figures), and the p95 of the
API's whole answer (the query and its JSON, `api.figures_json`), what an analyst waits for
before the network.

Run alone with `python -m bench.analytics` (`--rows N` for a smaller table).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.broker import on_both_logs
from bench.common import Result, Timer, percentile, say, temp_dir
from bench.replay_boards import TICKETS_N, fill, raw_read, replayed
from contracts.topics import CATALOGUE, TICKETS
from contracts.vocabulary import Channel, TicketType
from hotline.database import open_database
from hotline.log.port import EventLog
from hotline.runtime import tune_gc
from reference.calendar import WorkingCalendar
from services.analytics import cube, queries
from services.analytics.api import figures_json
from services.analytics.facts import COUNTERS, period_keys
from services.analytics.kpi import DIMENSIONS, KPIS, PERIODS, Dimension
from services.analytics.projections import kpi_cube, kpi_pending, metadata, ticket_facts

ROWS = int(os.environ.get("HOTLINE_BENCH_ANALYTICS_ROWS", "1000000"))
RUNS = 30
RAW_RUNS = 5
CHUNK = 50_000  # fact rows made, written and counted into the cube at a time
CITY = ZoneInfo("Asia/Shanghai")
YEAR = datetime(2026, 1, 1, tzinfo=CITY)


async def replay(log: EventLog, engine: str) -> list[Result]:
    await log.create_topics([CATALOGUE[TICKETS].spec])
    written = await fill(log, TICKETS_N[engine])
    total = sum((await log.end_offsets(TICKETS)).values())
    say(f"  {engine}: {TICKETS_N[engine]:,} tickets, {written:,} events")
    calendar = WorkingCalendar.load("cn")
    from services.analytics.projections import TicketFacts

    with temp_dir(f"analytics-{engine}") as tmp:
        raw = await raw_read(log, total)
        clock = await replayed(log, TicketFacts(calendar), total, tmp)
    ours = clock.steady(total)
    say(f"    an_ticket_facts: {ours:,.0f} events/s (overall {clock.overall(total):,.0f}/s); "
        f"raw read {raw:,.0f}/s")
    return [Result(f"replay {engine} into an_ticket_facts", ours, raw, "events/s", 0.3,
                   f"{total:,} ticket events rebuilt into SQLite, from the first batch in hand "
                   f"as the raw side (overall {clock.overall(total):,.0f}/s); raw: the topic "
                   "read by hand")]


def synthetic(n: int, calendar: WorkingCalendar, rnd: random.Random,
              first: int = 0) -> list[dict[str, Any]]:
    """`n` fact rows spread over a year (tickets `first` onwards), with every column a KPI
    reads filled plausibly."""
    units = [f"unit-{k:03d}" for k in range(121)]
    districts = [f"9901{k:02d}" for k in range(1, 13)]
    categories = [f"cat-{k:02d}" for k in range(24)]
    good = ("satisfied", "basically_satisfied", "dissatisfied_with_result")
    rows = []
    for k in range(first, first + n):
        at = YEAR + timedelta(seconds=rnd.randrange(365 * 86400))
        dispatched, direct = rnd.random() < 0.7, rnd.random() < 0.25
        replied = dispatched and rnd.random() < 0.9
        rating = rnd.choice(good) if replied and rnd.random() < 0.6 else None
        rows.append({
            "ticket_id": f"t-{k}", "ticket_number": f"12345-{at:%Y%m%d}-{k % 999999:06d}",
            "registered_at": at, **period_keys(at, calendar),
            "channel": rnd.choice(list(Channel)).value,
            "ticket_type": rnd.choice(list(TicketType)).value,
            "category1": rnd.choice(categories), "category2": None,
            "district_code": rnd.choice(districts), "urgency": "normal", "status": "closed",
            "first_unit": None, "lead_unit": rnd.choice(units) if dispatched else None,
            "assisting_units": "", "assisting_count": 0, "contacts": 1,
            "dispatched": dispatched, "answered_directly": direct and not dispatched,
            "article_id": None, "article_version": None, "merged": False,
            "responded": rnd.random() < 0.9, "close_reason": None,
            **{c: None for c in ("dispatched_at", "acknowledged_at", "replied_at", "closed_at",
                                 "ack_due_at", "reply_due_at", "dispatch_s", "dispatch_work_s",
                                 "ack_s", "close_s", "close_work_s", "reply_s")},
            "ack_work_s": rnd.randrange(7200) if dispatched else None,
            "reply_work_s": rnd.randrange(5 * 7 * 3600) if replied else None,
            "ack_on_time": (rnd.random() < 0.95) if dispatched else None,
            "reply_on_time": (rnd.random() < 0.9) if replied else None,
            **dict.fromkeys(COUNTERS, 0), "returns": int(dispatched and rnd.random() < 0.05),
            "redos": int(replied and rnd.random() < 0.03),
            "hotline_service": rating, "handling": rating, "rating": rating,
            "solved": (rating != "dissatisfied_with_result") if rating else None,
            "after_redo_handling": None, "version": 6,
        })
        if replied:
            rows[-1]["replied_at"] = at + timedelta(days=2)
    return rows


async def kpi_queries(rows: int) -> list[Result]:
    calendar = WorkingCalendar.load("cn")
    results = []
    with temp_dir("analytics-queries") as tmp:
        engine = open_database(f"sqlite+aiosqlite:///{Path(tmp) / 'facts.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        rnd = random.Random(12345)
        for first in range(0, rows, CHUNK):
            data = synthetic(min(CHUNK, rows - first), calendar, rnd, first)
            async with engine.begin() as conn:
                for i in range(0, len(data), 5000):
                    await conn.execute(ticket_facts.insert(), data[i:i + 5000])
                await cube.mark(conn, kpi_pending, data)
        with Timer() as counting:  # the cube, counted from the rows as after a replay
            async with engine.begin() as conn:
                await cube.recount(conn, kpi_cube, kpi_pending, ticket_facts, calendar.zone)
        async with engine.connect() as conn:
            cells = (await conn.execute(select(func.count()).select_from(kpi_cube))).scalar()
        del data  # the service does not hold them: a million rows in the heap made every
        tune_gc()  # full collection a pause in the figures measured; as `hotline run` tunes
        say(f"  {rows:,} fact rows over 2026, {cells:,} cube cells counted from them in "
            f"{counting.seconds:.1f} s")
        scope = queries.Scope(YEAR, YEAR.replace(year=2027), zone=CITY)
        breakdowns: list[tuple[str | None, Dimension | None]] = [
            *((None, dim) for dim in Dimension), ("month", None),  # one dimension: the target
            *(("month", dim) for dim in Dimension)]  # two: informative
        for period, dim in breakdowns:
            results += await breakdown(engine, scope, rows, period, dim)
        await engine.dispose()
    return results


async def breakdown(engine: AsyncEngine, scope: queries.Scope, rows: int, period: str | None,
                    dim: Dimension | None) -> list[Result]:
    """Every KPI for the year by `period` and/or `dim`, `RUNS` times: the query's p95 and the
    API's whole answer's, beside a bare count grouped by the same column(s)."""
    by = None if dim is None else dim.value
    ours, raw, answers = [], [], []
    asked: dict[str, Any] = {"from": scope.since, "to": scope.until, "period": period,
                             "by": by, "filters": {}}
    for _ in range(RUNS):
        async with engine.connect() as conn:
            t0 = time.perf_counter()
            groups = await queries.figures(conn, KPIS, scope, period=period, by=by)
            ours.append((time.perf_counter() - t0) * 1000)
            figures_json(groups, list(KPIS), lambda key: key, asked)
            answers.append((time.perf_counter() - t0) * 1000)
    names = ([] if period is None else [PERIODS[period]]) + ([] if by is None else [DIMENSIONS[by]])
    columns = [ticket_facts.c[name] for name in names]
    for _ in range(RAW_RUNS):
        async with engine.connect() as conn:
            t0 = time.perf_counter()
            list(await conn.execute(select(*columns, func.count()).where(
                *scope.where()).group_by(*columns)))
            raw.append((time.perf_counter() - t0) * 1000)
    p95, raw95 = percentile(ours, 95), percentile(raw, 95)
    name = " and ".join(part for part in (period, by) if part)
    say(f"    by {name}: p95 {p95:,.1f} ms (the API's answer {percentile(answers, 95):,.1f} "
        f"ms); bare GROUP BY {raw95:,.1f} ms")
    one = period is None or by is None  # the target is on one-dimension breakdowns
    return [
        Result(f"KPIs ({len(KPIS)}) for the year by {name}, {rows:,} rows: p95", p95, raw95,
               "ms", None, "every KPI of the catalogue in one query; raw: a bare count grouped "
               f"by the same column(s) (the slowest of {RAW_RUNS})"
               + ("" if one else "; two dimensions: informative"),
               max_ours=50 if one else None),
        Result(f"KPIs ({len(KPIS)}) for the year by {name}: the API's answer, p95",
               percentile(answers, 95), raw95, "ms", None, "the query and its JSON body "
               "(api.figures_json), as /v1/analytics/kpis answers; informative")]


async def run(rows: int = ROWS) -> list[Result]:
    return [*await on_both_logs("analytics", replay), *await kpi_queries(rows)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--queries-only", action="store_true")
    args = parser.parse_args()
    tune_gc()  # as `python -m bench` does before each benchmark
    found = asyncio.run(kpi_queries(args.rows) if args.queries_only else run(args.rows))
    for r in found:
        print(f"{r.name}: {r.ours:,.1f} {r.unit} (raw {r.raw or 0:,.1f}) {r.verdict}")
    sys.exit(0)
