"""The two settings traps: development keys in a production data dir, settings that do nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.apikeys import ApiKeys
from hotline.serve import dev_keys
from hotline.settings import Settings


def test_development_keys_stop_working_outside_development(tmp_path: Path) -> None:
    keys = ApiKeys(tmp_path / "api_keys.json")
    dev = dev_keys(Settings(data_dir=tmp_path), keys)
    assert dev and all(keys.authenticate(k) for k in dev.values())
    assert dev_keys(Settings(data_dir=tmp_path), keys) == dev  # kept across restarts

    production = Settings(data_dir=tmp_path, environment="production",
                          master_key="bXkgbWFzdGVyIGtleSBpcyAzMiBieXRlcyBsb25nISE=")
    again = ApiKeys(tmp_path / "api_keys.json")  # the production process reads the file
    assert dev_keys(production, again) == {}  # nothing to print
    assert not any(again.authenticate(k) for k in dev.values())
    assert not any(ApiKeys(tmp_path / "api_keys.json").authenticate(k) for k in dev.values())
    assert not (tmp_path / "dev-keys.json").exists()


def test_settings_the_engine_ignores_are_named(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_KAFKA_ACKS", "1")
    monkeypatch.setenv("HOTLINE_KAFKA_IDEMPOTENCE", "false")
    embedded = Settings(data_dir=tmp_path)
    assert embedded.inapplicable() == [
        "HOTLINE_KAFKA_ACKS is set but the log is embedded: ignored",
        "HOTLINE_KAFKA_IDEMPOTENCE is set but the log is embedded: ignored"]
    assert Settings(data_dir=tmp_path, log="kafka://broker:9092").inapplicable() == []
