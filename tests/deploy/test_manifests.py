"""The Kubernetes manifests agree with the code: topics with the catalogue, env with settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.topics import CATALOGUE, dispatch_topic
from tests.deploy.layout import K8S, OVERLAYS, SERVICES, WORKERS, Doc, of_kind, setting_names


def documents(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_every_catalogue_topic_has_a_strimzi_topic_with_its_settings() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in documents(K8S / "base" / "topics.yaml")}
    assert set(topics) == set(CATALOGUE)
    for name, entry in CATALOGUE.items():
        spec = topics[name]
        assert spec["partitions"] == entry.spec.partitions, name
        assert spec["replicas"] == entry.spec.replication_factor, name
        assert int(spec["config"]["retention.ms"]) == entry.spec.retention_ms, name
        for key, value in entry.spec.config.items():
            assert str(spec["config"][key]) == value, (name, key)
    assert int(topics["hotline.tickets"]["config"]["retention.ms"]) == -1  # evidence: forever


def test_kustomization_lists_existing_files_and_config_names_real_settings(
        rendered: dict[str, list[Doc]]) -> None:
    kustomizations = sorted(K8S.rglob("kustomization.yaml"))
    assert {p.parent.relative_to(K8S).as_posix() for p in kustomizations} >= {
        "base", "units", *(f"overlays/{o}" for o in OVERLAYS)}
    for path in kustomizations:
        (kustomization,) = documents(path)
        listed = [*kustomization.get("resources", []),
                  *(p["path"] for p in kustomization.get("patches", []) if "path" in p)]
        for entry in listed:
            assert (path.parent / entry).exists(), f"{path}: {entry}"
    names = setting_names()
    for overlay, docs in rendered.items():
        config_maps = of_kind(docs, "ConfigMap")
        assert config_maps, overlay
        for name, config in config_maps.items():
            unknown = set(config["data"]) - names
            assert not unknown, f"{overlay} ConfigMap {name}: not settings: {sorted(unknown)}"


def test_every_unit_is_listed_and_reads_only_its_own_dispatch_topic() -> None:
    units = K8S / "units"
    files = sorted(p.name for p in units.glob("*.yaml") if p.name != "kustomization.yaml")
    (kustomization,) = documents(units / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    for name in files:
        (user,) = documents(units / name)
        unit = Path(name).stem
        acls = user["spec"]["authorization"]["acls"]
        topics = [a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic"]
        assert topics == [dispatch_topic(unit)]
        assert all("Write" not in a["operations"] for a in acls)


def test_base_and_readme_have_every_service_with_its_port() -> None:
    (kustomization,) = documents(K8S / "base" / "kustomization.yaml")
    readme = (K8S / "README.md").read_text()
    for service, port in SERVICES.items():
        assert f"{service}.yaml" in kustomization["resources"], service
        assert f"| {service} | {port} |" in readme, f"README.md services table: {service}"
    for worker in WORKERS:  # no port: the table says so
        assert f"{worker}.yaml" in kustomization["resources"], worker
        assert f"| {worker} | — |" in readme, f"README.md services table: {worker}"
