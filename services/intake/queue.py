"""The operators' contact queue (来件队列): the pure rules of claiming, releasing and
dismissing a contact, and the answer-time targets per channel.

A contact waits in the queue until it becomes or joins a ticket (dispatch registers or
merges it) or is dismissed. An operator claims it first: the claim is an event on the
contact's own stream, appended at the version the operator saw, so of two operators
claiming at once exactly one wins (the other sees the first claim and is refused). A
claim left unworked expires after `claim_minutes`; the holder may release it sooner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

from contracts.intake_events import ContactClaimed, ContactDismissed, ContactReleased
from contracts.vocabulary import Channel, DismissReason
from hotline.contacts import Waiting


class QueueRefused(Exception):
    """A queue action the contact's state does not allow; `rule` names why."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule, self.detail = rule, detail


@dataclass(frozen=True, slots=True)
class Targets:
    """Answer-time targets per channel (services/intake/data/answer-targets.json)."""

    seconds: dict[str, int]
    claim: timedelta

    def of(self, channel: str) -> int:
        return self.seconds.get(channel, self.seconds[Channel.WEB.value])


def load_targets() -> Targets:
    raw = json.loads((resources.files("services.intake") / "data" / "answer-targets.json")
                     .read_text(encoding="utf-8"))
    return Targets({k: int(v) for k, v in raw["targets"].items()},
                   timedelta(minutes=int(raw["claim_minutes"])))


def _open(state: Waiting) -> None:
    if state.version == 0:
        raise QueueRefused("contact-unknown", f"No contact {state.contact_id}.")
    if state.dismissed:
        raise QueueRefused("contact-dismissed", "The contact was dismissed.")


def claim(state: Waiting, operator: str, now: datetime, targets: Targets) -> ContactClaimed:
    """The claim, or QueueRefused when someone else holds the contact (a holder's second
    claim renews it)."""
    _open(state)
    holder = state.held_by(now)
    if holder is not None and holder != operator:
        raise QueueRefused("contact-claimed", f"{holder} holds this contact.")
    return ContactClaimed(contact_id=state.contact_id, operator=operator,
                          until=now + targets.claim)


def release(state: Waiting, operator: str, now: datetime) -> ContactReleased:
    _open(state)
    if state.held_by(now) != operator:
        raise QueueRefused("not-holder", "Only the operator holding the contact releases it.")
    return ContactReleased(contact_id=state.contact_id, operator=operator)


def dismiss(state: Waiting, operator: str, now: datetime, reason: DismissReason,
            note: str | None) -> ContactDismissed:
    """无效来件: only by the operator holding the contact (claim it first)."""
    _open(state)
    if state.held_by(now) != operator:
        raise QueueRefused("not-holder", "Claim the contact before dismissing it.")
    return ContactDismissed(contact_id=state.contact_id, reason=reason, note=note,
                            operator=operator)
