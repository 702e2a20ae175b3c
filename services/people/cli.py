"""`hotline accounts …` and `hotline keys …`: what an admin does over the API, from a shell
on the platform's own machines (the first admin account is made this way).

Each command goes through `PeopleService`, so every change is an event on hotline.people
before it takes effect, exactly as over HTTP; the actor is `admin:cli-<os user>` unless
`--by` names the admin. Secrets (a one-time password, a key) are printed once, alone on
stdout, so a script can capture them; lists are tab-separated lines for scripts too.
"""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from hotline.apikeys import ApiKeyStore, Principal
from hotline.cli_kit import console, run_with_keys
from hotline.people import AccountExists, WeakPassword
from hotline.runtime import Platform
from reference.bundle import reference_of
from reference.directory import Directory
from services.people import rules
from services.people.service import PeopleService, UnknownAccount

accounts = typer.Typer(help="staff accounts: create, list, change, deactivate, reset a password",
                       no_args_is_help=True)
keys = typer.Typer(help="API keys of channel adapters, units' systems and service accounts",
                   no_args_is_help=True)
T = TypeVar("T")

By = Annotated[str, typer.Option("--by", help="the admin doing it (default: cli-<os user>)")]
Roles = Annotated[list[str], typer.Option("--role", help="a role; repeat for several")]
Unit = Annotated[str | None, typer.Option(help="the member unit, for the unit role")]


def _admin(by: str) -> Principal:
    """The admin an event names: `--by`, else the shell's user, in the characters an
    envelope's actor may hold."""
    if not by:
        try:
            by = "cli-" + getpass.getuser()
        except (KeyError, OSError):  # a container user with no name
            by = "cli"
    return Principal(re.sub(r"[^A-Za-z0-9._@-]", "-", by), "admin")


def _people(fn: Callable[[PeopleService, Directory], Awaitable[T]]) -> T:
    """Run `fn` with the people service and the member-unit directory; the rules' and the
    service's refusals end the command with their message (exit 2, or 1 for a missing
    account)."""

    async def go(platform: Platform, store: ApiKeyStore) -> T:
        return await fn(PeopleService(platform, store), reference_of(platform).data.directory)

    try:
        return run_with_keys(go)
    except (rules.Invalid, WeakPassword) as exc:
        console.print(str(exc))
        raise typer.Exit(2) from None
    except AccountExists as exc:
        console.print(f"login {exc} is taken")
        raise typer.Exit(2) from None
    except UnknownAccount as exc:
        console.print(f"no account {exc}")
        raise typer.Exit(1) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _secret(value: str | None) -> None:
    if value:
        sys.stdout.write(value + "\n")


@accounts.command("create")
def create(login: str, name: Annotated[str, typer.Option(help="display name, e.g. 王丽")],
           role: Roles, unit: Unit = None, by: By = "") -> None:
    """A person's account; prints the one-time password they change at first sign-in."""

    async def go(service: PeopleService, directory: Directory) -> str | None:
        account = rules.account(directory, login, name, tuple(role), unit)
        return await service.create(account, None, _admin(by), _now())

    _secret(_people(go))


@accounts.command("list")
def list_accounts() -> None:
    """Every account, active or not (never a password)."""

    async def go(service: PeopleService, directory: Directory) -> None:
        for a in await service.people.accounts():
            state = "active" if a.active else "inactive"
            typer.echo(f"{a.login}\t{a.display_name}\t{','.join(a.roles)}\t{a.unit or ''}"
                       f"\t{state}")

    _people(go)


def _change(login: str, by: str, *, name: str | None = None, roles: list[str] | None = None,
            unit: str | None = None, active: bool | None = None) -> None:
    async def go(service: PeopleService, directory: Directory) -> None:
        old = await service.people.account(login)
        if old is None:
            raise UnknownAccount(login)
        roles_now = tuple(roles) if roles else old.roles
        unit_now = (unit or old.unit) if "unit" in roles_now else None
        new = rules.account(directory, login, name or old.display_name, roles_now, unit_now,
                            old.active if active is None else active)
        await service.change(new, _admin(by), _now())
        console.print(f"{login}: {','.join(new.roles)} {new.unit or ''}"
                      f" {'active' if new.active else 'inactive'}", highlight=False)

    _people(go)


@accounts.command("change")
def change(login: str, name: Annotated[str | None, typer.Option()] = None,
           role: Annotated[list[str] | None, typer.Option("--role")] = None,
           unit: Unit = None, by: By = "") -> None:
    """New roles (replacing the old ones), unit or name; a session losing its role ends."""
    _change(login, by, name=name, roles=role, unit=unit)


@accounts.command("deactivate")
def deactivate(login: str, by: By = "") -> None:
    """停用: the account and all its sessions stop working at once."""
    _change(login, by, active=False)


@accounts.command("reactivate")
def reactivate(login: str, by: By = "") -> None:
    """启用: the account works again (with its password as it was)."""
    _change(login, by, active=True)


@accounts.command("reset-password")
def reset_password(login: str, by: By = "") -> None:
    """A new one-time password, printed once; the account's sessions end."""
    _secret(_people(lambda service, _: service.reset_password(login, _admin(by), _now())))


def _print_history(stream: str) -> None:
    async def go(service: PeopleService, directory: Directory) -> None:
        for stored in await service.history(stream):
            env = stored.envelope
            data = {k: v for k, v in env.data.items() if k != "by"}
            typer.echo(f"{env.time.isoformat()}\t{env.type.removeprefix('hotline.')}"
                       f"\t{env.actor}\t{data}")

    _people(go)


@accounts.command("history")
def account_history(login: str) -> None:
    """Who granted what to this person, when (its stream on hotline.people)."""
    _print_history(f"account-{login}")


@keys.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="who holds it, e.g. wechat-gateway")],
    channel: Annotated[str | None, typer.Option(help="the only channel it may post on")] = None,
    role: Annotated[str, typer.Option(help=f"one of {', '.join(rules.KEY_ROLES)} (default: "
                                           "channel with --channel, unit with --unit)")] = "",
    unit: Annotated[str | None, typer.Option(help="the only unit whose tickets it sees")] = None,
    by: By = "",
) -> None:
    """A key for a channel adapter, a unit's own system or a service account; printed once,
    stored hashed, its issue recorded on hotline.people."""
    role = role or ("channel" if channel else "unit" if unit else "")
    if not role:
        console.print(f"give --role, one of: {', '.join(rules.KEY_ROLES)}")
        raise typer.Exit(2)

    async def go(service: PeopleService, directory: Directory) -> str:
        holder = rules.key_holder(directory, name, role, channel, unit)
        return await service.issue_key(holder, _admin(by), _now())

    _secret(_people(go))


@keys.command("list")
def list_keys() -> None:
    """Holders of live API keys (never the keys)."""

    async def go(service: PeopleService, directory: Directory) -> None:
        for holder in await service.keys.holders():
            typer.echo(f"{holder.name}\t{holder.role}\t{holder.channel or holder.unit or ''}")

    _people(go)


@keys.command("revoke")
def revoke_key(name: str, by: By = "") -> None:
    """Revoke every key of one holder (the rows stay, with the time, for audit)."""
    count = _people(lambda service, _: service.revoke_key(name, _admin(by), _now()))
    console.print(f"{count} key(s) revoked")


@keys.command("history")
def key_history(name: str) -> None:
    """When the holder's keys were issued and revoked, and by whom."""
    _print_history(f"key-{name}")
