"""API keys: one per client (a channel adapter today; units and staff later), stored hashed.

The key file maps SHA-256(key) to who holds it. Keys are 256-bit random
tokens, so a plain SHA-256 is enough: there is nothing to brute-force. The
clear key is shown once, when created (`hotline keys create`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Role = Literal["channel", "operator", "unit", "supervisor", "callback", "analyst", "auditor"]
PREFIX = "hk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from, as its key says."""

    name: str
    role: Role
    channel: str | None = None  # the only channel a channel adapter may post on
    unit: str | None = None  # the only unit whose tickets a unit key sees

    @property
    def actor(self) -> str:
        """The envelope `actor` for what this principal does."""
        return f"{self.role}:{self.channel or self.unit or self.name}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """The key file, loaded once and rewritten atomically when a key is added or revoked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys: dict[str, Principal] = {}
        if path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            self._keys = {h: Principal(**p) for h, p in raw.items()}

    def authenticate(self, key: str | None) -> Principal | None:
        """The holder of `key`, or None."""
        if not key or not key.startswith(PREFIX):
            return None
        return self._keys.get(digest(key))

    def create(self, principal: Principal) -> str:
        """Store a new key for `principal` and return it in clear, the only time it is seen."""
        key = PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._keys[digest(key)] = principal
            self._save()
        return key

    def revoke(self, name: str) -> int:
        """Remove every key of the named holder; returns how many."""
        with self._lock:
            before = len(self._keys)
            self._keys = {h: p for h, p in self._keys.items() if p.name != name}
            self._save()
            return before - len(self._keys)

    def holders(self) -> list[Principal]:
        return sorted(self._keys.values(), key=lambda p: p.name)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {h: asdict(p) for h, p in sorted(self._keys.items())}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)
