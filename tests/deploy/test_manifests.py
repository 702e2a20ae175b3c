"""The Kubernetes manifests agree with the code: topics with the catalogue, env with settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.topics import CATALOGUE
from hotline.settings import Settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def documents(name: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def test_every_catalogue_topic_has_a_strimzi_topic_with_its_settings() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in documents("topics.yaml")}
    assert set(topics) == set(CATALOGUE)
    for name, entry in CATALOGUE.items():
        spec = topics[name]
        assert spec["partitions"] == entry.spec.partitions
        assert spec["replicas"] == entry.spec.replication_factor
        assert int(spec["config"]["retention.ms"]) == entry.spec.retention_ms
    assert int(topics["hotline.tickets"]["config"]["retention.ms"]) == -1  # evidence: forever


def test_kustomization_lists_existing_files_and_config_names_real_settings() -> None:
    (kustomization,) = documents("kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists(), resource
    config = next(d for d in documents("config.yaml") if d["kind"] == "ConfigMap")
    fields = {f"HOTLINE_{name.upper()}" for name in Settings.model_fields}
    assert set(config["data"]) <= fields


def test_unit_credentials_read_only_their_own_dispatch_topic() -> None:
    from contracts.topics import dispatch_topic

    for path in (K8S / "units").glob("*.yaml"):
        (user,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        unit = path.stem
        acls = user["spec"]["authorization"]["acls"]
        topics = [a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic"]
        assert topics == [dispatch_topic(unit)]
        assert all("Write" not in a["operations"] for a in acls)
