"""Sign-in, who am I, sign-out: the session routes every service's app has.

A person signs in on any service (the cookie belongs to the host, so one sign-in serves
every service behind it) and acts in one of their roles. The session cookie is HttpOnly
and SameSite=Lax, Secure outside development and tests; the CSRF token comes back in
the answer and in a cookie the page's script can read (hotline.auth checks it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.people_events import StaffRole
from hotline.apikeys import ApiKeyStore, Principal
from hotline.auth import CSRF_COOKIE, SESSION_COOKIE, authenticated
from hotline.people import Session, password_matches, throttle_wait
from hotline.web import Problem, problems

router = APIRouter(prefix="/v1/session", tags=["session 登录"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: StaffRole | None = Field(default=None, description="Which of your roles (default: first)")


def _store(request: Request) -> ApiKeyStore:
    store: ApiKeyStore = request.app.state.api_keys
    return store


def _secure(request: Request) -> bool:
    settings = getattr(request.app.state.platform, "settings", None)
    return getattr(settings, "environment", "production") not in ("development", "test")


def _shown(session: Session | Principal, **extra: Any) -> dict[str, Any]:
    principal = session.principal if isinstance(session, Session) else session
    return {"login": principal.person or principal.name, "role": principal.role,
            "unit": principal.unit, "actor": principal.actor, **extra}


@router.post("", status_code=201, responses=problems(401, 403, 429))
async def sign_in(body: SignIn, request: Request, response: Response) -> dict[str, Any]:
    """登录: a session for the person in one of their roles (a cookie, and its CSRF token)."""
    return await open_session(request, response, body.login, body.password, body.role)


async def open_session(request: Request, response: Response, login: str, password: str,
                       role: StaffRole | None) -> dict[str, Any]:
    """Check the password (throttled per login and address), open the session and set its
    cookies on `response`: the API's sign-in and the console's sign-in page both call it.
    Refusals are `Problem`s (401, 403, 429) with Chinese titles."""
    people, now = _store(request).people, datetime.now(UTC)
    client = request.client.host if request.client else "unknown"
    tries, last = await people.failures(login, client, now)
    wait = last + throttle_wait(tries) - now
    if wait.total_seconds() > 0:
        raise Problem(429, "too-many-attempts", "尝试次数过多, 请稍后再试 (too many attempts)",
                      "Wait before trying again from this address.",
                      headers={"Retry-After": str(int(wait.total_seconds()) + 1)})
    account = await people.account(login)
    ok = password_matches(await people.password_hash(login), password)
    if not ok or account is None or not account.active:
        await people.record_failure(login, client, now)
        raise Problem(401, "invalid-credentials", "用户名或密码错误 (wrong login or password)")
    role = role or account.roles[0]
    if role not in account.roles:
        raise Problem(403, "forbidden", "该账号没有此角色 (not one of your roles)",
                      f"Your roles: {', '.join(account.roles)}.")
    await people.clear_failures(login, client)
    token, session = await people.open_session(account.principal(role), now)
    secure, age = _secure(request), int((session.expires_at - now).total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=age, httponly=True, secure=secure,
                        samesite="lax", path="/")
    response.set_cookie(CSRF_COOKIE, session.csrf, max_age=age, secure=secure,
                        samesite="lax", path="/")
    return _shown(session, display_name=account.display_name, roles=list(account.roles),
                  csrf_token=session.csrf, expires_at=session.expires_at.isoformat())


@router.get("", responses=problems(401))
async def who_am_i(who: Annotated[Principal, Depends(authenticated)]) -> dict[str, Any]:
    """Who the request's key or session is."""
    return _shown(who)


@router.delete("", status_code=204, responses=problems(401, 403))
async def sign_out(request: Request, response: Response,
                   who: Annotated[Principal, Depends(authenticated)]) -> None:
    """退出: the session ends on every service at once."""
    await end_session(request, response)


async def end_session(request: Request, response: Response) -> None:
    """Close the request's session, if any, and clear its cookies on `response`."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await _store(request).people.close_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
