"""Self-service on chat channels, for their adapters (WeChat, web, app keys).

Before posting a chat message to intake, an adapter may ask for an offer: if a public FAQ
answers it with high confidence (offers.py) the citizen sees that answer and "是否解决了您的
问题?"; the adapter then posts the answer. "Solved" ends it there; "not solved" (or no
offer at all) and the adapter posts the message to intake as a normal contact. Both
outcomes are events on hotline.knowledge; supervisors and analysts read the figures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.web import Problem, problems
from services.knowledge import offers, queries
from services.knowledge.api import ClockDep, ServiceDep
from services.knowledge.api_read import local_day
from services.knowledge.article_in import Strict

router = APIRouter(prefix="/v1/knowledge", tags=["self-service 自助答复"])
Adapter = Annotated[Principal, Depends(roles("channel"))]
Keeper = Annotated[Principal, Depends(roles("supervisor", "editor", "analyst"))]
OfferId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


class OfferIn(Strict):
    channel_message_id: str = Field(min_length=1, max_length=128)
    content: str = Field(min_length=1, max_length=2000, description="The citizen's message")


class OfferAnswerIn(Strict):
    solved: bool


def _chat_channel(who: Principal) -> str:
    if who.channel not in offers.CHAT_CHANNELS:
        raise Problem(403, "not-a-chat-channel",
                      "仅微信、网站、手机应用渠道可用 (chat channels only)",
                      "Self-service answers are offered on WeChat, web and app only.")
    return str(who.channel)


@router.post("/offers", responses=problems(403, 422))
async def offer(body: OfferIn, service: ServiceDep, who: Adapter,
                clock: ClockDep) -> dict[str, Any]:
    """自助答复: a public FAQ's answer for the message, or `offer: null` (then post the
    message to intake as usual). The same message always gets the same answer."""
    now = clock()
    found = await service.offer(_chat_channel(who), body.channel_message_id, body.content,
                                who.actor, now, local_day(now))
    if found is None:
        return {"offer": None}
    event, text = found
    return {"offer": {"offer_id": event.offer_id, "article_id": event.article_id,
                      "version": event.version, "title": text["title"], "answer": text["body"],
                      "question": offers.QUESTION, "confidence": event.confidence}}


@router.post("/offers/{offer_id}/answer", responses=problems(403, 404, 409, 422))
async def answer(offer_id: OfferId, body: OfferAnswerIn, service: ServiceDep, who: Adapter,
                 clock: ClockDep) -> dict[str, Any]:
    """The citizen's answer: solved ends it; not solved, post the message to intake."""
    _chat_channel(who)
    done = await service.answer_offer(offer_id, body.solved, who.actor, clock())
    if done is None:
        raise Problem(404, "offer-unknown", "自助答复不存在 (no such offer)")
    if not done:
        raise Problem(409, "offer-answered", "该自助答复已有不同的结果 (answered otherwise)")
    return {"offer_id": offer_id, "solved": body.solved,
            "next": "done" if body.solved else "post the message to intake"}


@router.get("/self-service", responses=problems(422))
async def figures(service: ServiceDep, who: Keeper, clock: ClockDep,
                  days: Annotated[int, Query(ge=1, le=3660)] = 30) -> dict[str, Any]:
    """自助答复 figures: offers per channel, solved / not solved / unanswered, top articles."""
    found = await service.read(queries.self_service, clock() - timedelta(days=days))
    return {"since_days": days} | found
