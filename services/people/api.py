"""The people API: accounts and keys (admins), their history (admins and auditors), and a
person's own password.

A staff account names a person; a key names a program. Each answer that creates a secret
(an account's first password, a reset, a key) shows it once: only its hash is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.people_events import KeyRole, StaffRole
from contracts.vocabulary import Channel
from hotline.apikeys import Principal
from hotline.auth import authenticated, roles
from hotline.people import Account, AccountExists, WeakPassword
from hotline.web import Problem, from_state, problems
from reference.directory import ReferenceData
from services.people import rules
from services.people.service import PeopleService, UnknownAccount

router = APIRouter(prefix="/v1", tags=["people 人员与权限"])

ServiceDep = Annotated[PeopleService, Depends(from_state("service"))]
ClockDep = Annotated[Callable[[], datetime], Depends(from_state("clock"))]
RefDep = Annotated[ReferenceData, Depends(from_state("reference"))]
Admin = Annotated[Principal, Depends(roles("admin"))]
Reader = Annotated[Principal, Depends(roles("admin", "auditor"))]
Someone = Annotated[Principal, Depends(authenticated)]
LoginPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9._-]{1,63}$")]
HolderPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(pattern=r"^[a-z][a-z0-9._-]{1,63}$", examples=["wang.li"])
    display_name: str = Field(min_length=1, max_length=64, examples=["王丽"])
    roles: tuple[StaffRole, ...] = Field(min_length=1, max_length=8)
    unit: str | None = Field(default=None, max_length=64, description="for the unit role")
    password: str | None = Field(default=None, min_length=1, max_length=256,
                                 description="omit: a one-time password is made and shown")


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    roles: tuple[StaffRole, ...] | None = Field(default=None, min_length=1, max_length=8)
    unit: str | None = Field(default=None, max_length=64)
    active: bool | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(min_length=1, max_length=256)
    new: str = Field(min_length=1, max_length=256)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holder: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$", examples=["wechat-gateway"])
    role: KeyRole
    channel: Channel | None = None
    unit: str | None = Field(default=None, max_length=64)


def _invalid(detail: str) -> Problem:
    return Problem(422, "invalid-request", "请求内容不合法 (invalid request)", detail)


def _account(ref: ReferenceData, login: str, name: str, roles_: tuple[str, ...],
             unit: str | None, active: bool = True) -> Account:
    try:
        return rules.account(ref.directory, login, name, roles_, unit, active)
    except rules.Invalid as exc:
        raise _invalid(str(exc)) from None


def _shown(a: Account) -> dict[str, Any]:
    return {"login": a.login, "display_name": a.display_name, "roles": list(a.roles),
            "unit": a.unit, "active": a.active}


def _missing(login: str) -> Problem:
    return Problem(404, "account-unknown", "账号不存在 (no such account)", f"No account {login}.")


@router.post("/accounts", status_code=201, responses=problems(401, 403, 409, 422))
async def create_account(body: AccountIn, service: ServiceDep, ref: RefDep, clock: ClockDep,
                         who: Admin) -> dict[str, Any]:
    """开户: a person's account; a one-time password comes back when none was given."""
    account = _account(ref, body.login, body.display_name, body.roles, body.unit)
    try:
        made = await service.create(account, body.password, who, clock())
    except AccountExists:
        raise Problem(409, "account-exists", "账号已存在 (login taken)") from None
    except WeakPassword as exc:
        raise _invalid(str(exc)) from None
    return {**_shown(account), **({"password": made} if made else {})}


@router.get("/accounts", responses=problems(401, 403))
async def list_accounts(service: ServiceDep, who: Reader) -> dict[str, Any]:
    """Every account, active or not."""
    return {"items": [_shown(a) for a in await service.people.accounts()]}


@router.get("/accounts/{login}", responses=problems(401, 403, 404))
async def get_account(login: LoginPath, service: ServiceDep, who: Reader) -> dict[str, Any]:
    account = await service.people.account(login)
    if account is None:
        raise _missing(login)
    return _shown(account)


