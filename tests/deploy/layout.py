"""What the deploy tests know of the platform: where the manifests are, the services and their
ports, the workers, the settings names, and small lookups over rendered documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hotline.settings import Settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAYS = ("development", "production")

# Every service `hotline serve <name>` runs, with the port its setting gives it.
SERVICES = {"intake": 8101, "dispatch": 8102, "supervision": 8103, "callback": 8104,
            "tickets": 8105, "people": 8106, "knowledge": 8107,
            "analytics": 8108, "console": 8100}

# Workers: Deployments that serve no HTTP (no port, no Service, no /healthz or /readyz),
# with the command they run. The faust hotspot job (services/analytics/hotspots/faust_app.py)
# keeps faust's data dir on the data emptyDir, the root filesystem being read-only.
FAUST_APP = "services.analytics.hotspots.faust_app:app"
WORKERS = {"analytics-hotspots": ["python", "-m", "faust", "--datadir", "/var/lib/hotline/faust",
                                  "-A", FAUST_APP, "worker", "-l", "info", "--without-web"]}

# Services that run one replica everywhere: each appends to its topic as the owner of the
# partition (a writer group), so a second replica would answer half the changes with 503.
ONE_REPLICA = frozenset({"people", "knowledge"})
# Workers that run one replica everywhere: the hotspot job reads every partition of its
# sources under a group of its own, so a second one repeats the work instead of sharing it.
ONE_WORKER = frozenset({"analytics-hotspots"})

Doc = dict[str, Any]


def setting_names() -> set[str]:
    """Every environment variable the platform reads."""
    return {f"HOTLINE_{name.upper()}" for name in Settings.model_fields}


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    """The documents of one kind, by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(deployment: Doc) -> list[Doc]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(docs: list[Doc]) -> Iterator[tuple[str, Doc, Doc]]:
    """(name, deployment, container) for every container of every Deployment."""
    for name, deployment in of_kind(docs, "Deployment").items():
        for container in containers(deployment):
            yield name, deployment, container


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a matchLabels selector selects these labels (the only form used here)."""
    assert set(selector) == {"matchLabels"}, f"unexpected selector form {selector}"
    return selector["matchLabels"].items() <= labels.items()


def config_maps_used(deployment: Doc, config_maps: dict[str, Doc]) -> dict[str, str]:
    """The settings one Deployment's containers get from ConfigMaps, merged."""
    found: dict[str, str] = {}
    for container in containers(deployment):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                found |= config_maps[source["configMapRef"]["name"]]["data"]
    return found
