"""回访 over HTTP, the citizen's side: the survey page a signed link opens (plain HTML with a
form: it works in WeChat's browser without scripts), the same survey as JSON for the app,
and the SMS gateway's delivery of reply codes.

The link is the citizen's only credential: a forged or altered one is 404, an expired one
410. An answer to a survey already answered, or on a closed ticket, is refused by the
decider (409) and appends nothing. Errors are problem+json, or the same as an HTML page
for a browser (it asks for text/html).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import Field, ValidationError

from contracts.free_text import NoteText
from contracts.vocabulary import LABELS_ZH, HandlingRating, HotlineServiceRating
from hotline.apikeys import Principal
from hotline.auth import roles
from hotline.params import Instant
from hotline.web import Problem, problems
from services.callback import queries
from services.callback.api import AnswerResult, ClockDep, RatingsIn, ServiceDep, answered
from services.callback.links import BadLink, SurveyLink
from services.callback.service import Answered, CallbackService, NoSurveyFound, UnreadableReply
from ticketing.rules import Rejected
from ticketing.web import RULES_BY_STATUS, IdempotencyKey, Strict, command_id

router = APIRouter(tags=["callback 回访 (public)"])

SmsGateway = Annotated[Principal, Depends(roles("channel"))]
# Anything that does not verify is 404 (forged) or 410 (expired), whatever its spelling;
# only the length is bounded here, to keep a megabyte of path out of the verifier.
Token = Annotated[str, Path(max_length=200, description="The token of the survey link")]
FORM_FIELDS = 8  # the form has four; more is not the page posting

BEIJING = ZoneInfo("Asia/Shanghai")
LINK_PROBLEMS = {
    "forged": (404, "survey-link-invalid", "回访链接无效 (invalid survey link)",
               "This link is not one the hotline sent."),
    "expired": (410, "survey-link-expired", "回访链接已过期 (survey link expired)",
                "The survey closed; call 12345 if you still want to be heard."),
}


def link_problem(exc: BadLink) -> Problem:
    status, kind, title, detail = LINK_PROBLEMS[exc.reason]
    return Problem(status, kind, title, detail)


async def _link(service: CallbackService, token: str, now: datetime) -> SurveyLink:
    try:
        return await service.links.verify(token, now)
    except BadLink as exc:
        raise link_problem(exc) from exc


async def _survey(service: CallbackService, link: SurveyLink) -> dict[str, Any]:
    """What the survey page shows; `open` from the decider's state (the board may lag)."""
    row = await service.read(queries.case_row, link.ticket_id)
    ticket = await service.tickets.get(link.ticket_id)
    return {
        "open": ticket is not None and ticket.survey_id == link.survey_id,
        "status_zh": ticket.status.zh if ticket else None,
        "ticket_number": row.ticket_number if row else None,
        "summary": row.summary if row else None,
        "reply_text": row.reply_text if row else None,
        "expires_at": link.expires_at,
        "questions": {"hotline_service": LABELS_ZH[HotlineServiceRating],
                      "handling": LABELS_ZH[HandlingRating]},
    }


@router.get("/v1/surveys/{token}", responses=problems(404, 410))
async def survey(token: Token, service: ServiceDep, clock: ClockDep) -> dict[str, Any]:
    """The survey a link stands for: the unit's reply and the two questions."""
    return await _survey(service, await _link(service, token, clock()))


@router.post("/v1/surveys/{token}/answer", response_model=AnswerResult,
             responses=problems(404, 409, 410, 503, rules=RULES_BY_STATUS))
async def answer(token: Token, body: RatingsIn, service: ServiceDep,
                 clock: ClockDep) -> AnswerResult:
    """The citizen's answer through the app or a web page of their own."""
    try:
        return answered(await service.answer_by_link(token, body.ratings(), clock()))
    except BadLink as exc:
        raise link_problem(exc) from exc


