"""The whole cycle on a real API server with the real Pulumi engine, for the
staging and prod stacks' own config: preview, up, what the cluster then holds,
a second up that changes nothing, Argo CD's sync, Prometheus's discovery, and
a destroy that leaves the cluster as it was.

Only cluster access and the sources of upstream artifacts differ from the
stack files: the kubeconfig of this control plane, the local mirrors `make
testbed` prepares, and the cluster's own ingress controller (F5's chart is
not served here, so these stacks bring their own, which is a supported mode).

One step is emulated: Argo CD's application controller, which does not run
here (testbed/argocd_sync.py says what it does in its place).
"""
from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest

from components.gitops import application_spec, project_spec
from platform_ops.config import load_config, stack_file_config
from platform_ops.contract import PROJECT
from platform_ops.render.charts import Renderer
from testbed import argocd_sync
from testbed.controlplane import ControlPlane
from testbed.cluster_discovery import discovered_targets
from testbed.engine import PulumiProject
from platform_ops.paths import REPO_ROOT
from testbed.stacks import ADMIN_PASSWORD, REGISTRY_TOKEN, SECRETS, cluster_ingress_class, local_sources

DECOY = "decoy"
NEW_ADMIN_PASSWORD = "a new password for the second up"


@dataclass
class Platform:
    stack: str
    cluster: ControlPlane
    project: PulumiProject
    namespaces_before: set[str]
    default_labels_before: dict
    deployed: list = field(default_factory=list)
    destroyed: bool = False

    @property
    def config(self):
        return load_config(self.stack, stack_file_config(self.stack))

    def destroy(self):
        with argocd_sync.PruneOnDelete(self.cluster, self.deployed) as controller:
            result = self.project.destroy()
        self.destroyed = True
        return result, controller


def namespaces(cluster: ControlPlane) -> set[str]:
    return {ns["metadata"]["name"] for ns in cluster.get("namespaces")["items"]}


# Each stack's cycle is one xdist group: its tests run in order on one worker, against that worker's
# own control plane, while the other stack's cycle runs on another worker side by side.
@pytest.fixture(scope="module", params=[pytest.param(stack, marks=pytest.mark.xdist_group(f"cycle-{stack}"))
                                        for stack in ("staging", "prod")])
def platform(request, cluster, testbed, tmp_path_factory):
    stack = request.param
    cluster.apply(cluster_ingress_class())
    before = namespaces(cluster)
    default_labels = cluster.get("namespace", "default")["metadata"].get("labels", {})
    project = PulumiProject(testbed=testbed, source=REPO_ROOT, workdir=tmp_path_factory.mktemp(f"pulumi-{stack}"),
                            stack=stack, python=Path(sys.executable))
    project.prepare(local_sources(stack, testbed, cluster.kubeconfig), secrets=SECRETS[stack])
    project.preview()
    project.up()
    state = Platform(stack, cluster, project, before, default_labels)
    yield state
    if not state.destroyed:
        state.destroy()


def test_preview_and_up_succeed_on_a_fresh_cluster(platform):
    preview, up = platform.project.history[-2:]
    assert preview.args[:2] == ["pulumi", "preview"] and preview.returncode == 0
    assert up.args[:2] == ["pulumi", "up"] and up.returncode == 0
    assert "error" not in up.stderr.lower()


def test_platform_namespaces_enforce_pod_security(platform):
    for name in ("cert-manager", "observability", "apps"):
        labels = platform.cluster.get("namespace", name)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", name


def test_the_platform_leaves_the_default_namespace_as_it_was(platform):
    assert platform.cluster.get("namespace", "default")["metadata"].get("labels", {}) == \
        platform.default_labels_before
    assert platform.cluster.get("all,secrets,networkpolicies", "-n", "default", "-l",
                                f"app.kubernetes.io/part-of={PROJECT}")["items"] == []


def test_argocd_crds_are_established_and_its_install_is_in_argocd(platform):
    for crd in ("applications.argoproj.io", "appprojects.argoproj.io", "applicationsets.argoproj.io"):
        conditions = platform.cluster.get("crd", crd)["status"]["conditions"]
        assert {"type": "Established", "status": "True"} in [
            {"type": c["type"], "status": c["status"]} for c in conditions], crd
    deployments = {d["metadata"]["name"] for d in platform.cluster.get("deployments", "-n", "argocd")["items"]}
    assert {"argocd-server", "argocd-repo-server", "argocd-redis"} <= deployments
    platform.cluster.get("statefulset", "argocd-application-controller", "-n", "argocd")


