"""The callback board on SQLite and PostgreSQL: every row is the fold of its ticket's events,
satisfaction per dimension and unit equals a recount of the log, and a rebuild from the log
gives the same checksum."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import commands as c
from contracts.base import Category
from contracts.events import from_envelope
from contracts.topics import TICKETS
from contracts.vocabulary import (
    HandlingRating,
    HotlineServiceRating,
    SurveyChannel,
    TicketType,
)
from hotline.log.embedded import EmbeddedEventLog
from hotline.runner import ProjectionRunner
from services.callback import queries
from services.callback.domain import (
    Case,
    case_to_json,
    evolve_case,
    load_callback_policy,
    next_check,
)
from services.callback.projections import CallbackBoard, cases
from services.callback.worker import CallbackWorker
from tests.callback.recount import recount
from tests.dispatch.test_projection import assert_rebuilds_the_same
from tests.intake.conftest import make_platform
from ticketing.client import TicketCommands, tickets_of

BJ = ZoneInfo("Asia/Shanghai")
UNITS = ("d01-urban-squad", "city-urban-mgmt", "d01-street-1")
H = list(HotlineServiceRating)
D = list(HandlingRating)
POLICY = load_callback_policy()


async def run(desk: TicketCommands, command: c.TicketCommand, at: datetime) -> None:
    await desk.execute(command, actor="callback:cb-1", command_id=str(uuid.uuid4()), now=at)


async def replied(desk: TicketCommands, n: int, at: datetime) -> str:
    tid, unit = str(uuid.uuid4()), UNITS[n % len(UNITS)]
    kind = TicketType.PRAISE if n % 11 == 10 else TicketType.REQUEST
    for command in (
        c.RegisterTicket(ticket_id=tid, ticket_number=f"12345-20261123-{n:06d}",
                         contact_ids=(f"c-{tid}",), ticket_type=kind,
                         category=Category(level1="urban-management"), summary="路灯不亮",
                         district_code=f"9901{n % 3 + 1:02d}", registered_by=f"op-{n % 4}"),
        c.DispatchTicket(ticket_id=tid, lead_unit=unit),
        c.AcknowledgeTicket(ticket_id=tid, unit_id=unit),
        c.ReplyTicket(ticket_id=tid, unit_id=unit, text=f"已处理, 联系电话1381234{n:04d}"),
    ):
        await run(desk, command, at)
    return tid


async def answer(desk: TicketCommands, tid: str, n: int, at: datetime) -> None:
    """Open a survey by SMS and answer it with ratings that depend on `n`."""
    sid = str(uuid.uuid4())
    await run(desk, c.OpenSurvey(ticket_id=tid, survey_id=sid, channel=SurveyChannel.SMS,
                                 expires_at=at + timedelta(hours=48)), at)
    await run(desk, c.RecordSurveyAnswer(
        ticket_id=tid, survey_id=sid, hotline_service=H[n % 4], handling=D[(n // 2) % 4],
        comment="路灯仍然不亮" if n % 3 else None, solved=(None, True, False)[n % 3],
        answered_via=SurveyChannel.SMS), at)


async def test_the_board_is_the_fold_of_the_log(tmp_path: Path, db_url: str) -> None:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    platform.db = create_async_engine(db_url)
    desk = tickets_of(platform)
    runner = ProjectionRunner(log, platform.db, CallbackBoard(), batch_size=13)
    worker = CallbackWorker(platform, POLICY)

    async def catch_up() -> None:
        ends = await log.end_offsets(TICKETS)
        await runner.run(until={(TICKETS, p): end for p, end in ends.items()})

    at = datetime(2026, 11, 23, 10, 0, tzinfo=BJ)
    ids = [await replied(desk, n, at) for n in range(33)]
    for n, tid in enumerate(ids):
        if n % 5 != 4:  # every fifth is left to the worker: no phone on file, skipped
            await answer(desk, tid, n, at)
    await catch_up()
    for hours in (1, 2, 3):  # closes and redo requests, the skips and their closes
        await worker.tick(at + timedelta(hours=hours))
        await catch_up()
    pending = [tid for tid in ids if (t := await desk.get(tid)) and t.redo_pending]
    assert pending, "some answers asked for a redo"
    for k, tid in enumerate(pending):
        if k % 2:
            await run(desk, c.RejectRedo(ticket_id=tid, reviewer="sup-1", reason="不予重办"), at)
            continue
        t = await desk.get(tid)
        assert t is not None and t.last_lead_unit is not None
        await run(desk, c.AcceptRedo(ticket_id=tid, reviewer="sup-1", reason="同意重办"), at)
        await run(desk, c.ReplyTicket(ticket_id=tid, unit_id=t.last_lead_unit, text="已重办"), at)
        await answer(desk, tid, k + 1, at)
    await catch_up()
    await worker.tick(at + timedelta(hours=5))
    await catch_up()

    # every row is the fold of its ticket's events
    async with platform.db.connect() as conn:
        rows = {r.ticket_id: r for r in await conn.execute(select(cases))}
    stages = set()
    for tid in ids:
        case: Case | None = None
        for stored in await desk.history(tid):
            case = evolve_case(case, from_envelope(stored.envelope), stored.envelope.time,
                               stored.envelope.streamversion)
        assert case is not None
        row = rows[tid]
        assert json.loads(row.case_json) == case_to_json(case)
        assert row.stage == case.stage
        expected = next_check(case, POLICY)
        got = row.next_check_at
        assert (got and got.replace(tzinfo=UTC)) == (expected and expected.astimezone(UTC))
        assert "13812340" not in (row.reply_text or "")  # numbers in free text are masked
        stages.add(case.stage)
    assert {"closed"} <= stages

    # satisfaction per unit equals the recount of the log
    expected_units = await recount(platform, ids)
    async with platform.db.connect() as conn:
        groups = await queries.satisfaction(conn, "unit")
        overall = await queries.satisfaction(conn, "overall")
        by_agent = await queries.satisfaction(conn, "agent")
    assert {g["key"] for g in groups} == set(expected_units)
    for g in groups:
        assert {k: g[k] for k in expected_units[g["key"]]} == expected_units[g["key"]]
    assert overall[0]["answered"] == sum(u["answered"] for u in expected_units.values())
    assert sum(g["answered"] for g in by_agent) == overall[0]["answered"]
    assert overall[0]["skipped"] > 0 and overall[0]["redone"] > 0

    # a rebuild from the log gives the same rows
    await assert_rebuilds_the_same(log, platform.db, db_url, tmp_path, CallbackBoard())
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await platform.keys.close()
    await log.close()