# ------------------------------------------------------------------------------ the page


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


# The page holds the unit's reply and its URL the citizen's credential: no scripts, no
# framing, no caching, and the link never leaves as a Referer.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>12345 政务服务便民热线</h1><h2>{html.escape(title)}</h2>{body}</body></html>",
        status_code=status, headers=PAGE_HEADERS)


def _choices(name: str, labels: dict[str, str]) -> str:
    return "".join(f"<label><input type=\"radio\" name=\"{name}\" value=\"{value}\" required> "
                   f"{html.escape(zh)}</label><br>" for value, zh in labels.items())


def _form(survey: dict[str, Any]) -> str:
    questions = survey["questions"]
    reply = html.escape(survey["reply_text"] or "(答复内容加载中)")
    shown = (f"<p>工单编号: {html.escape(survey['ticket_number'] or '')}</p>"
             f"<p>您反映的问题: {html.escape(survey['summary'] or '')}</p>"
             f"<p>承办单位答复: {reply}</p>")
    if not survey["open"]:  # answered already, or the ticket moved on
        return shown + (f"<p>本次回访已结束, 感谢您的参与。工单状态: "
                        f"{html.escape(survey['status_zh'] or '')}。</p>")
    until = survey["expires_at"].astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    return (
        f"{shown}<p>请于 {until} 前完成评价。</p><form method=\"post\">"
        f"<fieldset><legend>您对热线受理服务的评价</legend>"
        f"{_choices('hotline_service', questions['hotline_service'])}</fieldset>"
        f"<fieldset><legend>您对事项办理情况的评价</legend>"
        f"{_choices('handling', questions['handling'])}</fieldset>"
        "<fieldset><legend>您反映的问题是否已解决?</legend>"
        "<label><input type=\"radio\" name=\"solved\" value=\"true\"> 已解决</label> "
        "<label><input type=\"radio\" name=\"solved\" value=\"false\"> 未解决</label>"
        "</fieldset><p><label>意见或理由 (对办理效果不满意请说明理由, 经审核可重办一次):<br>"
        "<textarea name=\"comment\" rows=\"4\" cols=\"40\" maxlength=\"5000\"></textarea>"
        "</label></p><button type=\"submit\">提交评价</button></form>")


def _thanks(outcome: Answered) -> str:
    status = (outcome.follow_up or outcome.answer).ticket
    if status.redo_pending:
        return "<p>感谢您的评价。您的不满意理由已提交热线审核, 审核通过将交承办单位重新办理。</p>"
    return f"<p>感谢您的评价。工单状态: {html.escape(status.status.zh)}。</p>"


def _html_problem(exc: Problem | Rejected) -> HTMLResponse:
    if isinstance(exc, Rejected):
        return _page(exc.rule.zh, f"<p>{html.escape(exc.rule.zh)}</p>", exc.rule.status)
    return _page(exc.title, f"<p>{html.escape(exc.detail)}</p>", exc.status)


PAGE_OR_JSON: dict[str, Any] = {
    "description": "The page (Accept: text/html), or the same as JSON",
    "content": {"text/html": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}}}}
FORM: dict[str, Any] = {"required": True, "content": {"application/x-www-form-urlencoded": {
    "schema": {"type": "object", "required": ["hotline_service", "handling"], "properties": {
        "hotline_service": {"type": "string", "enum": [r.value for r in HotlineServiceRating]},
        "handling": {"type": "string", "enum": [r.value for r in HandlingRating]},
        "solved": {"type": "string", "enum": ["true", "false"]},
        "comment": {"type": "string", "maxLength": 5000}}}}}}


@router.get("/s/{token}", response_model=None,
            responses={200: PAGE_OR_JSON, **problems(404, 410, html=True)})
