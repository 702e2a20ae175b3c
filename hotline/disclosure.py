"""Who sees a citizen's personal data, and how much (DESIGN.md principle 8).

Sealed fields are opened only here. People who must reach the citizen
(operators, callback staff, supervisors) see them in clear; everyone else —
member units, analysts, auditors — sees them masked (138****5678, 张*,
东城区幸福路****). An erased key shows as erased to all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.personal import (
    ERASED,
    Sealed,
    Unreadable,
    mask_address,
    mask_id_number,
    mask_name,
    mask_numbers,
    mask_phone,
    unseal,
)
from hotline.keystore import KeyStore

CLEAR_ROLES = frozenset({"operator", "callback", "supervisor"})
MASKS: dict[str, Callable[[Any], Any]] = {
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
    "content": lambda text: mask_numbers(text) if isinstance(text, str) else text,
}


def masked(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as a reader without a need to know sees them."""
    return {k: MASKS.get(k, lambda _: "****")(v) for k, v in fields.items()}


async def disclose(
    keys: KeyStore, sealed: Sealed | None, context: str, role: str
) -> dict[str, Any] | None:
    """Open `sealed` for a reader of `role`: clear, masked, or {"erased": …} when shredded."""
    if sealed is None:
        return None
    try:
        fields = unseal(await keys.key(sealed.kid), sealed, context)
    except Unreadable:
        return {"erased": ERASED}
    return fields if role in CLEAR_ROLES else masked(fields)
