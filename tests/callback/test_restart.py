"""Crash paths of the callback, on both engines:

- the answer is recorded but the process dies before its follow-up: the worker sends it,
  and the answer sent again (the citizen's retry) appends nothing more;
- the worker dies between two commands, or is run twice: each step happens once;
- the survey sender dies after handing messages to the outbox, before its COMMIT: the batch
  is sent again with the same message ids (gateways drop repeats), nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from contracts import commands as c
from contracts.events import from_envelope
from contracts.topics import TICKETS
from contracts.vocabulary import HandlingRating, HotlineServiceRating, SurveyChannel
from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from services.callback.app import survey_links
from services.callback.domain import step_id
from services.callback.outbox import FileOutbox
from services.callback.sender import SurveySender
from services.callback.service import Ratings
from tests.callback.conftest import messages, replied_ticket, work_at
from tests.dispatch.conftest import BEIJING, Hotline
from ticketing.client import tickets_of

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)


async def types(h: Hotline, tid: str) -> list[str]:
    return [type(from_envelope(s.envelope)).__name__
            for s in await tickets_of(h.platform).history(tid)]


async def test_an_answer_whose_follow_up_was_lost(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    tid, _ = await replied_ticket(h, "wx-1")
    await work_at(h)
    desk = tickets_of(h.platform)
    ticket = await desk.get(tid)
    assert ticket is not None and ticket.survey_id is not None
    sid = ticket.survey_id
    ratings = Ratings(HotlineServiceRating.SATISFIED, HandlingRating.DISSATISFIED_WITH_RESULT,
                      "灯还是不亮")
    # the service records the answer ... and dies before sending the redo request
    await desk.execute(c.RecordSurveyAnswer(
        ticket_id=tid, survey_id=sid, hotline_service=ratings.hotline_service,
        handling=ratings.handling, comment=ratings.comment, answered_via=SurveyChannel.WECHAT),
        actor="citizen:wechat", command_id="answer-1", now=h.clock.now)
    report = await work_at(h)
    assert report.fired == 1  # the worker asks for the redo
    assert (await types(h, tid))[-2:] == ["SurveyAnswered", "RedoRequested"]
    # the citizen's retry of the same answer: answered from the log, nothing appended
    assert h.callback_service is not None
    again = await h.callback_service.answer(tid, sid, ratings, SurveyChannel.WECHAT,
                                            "citizen:wechat", "answer-1", h.clock.now)
    assert again.answer.duplicate and again.follow_up is not None and again.follow_up.duplicate
    assert (await types(h, tid)).count("RedoRequested") == 1
    redo = c.RequestRedo(ticket_id=tid, survey_id=sid, reason="灯还是不亮")
    assert again.follow_up.events[0].causationid == step_id(tid, redo, sid)


async def test_the_worker_run_twice_or_stale_does_each_step_once(hotline_cb: Hotline) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    ids = [(await replied_ticket(h, f"call-{n}", channel="phone"))[0] for n in range(4)]
    await h.settle()
    assert h.worker is not None
    first = await h.worker.tick(h.clock.now)
    again = await h.worker.tick(h.clock.now)  # the board has not caught up: nothing resent
    assert (first.fired, again.fired, again.resent) == (4, 0, 0)
    h.worker._awaiting.clear()  # a restarted worker knows nothing: the desk answers it
    restarted = await h.worker.tick(h.clock.now)
    # what the board still shows due (all four unless it caught up meanwhile, as it may on
    # a loaded machine) is sent again and answered from the log: nothing appended twice
    assert restarted.fired == 0
    assert restarted.resent + sum(restarted.refused.values()) == restarted.due <= 4
    for tid in ids:
        assert (await types(h, tid)).count("SurveyOpened") == 1
    await work_at(h, MONDAY + timedelta(hours=49))  # all four unanswered
    await work_at(h)  # phone tasks
    for tid in ids:
        assert (await types(h, tid)).count("SurveyOpened") == 2
        assert (await types(h, tid)).count("SurveyUnanswered") == 1


class Crash(Exception):
    """The sender dies after handing its batch to the outbox, before its COMMIT."""


async def test_the_sender_resends_a_batch_it_did_not_commit(hotline_cb: Hotline,
                                                             log: EventLog) -> None:
    h = hotline_cb
    h.clock.now = MONDAY
    for n in range(3):
        await replied_ticket(h, f"wx-{n}")
    await work_at(h)
    assert len(messages(h)) == 3  # the fixture's own sender
    outbox = FileOutbox(h.platform.settings.data_dir / "second-outbox.jsonl")
    engine = create_async_engine(f"sqlite+aiosqlite:///{h.platform.settings.data_dir}/s.db")
    ends = {(TICKETS, p): end for p, end in (await log.end_offsets(TICKETS)).items()}

    async def crash() -> None:  # at the first batch that handed messages to the outbox
        if outbox.read():
            raise Crash

    def sender() -> SurveySender:  # a second sender, beside the fixture's: its own group
        relay = SurveySender(h.platform, survey_links(h.platform), outbox, h.clock)
        relay.name = "callback-sender-under-test"
        return relay

    try:
        with pytest.raises(Crash):
            await ProjectionRunner(log, engine, sender(), batch_size=500,
                                   before_commit=crash).run(until=ends)
        # a Kafka fetch may hand over the three surveys in more than one batch: the batch
        # that crashed is what was sent and not committed
        sent_once = outbox.read()
        n = len(sent_once)
        assert 1 <= n <= 3
        await ProjectionRunner(log, engine, sender(), batch_size=500).run(until=ends)
        resent = outbox.read()
        again = {m["message_id"]: m for m in resent[n:]}  # partitions come in any order
        assert len(resent) == n + 3 and len(again) == 3
        assert all(again[m["message_id"]] == m for m in sent_once)  # same ids, same links
        await ProjectionRunner(log, engine, sender(), batch_size=500).run(until=ends)
        assert len(outbox.read()) == len(resent)  # committed: never again
    finally:
        await engine.dispose()
