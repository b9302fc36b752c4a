"""The deployment: every Kubernetes manifest valid against the Kubernetes schemas, each service with its
probes, resources and security context, the kustomizations complete, the Dockerfile clean under hadolint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from tests.paths import ROOT

from devstack.services import SERVICES

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def base_resources() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for p in (K8S / "base").glob("*.yaml")
            if p.name != "kustomization.yaml" for d in documents(p)}  # fmt: skip


@pytest.mark.parametrize("path", [p for p in MANIFESTS if "overlays" not in p.parts], ids=lambda p: p.name)
def test_every_base_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    for document in documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_has_a_deployment_with_probes_resources_and_a_locked_down_security_context(service: str) -> None:
    deployment = base_resources()[("Deployment", service)]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"configMapRef": {"name": "messaging-config"}} in container["envFrom"]
    assert {"secretRef": {"name": "messaging-secrets"}} in container["envFrom"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert ("PodDisruptionBudget", service) in base_resources()


def test_http_services_autoscalers_and_the_migration_job_exist() -> None:
    resources = base_resources()
    assert {("Service", "api"), ("Service", "delivery-receipts")} <= set(resources)
    assert {("HorizontalPodAutoscaler", "preparer"), ("HorizontalPodAutoscaler", "transmitter")} <= set(resources)
    config = resources[("ConfigMap", "messaging-config")]["data"]
    partitions, workers = int(config["TOPIC_PARTITIONS"]), int(config["TRANSMITTER_WORKERS"])
    # Every consumer the autoscalers can start gets a partition: none idles in its group.
    assert resources[("HorizontalPodAutoscaler", "preparer")]["spec"]["maxReplicas"] <= partitions
    assert resources[("HorizontalPodAutoscaler", "transmitter")]["spec"]["maxReplicas"] * workers <= partitions
    job = resources[("Job", "messaging-migrate")]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["messaging-admin", "migrate"]


def test_the_base_kustomization_lists_every_file_and_the_overlays_only_files_that_exist() -> None:
    listed = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in (K8S / "base").glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    for overlay in ("dev", "prod"):
        kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
        assert kustomization["resources"] == ["../../base"]
        assert kustomization["namespace"]
        for patch in kustomization["patches"]:
            assert (K8S / "overlays" / overlay / patch["path"]).is_file()
        images = {i["name"] for i in kustomization["images"]}
        assert images == {f"messaging-{s}" for s in SERVICES}
        targets = {(d["kind"], d["metadata"]["name"]) for p in kustomization["patches"]
                   for d in documents(K8S / "overlays" / overlay / p["path"])}  # fmt: skip
        assert targets <= set(base_resources()), "a patch for something the base does not have"


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(K8S.parent / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_every_service_on_real_kafka_and_postgres_after_the_migration() -> None:
    compose = yaml.safe_load((K8S.parent / "compose.yaml").read_text())
    services = compose["services"]
    assert set(SERVICES) | {"postgres", "kafka", "migrate"} == set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert services["postgres"]["image"].startswith("postgres:")
    for name in SERVICES:
        assert services[name]["build"]["args"]["SERVICE"] == name
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in published), "only loopback is published"
