"""Who sees a citizen's personal data, and how much (DESIGN.md principle 8).

Sealed fields are opened only here. People who must reach the citizen
(operators, callback staff, supervisors) see them in clear; everyone else —
member units, analysts, auditors — sees them masked (138****5678, 张*,
东城区幸福路****). An erased key shows as erased to all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.envelope import Envelope
from contracts.free_text import seal_context
from contracts.personal import (
    ERASED,
    Sealed,
    Unreadable,
    mask_address,
    mask_id_number,
    mask_name,
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
}


def masked(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as a reader without a need to know sees them (free text as typed: hidden,
    its masked form is in the event)."""
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


async def typed_texts(keys: KeyStore, envelope: Envelope, role: str) -> dict[str, Any] | None:
    """The free text of a ticket event as typed ({path: text}), for the roles that see
    personal data in clear; None for everyone else and for events where nothing was masked."""
    sealed = envelope.data.get("text_sealed")
    if role not in CLEAR_ROLES or not sealed:
        return None
    context = seal_context(envelope.subject, envelope.streamversion)
    return await disclose(keys, Sealed.model_validate(sealed), context, role)