async def survey_page(token: Token, request: Request, service: ServiceDep,
                      clock: ClockDep) -> HTMLResponse | dict[str, Any]:
    """The page an SMS or WeChat link opens."""
    try:
        found = await _survey(service, await _link(service, token, clock()))
    except Problem as exc:
        if _wants_html(request):
            return _html_problem(exc)
        raise
    return _page("市民满意度回访", _form(found)) if _wants_html(request) else found


def _posted_fields(body: bytes) -> dict[str, str]:
    """The posted form's fields (the first value of each); ValueError when it is not a form
    a browser sends: not UTF-8, or more fields than the page has."""
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return {k: v[0] for k, v in parse_qs(text, max_num_fields=FORM_FIELDS).items()}


@router.post("/s/{token}", response_model=None, openapi_extra={"requestBody": FORM}, responses={
    200: PAGE_OR_JSON, **problems(404, 409, 410, 422, 503, rules=RULES_BY_STATUS, html=True)})
async def survey_submit(token: Token, request: Request, service: ServiceDep,
                        clock: ClockDep) -> HTMLResponse | JSONResponse:
    """The page's form, posted."""
    try:
        fields = _posted_fields(await request.body())
    except ValueError:
        if _wants_html(request):
            return _page("无法读取评价", "<p>提交的内容无法识别, 请返回重新填写。</p>", 422)
        raise Problem(422, "invalid-request", "请求内容不合法 (invalid request)",
                      "The body is not a UTF-8 form (application/x-www-form-urlencoded).",
                      errors=[{"field": "(body)", "reason": "not a form"}]) from None
    solved = {"true": True, "false": False}.get(fields.pop("solved", ""))
    try:
        body = RatingsIn(hotline_service=fields.get("hotline_service"),  # type: ignore[arg-type]
                         handling=fields.get("handling"),  # type: ignore[arg-type]
                         comment=fields.get("comment") or None, solved=solved)
    except ValidationError as exc:
        if _wants_html(request):
            return _page("请完成两项评价", "<p>请选择对热线服务和办理情况的评价后再提交。</p>", 422)
        raise exc
    try:
        outcome = await service.answer_by_link(token, body.ratings(), clock())
    except BadLink as exc:
        if _wants_html(request):
            return _html_problem(link_problem(exc))
        raise link_problem(exc) from exc
    except Rejected as exc:
        if _wants_html(request):
            return _html_problem(exc)
        raise
    if _wants_html(request):
        return _page("评价已提交", _thanks(outcome))
    return JSONResponse(answered(outcome).model_dump(mode="json"))


# ------------------------------------------------------------------------------ SMS replies


class SmsReplyIn(Strict):
    message_id: str = Field(min_length=1, max_length=200, description="The gateway's id")
    from_phone: str = Field(min_length=5, max_length=32)
    text: NoteText = Field(min_length=1, max_length=1000)
    received_at: Instant


@router.post("/v1/callback/sms-replies", response_model=AnswerResult,
             responses=problems(404, 409, 422, 503, rules=RULES_BY_STATUS))
async def sms_reply(body: SmsReplyIn, service: ServiceDep, clock: ClockDep, who: SmsGateway,
                    key: IdempotencyKey = None) -> AnswerResult:
    """An SMS reply to a survey, delivered by the SMS gateway (its channel key). Retry-safe
    on the gateway's message id."""
    if who.channel != "sms":
        raise Problem(403, "forbidden", "仅短信网关可提交短信回复 (SMS gateway only)")
    try:
        outcome = await service.answer_by_sms(body.from_phone, body.text, who.actor,
                                              command_id(who, key or body.message_id), clock())
    except UnreadableReply as exc:
        raise Problem(422, "sms-reply-unreadable", "短信回复格式无法识别 (unreadable reply)",
                      "A reply starts with two digits (1-4 each), e.g. '11'.") from exc
    except NoSurveyFound as exc:
        raise Problem(404, "no-open-survey", "没有待评价的回访 (no open survey)",
                      exc.detail) from exc
    return answered(outcome)
