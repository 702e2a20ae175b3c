"""Random ids (UUID version 4) for events and requests, without a system call each.

`uuid.uuid4()` reads `os.urandom` for every id; on the platform's machines that read costs
about 15 µs, the largest single cost of appending an event (profile of `bench decider`).
An event id must be unique, not secret: nothing is authorised by knowing one. So ids come
from a Mersenne Twister seeded with 256 bits of `os.urandom` per process and reseeded in a
forked child, which keeps the 122 random bits of a version-4 UUID. Secrets (API keys,
session tokens, passwords) keep using `secrets`.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))

_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))  # variant and version bits
_SET = (0x8000 << 48) | (0x4000 << 64)  # RFC 4122 variant, version 4


def new_id() -> str:
    """A random UUID in its canonical text form, e.g. `1b4e28ba-2fa1-41d2-883f-0016d3cca427`."""
    h = f"{(_rng.getrandbits(128) & _CLEAR) | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
