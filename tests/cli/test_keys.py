"""`hotline keys`: keys for channel adapters, units and staff roles, in the shared key store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.apikeys import Principal, open_api_keys
from hotline.settings import Settings
from tests.cli import hotline


def holder_of(key: str, data_dir: Path) -> Principal | None:
    """What a service (another process, the same store) makes of `key`."""

    async def look() -> Principal | None:
        store = open_api_keys(Settings(data_dir=data_dir))
        await store.start()
        try:
            return await store.authenticate(key)
        finally:
            await store.close()

    return asyncio.run(look())


def test_keys_for_a_channel_a_unit_and_a_staff_role(data_dir: Path) -> None:
    code, channel_key = hotline("keys", "create", "--name", "wechat-gw", "--channel", "wechat")
    assert code == 0, channel_key
    code, unit_key = hotline("keys", "create", "--name", "squad-desk", "--unit",
                             "d01-urban-squad")
    assert code == 0, unit_key
    code, staff_key = hotline("keys", "create", "--name", "op-017", "--role", "operator")
    assert code == 0, staff_key
    assert holder_of(channel_key.strip(), data_dir) == Principal("wechat-gw", "channel",
                                                                 channel="wechat")
    assert holder_of(unit_key.strip(), data_dir) == Principal("squad-desk", "unit",
                                                              unit="d01-urban-squad")
    assert holder_of(staff_key.strip(), data_dir) == Principal("op-017", "operator")
    code, out = hotline("keys", "list")
    assert code == 0 and [line.split() for line in out.splitlines()] == [
        ["op-017", "operator"], ["squad-desk", "unit", "d01-urban-squad"],
        ["wechat-gw", "channel", "wechat"]]
    assert "hk_" not in out
    assert hotline("keys", "revoke", "squad-desk") == (0, "1 key(s) revoked\n")
    assert holder_of(unit_key.strip(), data_dir) is None
    assert "squad-desk" not in hotline("keys", "list")[1]


def test_every_issue_and_revocation_is_on_the_log_with_who_did_it(data_dir: Path) -> None:
    assert hotline("keys", "create", "--name", "squad-desk", "--unit", "d01-urban-squad",
                   "--by", "ops.chen")[0] == 0
    assert hotline("keys", "revoke", "squad-desk")[0] == 0
    code, out = hotline("keys", "history", "squad-desk")
    issued, revoked = out.splitlines()
    assert code == 0 and "KeyIssued.v1\tadmin:ops.chen\t" in issued and "d01-urban-squad" in issued
    assert "KeyRevoked.v1\tadmin:cli-" in revoked and "'count': 1" in revoked


@pytest.mark.parametrize(("args", "message"), [
    (("--channel", "telegram"), "unknown channel telegram"),
    (("--unit", "d99-nowhere"), "unknown unit d99-nowhere"),
    (("--role", "unit"), "needs a unit"),
    (("--role", "channel"), "names its channel"),
    (("--role", "root"), "unknown role root"),
    ((), "give --role"),
    (("--role", "supervisor", "--unit", "d01-urban-squad"), "only the unit role names a unit"),
    (("--role", "unit", "--unit", "d01-urban-squad", "--channel", "wechat"),
     "only a channel key"),
])
def test_a_key_for_no_one_known_is_refused(data_dir: Path, args: tuple[str, ...],
                                           message: str) -> None:
    code, out = hotline("keys", "create", "--name", "someone", *args)
    assert code == 2 and message in out
    assert hotline("keys", "list") == (0, "")
