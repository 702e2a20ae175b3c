"""What every console page shares: who is signed in, the page frame, forms and answers.

A page is a plain GET that renders a Jinja2 template from what the services' APIs
answered; a form is a POST that sends one command and redirects (POST/redirect/GET),
carrying the outcome in the query string (`ok=` or `error=`), so a reload never repeats
a command. Every form holds the session's CSRF token, checked here and again by the
service it reaches, and an idempotency key made when the page was drawn: a double
click is one command.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from contracts.ids import new_id
from hotline.apikeys import ApiKeyStore, Principal
from hotline.auth import SESSION_COOKIE
from services.console import labels
from services.console.upstream import Caller, Refused, Upstream

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.globals |= {"zh": labels.zh, "role_zh": labels.ROLE_ZH, "when": labels.when,
                          "duration": labels.duration, "event_zh": labels.event_zh,
                          "step_text": labels.step_text}
FORM_LIMIT = 64 * 1024
FORM_FIELDS = 100


class SignInNeeded(Exception):
    """No session, or it ended: the page sends the person to 登录 and back."""


@dataclass(frozen=True, slots=True)
class Person:
    """The signed-in person as a page sees them: who, in which role, and their tokens."""

    principal: Principal
    token: str
    csrf: str

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def login(self) -> str:
        return self.principal.person or self.principal.name

    def caller(self, csrf: str | None = None) -> Caller:
        """Credentials for a read, or for a form's change with the token the form carried
        (the service checks it: a forged form fails there too). A read carries the
        session's own token: a service may ask another on the person's behalf with a POST
        (dispatch asks knowledge for recommendations), which needs it."""
        return Caller(self.token, self.csrf if csrf is None else csrf)


async def signed_in(request: Request) -> Person:
    """The person of the session cookie (SignInNeeded without one)."""
    token = request.cookies.get(SESSION_COOKIE)
    keys: ApiKeyStore = request.app.state.api_keys
    session = await keys.people.session(token, datetime.now(UTC)) if token else None
    if session is None:
        raise SignInNeeded()
    return Person(session.principal, token or "", session.csrf)


Signed = Annotated[Person, Depends(signed_in)]


def need(person: Person, *allowed: str) -> None:
    """403 for a role the page is not for (the services refuse it too: this is the
    friendlier message before any call)."""
    if person.role not in allowed:
        raise Refused(403, "无权访问该页面 (not for your role)",
                      f"需要的角色: {'、'.join(labels.ROLE_ZH[r] for r in allowed)}")


def upstream(request: Request) -> Upstream:
    up: Upstream = request.app.state.upstream
    return up


def render(request: Request, template: str, person: Person | None, *, code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page in the frame: the person, their menu, the outcome of the last form."""
    query, names = request.query_params, request.app.state.names
    return TEMPLATES.TemplateResponse(request, template, {
        "unit_zh": names.unit, "district_zh": names.district, "category_zh": names.category,
        "person": person, "menu": labels.menu(person.role) if person else [],
        "ok": query.get("ok"), "error": query.get("error"), "idem": new_id(),
        **context}, status_code=code)


@dataclass(frozen=True, slots=True)
class Form:
    """A posted form's fields (every value of each), read without a multipart parser:
    the console's forms are all URL-encoded."""

    fields: Mapping[str, Sequence[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, ()) if v.strip()]


async def read_form(request: Request) -> Form:
    """A POST's URL-encoded fields (413 over FORM_LIMIT, 422 for what is not a form or holds
    NUL: the sign-in looks its fields up in the database itself, which on PostgreSQL fails
    on NUL, and the services refuse it anyway, hotline/limits.py)."""
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise Refused(413, "提交的内容过长 (form too large)")
    if b"%00" in body or b"\x00" in body:
        raise Refused(422, "内容含有不允许的空字符 (NUL, U+0000)")
    try:
        return Form(parse_qs(body.decode("utf-8"), max_num_fields=FORM_FIELDS))
    except ValueError:
        raise Refused(422, "表单格式错误 (not a form)") from None


async def posted(request: Request, person: Person) -> Form:
    """The form of a signed-in person's POST, after its CSRF token is checked against the
    session."""
    form = await read_form(request)
    if not hmac.compare_digest(form.get("csrf"), person.csrf):
        raise Refused(403, "请求缺少有效的 CSRF 令牌, 请刷新页面后重试 (CSRF token required)")
    return form


class Bounced(Exception):
    """A form's command refused: the person goes back to `to` and reads why (the app turns
    this into that redirect)."""

    def __init__(self, to: str, message: str) -> None:
        super().__init__(message)
        self.to, self.message = to, message


async def command(request: Request, person: Person, form: Form, service: str, path: str,
                  body: dict[str, Any] | None, *, back_to: str, method: str = "POST") -> Any:
    """Send one form's command on the person's behalf, with the form's CSRF token and
    idempotency key; the service's answer, or `Bounced` back to `back_to` with the
    service's Chinese words when it refuses."""
    try:
        return await upstream(request).send(service, path, person.caller(form.get("csrf")), body,
                                            key=form.get("idem") or None, method=method)
    except Refused as refused:
        raise Bounced(back_to, refused.message) from None


def back(path: str, *, ok: str = "", error: str = "", **params: Any) -> RedirectResponse:
    """After a form: back to a page, with what happened to show there."""
    query = {k: v for k, v in {"ok": ok, "error": error, **params}.items() if v}
    sep = "&" if "?" in path else "?"
    return RedirectResponse(path + (sep + urlencode(query) if query else ""), status_code=303)


def sign_in_page(request: Request) -> RedirectResponse:
    """To 登录, coming back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here)}", status_code=303)
