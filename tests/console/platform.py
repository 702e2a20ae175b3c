"""`hotline run` for the browser tests: a real process on free ports, in a temporary
directory, and what a test needs of it (the development accounts, a contact posted as a
channel adapter would, the survey links the platform sent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hotline.devbroker import free_port
from services.console.labels import BEIJING
from tests.e2e.test_run import start, stop

PHONE = "13912345678"
MASKED = "139****5678"
SAMPLE = Path(__file__).parents[2] / "services" / "knowledge" / "data" / "sample"


def until(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    """`check()`'s first truthy answer (the read models and the workers catch up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout_s} s: {what}")


class Platform:
    """`hotline run` in a temporary directory."""

    def __init__(self, data: Path, ports: dict[str, int]) -> None:
        self.data, self.ports = data, ports
        self.password = json.loads((data / "dev-accounts.json").read_text())["password"]
        self.keys = json.loads((data / "dev-keys.json").read_text())

    @property
    def console(self) -> str:
        return f"http://127.0.0.1:{self.ports['console']}"

    def contact(self, message_id: str, content: str) -> str:
        """A WeChat message, as the channel adapter posts it."""
        answer = httpx.post(
            f"http://127.0.0.1:{self.ports['intake']}/v1/contacts",
            headers={"Authorization": f"Bearer {self.keys['wechat']}"},
            json={"channel": "wechat", "channel_message_id": message_id,
                  "received_at": datetime.now(BEIJING).isoformat(),
                  "caller": {"name": "张三", "phone": PHONE}, "content": content,
                  "location": {"address": "东湖区幸福路18号", "district_code": "990101"}})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["contact_id"])

    def calls(self, outcomes: list[tuple[str, float]]) -> None:
        """Calls as the phone system reports them, offered a minute apart from an hour ago:
        (outcome, seconds waited) each."""
        start = datetime.now(BEIJING) - timedelta(hours=1)
        calls = []
        for i, (outcome, wait) in enumerate(outcomes):
            offered = start + timedelta(minutes=i)
            ended = offered + timedelta(seconds=wait + 60)
            calls.append({"call_id": f"console-call-{i}", "offered_at": offered.isoformat(),
                          "outcome": outcome, "wait_seconds": wait,
                          "ended_at": ended.isoformat(),
                          **({"answered_at": (offered + timedelta(seconds=wait)).isoformat(),
                              "talk_seconds": 60.0} if outcome == "answered" else {})})
        answer = httpx.post(f"http://127.0.0.1:{self.ports['intake']}/v1/calls",
                            headers={"Authorization": f"Bearer {self.keys['phone']}"},
                            json={"calls": calls})
        assert answer.status_code == 202, answer.text

    def survey_links(self) -> list[str]:
        outbox = self.data / "outbox.jsonl"
        if not outbox.exists():
            return []
        return [json.loads(line)["link"] for line in outbox.read_text().splitlines() if line]


@contextmanager
def running(data: Path, knowledge: str | None = None) -> Iterator[Platform]:
    """The whole platform on `data`, with the sample knowledge file `knowledge` imported
    first (as `make run` does); stopped afterwards."""
    if knowledge:
        imported = subprocess.run(
            [sys.executable, "-m", "hotline", "knowledge", "import", "--by", "dev.editor",
             str(SAMPLE / knowledge)], env={**os.environ, "HOTLINE_DATA_DIR": str(data)},
            capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported.stdout + imported.stderr
    ports = {"intake": free_port(), "console": free_port(), "callback": free_port()}
    proc = start(data, ports["intake"], {
        "HOTLINE_CONSOLE_PORT": str(ports["console"]),
        "HOTLINE_CALLBACK_PORT": str(ports["callback"]),
        "HOTLINE_CALLBACK_TICK_SECONDS": "0.5"})
    try:  # the development accounts are written once every service is ready
        until(lambda: (data / "dev-accounts.json").exists(), "the development accounts")
        until(lambda: _ready(ports["console"]), "the console")
        yield Platform(data, ports)
    finally:
        stop(proc)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
