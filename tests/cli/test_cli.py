"""The `hotline` command line on the embedded engine: replay, verify, rebuild, forget, topics."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.events import (
    TicketAcknowledged,
    TicketDispatched,
    TicketRegistered,
    TicketReplied,
)
from contracts.vocabulary import TicketType
from hotline.devbroker import tansu_env
from hotline.eventstore import Context
from hotline.runtime import Platform
from hotline.settings import Settings
from tests.cli import hotline
from tests.conftest import unique

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STREAM = "ticket-7f1c"


async def seed(data_dir: Path) -> None:
    """One ticket with four events, appended the way services append them."""
    platform = Platform.from_settings(Settings(data_dir=data_dir))
    await platform.start()
    registered = TicketRegistered(
        ticket_id="7f1c", ticket_number="12345-20261120-000001", contact_ids=("c-1",),
        ticket_type=TicketType.REQUEST, category={"level1": "utilities", "level2": "water"},
        summary="幸福小区停水三天, 请求尽快恢复供水", district_code="110101",
        registered_by="op-017")
    steps = [
        (registered, "operator:op-017"),
        (TicketDispatched(lead_unit="U0301", note="紧急, 请优先处理", urgent=True),
         "operator:op-017"),
        (TicketAcknowledged(unit_id="U0301"), "unit:U0301"),
        (TicketReplied(unit_id="U0301", text="已抢修完毕, 今日18时恢复供水", solved=True),
         "unit:U0301"),
    ]
    for version, (event, actor) in enumerate(steps):
        await platform.store.append(STREAM, [event], expected_version=version,
                                    context=Context.new(actor, "/tests"),
                                    now=T0 + timedelta(hours=version))
    await platform.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    asyncio.run(seed(tmp_path))
    return tmp_path



def records_db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "log.db", isolation_level=None)


def test_replay_shows_every_step_with_actor_and_beijing_time(data_dir: Path) -> None:
    code, out = hotline("replay", STREAM)
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("Ticket")]
    assert [line.split()[0] for line in lines] == [
        "TicketRegistered", "TicketDispatched", "TicketAcknowledged", "TicketReplied"]
    assert "2026-11-20 17:00:00" in lines[0] and "operator:op-017" in lines[0]
    assert "unit:U0301" in lines[2] and "紧急, 请优先处理" in out


def test_verify_passes_an_intact_history(data_dir: Path) -> None:
    code, out = hotline("verify", STREAM)
    assert code == 0 and "0 problem(s)" in out
    code, out = hotline("verify", "--topic", "hotline.tickets")
    assert code == 0 and "1 stream(s) checked" in out


def test_verify_reports_an_altered_event(data_dir: Path) -> None:
    db = records_db(data_dir)
    value = db.execute("SELECT value FROM records WHERE topic='hotline.tickets' "
                       "ORDER BY \"offset\" LIMIT 1 OFFSET 1").fetchone()[0]
    forged = value.replace("紧急, 请优先处理".encode(), "一般".encode())
    db.execute("UPDATE records SET value=? WHERE value=?", (forged, value))
    code, out = hotline("verify", STREAM)
    assert code == 1 and "#3" in out and "altered, removed or moved" in out


def test_verify_reports_a_deleted_event(data_dir: Path) -> None:
    db = records_db(data_dir)
    db.execute("DELETE FROM records WHERE topic='hotline.tickets' AND \"offset\" = "
               "(SELECT MIN(\"offset\") + 2 FROM records WHERE topic='hotline.tickets')")
    code, out = hotline("verify", STREAM)
    assert code == 1 and "missing or out of order" in out


def test_verify_reports_reordered_events(data_dir: Path) -> None:
    db = records_db(data_dir)
    rows = db.execute("SELECT \"offset\", value FROM records WHERE topic='hotline.tickets' "
                      "ORDER BY \"offset\"").fetchall()
    (o2, v2), (o3, v3) = rows[1], rows[2]
    db.execute("UPDATE records SET value=? WHERE topic='hotline.tickets' AND \"offset\"=?",
               (v3, o2))
    db.execute("UPDATE records SET value=? WHERE topic='hotline.tickets' AND \"offset\"=?",
               (v2, o3))
    code, out = hotline("verify", STREAM)
    assert code == 1 and "missing or out of order" in out


def test_verify_reports_a_truncated_tail(data_dir: Path) -> None:
    db = records_db(data_dir)
    db.execute("DELETE FROM stream_records WHERE version = 4")
    code, out = hotline("verify", STREAM)
    assert code == 1 and "the log records 4 events" in out


def test_topics_lists_sizes(data_dir: Path) -> None:
    code, out = hotline("topics")
    assert code == 0 and "hotline.tickets" in out and "hotline.contacts" in out


def test_forget_needs_a_citizen(data_dir: Path) -> None:
    code, _ = hotline("forget")
    assert code == 2
    code, out = hotline("forget", "--phone", "13812345678")
    assert code == 1 and "no citizen" in out  # nobody with that phone has called yet


def test_rebuild_intake(data_dir: Path) -> None:
    code, out = hotline("rebuild", "intake")
    assert code == 0, out
    assert "intake: 0 events applied" in out  # tickets are not intake's; contacts are empty
    code, out = hotline("rebuild", "nonesuch")
    assert code == 2


async def post_contact(data_dir: Path) -> str:
    from services.intake.domain import ContactIn
    from services.intake.service import receive_contact

    platform = Platform.from_settings(Settings(data_dir=data_dir))
    await platform.start()
    contact = ContactIn.model_validate({
        "channel": "phone", "channel_message_id": "cti-42", "received_at": T0.isoformat(),
        "caller": {"name": "李娜", "phone": "+86 139 0000 1111"},
        "content": "楼上装修噪音扰民", "location": {"address": "朝阳区和平街5号楼1单元"},
    })
    receipt = await receive_contact(platform, contact, "channel:phone", T0)
    await platform.close()
    return f"contact-{receipt.contact_id}"


def test_forget_shreds_a_citizen_yet_the_stream_replays_and_verifies(data_dir: Path) -> None:
    stream = asyncio.run(post_contact(data_dir))
    code, out = hotline("replay", stream, "--as", "operator")
    assert code == 0 and "李娜" in out and "和平街5号楼" in out
    code, out = hotline("replay", stream, "--as", "analyst")
    assert code == 0 and "李*" in out and "139****1111" in out and "李娜" not in out
    code, out = hotline("replay", stream)
    assert "李娜" not in out and "🔒sealed" in out
    code, out = hotline("forget", "--phone", "13900001111")  # same citizen, written differently
    assert code == 0 and "key erased" in out
    code, out = hotline("replay", stream, "--as", "operator")
    assert code == 0 and "李娜" not in out and "和平街5号楼" not in out and "[已删除]" in out
    assert "楼上装修噪音扰民" in out  # the matter itself is still on record
    code, out = hotline("verify", stream)
    assert code == 0, out
    log_bytes = (data_dir / "log.db").read_bytes()
    for secret in ("李娜", "13900001111", "139 0000 1111", "和平街5号楼"):
        assert secret.encode() not in log_bytes


def test_tail_decodes_the_last_records(data_dir: Path) -> None:
    code, out = hotline("tail", "hotline.tickets", "-n", "2")
    assert code == 0
    assert "TicketAcknowledged" in out and "TicketReplied" in out and "TicketRegistered" not in out


def test_tail_explains_dead_letters(data_dir: Path) -> None:
    async def dead_letter() -> None:
        from contracts.topics import DEADLETTER
        from hotline.log.port import Record
        from hotline.runner import dead_letter

        platform = Platform.from_settings(Settings(data_dir=data_dir))
        await platform.start()
        broken = Record("hotline.tickets", 3, 41, "ticket-x", b"{oops", {}, 0)
        await platform.log.append(DEADLETTER, [dead_letter(broken, "not JSON", "dispatch")])
        await platform.close()

    asyncio.run(dead_letter())
    code, out = hotline("tail", "hotline.deadletter")
    assert code == 0 and "dead letter from hotline.tickets/3@41 (dispatch): not JSON" in out


@pytest.mark.kafka
def test_replay_and_verify_read_a_kafka_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str
) -> None:
    """An auditor's commands against the production engine: the history, in order, intact."""
    env = {"HOTLINE_DATA_DIR": str(tmp_path), **tansu_env(kafka_bootstrap),
           "HOTLINE_TOPIC_PREFIX": unique("cli") + "."}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    asyncio.run(seed(tmp_path))
    code, out = hotline("replay", STREAM)
    assert code == 0, out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("Ticket")] == [
        "TicketRegistered", "TicketDispatched", "TicketAcknowledged", "TicketReplied"]
    code, out = hotline("verify", "--topic", "hotline.tickets")
    assert code == 0 and "1 stream(s) checked, 0 problem(s)" in out