@router.patch("/accounts/{login}", responses=problems(401, 403, 404, 422))
async def change_account(login: LoginPath, body: AccountPatch, service: ServiceDep,
                         ref: RefDep, clock: ClockDep, who: Admin) -> dict[str, Any]:
    """变更/停用/启用: name, roles, unit, active; a session losing its role ends at once."""
    old = await service.people.account(login)
    if old is None:
        raise _missing(login)
    roles_now = body.roles or old.roles
    unit = body.unit if "unit" in body.model_fields_set else old.unit
    new = _account(ref, login, body.display_name or old.display_name, roles_now,
                   unit if "unit" in roles_now else None,
                   old.active if body.active is None else body.active)
    try:
        return _shown(await service.change(new, who, clock()))
    except UnknownAccount:
        raise _missing(login) from None


@router.post("/accounts/{login}/password-reset", responses=problems(401, 403, 404))
async def reset_password(login: LoginPath, service: ServiceDep, clock: ClockDep,
                         who: Admin) -> dict[str, str]:
    """重置密码: a one-time password, shown once; the account's sessions end."""
    try:
        return {"login": login, "password": await service.reset_password(login, who, clock())}
    except UnknownAccount:
        raise _missing(login) from None


@router.get("/accounts/{login}/history", responses=problems(401, 403))
async def account_history(login: LoginPath, service: ServiceDep,
                          who: Reader) -> list[dict[str, Any]]:
    """Who granted what to this person, when (its hash-chained stream on hotline.people)."""
    return [s.envelope.model_dump(mode="json") for s in
            await service.history(f"account-{login}")]


@router.post("/me/password", status_code=204, responses=problems(401, 403, 422))
async def change_own_password(body: PasswordIn, service: ServiceDep, clock: ClockDep,
                              who: Someone) -> Response:
    """修改密码: a signed-in person's own; every session of theirs ends (sign in again)."""
    if who.person is None:
        raise Problem(403, "forbidden", "仅限登录人员 (signed-in people only)")
    try:
        changed = await service.change_password(who, body.current, body.new, clock())
    except WeakPassword as exc:
        raise _invalid(str(exc)) from None
    if not changed:
        raise Problem(403, "invalid-credentials", "当前密码错误 (wrong current password)")
    return Response(status_code=204)


@router.post("/keys", status_code=201, responses=problems(401, 403, 422))
async def issue_key(body: KeyIn, service: ServiceDep, ref: RefDep, clock: ClockDep,
                    who: Admin) -> dict[str, Any]:
    """发放密钥: a key for a channel adapter, a unit's own system or a service account."""
    channel = body.channel.value if body.channel else None
    try:
        holder = rules.key_holder(ref.directory, body.holder, body.role, channel, body.unit)
    except rules.Invalid as exc:
        raise _invalid(str(exc)) from None
    key = await service.issue_key(holder, who, clock())
    return {"holder": holder.name, "role": holder.role, "channel": holder.channel,
            "unit": holder.unit, "key": key}


@router.get("/keys", responses=problems(401, 403))
async def list_keys(service: ServiceDep, who: Reader) -> dict[str, Any]:
    """The holder of every live key (never a key)."""
    return {"items": [{"holder": p.name, "role": p.role, "channel": p.channel,
                       "unit": p.unit} for p in await service.keys.holders()]}


@router.delete("/keys/{holder}", responses=problems(401, 403))
async def revoke_key(holder: HolderPath, service: ServiceDep, clock: ClockDep,
                     who: Admin) -> dict[str, Any]:
    """吊销: every live key of the holder stops working."""
    return {"holder": holder, "revoked": await service.revoke_key(holder, who, clock())}


@router.get("/keys/{holder}/history", responses=problems(401, 403))
async def key_history(holder: HolderPath, service: ServiceDep,
                      who: Reader) -> list[dict[str, Any]]:
    return [s.envelope.model_dump(mode="json") for s in await service.history(f"key-{holder}")]
