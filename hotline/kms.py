"""The key-management port: what wraps every secret the key stores keep.

The citizen key stores (hotline/keystore.py, keystore_pg.py) hand each data
key and the pepper to a `Kms` to wrap, bound to a label (the kid, the secret's
name), and store only what comes back: a copy of a store opens nothing. They
never see the key that wraps, so a KMS or HSM whose key never leaves it can
replace `LocalKms` without touching them.

`LocalKms` wraps with AES-256-GCM under a master key held in the process. The
master key comes from a secret: HOTLINE_MASTER_KEY (the value itself) or
HOTLINE_MASTER_KEY_FILE (a path, where Kubernetes mounts the secret: the
value then appears in no environment listing), never both; in development
with neither, from `data_dir/master.key`, generated once.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.entropy import secure_bytes
from hotline.settings import Settings

MAKE_ONE = "make one with `head -c32 /dev/urandom | base64`"


class MasterKeyError(ValueError):
    """The master key is missing, malformed, obviously not secret, or not the store's."""


class UnwrapError(ValueError):
    """Not wrapped by this KMS under this label: another master key, or altered bytes."""


class Kms(Protocol):
    """Wraps and unwraps secrets; `label` binds a wrapped value to what it is the key of."""

    def wrap(self, label: str, value: bytes) -> bytes: ...

    def unwrap(self, label: str, wrapped: bytes) -> bytes:
        """The value `wrap(label, value)` wrapped (`UnwrapError` if it was not)."""
        ...


class LocalKms:
    """AES-256-GCM under a master key in this process; a random nonce before each wrap."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)

    def wrap(self, label: str, value: bytes) -> bytes:
        nonce = secure_bytes(12)
        return nonce + self._aead.encrypt(nonce, value, label.encode())

    def unwrap(self, label: str, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], label.encode())
        except InvalidTag:
            raise UnwrapError(label) from None


def open_kms(settings: Settings) -> Kms:
    """The KMS the settings choose (`MasterKeyError` for a bad or ambiguous master key)."""
    return LocalKms(load_master_key(settings.master_key, settings.data_dir,
                                    file=settings.master_key_file))


def load_master_key(configured: str, data_dir: Path, *, file: str = "") -> bytes:
    """The master key: `configured` (HOTLINE_MASTER_KEY) or read from `file`
    (HOTLINE_MASTER_KEY_FILE), or generated once under data_dir when neither is given (dev)."""
    if configured and file:
        raise MasterKeyError("HOTLINE_MASTER_KEY and HOTLINE_MASTER_KEY_FILE are both set; "
                             "set one (the file where the secret is mounted, in production)")
    if file:
        return checked(_read(Path(file)), f"HOTLINE_MASTER_KEY_FILE ({file})")
    if configured:
        return checked(configured, "HOTLINE_MASTER_KEY")
    path = data_dir / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
    return checked(path.read_text().strip(), f"HOTLINE_MASTER_KEY (generated in {path})")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()  # a mounted secret may end in a newline
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not base64 text"
        raise MasterKeyError(f"HOTLINE_MASTER_KEY_FILE: cannot read {path} ({reason})") from None


def checked(encoded: str, source: str) -> bytes:
    """The 32 bytes `encoded` holds; refused when malformed, short, or a placeholder."""
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{source} is not valid base64; {MAKE_ONE}") from None
    if len(key) != 32:
        raise MasterKeyError(f"{source} must be 32 bytes, base64-encoded "
                             f"(it decodes to {len(key)})")
    if len(set(key)) < 8:  # all zero, one byte repeated, or a few: a placeholder, not a key
        raise MasterKeyError(f"{source} looks like a placeholder (too few distinct bytes); "
                             f"{MAKE_ONE}")
    return key
