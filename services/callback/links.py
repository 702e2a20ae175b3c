"""Signed, expiring survey links (回访链接): what lets a citizen answer without an account.

A token carries the survey id, the ticket id, the survey's channel and its expiry, and an
HMAC-SHA256 over them (truncated to 96 bits: a forger gets one guess per request) under a
key derived from the platform's secret. Nothing is stored: the token is checked, then the
decider checks the survey is still open. 66 URL-safe characters, short enough for an SMS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.vocabulary import SurveyChannel

_CHANNELS = tuple(SurveyChannel)
_LAYOUT = struct.Struct(">16s16sIB")  # survey uuid, ticket uuid, expiry (unix s), channel
_MAC_BYTES = 12


class BadLink(Exception):
    """The link was altered or made up (`forged`) or is out of date (`expired`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SurveyLink:
    survey_id: str
    ticket_id: str
    channel: SurveyChannel
    expires_at: datetime


def link_key(secret: bytes) -> bytes:
    """The links' own key, derived from a platform secret (never the secret itself)."""
    return hmac.new(secret, b"hotline survey links v1", hashlib.sha256).digest()


def sign(key: bytes, link: SurveyLink) -> str:
    payload = _LAYOUT.pack(uuid.UUID(link.survey_id).bytes, uuid.UUID(link.ticket_id).bytes,
                           int(link.expires_at.timestamp()), _CHANNELS.index(link.channel))
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return _encode(payload + mac)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify(key: bytes, token: str, now: datetime) -> SurveyLink:
    """The link a token stands for; `BadLink` when forged or expired."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError as exc:
        raise BadLink("forged") from exc
    if len(raw) != _LAYOUT.size + _MAC_BYTES or _encode(raw) != token:
        raise BadLink("forged")  # the decoder forgives padding and stray bits: one spelling only
    payload, mac = raw[:_LAYOUT.size], raw[_LAYOUT.size:]
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]):
        raise BadLink("forged")
    survey, ticket, expires, channel = _LAYOUT.unpack(payload)
    if channel >= len(_CHANNELS):
        raise BadLink("forged")
    link = SurveyLink(str(uuid.UUID(bytes=survey)), str(uuid.UUID(bytes=ticket)),
                      _CHANNELS[channel], datetime.fromtimestamp(expires, UTC))
    if now >= link.expires_at:
        raise BadLink("expired")
    return link


class Links:
    """Makes and checks the links of one platform: the key derives from its pepper secret,
    fetched once; `base` is the public address of the survey pages."""

    def __init__(self, secret: Callable[[], Awaitable[bytes]], base: str) -> None:
        self._secret = secret
        self._key: bytes | None = None
        self.base = base.rstrip("/")

    async def key(self) -> bytes:
        if self._key is None:
            self._key = link_key(await self._secret())
        return self._key

    async def url(self, link: SurveyLink) -> str:
        return f"{self.base}/s/{sign(await self.key(), link)}"

    async def verify(self, token: str, now: datetime) -> SurveyLink:
        return verify(await self.key(), token, now)
