"""Personal data in events: sealed under a per-citizen key (crypto-shredding, PIPL art. 47).

Caller name, phone, ID number and address never enter the log in clear. They
are sealed with AES-256-GCM under a data key that belongs to one citizen and
lives outside the log (`hotline.keystore`). Erasing that key makes every
sealed field of that citizen unreadable, while the events, their hashes and
the rest of the history stay intact and replayable.

The citizen is identified in events by `citizen_ref`, an HMAC of the
normalised phone (or ID number) under a platform secret ("pepper"): stable, so
repeat callers can be matched, but not reversible from the log alone.
Anonymous contacts get a random ref, so their sealed address is erasable too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

KEY_BYTES = 32
NONCE_BYTES = 12
ERASED = "[已删除]"  # shown where a sealed field's key has been erased


class Sealed(BaseModel):
    """Personal data encrypted under one citizen's key; opaque to the log and to most readers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kid: str = Field(min_length=8, description="citizen_ref whose key sealed this")
    nonce: str = Field(description="base64 AES-GCM nonce (96 bits)")
    ct: str = Field(description="base64 ciphertext with the GCM tag")


class Unreadable(Exception):
    """The key is erased or the ciphertext was tampered with."""


def normalise_phone(phone: str) -> str:
    """Digits only, without a +86/0086 country prefix, so one citizen has one ref."""
    digits = re.sub(r"\D", "", phone)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix):]
    return digits


def citizen_ref(pepper: bytes, *, phone: str | None = None, id_number: str | None = None) -> str:
    """Pseudonymous citizen id: HMAC of phone (else ID number), random when anonymous."""
    if phone:
        material = "phone:" + normalise_phone(phone)
    elif id_number:
        material = "id:" + id_number.strip().upper()
    else:
        return "anon-" + secrets.token_hex(16)
    return "cit-" + hmac.new(pepper, material.encode(), hashlib.sha256).hexdigest()[:40]


def new_key() -> bytes:
    """A fresh AES-256 data key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, kid: str, fields: dict[str, Any], context: str) -> Sealed:
    """Encrypt `fields` (a JSON object) under `key`; `context` is bound as associated data."""
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode()
    ct = AESGCM(key).encrypt(nonce, plain, f"{kid}|{context}".encode())
    return Sealed(
        kid=kid, nonce=base64.b64encode(nonce).decode(), ct=base64.b64encode(ct).decode()
    )


def unseal(key: bytes | None, sealed: Sealed, context: str) -> dict[str, Any]:
    """Decrypt a sealed object; raises Unreadable when the key is gone or the data altered."""
    if key is None:
        raise Unreadable(f"key {sealed.kid} erased")
    try:
        plain = AESGCM(key).decrypt(
            base64.b64decode(sealed.nonce),
            base64.b64decode(sealed.ct),
            f"{sealed.kid}|{context}".encode(),
        )
    except (InvalidTag, ValueError) as exc:
        raise Unreadable(f"sealed data for {sealed.kid} cannot be opened") from exc
    result: dict[str, Any] = json.loads(plain)
    return result


_NUMBERS = [
    (re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)"), r"\1********\3"),  # ID number
    (re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)"), r"\1****\3"),  # mobile
    (re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{4})(\d{3,4})(?!\d)"), r"\1****\3"),  # landline
]


def mask_numbers(text: str) -> str:
    """Free text with mobile, landline and resident ID numbers masked (138****5678)."""
    for pattern, replacement in _NUMBERS:
        text = pattern.sub(replacement, text)
    return text


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough for a citizen to recognise, useless to anyone else."""
    if not phone:
        return phone
    digits = normalise_phone(phone)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def mask_id_number(id_number: str | None) -> str | None:
    """Keep the first 3 and last 2 characters of an ID number."""
    if not id_number:
        return id_number
    return id_number[:3] + "*" * max(len(id_number) - 5, 4) + id_number[-2:]


def mask_name(name: str | None) -> str | None:
    """张** : family name only."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_address(address: str | None) -> str | None:
    """Keep the first six characters (district, street), hide the rest (building, room)."""
    if not address:
        return address
    return address[:6] + "****"
