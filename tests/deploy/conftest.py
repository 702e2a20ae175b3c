"""The overlays, rendered once per session with a real kustomize (see kustomize.py)."""

from __future__ import annotations

import pytest

from tests.deploy.kustomize import Kustomize, find_kustomize
from tests.deploy.layout import K8S, OVERLAYS, Doc


@pytest.fixture(scope="session")
def kustomize(tmp_path_factory: pytest.TempPathFactory) -> Kustomize:
    return find_kustomize(tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="session")
def rendered(kustomize: Kustomize) -> dict[str, list[Doc]]:
    """Every overlay's documents, by overlay name."""
    return {name: kustomize.build(K8S / "overlays" / name) for name in OVERLAYS}
