"""What Argo CD's application controller does with the platform's
Applications, done here because the controller does not run on this machine.

sync(): render each Application's chart exactly as the Application says and
apply it server-side with Argo CD's field manager, then wait until the
workloads are up as Argo CD's health checks would.
prune_on_delete(): while an Application is being deleted, delete what it
deployed and remove resources-finalizer.argocd.argoproj.io, as the
controller does.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from platform_ops.contract import APPLICATION_FINALIZER, ARGOCD_NAMESPACE
from platform_ops.render.charts import Renderer, render_application
from testbed.controlplane import ControlPlane

FIELD_MANAGER = "argocd-controller"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"


class SyncError(Exception):
    pass


def tracking_id(app: str, manifest: dict, namespace: str) -> str:
    group = manifest["apiVersion"].rpartition("/")[0]
    return f"{app}:{group}/{manifest['kind']}:{namespace}/{manifest['metadata']['name']}"


@dataclass
class Deployed:
    app: str
    namespace: str
    manifests: list[dict] = field(default_factory=list)


def applications(cluster: ControlPlane, namespace: str = ARGOCD_NAMESPACE) -> list[dict]:
    return cluster.get("applications.argoproj.io", "-n", namespace)["items"]


def sync(cluster: ControlPlane, renderer: Renderer, argocd_namespace: str = ARGOCD_NAMESPACE) -> list[Deployed]:
    """Apply every Application's chart; what each one deployed."""
    deployed = []
    for app in applications(cluster, argocd_namespace):
        name = app["metadata"]["name"]
        namespace = app["spec"]["destination"]["namespace"]
        manifests = render_application(app, renderer=renderer)
        for manifest in manifests:
            manifest["metadata"].setdefault("annotations", {})[TRACKING_ANNOTATION] = \
                tracking_id(name, manifest, namespace)
        apply_as_argocd(cluster, namespace, manifests)
        deployed.append(Deployed(name, namespace, manifests))
    return deployed


def apply_as_argocd(cluster: ControlPlane, namespace: str, manifests: list[dict]) -> None:
    result = cluster.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-n", namespace,
                             "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}),
                             check=False)
    if result.returncode != 0:
        raise SyncError(f"apply into {namespace} refused: {result.stderr.strip()}")


def deployments_available(cluster: ControlPlane, namespace: str, names: list[str],
                          timeout: float = 60) -> None:
    """Wait until each Deployment is Available; a pod template that admission
    refuses fails at once with the ReplicaSet's FailedCreate message."""
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while waiting:
        for name in sorted(waiting):
            conditions = cluster.get("deployment", name, "-n", namespace).get("status", {}).get("conditions", [])
            if any(c["type"] == "Available" and c["status"] == "True" for c in conditions):
                waiting.discard(name)
        refused = failed_creates(cluster, namespace, waiting)
        if refused:
            raise SyncError("\n".join(refused))
        if waiting and time.monotonic() > deadline:
            raise SyncError(f"Deployment not Available after {timeout:.0f}s: "
                            + ", ".join(f"{namespace}/{name}" for name in sorted(waiting)))
        if waiting:
            time.sleep(0.2)


def failed_creates(cluster: ControlPlane, namespace: str, deployments: set[str]) -> list[str]:
    """FailedCreate events of the ReplicaSets of `deployments`, one line each."""
    problems = []
    events = cluster.get("events", "-n", namespace, "--field-selector", "reason=FailedCreate")["items"]
    for event in events:
        replica_set = event["involvedObject"]["name"]
        owner = replica_set.rsplit("-", 1)[0]
        if event["involvedObject"]["kind"] == "ReplicaSet" and owner in deployments:
            problems.append(f"Deployment {namespace}/{owner}: ReplicaSet {replica_set}: {event['message']}")
    return sorted(set(problems))


def services_without_ready_endpoints(cluster: ControlPlane, namespace: str, services: list[dict]) -> list[str]:
    """Each Service port that no ready endpoint serves: a selector that matches
    no pod, or a targetPort the pods do not declare."""
    problems = []
    slices = cluster.get("endpointslices", "-n", namespace)["items"]
    for service in services:
        name = service["metadata"]["name"]
        own = [s for s in slices if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == name]
        for port in service["spec"]["ports"]:
            ready = sum(1 for s in own if any(p.get("name", "") == port.get("name", "") for p in s.get("ports") or [])
                        for endpoint in s.get("endpoints") or []
                        if endpoint.get("conditions", {}).get("ready"))
            if not ready:
                problems.append(f"Service {namespace}/{name}: no ready endpoint for port "
                                f"{port.get('name', port['port'])}")
    return problems


def wait_for_endpoints(cluster: ControlPlane, namespace: str, services: list[dict], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        problems = services_without_ready_endpoints(cluster, namespace, services)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise SyncError("\n".join(problems))
        time.sleep(0.2)


class PruneOnDelete:
    """While running, does for each Application being deleted what Argo CD's
    controller does before it lets it go: deletes what it deployed, then
    removes the finalizer."""

    def __init__(self, cluster: ControlPlane, deployed: list[Deployed], argocd_namespace: str = ARGOCD_NAMESPACE):
        self.cluster = cluster
        self.deployed = {d.app: d for d in deployed}
        self.argocd_namespace = argocd_namespace
        self.pruned: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PruneOnDelete":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            result = self.cluster.kubectl("get", "applications.argoproj.io", "-n", self.argocd_namespace,
                                          "-o", "json", check=False)
            if result.returncode != 0:
                continue
            for app in json.loads(result.stdout)["items"]:
                meta = app["metadata"]
                if meta.get("deletionTimestamp") and APPLICATION_FINALIZER in meta.get("finalizers", []):
                    self._prune(meta["name"])

    def _prune(self, name: str) -> None:
        deployed = self.deployed.get(name)
        if deployed is not None:
            for manifest in deployed.manifests:
                self.cluster.kubectl("delete", manifest["kind"], manifest["metadata"]["name"],
                                     "-n", deployed.namespace, "--ignore-not-found", "--wait=false", check=False)
        patch = json.dumps({"metadata": {"finalizers": None}})
        result = self.cluster.kubectl("patch", "applications.argoproj.io", name, "-n", self.argocd_namespace,
                                      "--type=merge", "-p", patch, check=False)
        if result.returncode == 0:
            self.pruned.append(name)
        else:
            self.errors.append(f"{name}: {result.stderr.strip()}")
