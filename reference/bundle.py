"""The reference data a process's services read, loaded once: the unit directory, taxonomy
and dispatch catalogue, the deadline policy and the working-day calendar of its
jurisdiction. Each service's composition root asks for it (`reference_of`), so one
process running several services reads the files once and every part of a service sees
the same policy."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.runtime import Platform
from reference.calendar import WorkingCalendar
from reference.directory import ReferenceData
from reference.documents import load_reference_data
from reference.policy import DeadlinePolicy, load_policy


@dataclass(frozen=True, slots=True)
class Reference:
    data: ReferenceData  # directory, taxonomy, catalogue
    policy: DeadlinePolicy
    calendar: WorkingCalendar


def load_reference() -> Reference:
    """Read the files (reference/data)."""
    policy = load_policy()
    return Reference(load_reference_data(), policy, WorkingCalendar.load(policy.jurisdiction))


def reference_of(platform: Platform) -> Reference:
    """This process's reference data, read on first use."""
    return platform.shared("reference", load_reference)
