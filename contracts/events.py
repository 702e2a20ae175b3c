"""The event catalogue: every event of the platform, by name (DESIGN.md §3 principle 6, §4).

An event is a past-tense fact. Its payload is one frozen pydantic model, a
subclass of `EventData`, carried as the `data` of a CloudEvents envelope
(contracts/envelope.py) with `type` hotline.<Name>.v<major> and `dataschema`
urn:hotline:event:<Name>:v<major>. `EventData.topic` names the topic it is
published on; `EventData.major` its schema major version. The committed JSON
Schemas (contracts/schemas/) and AsyncAPI document are generated from these
models by `make schemas` (contracts/generate.py); a change that would break an
event already in the log needs a new major version.

    from contracts.events import EVENTS, TicketDispatched, event_name, to_data, from_envelope

The models are defined in contracts/intake_events.py (contacts, calls),
contracts/ticket_events.py, contracts/oversight_events.py (tickets) and
contracts/knowledge_events.py, contracts/people_events.py and contracts/analytics_events.py;
import them from here.
"""

from __future__ import annotations

from typing import Any

from contracts.analytics_events import (
    HotspotCleared,
    HotspotDetected,
    PeriodicDemandForeseen,
)
from contracts.base import (
    ABSTRACT_EVENTS,
    Attachment,
    CallEvent,
    Category,
    ContactEvent,
    Coordinates,
    Deadline,
    EventData,
    KnowledgeEvent,
    PeopleEvent,
    TicketEvent,
)
from contracts.envelope import Envelope, dataschema_for, type_for
from contracts.intake_events import (
    CallRecorded,
    ContactClaimed,
    ContactDismissed,
    ContactReceived,
    ContactReleased,
)
from contracts.knowledge_events import (
    AnswerOffered,
    ArticleApproved,
    ArticleDrafted,
    ArticlePublished,
    ArticleRetired,
    ArticleReturned,
    ArticleSubmitted,
    OfferAnswered,
    RecommendationRated,
)
from contracts.oversight_events import (
    CardIssued,
    RedoAccepted,
    RedoRejected,
    RedoRequested,
    SupervisionOrderAnswered,
    SupervisionOrderEscalated,
    SupervisionOrderIssued,
    SurveyAnswered,
    SurveyOpened,
    SurveySkipped,
    SurveyUnanswered,
    WarningRaised,
)
from contracts.people_events import (
    AccountChanged,
    AccountCreated,
    AccountDeactivated,
    AccountReactivated,
    KeyIssued,
    KeyRevoked,
    PasswordSet,
)
from contracts.ticket_events import (
    AssistingUnitReplied,
    ContactMerged,
    DeadlinesSet,
    ExtensionApproved,
    ExtensionRejected,
    ExtensionRequested,
    ProgressNoted,
    TicketAcknowledged,
    TicketAnsweredDirectly,
    TicketClassified,
    TicketClosed,
    TicketDispatched,
    TicketMergedInto,
    TicketNumberReserved,
    TicketReassigned,
    TicketRegistered,
    TicketReopened,
    TicketReplied,
    TicketReturned,
)
from contracts.topics import TICKETS


def _concrete(base: type[EventData]) -> list[type[EventData]]:
    found: list[type[EventData]] = []
    for sub in base.__subclasses__():
        # only the catalogue's own models: tests and tools may subclass EventData too
        if sub not in ABSTRACT_EVENTS and sub.__module__.startswith("contracts."):
            found.append(sub)
        found.extend(_concrete(sub))
    return found


def _registry() -> dict[str, type[EventData]]:
    classes = _concrete(EventData)
    names = [cls.__name__ for cls in classes]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two event models share a name: {sorted(names)}")
    return {cls.__name__: cls for cls in sorted(classes, key=lambda c: c.__name__)}


EVENTS: dict[str, type[EventData]] = _registry()
"""Every event model by name, sorted by name: the EventData subclasses defined in contracts/."""


LIFECYCLE: frozenset[str] = frozenset(
    name for name, cls in EVENTS.items()
    if cls.topic == TICKETS and name != "TicketNumberReserved")
"""A ticket's own events: hotline.tickets but the per-day numbering streams' reservations."""


def event_name(model_or_class: EventData | type[EventData]) -> str:
    """`TicketDispatched` for the class TicketDispatched or any instance of it."""
    cls = model_or_class if isinstance(model_or_class, type) else type(model_or_class)
    if EVENTS.get(cls.__name__) is not cls:
        raise KeyError(f"{cls.__name__} is not in the event catalogue")
    return cls.__name__


def event_type(model_or_class: EventData | type[EventData]) -> str:
    """The CloudEvents `type`, e.g. hotline.TicketDispatched.v1."""
    return type_for(event_name(model_or_class), model_or_class.major)


def event_dataschema(model_or_class: EventData | type[EventData]) -> str:
    """The envelope `dataschema`, e.g. urn:hotline:event:TicketDispatched:v1."""
    return dataschema_for(event_name(model_or_class), model_or_class.major)


def to_data(event: EventData) -> dict[str, Any]:
    """The envelope `data` of an event: JSON-ready, Chinese text kept."""
    return event.model_dump(mode="json")


def from_envelope(envelope: Envelope) -> EventData:
    """The typed payload of an envelope; KeyError for an unknown event or major version."""
    cls = EVENTS.get(envelope.event_name)
    if cls is None or envelope.type != type_for(cls.__name__, cls.major):
        raise KeyError(f"no event model for {envelope.type}")
    return cls.model_validate(envelope.data)


__all__ = [
    "EVENTS", "EventData", "ContactEvent", "CallEvent", "TicketEvent", "KnowledgeEvent",
    "PeopleEvent", "AccountChanged", "AccountCreated", "AccountDeactivated",
    "AccountReactivated", "KeyIssued", "KeyRevoked", "PasswordSet",
    "Attachment", "Category", "Coordinates", "Deadline", "event_name", "event_type",
    "event_dataschema", "to_data", "from_envelope", "ArticleApproved", "ArticleDrafted",
    "ArticlePublished", "ArticleRetired", "ArticleReturned", "ArticleSubmitted",
    "AnswerOffered", "OfferAnswered", "RecommendationRated",
    "AssistingUnitReplied", "CallRecorded", "CardIssued", "ContactMerged", "ContactReceived",
    "ContactClaimed", "ContactDismissed", "ContactReleased",
    "DeadlinesSet", "ExtensionApproved", "ExtensionRejected", "ExtensionRequested",
    "ProgressNoted", "RedoAccepted", "RedoRejected", "RedoRequested", "SupervisionOrderAnswered",
    "SupervisionOrderEscalated", "SupervisionOrderIssued", "SurveyAnswered", "SurveyOpened",
    "SurveySkipped", "SurveyUnanswered", "TicketAcknowledged", "TicketAnsweredDirectly",
    "TicketClassified", "TicketClosed", "TicketDispatched", "TicketMergedInto",
    "TicketNumberReserved", "TicketReassigned",
    "TicketRegistered", "TicketReopened", "TicketReplied", "TicketReturned", "WarningRaised",
    "HotspotDetected", "HotspotCleared", "PeriodicDemandForeseen",
]
