"""Each fault that only a real API server or the real engine shows is caught,
with a message that names the object."""
from __future__ import annotations

import copy
import hashlib
import sys
import textwrap
from pathlib import Path

import pytest

from platform_ops.render.charts import Renderer, chart_applications, render_application
from testbed import argocd_sync
from testbed.engine import PulumiProject
from platform_ops.paths import REPO_ROOT
from testbed.stacks import local_sources

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


@pytest.fixture
def namespace(cluster, request):
    """A scratch namespace under Pod Security restricted, deleted after the test."""
    name = request.node.name.replace("_", "-")[5:45].strip("-")
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}})
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="module")
def api_node(rendered):
    """api-node's chart as Argo CD renders it for staging."""
    [app] = [a for a in chart_applications(rendered("staging").manifests) if a["metadata"]["name"] == "api-node"]
    with Renderer() as renderer:
        return render_application(app, renderer=renderer)


def of_kind(manifests, kind, namespace):
    """Copies of the manifests of one kind, moved to `namespace`."""
    found = [copy.deepcopy(m) for m in manifests if m["kind"] == kind]
    for manifest in found:
        manifest["metadata"]["namespace"] = namespace
    return found


def test_a_pod_template_that_breaks_pod_security_restricted_fails_the_sync(cluster, namespace, api_node):
    [deployment] = of_kind(api_node, "Deployment", namespace)
    pod = deployment["spec"]["template"]["spec"]
    pod["securityContext"].pop("runAsNonRoot", None)
    for container in pod["containers"]:
        container["securityContext"].pop("runAsNonRoot", None)
        container["securityContext"]["allowPrivilegeEscalation"] = True
    argocd_sync.apply_as_argocd(cluster, namespace, of_kind(api_node, "ServiceAccount", namespace) + [deployment])
    with pytest.raises(argocd_sync.SyncError) as caught:
        argocd_sync.deployments_available(cluster, namespace, ["api-node"], timeout=30)
    message = str(caught.value)
    assert message.startswith(f"Deployment {namespace}/api-node: ReplicaSet api-node-")
    assert 'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in message


def test_a_service_whose_selector_matches_no_pod_has_no_ready_endpoints(cluster, namespace, api_node):
    argocd_sync.apply_as_argocd(cluster, namespace, of_kind(api_node, "ServiceAccount", namespace) + of_kind(api_node, "Deployment", namespace))
    argocd_sync.deployments_available(cluster, namespace, ["api-node"])
    [service] = of_kind(api_node, "Service", namespace)
    service["spec"]["selector"] = {"app.kubernetes.io/name": "api-nodes"}
    argocd_sync.apply_as_argocd(cluster, namespace, [service])
    with pytest.raises(argocd_sync.SyncError) as caught:
        argocd_sync.wait_for_endpoints(cluster, namespace, [service], timeout=5)
    assert str(caught.value).splitlines() == [f"Service {namespace}/api-node: no ready endpoint for port http",
                                              f"Service {namespace}/api-node: no ready endpoint for port metrics"]


def test_a_service_port_naming_no_container_port_has_no_ready_endpoints(cluster, namespace, api_node):
    argocd_sync.apply_as_argocd(cluster, namespace, of_kind(api_node, "ServiceAccount", namespace) + of_kind(api_node, "Deployment", namespace))
    argocd_sync.deployments_available(cluster, namespace, ["api-node"])
    [service] = of_kind(api_node, "Service", namespace)
    service["spec"]["ports"][0]["targetPort"] = "htttp"
    argocd_sync.apply_as_argocd(cluster, namespace, [service])
    with pytest.raises(argocd_sync.SyncError) as caught:
        argocd_sync.wait_for_endpoints(cluster, namespace, [service], timeout=5)
    assert str(caught.value) == f"Service {namespace}/api-node: no ready endpoint for port http"


