"""Development accounts: made for `make run`, refused everywhere else."""

from __future__ import annotations

from pathlib import Path

from hotline.devpeople import dev_accounts, ensure_dev_accounts
from hotline.settings import Settings
from tests.people.conftest import People


async def test_development_accounts_exist_in_development_only(people: People,
                                                             tmp_path: Path) -> None:
    dev = Settings(data_dir=tmp_path / "dev", environment="development")
    (tmp_path / "dev").mkdir()
    password = await ensure_dev_accounts(dev, people.store, people.h.platform.store)
    assert password is not None and (tmp_path / "dev" / "dev-accounts.json").exists()
    operator = await people.sign_in("dev.operator", password)
    assert operator.session["actor"] == "operator:dev.operator"
    assert {a.login for a in dev_accounts()} >= {"dev.admin", "dev.unit.d01-urban-squad"}
    # the same store started in production: every development account is refused at once
    prod = Settings(data_dir=tmp_path / "dev", environment="production",
                    master_key="TB6PdnBiRFM6lDahuvJbV/Mbs86HU/zMXMtSHcGkmUI=")
    assert await ensure_dev_accounts(prod, people.store, people.h.platform.store) is None
    assert not (tmp_path / "dev" / "dev-accounts.json").exists()
    assert (await operator.on["dispatch"].get("/v1/session")).status_code == 401
    r = await people.client.post("/v1/session", json={"login": "dev.operator",
                                                      "password": password})
    assert r.status_code == 401
    r = await people.client.get("/v1/accounts/dev.operator/history", headers=people.admin)
    assert [e["type"] for e in r.json()] == ["hotline.AccountCreated.v1",
                                             "hotline.AccountDeactivated.v1"]