def test_argocd_accepts_the_project_and_the_applications_as_the_program_wrote_them(platform):
    settings = platform.config.gitops
    project = platform.cluster.get("appproject", "platform-ops", "-n", "argocd")
    assert project["spec"] == project_spec(settings)
    apps = {a["metadata"]["name"]: a for a in argocd_sync.applications(platform.cluster)}
    assert sorted(apps) == ["api-node", "core-go", "worker-python"]
    for app in settings.apps:
        live = apps[app.service]
        assert live["spec"] == application_spec(settings, app)
        assert live["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_argocds_crd_schema_refuses_an_application_field_of_the_wrong_type(platform):
    app = platform.cluster.get("application", "api-node", "-n", "argocd")
    bad = {"apiVersion": app["apiVersion"], "kind": "Application",
           "metadata": {"name": "schema-fault", "namespace": "argocd"},
           "spec": {**app["spec"], "syncPolicy": {"automated": {"prune": "always"}}}}
    result = platform.cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert ("failed to create typed patch object (argocd/schema-fault; argoproj.io/v1alpha1, Kind=Application): "
            ".spec.syncPolicy.automated.prune: expected boolean, got &{always}") in result.stderr


def test_pull_secret_and_default_serviceaccount_follow_the_registry_token(platform):
    secrets = platform.cluster.get("secrets", "-n", "apps", "--field-selector",
                                   "type=kubernetes.io/dockerconfigjson")["items"]
    service_account = platform.cluster.get("serviceaccount", "default", "-n", "apps")
    if platform.stack == "staging":
        [secret] = secrets
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        assert config["auths"]["ghcr.io"]["password"] == REGISTRY_TOKEN
        assert service_account["imagePullSecrets"] == [{"name": "ghcr-cred"}]
    else:
        assert secrets == []
        assert "imagePullSecrets" not in service_account


def test_argocd_admin_credential_is_set_or_left_to_argocd(platform):
    data = platform.cluster.get("secret", "argocd-secret", "-n", "argocd").get("data", {})
    outputs = platform.project.outputs(show_secrets=True)
    if platform.stack == "staging":
        assert bcrypt.checkpw(ADMIN_PASSWORD.encode(), base64.b64decode(data["admin.password"]))
        assert base64.b64decode(data["admin.passwordMtime"]).decode().endswith("Z")
        assert outputs["argocdAdminPassword"] == ADMIN_PASSWORD
    else:
        assert "admin.password" not in data
        assert outputs["argocdInitialAdminPasswordCommand"].endswith(
            "-n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d")


def test_cert_manager_is_installed_with_the_stacks_issuer(platform):
    issuers = {i["metadata"]["name"]: i for i in platform.cluster.get("clusterissuers.cert-manager.io")["items"]}
    assert issuers["platform-ca"]["spec"] == {"ca": {"secretName": "platform-ca"}}
    assert issuers["platform-ca-root"]["spec"] == {"selfSigned": {}}
    deployments = {d["metadata"]["name"] for d in platform.cluster.get("deployments", "-n", "cert-manager")["items"]}
    assert {"cert-manager", "cert-manager-cainjector", "cert-manager-webhook"} <= deployments


def test_argocd_reconciles_at_the_stacks_interval_and_jitter(platform):
    timeout, jitter = platform.config.argocd.reconciliation_timeout, platform.config.argocd.reconciliation_jitter
    config_map = platform.cluster.get("configmap", "argocd-cm", "-n", "argocd")
    assert config_map["data"]["timeout.reconciliation"] == timeout
    assert config_map["data"]["timeout.reconciliation.jitter"] == jitter
    controller = platform.cluster.get("statefulset", "argocd-application-controller", "-n", "argocd")
    annotations = controller["spec"]["template"]["metadata"]["annotations"]
    assert annotations["platform-ops/reconciliation-timeout"] == timeout
    assert annotations["platform-ops/reconciliation-jitter"] == jitter


def test_prometheus_is_available(platform):
    argocd_sync.deployments_available(platform.cluster, "observability", ["prometheus"])


@pytest.mark.parametrize("verb, resource, namespace, allowed", [
    ("list", "endpointslices.discovery.k8s.io", "apps", "yes"),
    ("watch", "services", "apps", "yes"),
    ("get", "pods", "apps", "yes"),
    ("get", "secrets", "apps", "no"),
    ("list", "endpointslices.discovery.k8s.io", "default", "no"),
    ("list", "endpointslices.discovery.k8s.io", "kube-system", "no"),
    ("list", "pods", "argocd", "no"),
])
def test_prometheus_may_read_exactly_what_discovery_needs(platform, verb, resource, namespace, allowed):
    result = platform.cluster.kubectl("auth", "can-i", verb, resource, "-n", namespace,
                                      "--as=system:serviceaccount:observability:prometheus", check=False)
    assert result.stdout.strip() == allowed


def test_a_second_up_changes_nothing_even_after_argocds_initial_secret_is_gone(platform):
    # Argo CD's server creates this secret and users delete it: the program must not care.
    platform.cluster.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": "argocd-initial-admin-secret", "namespace": "argocd"},
                            "stringData": {"password": "from-argocd"}})
    platform.cluster.kubectl("delete", "secret", "argocd-initial-admin-secret", "-n", "argocd")
    assert platform.project.changes() == []
    platform.project.preview("--expect-no-changes")
    platform.project.up("--expect-no-changes")


