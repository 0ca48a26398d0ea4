"""Argo CD and cert-manager installed on the tier's control plane as a user would have, before any
stack ran: with kubectl (server-side apply of install.yaml, `helm template` piped to kubectl), from
the local mirrors the stacks pin. And taken away again, so the next test of the worker finds the
control plane as it was."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import yaml

from platform_ops.cluster_check import CERT_MANAGER_DEPLOYMENTS
from platform_ops.config import stack_file_config
from testbed.argocd_sync import deployments_available
from testbed.controlplane import ControlPlane, ControlPlaneError

ARGOCD_NAMESPACE = "argocd"
CERT_MANAGER_NAMESPACE = "cert-manager"


def argocd_manifest(testbed: Path) -> Path:
    return testbed / "mirror" / f"argocd-{stack_file_config('staging')['argocd']['version']}" / "install.yaml"


def cert_manager_manifest(testbed: Path, helm: Path) -> str:
    """The cert-manager chart as `helm template` renders it for a user who installs it with kubectl."""
    chart = testbed / "mirror" / f"cert-manager-{stack_file_config('staging')['certManager']['version']}"
    return subprocess.run([str(helm), "template", "cert-manager", str(chart), "--namespace", CERT_MANAGER_NAMESPACE,
                           "--set", "crds.enabled=true"],
                          check=True, capture_output=True, text=True, timeout=120).stdout


def install_argocd(cluster: ControlPlane, testbed: Path) -> None:
    cluster.kubectl("create", "namespace", ARGOCD_NAMESPACE)
    cluster.kubectl("apply", "--server-side", "-n", ARGOCD_NAMESPACE, "-f", str(argocd_manifest(testbed)))
    deployments_available(cluster, ARGOCD_NAMESPACE, argocd_deployments(testbed), timeout=180)


def install_cert_manager(cluster: ControlPlane, testbed: Path, helm: Path) -> None:
    cluster.kubectl("create", "namespace", CERT_MANAGER_NAMESPACE)
    # helm template writes each object's namespace (some go to kube-system).
    cluster.kubectl("apply", "--server-side", "-f", "-", input=cert_manager_manifest(testbed, helm))
    deployments_available(cluster, CERT_MANAGER_NAMESPACE, list(CERT_MANAGER_DEPLOYMENTS), timeout=180)


def argocd_deployments(testbed: Path) -> list[str]:
    return [document["metadata"]["name"] for document in yaml.safe_load_all(argocd_manifest(testbed).read_text())
            if isinstance(document, dict) and document.get("kind") == "Deployment"]


def uninstall_argocd(cluster: ControlPlane, testbed: Path) -> None:
    cluster.kubectl("delete", "-n", ARGOCD_NAMESPACE, "-f", str(argocd_manifest(testbed)), "--ignore-not-found",
                    "--wait=false")
    delete_namespace(cluster, ARGOCD_NAMESPACE)


def uninstall_cert_manager(cluster: ControlPlane, testbed: Path, helm: Path) -> None:
    cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false",
                    input=cert_manager_manifest(testbed, helm))
    delete_namespace(cluster, CERT_MANAGER_NAMESPACE)


def delete_namespace(cluster: ControlPlane, name: str, timeout: float = 120) -> None:
    """Delete a namespace and wait until it is gone, so that nothing of it is in the next test's way."""
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")
    deadline = time.monotonic() + timeout
    while cluster.kubectl("get", "namespace", name, "--ignore-not-found", "-o", "name").stdout.strip():
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"namespace {name} still there after {timeout:.0f}s")
        time.sleep(0.5)


def resource_versions(cluster: ControlPlane, *queries: tuple[str, ...]) -> dict[str, str]:
    """kind/namespace/name -> resourceVersion of every object the `kubectl get` queries list."""
    versions = {}
    for query in queries:
        for item in json.loads(cluster.kubectl("get", *query, "-o", "json").stdout)["items"]:
            meta = item["metadata"]
            versions[f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = meta["resourceVersion"]
    return versions


def settled_resource_versions(cluster: ControlPlane, *queries: tuple[str, ...], timeout: float = 60) -> dict:
    """The resourceVersions once the controllers have stopped writing the objects' status: two reads
    two seconds apart agree."""
    deadline = time.monotonic() + timeout
    before = resource_versions(cluster, *queries)
    while True:
        time.sleep(2)
        now = resource_versions(cluster, *queries)
        if now == before:
            return now
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"objects still changing after {timeout:.0f}s")
        before = now
