"""Ticket lifecycle events, part 2: warnings, cards, supervision orders, surveys and redo.

All on topic hotline.tickets, the ticket being the envelope `subject`. Warnings,
cards and orders are raised by the supervision service (actor
`system:supervision` or a supervisor); surveys and redo by the callback
service (DESIGN.md §4, §5).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contracts.base import Id, Note, PersonId, Reason, Text, TicketEvent, Timestamp, UnitId
from contracts.vocabulary import (
    CardColour,
    DeadlineKind,
    HandlingRating,
    HotlineServiceRating,
    OrderKind,
    SurveyChannel,
    SurveySkipReason,
    WarningLevel,
)

Rule = Annotated[
    str, Field(min_length=1, max_length=200, description="Id of the escalation rule that fired")
]


class WarningRaised(TicketEvent):
    """红橙蓝单预警: a deadline is near or passed, or the citizen called again."""

    warning_id: Id
    level: WarningLevel
    deadline_kind: DeadlineKind | None = Field(
        default=None, description="The clock concerned; None for a repeat-contact warning"
    )
    due_at: Timestamp | None = None
    unit_id: UnitId | None = Field(default=None, description="Unit whose inbox shows the colour")
    rule: Rule
    message_zh: str = Field(min_length=1, description="Inbox text, e.g. 处理期限将至, 请抓紧办理")


class CardIssued(TicketEvent):
    """黄牌/红牌: a late unit was sanctioned."""

    unit_id: UnitId
    colour: CardColour
    rule: Rule
    warning_id: Id | None = Field(default=None, description="The warning that led to it")


class SupervisionOrderIssued(TicketEvent):
    """督办/催办: a formal follow-up order with its own deadline."""

    order_id: Id
    kind: OrderKind
    unit_id: UnitId
    due_at: Timestamp
    text: Text
    issued_by: PersonId = Field(description="Supervisor id, or 'supervision' when automatic")


class SupervisionOrderAnswered(TicketEvent):
    """督办回复: the unit answered a supervision order."""

    order_id: Id
    unit_id: UnitId
    text: Text


class SupervisionOrderEscalated(TicketEvent):
    """督办升级: an unanswered order went up a level."""

    order_id: Id
    level: int = Field(ge=1, description="Escalation step reached; higher goes to higher authority")
    rule: Rule


class SurveyOpened(TicketEvent):
    """回访: the callback survey was sent to the citizen."""

    survey_id: Id
    channel: SurveyChannel
    expires_at: Timestamp
    round: Literal[1, 2] = Field(default=1, description="1 = first survey, 2 = after redo")


class SurveySkipped(TicketEvent):
    """免回访: no survey for this ticket (e.g. anonymous without a phone)."""

    reason: SurveySkipReason
    note: Note | None = None


class SurveyAnswered(TicketEvent):
    """回访结果: the citizen rated the hotline service and the handling."""

    survey_id: Id
    hotline_service: HotlineServiceRating
    handling: HandlingRating | None = Field(
        default=None, description="None when no unit handled the ticket (answered directly)"
    )
    comment: Note | None = Field(default=None, max_length=5000)
    solved: bool | None = Field(default=None, description="Citizen says the problem is solved")
    answered_via: SurveyChannel


class SurveyUnanswered(TicketEvent):
    """回访未应答: the survey expired without an answer."""

    survey_id: Id


class RedoRequested(TicketEvent):
    """申请重办: the citizen was dissatisfied with the handling and gave a reason."""

    survey_id: Id
    reason: Reason


class RedoAccepted(TicketEvent):
    """重办: a reviewer found the dissatisfaction justified; back to the unit (once)."""

    reviewer: PersonId
    unit_id: UnitId
    reason: Reason


class RedoRejected(TicketEvent):
    """重办驳回: a reviewer found the dissatisfaction not justified."""

    reviewer: PersonId
    reason: Reason
