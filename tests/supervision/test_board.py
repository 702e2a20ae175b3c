"""The supervision board on SQLite and PostgreSQL: every row equals a fold of its ticket's
events, a rebuild from the log gives the same checksum, and the per-unit tally equals a
recount of the log."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import commands as c
from contracts import events as e
from contracts.base import Category
from contracts.events import from_envelope
from contracts.topics import TICKETS
from contracts.vocabulary import OrderKind, TicketType, Urgency
from hotline.log.embedded import EmbeddedEventLog
from hotline.runner import ProjectionRunner
from reference.calendar import WorkingCalendar
from reference.policy import load_policy
from services.supervision import queries
from services.supervision.escalation import next_check
from services.supervision.projections import SupervisionBoard, board
from services.supervision.ticker import Ticker
from services.supervision.watch import Watch, evolve_watch, to_json
from tests.dispatch.test_projection import assert_rebuilds_the_same
from tests.intake.conftest import make_platform
from ticketing.client import TicketCommands, tickets_of

BJ = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()
CAL = WorkingCalendar.load(POLICY.jurisdiction)
UNITS = ("d01-urban-squad", "city-urban-mgmt", "d01-street-1")
TYPES = list(TicketType)


async def run(desk: TicketCommands, command: c.TicketCommand, at: datetime) -> None:
    await desk.execute(command, actor="operator:op-1", command_id=str(uuid.uuid4()), now=at)


async def histories(desk: TicketCommands, start: datetime) -> list[str]:
    """30 tickets of every type and fate: waiting, acknowledged, extended, returned, replied,
    closed, with repeat contacts and a supervisor's reminder."""
    ids = []
    for n in range(30):
        tid, at = str(uuid.uuid4()), start + timedelta(hours=n % 7)
        kind, unit = TYPES[n % len(TYPES)], UNITS[n % len(UNITS)]
        ack, reply = POLICY.at_dispatch(kind, Urgency.NORMAL, n % 5 == 0, at, CAL)
        await run(desk, c.RegisterTicket(
            ticket_id=tid, ticket_number=f"12345-20260302-{n:06d}", contact_ids=(f"c-{tid}",),
            ticket_type=kind, category=Category(level1="urban-management"), summary="路灯不亮",
            district_code=f"9901{n % 3 + 1:02d}", registered_by="op-1"), at)
        await run(desk, c.DispatchTicket(ticket_id=tid, lead_unit=unit,
                                          deadlines=(ack, reply)), at)
        if n % 6 != 1:
            await run(desk, c.AcknowledgeTicket(ticket_id=tid, unit_id=unit), at)
        if n % 6 == 2:
            await run(desk, c.RequestExtension(
                ticket_id=tid, unit_id=unit, request_id="x", reason="需采购材料",
                requested_due_at=reply.due_at + timedelta(days=9)), at)
            await run(desk, c.ApproveExtension(ticket_id=tid, request_id="x",
                                               approved_by="sup-1"), at)
        if n % 6 == 3:
            await run(desk, c.ReturnTicket(ticket_id=tid, unit_id=unit, reason="非本单位职责"), at)
        if n % 6 == 4:
            await run(desk, c.ReplyTicket(ticket_id=tid, unit_id=unit, text="已处理"), at)
        if n % 10 == 5:
            for k in (2, 3):
                await run(desk, c.MergeContact(ticket_id=tid, contact_id=f"c-{tid}-{k}"), at)
        if n % 10 == 7:
            await run(desk, c.IssueSupervisionOrder(
                ticket_id=tid, order_id=f"reminder/{n}", kind=OrderKind.REMINDER, unit_id=unit,
                due_at=CAL.add_working_days(at, 1), text="请加快办理", issued_by="sup-1"), at)
        ids.append(tid)
    return ids


async def test_the_board_is_the_fold_of_the_log(tmp_path: Path, db_url: str) -> None:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    platform = await make_platform(log, tmp_path)
    platform.db = create_async_engine(db_url)
    desk = tickets_of(platform)
    ids = await histories(desk, datetime(2026, 3, 2, 9, 30, tzinfo=BJ))
    runner = ProjectionRunner(log, platform.db, SupervisionBoard(), batch_size=17)

    async def catch_up() -> None:
        ends = await log.end_offsets(TICKETS)
        await runner.run(until={(TICKETS, p): end for p, end in ends.items()})

    await catch_up()
    ticker = Ticker(platform, POLICY, CAL)
    for day in (3, 5, 10, 20):  # escalations, with the board caught up between ticks
        await ticker.tick(datetime(2026, 3, day, 17, 45, tzinfo=BJ))
        await catch_up()

    # every row is the fold of its ticket's events
    async with platform.db.connect() as conn:
        rows = {r.ticket_id: r for r in await conn.execute(select(board))}
    marks: dict[str, Counter[str]] = {}
    for tid in ids:
        watch: Watch | None = None
        for stored in await desk.history(tid):
            event = from_envelope(stored.envelope)
            watch = evolve_watch(watch, event, stored.envelope.time, tid)
            if isinstance(event, e.CardIssued):
                marks.setdefault(event.unit_id, Counter())[event.colour.value] += 1
        assert watch is not None
        row = rows[tid]
        assert json.loads(row.watch) == to_json(watch)
        expected = next_check(watch, POLICY, CAL)
        got = row.next_check_at
        assert (got and got.replace(tzinfo=UTC)) == (expected and expected.astimezone(UTC))
        colour = watch.colour()
        assert row.colour == (colour.value if colour else None)
    assert sum(sum(m.values()) for m in marks.values()) > 10  # the ticks did fire cards

    # the tally equals the recount
    async with platform.db.connect() as conn:
        tallies = await queries.unit_tallies(conn, datetime(2026, 3, 20, tzinfo=BJ))
    for t in tallies:
        assert t.cards == {"yellow": marks.get(t.unit_id, Counter())["yellow"],
                           "red": marks.get(t.unit_id, Counter())["red"]}
        assert t.tickets == sum(1 for n in range(30) if UNITS[n % len(UNITS)] == t.unit_id)

    # a rebuild from the log gives the same rows
    await assert_rebuilds_the_same(log, platform.db, db_url, tmp_path, SupervisionBoard())
    await platform.close_shared()  # its desk's snapshots written
    await platform.db.dispose()
    await platform.keys.close()
    await log.close()
