"""API keys: one per client (a channel adapter, a member unit, a staff role), stored hashed.

A key is a 256-bit random token, so a plain SHA-256 of it is enough to store:
there is nothing to brute-force. The clear key is shown once, when created
(`hotline keys create`), and never stored.

`ApiKeyStore` is the port; `hotline.apikeys_sql.SqlApiKeyStore` keeps the keys
in one table that every replica of every service reads (a SQLite file by
default, PostgreSQL when HOTLINE_API_KEYS_DB says so), so a key created or
revoked on one replica holds on all of them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from hotline.settings import Settings

if TYPE_CHECKING:
    from hotline.people import PeopleStore

Role = Literal["channel", "operator", "unit", "supervisor", "callback", "analyst", "auditor",
               "editor", "admin"]
PREFIX = "hk_"
MAX_KEY_LENGTH = 128  # ours are 46 characters; anything much longer is not worth hashing


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: a key's holder, or a signed-in person (hotline.people)."""

    name: str
    role: Role
    channel: str | None = None  # the only channel a channel adapter may post on
    unit: str | None = None  # the only unit whose tickets a unit key sees
    person: str | None = None  # the login of a signed-in person

    @property
    def actor(self) -> str:
        """The envelope `actor` for what this principal does: the person where there is one
        (`operator:wang.li`, `unit:d01-urban-squad/zhang.min`)."""
        if self.person is not None:
            return f"{self.role}:{self.unit}/{self.person}" if self.unit else \
                f"{self.role}:{self.person}"
        return f"{self.role}:{self.channel or self.unit or self.name}"


class ApiKeyStore(Protocol):
    """Keys and their holders, and beside them the people (accounts and sessions); every
    service authenticates every request here."""

    @property
    def people(self) -> PeopleStore: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, principal: Principal) -> str:
        """Store a new key for `principal` and return it in clear, the only time it is seen."""
        ...

    async def authenticate(self, key: str | None) -> Principal | None:
        """The holder of `key`, or None (unknown, malformed or revoked)."""
        ...

    async def revoke(self, name: str) -> int:
        """Revoke every live key of the named holder; returns how many."""
        ...

    async def holders(self) -> list[Principal]:
        """The holder of each live key, by name."""
        ...


ApiKeys = ApiKeyStore  # the name the services' `create_app` annotate with


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def plausible(key: str | None) -> bool:
    """Shaped like one of our keys: anything else is refused without a look-up."""
    return key is not None and key.startswith(PREFIX) and len(key) <= MAX_KEY_LENGTH


def open_api_keys(settings: Settings) -> ApiKeyStore:
    """The store the settings choose (not yet started); an old data_dir/api_keys.json is
    imported into it at start."""
    from hotline.apikeys_sql import SqlApiKeyStore

    return SqlApiKeyStore(settings.api_keys_db, legacy=settings.data_dir / "api_keys.json")
