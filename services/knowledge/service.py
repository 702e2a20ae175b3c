"""The knowledge service's use cases: an article's workflow on its stream, search, reads.

A command loads the article's stream (`article-<id>` on hotline.knowledge), folds it,
lets the pure domain decide, and appends with the expected version: two reviewers
acting on one submission at once get one success and one answer naming the rule
their command now breaks (the loser is decided again on the new state). The read
models (projections.py, the search index) follow the log; the API waits for them where an
answer must show the new state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.base import Category
from contracts.events import from_envelope
from contracts.ids import name_id
from contracts.knowledge_events import AnswerOffered, OfferAnswered, RecommendationRated
from contracts.ticket_events import (
    TicketAnsweredDirectly,
    TicketClassified,
    TicketRegistered,
    TicketReplied,
)
from contracts.topics import KNOWLEDGE, TICKETS
from contracts.vocabulary import ArticleKind, Channel
from hotline.eventstore import Context, Stored
from hotline.log.port import VersionConflict
from hotline.projection import ReadSide
from hotline.runtime import Platform
from services.knowledge import offers, queries
from services.knowledge.domain import Article, Command, ReviewPolicy, decide, evolve, fold
from services.knowledge.search import Filters, Hit, SearchIndex
from services.knowledge.segment import query_terms

SOURCE = "/hotline/knowledge"
FROM_TICKET = frozenset({"TicketRegistered", "TicketClassified", "TicketAnsweredDirectly",
                         "TicketReplied"})


@dataclass(frozen=True, slots=True)
class FromTicket:
    """A ticket's answer as the text of a draft (masked as the log holds it)."""

    title: str
    body: str
    category: Category
    replying_unit: str | None
IMPORTED = uuid.UUID("8f5b2c1e-4d7a-5e39-9c0b-2a6f1d3e7b48")  # namespace of imported ids
RATINGS = uuid.UUID("5c0e8a2d-91b4-5f67-8d3a-7e2b4c6f1a09")
ATTEMPTS = 5


def stream_of(article_id: str) -> str:
    return f"article-{article_id}"


def imported_id(source_id: str) -> str:
    """The same article id for the same source id, so an import can run twice."""
    return name_id(IMPORTED, source_id)


