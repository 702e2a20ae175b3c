"""Authentication for every service's API: a bearer API key or a session cookie in, a
`Principal` out.

Programs send `Authorization: Bearer <key>`; people send the session cookie their
sign-in set (hotline.signin), and, on every request that changes something, the
session's CSRF token in `X-CSRF-Token`: a page of another site can make a browser send
the cookie, never read the token. `authenticated` answers 401 without a valid key or
session and 403 for a cookie-borne change without the token; `roles(...)` builds a
dependency that also answers 403 for a holder of another role. Authorising by member
unit (a unit sees its own tickets only) is the service's business: it needs the ticket.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.apikeys import ApiKeyStore, Principal, Role
from hotline.web import Problem

bearer = HTTPBearer(auto_error=False, description="API key: 'Authorization: Bearer hk_…'")
SESSION_COOKIE = "hotline_session"
CSRF_COOKIE = "hotline_csrf"  # readable by the page's script, which echoes it in the header
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The holder of the presented key, else the signed-in person of the session cookie
    (401 without either; 403 for a change sent with the cookie but without its token)."""
    keys: ApiKeyStore = request.app.state.api_keys
    token = request.cookies.get(SESSION_COOKIE)
    if credentials is None and token:
        session = await keys.people.session(token, datetime.now(UTC))
        if session is None:
            raise Problem(401, "unauthenticated", "登录已失效, 请重新登录 (signed out)",
                          "The session has ended: sign in again.")
        sent = request.headers.get(CSRF_HEADER, "")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(sent, session.csrf):
            raise Problem(403, "csrf-failed", "请求缺少有效的 CSRF 令牌 (CSRF token required)",
                          f"A change made with the session cookie sends {CSRF_HEADER}.")
        return session.principal
    principal = await keys.authenticate(credentials.credentials if credentials else None)
    if principal is None:
        raise Problem(401, "unauthenticated", "需要有效的 API 密钥 (API key required)",
                      "Send your key as 'Authorization: Bearer <key>', or sign in.",
                      headers={"WWW-Authenticate": "Bearer"})
    return principal


def roles(*allowed: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only holders of the `allowed` roles (403 for the others)."""

    async def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if principal.role not in allowed:
            raise Problem(403, "forbidden", "无权执行该操作 (not allowed for your role)",
                          f"Allowed roles: {', '.join(allowed)}.")
        if principal.role == "unit" and not principal.unit:
            raise Problem(403, "forbidden", "单位密钥未绑定单位 (unit key without a unit)")
        return principal

    return check
