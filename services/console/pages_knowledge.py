"""知识库, the knowledge pages: search (highlights as the service made them), the review
queue with 审核通过 / 审核退回, an article with its versions and history from the log, and
a new draft (起草, then 提交审核 in one go when asked).

Every read and change goes to the knowledge API on the person's session: it decides who
reads what (unit staff their own unit's articles) and who may review (not who drafted).
The category and unit names come from the reference data the process holds
(services/console/names.py), so an editor reads 城市管理 / 路灯照明 rather than codes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from contracts.vocabulary import ArticleKind, Audience
from services.console.labels import BEIJING, event_zh
from services.console.upstream import Refused
from services.console.web import (
    Form,
    Person,
    Signed,
    back,
    command,
    need,
    posted,
    render,
    upstream,
)

router = APIRouter(include_in_schema=False)
READERS = ("editor", "operator", "supervisor", "unit")
REVIEWERS = ("editor", "supervisor")
PROPOSERS = ("editor", "supervisor", "operator", "unit")  # the API's 起草 roles
ARTICLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
KINDS = [k.value for k in ArticleKind]
AUDIENCES = [a.value for a in Audience]


def article_path(article_id: str) -> str:
    """The API path of an article; an id that is not one is refused before any call."""
    if not ARTICLE_ID.match(article_id):
        raise Refused(404, "知识条目不存在 (article-unknown)")
    return f"/v1/knowledge/articles/{quote(article_id, safe='')}"


def body_html(text: str | None) -> Markup:
    """An article's Markdown shown safely: escaped first, then only **bold** made bold
    (the page keeps its line breaks with `white-space: pre-wrap`)."""
    escaped = str(escape(text or ""))
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped))


LABELS: dict[str, Any] = {"kinds": KINDS, "audiences": AUDIENCES}


@router.get("/knowledge", response_model=None)
async def knowledge(request: Request, person: Signed, q: str = "", kind: str = "") -> HTMLResponse:
    """检索 and, for reviewers, the queue of submissions (oldest first), and the drafts
    and returned versions waiting for their writers."""
    need(person, *READERS)
    up, who = upstream(request), person.caller()
    q, kind = q.strip()[:100], kind if kind in KINDS else ""
    reviewing = person.role in REVIEWERS

    async def nothing() -> dict[str, Any]:
        return {"items": [], "total": 0}

    search, queue, drafts, returned = await asyncio.gather(
        up.get("knowledge", "/v1/knowledge/search", who, {"q": q, "kind": kind or None,
                                                           "limit": 20}) if q else nothing(),
        up.get("knowledge", "/v1/knowledge/articles", who,
               {"stage": "submitted", "limit": 50}) if reviewing else nothing(),
        up.get("knowledge", "/v1/knowledge/articles", who,
               {"stage": "draft", "limit": 50}) if person.role in PROPOSERS else nothing(),
        up.get("knowledge", "/v1/knowledge/articles", who,
               {"stage": "returned", "limit": 50}) if person.role in PROPOSERS else nothing())
    return render(request, "knowledge.html", person, q=q, kind=kind, hits=search["items"],
                  queue=queue, drafts=drafts["items"] + returned["items"],
                  reviewing=reviewing, proposing=person.role in PROPOSERS,
                  **LABELS)


@router.get("/knowledge/articles/{article_id}", response_model=None)
async def article_page(article_id: str, request: Request, person: Signed,
                       v: int | None = Query(default=None, ge=1, le=1_000_000),
                       version: int | None = Query(default=None, ge=1, le=1_000_000),
                       ) -> HTMLResponse:
    """知识详情: where it stands, the live text (and the draft's), validity, owning unit,
    its versions (any one readable) and every event of it from the log."""
    need(person, *READERS)
    up, who, path = upstream(request), person.caller(), article_path(article_id)
    article, history = await asyncio.gather(
        up.get("knowledge", path, who, {"min_version": v}),
        up.get("knowledge", f"{path}/history", who))
    chosen = await up.get("knowledge", f"{path}/versions/{version}", who) if version else None
    last = max(article.get("published_version") or 0, article.get("draft_version") or 0)
    events = [{"n": e.get("streamversion"), "at": e.get("time"), "actor": e.get("actor"),
               "what": event_zh(e.get("type", "")), "data": e.get("data") or {}}
              for e in history]
    return render(request, "knowledge_article.html", person, a=article, chosen=chosen,
                  versions=list(range(1, last + 1)), events=events, body_html=body_html,
                  reviewing=person.role in REVIEWERS, proposing=person.role in PROPOSERS,
                  **LABELS)


def _version(form: Form) -> int:
    value = form.get("version")
    if not value.isdigit():
        raise Refused(422, "请求内容不合法 (invalid request)", "version: 缺少版本号")
    return int(value)


def _beijing(moment: str) -> str | None:
    """A `datetime-local` value from the page as a Beijing instant (None when empty)."""
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment).replace(tzinfo=BEIJING).isoformat()
    except ValueError:
        raise Refused(422, "请求内容不合法 (invalid request)", "时间格式错误") from None


async def _review(request: Request, person: Person, article_id: str, verb: str,
                  body_of: Callable[[Form], dict[str, Any]],
                  done_of: Callable[[dict[str, Any]], str]) -> RedirectResponse:
    """One review command from a form on the queue or on the article's page; back there
    with what happened, or with what was wrong with the form or the rule it broke."""
    form = await posted(request, person)
    there = (f"/knowledge/articles/{article_id}" if form.get("from") == "article"
             else "/knowledge")
    try:
        body = body_of(form)
    except Refused as refused:
        return back(there, error=refused.message)
    answer = await command(request, person, form, "knowledge",
                           f"{article_path(article_id)}/{verb}", body, back_to=there)
    if there != "/knowledge":
        return back(there, ok=done_of(body), v=answer.get("stream_version"))
    with suppress(Refused):  # the queue from the same read model: shown once it holds this
        await upstream(request).get("knowledge", article_path(article_id), person.caller(),
                                    {"min_version": answer.get("stream_version")})
    return back(there, ok=done_of(body))


@router.post("/knowledge/articles/{article_id}/approve", response_model=None)
async def approve(article_id: str, request: Request, person: Signed) -> RedirectResponse:
    """审核通过: published at once, or at the chosen moment."""
    return await _review(
        request, person, article_id, "approve",
        lambda f: {"version": _version(f), "publish_at": _beijing(f.get("publish_at"))},
        lambda body: "已审核通过, 将按时发布" if body["publish_at"] else "已审核通过并发布")


@router.post("/knowledge/articles/{article_id}/return", response_model=None)
async def send_back(article_id: str, request: Request, person: Signed) -> RedirectResponse:
    """审核退回, with the reason the drafter reads."""
    return await _review(request, person, article_id, "return",
                         lambda f: {"version": _version(f), "reason": f.get("reason")},
                         lambda body: "已退回起草人")


@router.post("/knowledge/articles/{article_id}/submit", response_model=None)
async def submit(article_id: str, request: Request, person: Signed) -> RedirectResponse:
    """提交审核 of the version under work."""
    return await _review(request, person, article_id, "submit",
                         lambda f: {"version": _version(f)}, lambda body: "已提交审核")


@router.get("/knowledge/new", response_model=None)
async def new_page(request: Request, person: Signed) -> HTMLResponse:
    need(person, *PROPOSERS)
    return render(request, "knowledge_new.html", person, f={}, **_choices(request, person))


def _choices(request: Request, person: Person) -> dict[str, Any]:
    names = request.app.state.names
    units = [(u, name) for u, name in names.unit_choices
             if person.role != "unit" or u == person.principal.unit]
    return {"units": units, "categories": names.category_choices, "kinds": KINDS,
            "audiences": AUDIENCES}


def _terms(value: str) -> list[str]:
    """Keywords typed with commas, 、 or spaces."""
    return [t for t in re.split(r"[,，、\s]+", value) if t][:30]


def _day(value: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise Refused(422, "请求内容不合法 (invalid request)", f"日期格式错误: {value}") from None


@router.post("/knowledge/articles", response_model=None)
async def create(request: Request, person: Signed) -> Response:
    """起草 (and 提交审核 when ticked); a refusal shows the form again as it was typed."""
    need(person, *PROPOSERS)
    form = await posted(request, person)
    up, who = upstream(request), person.caller(form.get("csrf"))
    level1, _, level2 = form.get("category").partition("/")
    try:
        body = {"title": form.get("title"), "body": form.get("body"),
                "kind": form.get("kind"), "audience": form.get("audience") or "internal",
                "category": {"level1": level1, "level2": level2 or None},
                "keywords": _terms(form.get("keywords")),
                "synonyms": _terms(form.get("synonyms")),
                "owning_unit": form.get("owning_unit") or None,
                "effective_from": _day(form.get("effective_from")),
                "review_by": _day(form.get("review_by")),
                "expires_at": _day(form.get("expires_at")),
                "source_ref": form.get("source_ref") or None}
        made = await up.send("knowledge", "/v1/knowledge/articles", who, body,
                             key=form.get("idem"))
    except Refused as refused:
        fields = {k: form.get(k) for k in ("title", "body", "kind", "audience", "category",
                                           "keywords", "synonyms", "owning_unit",
                                           "effective_from", "review_by", "expires_at",
                                           "source_ref", "then_submit")}
        return render(request, "knowledge_new.html", person, code=refused.status,
                      error=refused.message, f=fields, **_choices(request, person))
    article_id, shown = made["article_id"], made["stream_version"]
    if form.get("then_submit") == "on":
        try:
            sent = await up.send("knowledge", f"{article_path(article_id)}/submit", who,
                                 {"version": made["draft_version"]},
                                 key=f"{form.get('idem')}-submit" if form.get("idem") else None)
        except Refused as refused:
            return back(f"/knowledge/articles/{article_id}", v=shown,
                        error=f"草稿已保存, 但未能提交审核: {refused.message}")
        return back(f"/knowledge/articles/{article_id}", v=sent["stream_version"],
                    ok="草稿已保存并提交审核")
    return back(f"/knowledge/articles/{article_id}", v=shown, ok="草稿已保存")
