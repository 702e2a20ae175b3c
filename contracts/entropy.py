"""Random bytes for nonces and keys, from the operating system's CSPRNG in blocks.

Sealing a contact takes several fresh random values (a nonce per sealed field, a key and a
key id for a new caller, a nonce to wrap the key); each `os.urandom` is a system call that
also gives up the GIL, and under load the profile of `python -m bench intake` showed three
of them per contact among the largest costs. Reading 4 KiB at a time and handing each byte
out once keeps every value as random as `os.urandom`'s own: a lock keeps two threads from
taking the same bytes (a repeated GCM nonce would be fatal), and a forked child throws the
parent's block away so the two never share one.
"""

from __future__ import annotations

import os
import threading

BLOCK = 4096


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.block, self.at = b"", 0

    def take(self, n: int) -> bytes:
        with self.lock:
            if self.at + n > len(self.block):
                self.block, self.at = os.urandom(max(BLOCK, n)), 0
            out = self.block[self.at:self.at + n]
            self.at += n
            return out


_POOL = _Pool()
os.register_at_fork(after_in_child=_POOL.reset)


def secure_bytes(n: int) -> bytes:
    """`n` bytes from the OS CSPRNG, never handed out twice (in this process or a fork)."""
    return _POOL.take(n)
