"""管理, the administrator's pages: people's accounts (开户, 停用 / 启用, 重置密码, their
history) and the programs' keys (发放, 吊销).

A secret the people service makes (an account's first password, a reset one, a key) is
shown once, on the page the form's POST answers itself, sent with `Cache-Control:
no-store`: it never travels in a redirect's query string (that would leave it in the
browser's history and the access logs), and it is nowhere to be read again. No page shows a
password hash or a key: the API answers neither.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, get_args
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.people_events import StaffRole
from contracts.vocabulary import Channel
from services.console.labels import ROLE_ZH, event_zh
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
ADMIN = ("admin",)
STAFF_ROLES = get_args(StaffRole)
KEY_ROLE_ZH = {"channel": "渠道接入", **ROLE_ZH}
LOGIN = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
HOLDER = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

def _login(login: str) -> str:
    if not LOGIN.match(login):
        raise Refused(404, "账号不存在 (no such account)")
    return f"/v1/accounts/{login}"


def _holder(holder: str) -> str:
    if not HOLDER.match(holder):
        raise Refused(404, "密钥持有者不存在 (no such holder)")
    return f"/v1/keys/{quote(holder, safe='')}"


def _labels(request: Request) -> dict[str, Any]:
    return {"units": request.app.state.names.unit_choices,
            "staff_roles": STAFF_ROLES, "key_roles": KEY_ROLE_ZH,
            "channels": [c.value for c in Channel]}


@router.get("/admin", response_model=None)
async def accounts(request: Request, person: Signed) -> HTMLResponse:
    """人员账号: every account, active or not, with what may be done to each."""
    need(person, *ADMIN)
    listing = await upstream(request).get("people", "/v1/accounts", person.caller())
    items = listing["items"]
    return render(request, "admin.html", person, tab="accounts", accounts=items,
                  active=sum(1 for a in items if a["active"]), **_labels(request))


@router.get("/admin/keys", response_model=None)
async def keys(request: Request, person: Signed) -> HTMLResponse:
    """接口密钥: the holder of every live key (never a key)."""
    need(person, *ADMIN)
    listing = await upstream(request).get("people", "/v1/keys", person.caller())
    return render(request, "admin_keys.html", person, tab="keys", keys=listing["items"],
                  **_labels(request))


@router.get("/admin/accounts/{login}", response_model=None)
async def account_page(login: str, request: Request, person: Signed) -> HTMLResponse:
    """One account and its history: who granted what, when."""
    need(person, *ADMIN)
    up, who, path = upstream(request), person.caller(), _login(login)
    account, history = await asyncio.gather(up.get("people", path, who),
                                            up.get("people", f"{path}/history", who))
    return render(request, "admin_account.html", person, tab="accounts", a=account,
                  events=[_event(e) for e in history], **_labels(request))


def _event(envelope: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in (envelope.get("data") or {}).items()
            if k not in ("login", "by") and "password" not in k and "hash" not in k}
    return {"n": envelope.get("streamversion"), "at": envelope.get("time"),
            "actor": envelope.get("actor"), "what": event_zh(str(envelope.get("type", ""))),
            "data": data}


def _secret(request: Request, person: Person, **context: Any) -> HTMLResponse:
    """The page that shows a new secret once; never stored by the browser."""
    page = render(request, "admin_secret.html", person, tab=context.pop("tab", "accounts"),
                  **context)
    page.headers["Cache-Control"] = "no-store"
    page.headers["Pragma"] = "no-cache"
    return page


@router.post("/admin/accounts", response_model=None)
async def create_account(request: Request, person: Signed) -> Response:
    """开户; the one-time password (when none was typed) shown once."""
    need(person, *ADMIN)
    form = await posted(request, person)
    roles = [r for r in form.all("roles") if r in STAFF_ROLES]
    body = {"login": form.get("login"), "display_name": form.get("display_name"),
            "roles": roles, "unit": form.get("unit") or None,
            "password": form.get("password") or None}
    made = await command(request, person, form, "people", "/v1/accounts", body,
                         back_to="/admin")
    return _secret(request, person, what="账号已开通", login=made["login"],
                   name=made.get("display_name"), secret=made.get("password"),
                   secret_label="初始密码 (一次性, 首次登录后请本人修改)")


@router.post("/admin/accounts/{login}/active", response_model=None)
async def set_active(login: str, request: Request, person: Signed) -> RedirectResponse:
    """停用 or 启用 (a deactivated person's sessions end at once)."""
    need(person, *ADMIN)
    form = await posted(request, person)
    active = form.get("active") == "true"
    if login == person.login and not active:
        return back("/admin", error="不能停用自己正在使用的账号")
    return await _change(request, person, form, login, {"active": active},
                         "已启用" if active else "已停用")


@router.post("/admin/accounts/{login}/roles", response_model=None)
async def set_roles(login: str, request: Request, person: Signed) -> RedirectResponse:
    """变更角色与单位."""
    need(person, *ADMIN)
    form = await posted(request, person)
    roles = [r for r in form.all("roles") if r in STAFF_ROLES]
    body: dict[str, Any] = {"roles": roles, "unit": form.get("unit") or None}
    if form.get("display_name"):
        body["display_name"] = form.get("display_name")
    return await _change(request, person, form, login, body, "已变更账号",
                         there=f"/admin/accounts/{login}")


async def _change(request: Request, person: Person, form: Form, login: str,
                  body: dict[str, Any], done: str, there: str = "/admin") -> RedirectResponse:
    await command(request, person, form, "people", _login(login), body, back_to=there,
                  method="PATCH")
    return back(there, ok=f"{login}: {done}")


@router.post("/admin/accounts/{login}/password-reset", response_model=None)
async def reset_password(login: str, request: Request, person: Signed) -> Response:
    """重置密码: a one-time password shown once; the person's sessions end."""
    need(person, *ADMIN)
    form = await posted(request, person)
    made = await command(request, person, form, "people", f"{_login(login)}/password-reset",
                         None, back_to="/admin")
    return _secret(request, person, what="密码已重置", login=made["login"], name=None,
                   secret=made["password"], secret_label="新的一次性密码 (其原有会话均已退出)")


@router.post("/admin/keys", response_model=None)
async def issue_key(request: Request, person: Signed) -> Response:
    """发放密钥: the key shown once, for the program's configuration."""
    need(person, *ADMIN)
    form = await posted(request, person)
    role = form.get("role")
    body = {"holder": form.get("holder"), "role": role,
            "channel": (form.get("channel") or None) if role == "channel" else None,
            "unit": (form.get("unit") or None) if role == "unit" else None}
    made = await command(request, person, form, "people", "/v1/keys", body,
                         back_to="/admin/keys")
    return _secret(request, person, tab="keys", what="密钥已发放", login=made["holder"],
                   name=KEY_ROLE_ZH.get(made["role"], made["role"]), secret=made["key"],
                   secret_label="密钥 (仅显示这一次, 请立即配置到对方系统)")


@router.post("/admin/keys/{holder}/revoke", response_model=None)
async def revoke_key(holder: str, request: Request, person: Signed) -> RedirectResponse:
    """吊销: every live key of the holder stops working."""
    need(person, *ADMIN)
    form = await posted(request, person)
    done = await command(request, person, form, "people", _holder(holder), None,
                         back_to="/admin/keys", method="DELETE")
    return back("/admin/keys", ok=f"{holder}: 已吊销 {done.get('revoked', '')} 个密钥")