def tiny_program(tmp_path: Path, body: str) -> Path:
    """A Pulumi project of a few lines that reaches the control plane like the platform does."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "Pulumi.yaml").write_text("name: platform-ops\nruntime: python\n")
    (source / "__main__.py").write_text(textwrap.dedent('''\
        import pulumi
        import pulumi_kubernetes as k8s

        config = pulumi.Config()
        provider = k8s.Provider("cluster", kubeconfig=config.require("kubeconfig"), context="platform-staging",
                                enable_server_side_apply=True)
        on_cluster = pulumi.ResourceOptions(provider=provider)
    ''') + textwrap.dedent(body))
    return source


def tiny_project(tmp_path, testbed, cluster, body) -> PulumiProject:
    project = PulumiProject(testbed=testbed, source=tiny_program(tmp_path, body), workdir=tmp_path / "run",
                            stack="fault", python=Path(sys.executable))
    return project.prepare({"kubeconfig": str(cluster.kubeconfig)}, files=("Pulumi.yaml", "__main__.py"))


def test_reading_an_object_that_a_fresh_cluster_lacks_fails_the_up(cluster, testbed, tmp_path):
    project = tiny_project(tmp_path, testbed, cluster, '''
        k8s.core.v1.Secret.get("initial-admin", "argocd/argocd-initial-admin-secret", opts=on_cluster)
    ''')
    result = project.up(check=False)
    assert result.returncode != 0
    assert "resource 'argocd/argocd-initial-admin-secret' does not exist" in result.output


def test_a_resource_that_changes_on_every_up_is_named(cluster, testbed, tmp_path):
    project = tiny_project(tmp_path, testbed, cluster, '''
        import time
        k8s.core.v1.ConfigMap("clock", metadata={"name": "clock", "namespace": "default"},
                              data={"at": str(time.time())}, opts=on_cluster)
    ''')
    project.up()
    try:
        assert project.changes() == ["replace kubernetes:core/v1:ConfigMap clock"]
        assert project.preview("--expect-no-changes", check=False).returncode != 0
    finally:
        project.destroy()


def test_a_namespace_left_behind_is_named(cluster):
    before = {ns["metadata"]["name"] for ns in cluster.get("namespaces")["items"]}
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "left-behind"}})
    try:
        assert cluster.namespaces_left_behind(before) == ["left-behind (Active)"]
    finally:
        cluster.kubectl("delete", "namespace", "left-behind", "--wait=false")


def platform_stack(tmp_path, testbed, control_plane, **overrides) -> PulumiProject:
    """The staging stack as the cycle runs it, with `overrides` ({section: settings}) on top."""
    settings = local_sources("staging", testbed, control_plane.kubeconfig)
    for section, values in overrides.items():
        settings[section] = {**settings.get(section, {}), **values}
    project = PulumiProject(testbed=testbed, source=REPO_ROOT, workdir=tmp_path, stack="staging",
                            python=Path(sys.executable))
    return project.prepare(settings)


def test_pulumi_refuses_a_missing_kubeconfig_before_it_reaches_the_provider(cluster, testbed, tmp_path):
    project = platform_stack(tmp_path, testbed, cluster, cluster={"kubeconfig": "~/.kube/missing"})
    result = project.preview(check=False)
    assert result.returncode != 0
    assert "Pulumi.staging.yaml: platform-ops:cluster.kubeconfig: ~/.kube/missing does not exist" in result.output
    assert "failed to parse kubeconfig" not in result.output


def test_pulumi_refuses_a_context_the_kubeconfig_lacks(cluster, testbed, tmp_path):
    project = platform_stack(tmp_path, testbed, cluster, cluster={"context": "platform-qa"})
    result = project.preview(check=False)
    assert result.returncode != 0
    assert (f"Pulumi.staging.yaml: platform-ops:cluster.context: platform-qa is not a context of "
            f"{cluster.kubeconfig} (contexts: platform-prod, platform-staging)") in result.output


def test_pulumi_refuses_a_manifest_whose_digest_is_not_the_pinned_one(cluster, testbed, tmp_path):
    mirror = tmp_path / "install.yaml"
    mirror.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-argocd\n")
    project = platform_stack(tmp_path / "run", testbed, cluster, argocd={"installManifest": str(mirror)})
    before = {ns["metadata"]["name"] for ns in cluster.get("namespaces")["items"]}
    result = project.up(check=False)
    assert result.returncode != 0
    assert (f"Pulumi.staging.yaml: platform-ops:argocd.installManifestSha256: {mirror} has SHA-256 "
            f"{hashlib.sha256(mirror.read_bytes()).hexdigest()}, but "
            "09bfbb9041b4a8503c6e4fa22cf41c403fa62be17526de353648a4551f5beb77 is pinned; nothing was applied"
            ) in result.output
    assert cluster.namespaces_left_behind(before) == []
