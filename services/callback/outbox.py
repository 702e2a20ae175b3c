"""Where survey messages leave the platform: the `Outbox` port and its file adapter.

The SMS gateway and the WeChat / app push services are outside the platform; a real
deployment plugs an adapter for each behind `Outbox.send`. The embedded default,
`FileOutbox`, appends each message as one JSON line to a file, with the phone and the
channel identity (openid) masked:
the file is for people to read (and tests to follow links from), not a way to leak numbers.
A message id is the survey id, so a gateway drops a resend (delivery is at-least-once).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from contracts.personal import mask_phone
from contracts.vocabulary import SurveyChannel


@dataclass(frozen=True, slots=True)
class Message:
    """One survey message to one citizen."""

    message_id: str  # the survey id: the gateway's deduplication key
    channel: SurveyChannel  # sms, wechat, app or web
    text: str
    link: str
    sent_at: datetime
    phone: str | None = None  # SMS: the number, in clear for the gateway only
    reply_to: str | None = None  # WeChat / app / web: the citizen's message id on that channel
    to_user: str | None = None  # WeChat / app / web: the citizen there (openid), in clear


class Outbox(Protocol):
    async def send(self, message: Message) -> None:
        """Hand the message over; return only once the gateway has taken it."""


def _mask_user(user: str) -> str:
    """A channel identity as the file shows it: enough to tell two apart, not to reach one."""
    return user[:4] + "****"


class FileOutbox:
    """Messages as JSON lines in one file (the development and test gateway)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        line = json.dumps({
            "message_id": message.message_id, "channel": message.channel.value,
            "to": mask_phone(message.phone) if message.phone else (
                _mask_user(message.to_user) if message.to_user else message.reply_to),
            "text": message.text, "link": message.link,
            "sent_at": message.sent_at.isoformat(),
        }, ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def read(self) -> list[dict[str, str]]:
        """Every message written so far (for people and tests)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]
