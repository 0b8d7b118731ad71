"""deploy/kubernetes/: every document valid against the Kubernetes schema, the KEDA trigger on the real queue key,
env names the config knows, probes and grace periods that match the processes."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cronmanager.execution.dispatch import queue_name
from cronmanager.processes import worker_command
from cronmanager.rq_namespace import rq_namespace
from cronmanager.worker_pool import STOP_GRACE_S

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = kubernetes_validate.latest_version()
KEDA = "keda.sh/v1alpha1"


def _kustomization() -> dict:
    return yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())


def _documents() -> list[tuple[str, dict]]:
    return [(name, doc) for name in _kustomization()["resources"]
            for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def _one(kind: str, name: str) -> dict:
    return next(doc for _, doc in _documents() if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _container(deployment: str) -> dict:
    return _one("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def _config_names() -> set[str]:
    """Every variable config.py reads (env_str("NAME", ...), env_bool(...), ...); NAME_FILE works for env_str."""
    source = (ROOT / "config.py").read_text()
    names = set(re.findall(r'\benv_\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    return names | {f"{n}_FILE" for n in re.findall(r'\benv_str\(\s*"([A-Z][A-Z0-9_]*)"', source)}


def test_the_kustomization_lists_every_manifest():
    listed = set(_kustomization()["resources"])
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("name, doc", [pytest.param(n, d, id=f"{n}:{d['kind']}") for n, d in _documents()
                                       if d["apiVersion"] != KEDA])
def test_every_document_is_valid_kubernetes(name: str, doc: dict):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert "namespace" not in doc["metadata"], f"{name}: the namespace is the installer's choice"


def test_keda_scales_the_worker_deployment_on_the_fires_queue_key():
    scaled = [d for _, d in _documents() if d["apiVersion"] == KEDA]
    assert [d["kind"] for d in scaled] == ["ScaledObject"]
    spec = scaled[0]["spec"]
    assert "namespace" not in scaled[0]["metadata"]
    assert spec["scaleTargetRef"]["name"] == _one("Deployment", "cronmanager-worker")["metadata"]["name"]
    assert spec["minReplicaCount"] >= 1 and spec["maxReplicaCount"] >= spec["minReplicaCount"]
    [trigger] = spec["triggers"]
    assert trigger["type"] == "redis"
    prefix = yaml.safe_load((DEPLOY / "configmap.yaml").read_text())["data"]["REDIS_PREFIX"]
    assert trigger["metadata"]["listName"] == rq_namespace(prefix).queue_key(queue_name(prefix))
    assert int(trigger["metadata"]["listLength"]) > 0
    assert all(isinstance(v, str) for v in trigger["metadata"].values()), "KEDA reads metadata as strings"


def test_every_environment_variable_is_a_setting_the_config_knows():
    used: set[str] = set()
    for _, doc in _documents():
        if doc["kind"] == "ConfigMap":
            used |= set(doc["data"])
        elif doc["kind"] == "Secret":
            used |= set(doc.get("stringData", {})) | set(doc.get("data", {}))
        elif doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                used |= {e["name"] for e in container.get("env", [])}
    assert used - _config_names() == set()
    assert {"CRONMANAGER_ENV", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENCRYPTION_KEY"} <= used


def test_processes_probes_and_grace_periods_match_the_commands():
    web, worker, scheduler = (_container(f"cronmanager-{n}") for n in ("web", "worker", "scheduler"))
    assert web["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert all(web[p]["httpGet"]["path"] == "/health" for p in ("readinessProbe", "livenessProbe"))
    for container, process in ((worker, "worker"), (scheduler, "scheduler")):
        assert container["command"] == ["flask", "--app", "wsgi", process]
        assert container["livenessProbe"]["exec"]["command"] == [
            "flask", "--app", "wsgi", "health", "--process", process]

    drain = next(p.default for p in worker_command.params if p.name == "drain_timeout")
    worker_pod = _one("Deployment", "cronmanager-worker")
    assert worker_pod["spec"]["replicas"] == 2
    assert worker_pod["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain + STOP_GRACE_S
    processes = {e["name"]: e["value"] for e in worker["env"]}["WORKER_PROCESSES"]
    assert int(processes) == int(worker["resources"]["requests"]["cpu"])

    pdb = _one("PodDisruptionBudget", "cronmanager-worker")
    assert pdb["spec"]["selector"]["matchLabels"] == worker_pod["spec"]["selector"]["matchLabels"]
    assert _one("Deployment", "cronmanager-scheduler")["spec"]["replicas"] == 2
    release = _one("Job", "cronmanager-release")["spec"]["template"]["spec"]["containers"][0]
    assert release["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
