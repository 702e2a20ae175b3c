"""Building blocks shared by every event and command model.

`EventData` is the base of every event payload (the `data` of the CloudEvents
envelope); `Command` (contracts/commands.py) the base of every command. Value
objects (`Category`, `Coordinates`, `Attachment`, `Deadline`) and the
constrained string types live here so events and commands use the same
definitions, and so the JSON Schemas share the same `$defs`.

Every model is frozen and rejects unknown fields: a typo never reaches the log.
Sequences are tuples for the same reason; lists are accepted on input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import topics
from contracts.free_text import PERSONAL_TEXT, NoteText
from contracts.personal import Sealed
from contracts.vocabulary import CallOutcome, DeadlineKind

Id = Annotated[str, Field(min_length=1, max_length=128)]
UnitId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Member unit id; usable in its dispatch topic hotline.dispatch.<unit_id>",
    ),
]
PersonId = Annotated[
    str,
    Field(min_length=1, max_length=128, description="Staff id: operator, supervisor or reviewer"),
]
# Free text a person types (contracts/free_text.py): masked on the way into the log.
Text = Annotated[str, Field(min_length=1, max_length=20000), PERSONAL_TEXT]
Reason = Annotated[
    str, Field(min_length=1, max_length=2000, description="Why, in plain words"), PERSONAL_TEXT
]
Note = NoteText
# Text written for publication (knowledge articles): office phones in it are meant to be read.
Published = Annotated[str, Field(min_length=1, max_length=20000)]
DistrictCode = Annotated[
    str,
    Field(pattern=r"^[0-9]{6,12}$", description="Administrative division code (行政区划代码)"),
]
CitizenRef = Annotated[
    str,
    Field(
        min_length=8,
        max_length=64,
        description="Pseudonymous citizen id (contracts.personal.citizen_ref), never clear text",
    ),
]
Timestamp = AwareDatetime  # every time in a contract carries its timezone


class Frozen(BaseModel):
    """Immutable model that rejects unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EventData(Frozen):
    """Base of every event payload: the `data` of one CloudEvents envelope."""

    topic: ClassVar[str]
    major: ClassVar[int] = 1
    # the field that holds the sealed originals of masked free text, if the event has one
    sealed_text_field: ClassVar[str | None] = None


class ContactEvent(EventData):
    """An event of the hotline.contacts topic (key: contact stream id)."""

    topic: ClassVar[str] = topics.CONTACTS


class CallEvent(EventData):
    """An event of the hotline.calls topic (key: call id)."""

    topic: ClassVar[str] = topics.CALLS


class TicketEvent(EventData):
    """An event of the hotline.tickets topic; the ticket is the envelope `subject`."""

    topic: ClassVar[str] = topics.TICKETS
    sealed_text_field: ClassVar[str | None] = "text_sealed"

    text_sealed: Sealed | None = Field(
        default=None,
        exclude_if=lambda value: value is None,  # absent, not null, in events without it
        description="Sealed {path: text as typed} of the free-text fields whose phone or ID "
        "numbers were masked, under the ticket's citizen key (context '<stream>@<version>')",
    )


class KnowledgeEvent(EventData):
    """An event of the hotline.knowledge topic (key: article id)."""

    topic: ClassVar[str] = topics.KNOWLEDGE


class PeopleEvent(EventData):
    """An event of the hotline.people topic (key: account-<login> or key-<name>)."""

    topic: ClassVar[str] = topics.PEOPLE


ABSTRACT_EVENTS: frozenset[type[EventData]] = frozenset(
    {EventData, ContactEvent, CallEvent, TicketEvent, KnowledgeEvent, PeopleEvent}
)


class Category(Frozen):
    """诉求分类: two-level classification code of a ticket or article."""

    level1: Id = Field(description="First-level category code, e.g. 'urban-management'")
    level2: Id | None = Field(default=None, description="Second-level category code, if known")


class Coordinates(Frozen):
    """坐标: WGS-84 position the citizen reported."""

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees")


class Attachment(Frozen):
    """附件: a file stored outside the log (object store), referenced by URI."""

    uri: str = Field(min_length=1, max_length=2048, description="Where the file is stored")
    media_type: str = Field(
        pattern=r"^[a-z]+/[A-Za-z0-9.+_-]+$", description="MIME type, e.g. image/jpeg"
    )
    filename: NoteText = Field(
        min_length=1, max_length=255, description="File name, e.g. 现场照片.jpg")
    size_bytes: int | None = Field(default=None, ge=0)


class Deadline(Frozen):
    """时限: one clock of a ticket, computed on the working-day calendar."""

    kind: DeadlineKind
    due_at: Timestamp
    policy_id: Id = Field(description="The deadline policy (per type and urgency) applied")


def distinct_units(lead_unit: str, assisting_units: tuple[str, ...]) -> None:
    """The lead unit (主办) is not also an assisting unit (协办), and none is named twice."""
    if lead_unit in assisting_units:
        raise ValueError(f"lead unit {lead_unit} is also listed as assisting unit")
    if len(set(assisting_units)) != len(assisting_units):
        raise ValueError("an assisting unit is listed twice")


def sealed_under(citizen_ref: str | None, *sealed: Sealed | None) -> None:
    """Every sealed field is sealed under the contact's own citizen key (kid == citizen_ref)."""
    if any(item is not None and item.kid != citizen_ref for item in sealed):
        raise ValueError("sealed personal data must be sealed under citizen_ref")


def call_times(
    outcome: CallOutcome,
    offered_at: datetime,
    answered_at: datetime | None,
    ended_at: datetime | None,
) -> None:
    """answered_at is set exactly for answered calls; nothing happens before the offer."""
    if (outcome is CallOutcome.ANSWERED) != (answered_at is not None):
        raise ValueError("answered_at is set exactly when the outcome is answered")
    if any(t is not None and t < offered_at for t in (answered_at, ended_at)):
        raise ValueError("a call cannot be answered or end before it was offered")