class KnowledgeService(ReadSide):
    """Articles through their review, and the search index's answers."""

    def __init__(self, platform: Platform, index: SearchIndex,
                 policy: ReviewPolicy | None = None) -> None:
        self.platform, self.db, self.index = platform, platform.db, index
        self.policy = policy or ReviewPolicy()

    async def load(self, article_id: str) -> Article:
        """The article as its stream stands now (an empty Article if it has none)."""
        stored = await self.history(article_id)
        return fold(article_id, [(from_envelope(s.envelope), s.envelope.actor) for s in stored])

    async def history(self, article_id: str) -> list[Stored]:
        """Every event of the article, oldest first: the replayable record of its review."""
        return await self.platform.store.load(KNOWLEDGE, stream_of(article_id))

    async def act(self, article_id: str, command: Command, actor: str, now: datetime,
                  *, correlation: str | None = None) -> Article:
        """Decide and append; the article after the command (its `stream_version` is what
        a read-your-writes wait asks the read model for)."""
        for _ in range(ATTEMPTS):
            article = await self.load(article_id)
            events = decide(article, command, actor, now, self.policy)
            context = Context.new(actor, SOURCE, causation_id=correlation)
            try:
                appended = await self.platform.store.append(
                    stream_of(article_id), events, expected_version=article.stream_version,
                    context=context, now=now)
            except VersionConflict:
                continue  # another reviewer or editor acted first: decide again
            for event in appended.events:
                article = evolve(article, event, actor)
            return article
        raise VersionConflict(KNOWLEDGE, stream_of(article_id), -1, -1)

    async def search(self, query: str, filters: Filters, today: date,
                     limit: int = 10) -> list[Hit]:
        """The index's best articles for `query` that `filters` allow and `today` finds valid."""
        return await self.index.search(query, filters, today, limit)

    async def from_ticket(self, ticket_id: str) -> FromTicket | None:
        """What a ticket's answer says, read from its stream: the summary (a title), the
        last answer — the operator's direct answer or the unit's last reply — and the
        category as last classified; None when the ticket has no answer yet."""
        stored = await self.platform.store.load(TICKETS, f"ticket-{ticket_id}")
        summary = answer = category = unit = None
        for s in stored:
            if s.envelope.event_name not in FROM_TICKET:
                continue
            e = from_envelope(s.envelope)
            if isinstance(e, TicketRegistered | TicketClassified):
                category = e.category
                summary = e.summary if isinstance(e, TicketRegistered) else summary
            elif isinstance(e, TicketAnsweredDirectly):
                answer = e.answer
            elif isinstance(e, TicketReplied):
                answer, unit = e.text, e.unit_id
        if summary is None or answer is None or category is None:
            return None
        return FromTicket(summary[:200], answer, category, unit)

    async def offer(self, channel: str, message_id: str, content: str, actor: str,
                    now: datetime, today: date) -> tuple[AnswerOffered, dict[str, Any]] | None:
        """A public FAQ's answer (the event and the FAQ's text) for a chat message, when one
        is sure enough (offers.py); recorded once per message, so a retry gets it back."""
        stream = f"offer-{offers.offer_id(channel, message_id)}"
        earlier = await self.platform.store.load(KNOWLEDGE, stream)
        if earlier:
            first = from_envelope(earlier[0].envelope)
            assert isinstance(first, AnswerOffered)
            text = await self.read(queries.version_text, first.article_id, first.version)
            return (first, text) if text else None
        faq = Filters(audiences=("public",), kind=ArticleKind.FAQ.value)
        hits = await self.search(content, faq, today, limit=2)
        if not hits:
            return None
        words = await self.index.words_of(hits[0].article_id)
        covered = offers.coverage(query_terms(content), words)
        text = await self.read(queries.version_text, hits[0].article_id, hits[0].version)
        if text is None or not offers.worth_offering([h.score for h in hits], covered):
            return None
        event = AnswerOffered(offer_id=stream.removeprefix("offer-"), channel=Channel(channel),
                              channel_message_id=message_id, article_id=hits[0].article_id,
                              version=hits[0].version, confidence=round(covered, 3))
        try:
            await self.platform.store.append(stream, [event], expected_version=0,
                                             context=Context.new(actor, SOURCE), now=now)
        except VersionConflict:  # the same message twice at once: the first offer stands
            return await self.offer(channel, message_id, content, actor, now, today)
        return event, text

    async def answer_offer(self, offer_id: str, solved: bool, actor: str,
                           now: datetime) -> bool | None:
        """Record the citizen's answer; None for no such offer, False when it was answered
        otherwise before (a retry of the same answer is fine)."""
        stream = f"offer-{offer_id}"
        stored = await self.platform.store.load(KNOWLEDGE, stream)
        if not stored:
            return None
        if len(stored) > 1:
            return from_envelope(stored[1].envelope) == OfferAnswered(offer_id=offer_id,
                                                                      solved=solved)
        try:
            await self.platform.store.append(stream, [OfferAnswered(offer_id=offer_id,
                                                                    solved=solved)],
                                             expected_version=1,
                                             context=Context.new(actor, SOURCE), now=now)
        except VersionConflict:
            return await self.answer_offer(offer_id, solved, actor, now)
        return True

    async def rate(self, rating: RecommendationRated, actor: str, now: datetime) -> bool:
        """Record an operator's mark of a recommendation, once per (operator, article,
        contact); False when they had marked it already."""
        key = f"{actor}\n{rating.article_id}\n{rating.contact_id or ''}"
        stream = f"rating-{name_id(RATINGS, key)}"
        try:
            await self.platform.store.append(stream, [rating], expected_version=0,
                                             context=Context.new(actor, SOURCE), now=now)
        except VersionConflict:
            return False
        return True
