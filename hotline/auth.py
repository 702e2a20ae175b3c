"""Authentication for every service's API: a bearer API key in, a `Principal` out.

`authenticated` answers 401 without a valid key; `roles(...)` builds a
dependency that also answers 403 for a holder of another role. Authorising
by member unit (a unit sees its own tickets only) is the service's business:
it needs the ticket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.apikeys import ApiKeyStore, Principal, Role
from hotline.web import Problem

bearer = HTTPBearer(auto_error=False, description="API key: 'Authorization: Bearer hk_…'")


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The holder of the presented key (401 without a valid one)."""
    keys: ApiKeyStore = request.app.state.api_keys
    principal = await keys.authenticate(credentials.credentials if credentials else None)
    if principal is None:
        raise Problem(401, "unauthenticated", "需要有效的 API 密钥 (API key required)",
                      "Send your key as 'Authorization: Bearer <key>'.",
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
