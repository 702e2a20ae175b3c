"""登录 and 退出: the console's sign-in page opens the same session as the API's
`POST /v1/session` (hotline.signin.open_session); a person with several roles picks one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hotline.signin import end_session, open_session
from hotline.web import Problem
from services.console import labels
from services.console.web import Signed, posted, read_form, render

router = APIRouter(include_in_schema=False)


@router.get("/", response_model=None)
async def home(person: Signed) -> RedirectResponse:
    """The role's first page."""
    return RedirectResponse(labels.home(person.role), status_code=303)


@router.get("/login", response_model=None)
async def login_page(request: Request, next: str = "") -> HTMLResponse:
    return render(request, "login.html", None, next=_local(next), roles=labels.ROLE_ZH)


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """Sign in from the form; a refusal shows its Chinese message on the same page."""
    form = await read_form(request)
    role = form.get("role") if form.get("role") in labels.ROLE_ZH else None
    redirect = RedirectResponse("/", status_code=303)
    try:
        shown = await open_session(request, redirect, form.get("login"), form.get("password"),
                                   role)  # type: ignore[arg-type]
    except Problem as refused:
        return render(request, "login.html", None, code=refused.status,
                      error=refused.title, login=form.get("login"),
                      next=_local(form.get("next")), roles=labels.ROLE_ZH)
    redirect.headers["location"] = _local(form.get("next")) or labels.home(str(shown["role"]))
    return redirect


@router.post("/logout", response_model=None)
async def logout(request: Request, person: Signed) -> RedirectResponse:
    await posted(request, person)  # the CSRF token: no page of another site signs one out
    redirect = RedirectResponse("/login?ok=" + "已退出", status_code=303)
    await end_session(request, redirect)
    return redirect


def _local(target: str) -> str:
    """Only a path of this console (never `//elsewhere` or `https://…`): no open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else ""
