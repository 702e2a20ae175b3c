"""Who may hold an account or a key: the rules the API and the CLI both apply, so a key
refused over HTTP is refused on the command line with the same words.

A unit's staff and a unit's key name one unit of the member-unit directory; nobody else
names a unit. A channel key, and only a channel key, names its channel.
"""

from __future__ import annotations

from typing import get_args

from contracts.people_events import KeyRole, StaffRole
from contracts.vocabulary import Channel
from hotline.apikeys import Principal
from hotline.people import Account
from reference.directory import Directory, UnknownUnit

KEY_ROLES: tuple[str, ...] = get_args(KeyRole)
STAFF_ROLES: tuple[str, ...] = get_args(StaffRole)


class Invalid(ValueError):
    """What the role rules or the directory refuse (422 over HTTP, exit 2 on the CLI)."""


def checked_unit(directory: Directory, has_unit_role: bool, unit: str | None) -> str | None:
    """`unit`, when the holder has the unit role and the directory knows it."""
    if has_unit_role and unit is None:
        raise Invalid("the unit role needs a unit (--unit)")
    if unit is not None and not has_unit_role:
        raise Invalid("only the unit role names a unit (--unit)")
    if unit is not None:
        try:
            directory.get(unit)
        except UnknownUnit:
            raise Invalid(f"unknown unit {unit} (not in the member-unit directory)") from None
    return unit


def key_holder(directory: Directory, name: str, role: str, channel: str | None,
               unit: str | None) -> Principal:
    """The holder a new key is for: a known role, its channel or unit, nothing else."""
    if role not in KEY_ROLES:
        raise Invalid(f"unknown role {role}; known: {', '.join(KEY_ROLES)}")
    if (role == "channel") != (channel is not None):
        raise Invalid("a channel key, and only a channel key, names its channel (--channel)")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise Invalid(f"unknown channel {channel}")
    unit = checked_unit(directory, role == "unit", unit)
    return Principal(name, role, channel=channel, unit=unit)  # type: ignore[arg-type]


def account(directory: Directory, login: str, display_name: str, roles: tuple[str, ...],
            unit: str | None, active: bool = True) -> Account:
    """A person's account as the rules allow it (known roles; a unit for unit staff)."""
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if unknown or not roles:
        raise Invalid(f"unknown role {', '.join(unknown)}; known: {', '.join(STAFF_ROLES)}"
                      if unknown else "an account needs a role (--role)")
    unit = checked_unit(directory, "unit" in roles, unit)
    return Account(login, display_name, tuple(roles), unit, active)  # type: ignore[arg-type]
