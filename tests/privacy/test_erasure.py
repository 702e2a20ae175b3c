"""Erasure cannot be undone (issue 11 §2, PIPL art. 47), on both engines.

A citizen with two tickets, their phone in the contents, a survey comment and
a unit's note, and their home's room in the summary, is forgotten with
`hotline forget` in another process. Then no role sees their data, no file
under the data dir holds their key (clear or wrapped), their number or their
room, a new call from the same phone is a new citizen that is not offered the
old tickets as duplicates, and `hotline verify` and
`hotline replay` still pass on every topic.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from contracts.topics import CONTACTS, TICKETS
from hotline.log.port import EventLog
from tests.callback.conftest import cb_post, messages, token, work_at
from tests.conftest import settings_env
from tests.dispatch.conftest import LOCATION, Hotline

PHONE = "13923456781"
HOME = "幸福路18号3单元502室"
ROOM = "3单元502室"  # what the log must not keep in clear
UNIT = "d01-urban-squad"


def hotline_cli(h: Hotline, log: EventLog, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(h.platform.settings.data_dir),
           "HOTLINE_DB": str(h.platform.db.url), **settings_env(log)}
    return subprocess.run([sys.executable, "-m", "hotline", *args], env=env,
                          capture_output=True, text=True, timeout=120)


async def _ticket(h: Hotline, message_id: str) -> tuple[str, str]:
    """A contact from PHONE with the number in its content, registered with the number and
    the home in its summary, dispatched, noted by the unit with the number, replied:
    (contact id, ticket id)."""
    cid = await h.contact(message_id, caller={"name": "李四", "phone": PHONE},
                          content=f"请回电 {PHONE}, 小区路灯不亮", location=LOCATION,
                          received_at=h.clock.now.isoformat())
    r = await h.post("/v1/tickets", "operator", {
        "contact_ids": [cid], "ticket_type": "request",
        "summary": f"路灯不亮, 联系{PHONE}, 住{HOME}",
        "category": {"level1": "urban-management", "level2": "street-lights"}})
    tid = r.json()["ticket_id"]
    for path, who, body in (("dispatch", "operator", {"lead_unit": UNIT}),
                            ("acknowledge", UNIT, {}),
                            ("progress", UNIT, {"note": f"已电话联系 {PHONE[:3]}-{PHONE[3:]}"}),
                            ("reply", UNIT, {"text": "已修复"})):
        r = await h.post(f"/v1/tickets/{tid}/{path}", who, body)
        assert r.status_code == 200, r.text
    return cid, tid


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_a_forgotten_citizen_is_gone_for_good(hotline_cb: Hotline, log: EventLog) -> None:
    h = hotline_cb
    neighbours = [f"phone:137{i:08d}" for i in range(60)]  # keys stored beside the erased one
    for identity in neighbours[:30]:
        await h.platform.keys.citizen(identity)
    first_contact, first = await _ticket(h, "wx-erase-1")
    _, second = await _ticket(h, "wx-erase-2")
    for identity in neighbours[30:]:
        await h.platform.keys.citizen(identity)
    await work_at(h)
    link = token(messages(h)[0])
    await cb_post(h, f"/v1/surveys/{link}/answer", None, {
        "hotline_service": "satisfied", "handling": "satisfied",
        "comment": f"满意, 有事打{PHONE}"})
    await h.settle()
    kid = (await h.get(f"/v1/tickets/{first}", "operator")).json()["ticket"]["citizen_ref"]
    key = await h.platform.keys.key(kid)
    assert key is not None
    keys_db = h.platform.settings.data_dir / "keys.db"
    wrapped = sqlite3.connect(keys_db).execute(
        "SELECT wrapped FROM citizen_keys WHERE kid=?", (kid,)).fetchone()[0]

    assert any(bytes(wrapped) in p.read_bytes() for p in _files(h.platform.settings.data_dir))
    forgot = hotline_cli(h, log, "forget", "--phone", PHONE)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr

    # no role sees the data any more
    for tid in (first, second):
        detail = (await h.get(f"/v1/tickets/{tid}", "operator")).json()
        assert detail["contacts"][0]["caller"] == {"erased": "[已删除]"}
        history = (await h.get(f"/v1/tickets/{tid}/history", "supervisor")).json()
        typed = [e["text_as_typed"] for e in history if "text_as_typed" in e]
        assert typed and all(t == {"erased": "[已删除]"} for t in typed)
    # no file yields the key or the number (secure_delete zeroes the freed cell between its
    # neighbours; the truncated WAL holds no older copy)
    for path in _files(h.platform.settings.data_dir):
        content = path.read_bytes()
        for secret in (key, bytes(wrapped), PHONE.encode(), ROOM.encode()):
            assert secret not in content, f"{path.name} still holds it"
    # a new call from the same phone is somebody new
    again = await h.contact("wx-erase-3", caller={"name": "李四", "phone": PHONE},
                            content="路灯又不亮了", location=LOCATION,
                            received_at=h.clock.now.isoformat())
    await h.settle()
    detail = (await h.get(f"/v1/tickets/{first}", "operator")).json()
    assert first_contact in [c["contact_id"] for c in detail["contacts"]]
    offered = (await h.get(f"/v1/contacts/{again}/duplicates", "operator")).json()
    assert all("同一来电人" not in " ".join(d["reasons"]) for d in offered)
    # the history still proves itself and replays
    for topic in (CONTACTS, TICKETS):
        verified = hotline_cli(h, log, "verify", "--topic", topic)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    replayed = hotline_cli(h, log, "replay", f"ticket-{first}", "--as", "operator")
    assert replayed.returncode == 0 and "TicketReplied" in replayed.stdout
    assert PHONE not in replayed.stdout and "[已删除]" in replayed.stdout
    assert ROOM not in replayed.stdout and "幸福路18号*单元***室" in replayed.stdout