def test_argocds_default_project_allows_nothing(platform):
    spec = platform.cluster.get("appprojects.argoproj.io", "default", "-n", "argocd")["spec"]
    assert (spec["sourceRepos"], spec["destinations"], spec["clusterResourceWhitelist"]) == ([], [], [])


def test_a_new_admin_password_is_set_with_the_time_it_changed(platform):
    if platform.stack != "staging":
        pytest.skip("only staging sets an admin password")
    before = platform.cluster.get("secret", "argocd-secret", "-n", "argocd")["data"]
    platform.project.run("config", "set", "--secret", "platform-ops:argocdAdminPassword", NEW_ADMIN_PASSWORD,
                         secret_args=True)
    assert platform.project.changes() == [
        "update platform-ops:argocd:ArgoCD$kubernetes:core/v1:SecretPatch argocd-admin-password",
        "update platform-ops:argocd:ArgoCD$kubernetes:core/v1:SecretPatch argocd-admin-password-mtime"]
    platform.project.up()
    after = platform.cluster.get("secret", "argocd-secret", "-n", "argocd")["data"]
    assert bcrypt.checkpw(NEW_ADMIN_PASSWORD.encode(), base64.b64decode(after["admin.password"]))
    assert base64.b64decode(after["admin.passwordMtime"]) > base64.b64decode(before["admin.passwordMtime"])
    platform.project.up("--expect-no-changes")


def test_argocd_sync_brings_every_workload_up(platform):
    with Renderer() as renderer:
        platform.deployed = argocd_sync.sync(platform.cluster, renderer)
    namespace = platform.config.gitops.namespace
    manifests = [m for d in platform.deployed for m in d.manifests]
    argocd_sync.deployments_available(platform.cluster, namespace,
                                      [m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment"])
    argocd_sync.wait_for_endpoints(platform.cluster, namespace, [m for m in manifests if m["kind"] == "Service"])
    for kind in ("NetworkPolicy", "PodDisruptionBudget", "Ingress"):
        for manifest in (m for m in manifests if m["kind"] == kind):
            platform.cluster.get(kind.lower(), manifest["metadata"]["name"], "-n", namespace)


def test_the_ingress_asks_cert_manager_for_its_certificate(platform):
    ingress = platform.cluster.get("ingress", "api-node", "-n", platform.config.gitops.namespace)
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "platform-ca"
    assert ingress["spec"]["ingressClassName"] == "nginx"


def test_prometheus_discovers_exactly_the_apps_metrics_endpoints(platform, tmp_path):
    namespace = platform.config.gitops.namespace
    decoy_labels = {"app.kubernetes.io/name": DECOY}
    platform.cluster.apply({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": DECOY, "namespace": namespace, "labels": decoy_labels},
         "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                  "containers": [{"name": DECOY, "image": "registry.invalid/decoy@sha256:" + "0" * 64,
                                  "ports": [{"name": "metrics", "containerPort": 9000}],
                                  "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 1000,
                                                      "capabilities": {"drop": ["ALL"]}}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": DECOY, "namespace": namespace,
                                                             "labels": decoy_labels},
         "spec": {"selector": decoy_labels, "ports": [{"name": "metrics", "port": 9000, "targetPort": "metrics"}]}},
    ]})
    try:
        pods = platform.cluster.get("pods", "-n", namespace)["items"]
        expected = sorted(
            (p["metadata"]["labels"]["app.kubernetes.io/name"], namespace, p["metadata"]["name"],
             p["metadata"]["labels"]["app.kubernetes.io/name"])
            for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/name") in
            ("api-node", "core-go", "worker-python"))
        active, dropped_services = discovered_targets(platform.cluster, tmp_path, expected=len(expected))
        assert [(t["job"], t["namespace"], t["pod"], t["service"]) for t in active] == expected
        assert DECOY in dropped_services
    finally:
        platform.cluster.kubectl("delete", "pod,service", DECOY, "-n", namespace, "--wait=false")


def test_destroy_returns_the_cluster_to_what_it_was(platform):
    result, controller = platform.destroy()
    assert result.returncode == 0
    assert controller.errors == []
    assert sorted(controller.pruned) == ["api-node", "core-go", "worker-python"]
    assert platform.cluster.namespaces_left_behind(platform.namespaces_before) == []
    assert platform.cluster.get("namespace", "default")["metadata"].get("labels", {}) == \
        platform.default_labels_before
    leftovers = platform.cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    assert [crd for crd in leftovers if "argoproj.io" in crd or "cert-manager.io" in crd] == []
    assert platform.cluster.get("clusterroles", "-l", "app.kubernetes.io/part-of=argocd")["items"] == []
    workloads = platform.cluster.get("deployments,services,networkpolicies,poddisruptionbudgets,ingresses",
                                     "--all-namespaces", "-l", f"app.kubernetes.io/part-of={PROJECT}")
    assert workloads["items"] == []
