"""Personal data is opened by role: clear for those who call back, masked for the rest."""

from __future__ import annotations

from pathlib import Path

from contracts.personal import seal
from hotline.disclosure import disclose
from hotline.keystore import SqliteKeyStore
from hotline.kms import LocalKms, load_master_key

FIELDS = {"name": "王小明", "phone": "13812345678", "id_number": "11010519491231002X"}


async def test_roles_see_clear_or_masked_and_nobody_sees_erased_data(tmp_path: Path) -> None:
    keys = SqliteKeyStore(str(tmp_path / "keys.db"), LocalKms(load_master_key("", tmp_path)))
    await keys.start()
    kid, key = await keys.citizen("phone:13812345678")
    sealed = seal(key, kid, FIELDS, "c-1/caller")
    assert await disclose(keys, sealed, "c-1/caller", "operator") == FIELDS
    assert await disclose(keys, sealed, "c-1/caller", "callback") == FIELDS
    for role in ("unit", "analyst", "auditor", "channel"):
        assert await disclose(keys, sealed, "c-1/caller", role) == {
            "name": "王**", "phone": "138****5678", "id_number": "110*************2X"}
    assert await disclose(keys, sealed, "c-2/caller", "operator") == {"erased": "[已删除]"}
    assert await disclose(keys, None, "c-1/caller", "operator") is None
    await keys.erase(kid)
    assert await disclose(keys, sealed, "c-1/caller", "operator") == {"erased": "[已删除]"}
    await keys.close()
