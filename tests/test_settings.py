"""The two settings traps: development keys in a production data dir, settings that do nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.apikeys import open_api_keys
from hotline.serve import dev_keys
from hotline.settings import Settings


async def test_development_keys_stop_working_outside_development(tmp_path: Path) -> None:
    keys = open_api_keys(Settings(data_dir=tmp_path))
    await keys.start()
    dev = await dev_keys(Settings(data_dir=tmp_path), keys)
    assert dev and all([await keys.authenticate(k) for k in dev.values()])
    assert await dev_keys(Settings(data_dir=tmp_path), keys) == dev  # kept across restarts
    await keys.close()

    production = Settings(data_dir=tmp_path, environment="production",
                          master_key="bXkgbWFzdGVyIGtleSBpcyAzMiBieXRlcyBsb25nISE=")
    again = open_api_keys(production)  # the production process opens the same store
    await again.start()
    assert await dev_keys(production, again) == {}  # nothing to print
    assert not any([await again.authenticate(k) for k in dev.values()])
    await again.close()
    fresh = open_api_keys(production)
    await fresh.start()
    assert not any([await fresh.authenticate(k) for k in dev.values()])
    await fresh.close()
    assert not (tmp_path / "dev-keys.json").exists()


def test_a_production_master_key_may_come_from_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HOTLINE_MASTER_KEY or HOTLINE_MASTER_KEY_FILE"):
        Settings(data_dir=tmp_path, environment="production")
    secret = tmp_path / "master-key"
    assert Settings(data_dir=tmp_path, environment="production",
                    master_key_file=str(secret)).master_key_file == str(secret)


def test_settings_the_engine_ignores_are_named(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_KAFKA_ACKS", "1")
    monkeypatch.setenv("HOTLINE_KAFKA_IDEMPOTENCE", "false")
    embedded = Settings(data_dir=tmp_path)
    assert embedded.inapplicable() == [
        "HOTLINE_KAFKA_ACKS is set but the log is embedded: ignored",
        "HOTLINE_KAFKA_IDEMPOTENCE is set but the log is embedded: ignored"]
    assert Settings(data_dir=tmp_path, log="kafka://broker:9092").inapplicable() == []
