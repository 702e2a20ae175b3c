"""`hotline accounts`: staff accounts from the shell, each change an event on hotline.people
exactly as over the API, and every refusal with its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.apikeys import open_api_keys
from hotline.people import Account, password_matches
from hotline.settings import Settings
from tests.cli import hotline


def stored(login: str, data_dir: Path) -> tuple[Account | None, str | None]:
    """The account and its password hash as sign-in (another process) finds them."""

    async def look() -> tuple[Account | None, str | None]:
        store = open_api_keys(Settings(data_dir=data_dir))
        await store.start()
        try:
            return (await store.people.account(login),
                    await store.people.password_hash(login))
        finally:
            await store.close()

    return asyncio.run(look())


def test_an_account_from_creation_to_deactivation(data_dir: Path) -> None:
    code, password = hotline("accounts", "create", "zhang.min", "--name", "张敏",
                             "--role", "unit", "--unit", "d01-urban-squad")
    assert code == 0 and password.strip()
    account, hashed = stored("zhang.min", data_dir)
    assert account == Account("zhang.min", "张敏", ("unit",), "d01-urban-squad")
    assert password_matches(hashed, password.strip())

    code, out = hotline("accounts", "change", "zhang.min", "--role", "unit", "--role",
                        "supervisor", "--by", "ops.chen")
    assert code == 0 and "unit,supervisor d01-urban-squad active" in out
    code, new_password = hotline("accounts", "reset-password", "zhang.min")
    assert code == 0 and new_password != password
    assert password_matches(stored("zhang.min", data_dir)[1], new_password.strip())
    assert hotline("accounts", "deactivate", "zhang.min")[0] == 0
    assert stored("zhang.min", data_dir)[0].active is False  # type: ignore[union-attr]
    code, out = hotline("accounts", "list")
    assert out.split("\t") == ["zhang.min", "张敏", "unit,supervisor", "d01-urban-squad",
                               "inactive\n"]

    code, out = hotline("accounts", "history", "zhang.min")
    kinds = [(line.split("\t")[1].removesuffix(".v1"), line.split("\t")[2].split("-")[0])
             for line in out.splitlines()]
    assert kinds == [("AccountCreated", "admin:cli"), ("PasswordSet", "admin:cli"),
                     ("AccountChanged", "admin:ops.chen"), ("PasswordSet", "admin:cli"),
                     ("AccountDeactivated", "admin:cli")]
    assert password not in out and new_password not in out


@pytest.mark.parametrize(("args", "code", "message"), [
    (("create", "li.na", "--name", "李娜", "--role", "unit"), 2, "needs a unit"),
    (("create", "li.na", "--name", "李娜", "--role", "root"), 2, "unknown role root"),
    (("create", "li.na", "--name", "李娜", "--role", "unit", "--unit", "d99-x"), 2,
     "unknown unit d99-x"),
    (("create", "wang.li", "--name", "王丽", "--role", "operator"), 2, "login wang.li is taken"),
    (("deactivate", "nobody"), 1, "no account nobody"),
    (("reset-password", "nobody"), 1, "no account nobody"),
])
def test_refusals_say_why_and_change_nothing(data_dir: Path, args: tuple[str, ...], code: int,
                                             message: str) -> None:
    assert hotline("accounts", "create", "wang.li", "--name", "王丽", "--role", "operator")[0] == 0
    before = hotline("accounts", "list")
    got, out = hotline("accounts", *args)
    assert got == code and message in out
    assert hotline("accounts", "list") == before
    assert "li.na" not in hotline("accounts", "history", "li.na")[1]
