from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory the commands find through the settings."""
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    return tmp_path
