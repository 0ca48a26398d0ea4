"""Existing clusters as they are, on a real API server with the real Pulumi engine: a stack uses the
Argo CD and cert-manager a user installed with kubectl, stops before any change when what it would
install is in the way, and never deletes what it did not make.

One xdist group: the tests run in this order on one worker and its control plane, and leave it as
they found it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from components.gitops import application_spec, project_spec
from platform_ops.cluster_check import CERT_MANAGER_CRDS, made_by_pulumi
from platform_ops.config import load_config, stack_file_config
from platform_ops.paths import REPO_ROOT, tools_dir
from platform_ops.render.charts import Renderer
from testbed import argocd_sync, user_installs
from testbed.engine import PulumiProject
from testbed.stacks import REGISTRY_TOKEN, cluster_ingress_class, local_sources

pytestmark = pytest.mark.xdist_group("existing-installs")

ARGOCD_IN_THE_WAY = (
    'Pulumi.staging.yaml: platform-ops:argocd.install: "stack" installs Argo CD, but Namespace argocd, '
    "CustomResourceDefinition applications.argoproj.io, CustomResourceDefinition applicationsets.argoproj.io, "
    "CustomResourceDefinition appprojects.argoproj.io, Deployment argocd/argocd-applicationset-controller, "
    "Deployment argocd/argocd-dex-server, Deployment argocd/argocd-notifications-controller, "
    "Deployment argocd/argocd-redis, Deployment argocd/argocd-repo-server, Deployment argocd/argocd-server, "
    "StatefulSet argocd/argocd-application-controller are already on the cluster and this stack did not make "
    'them; nothing was changed. Set platform-ops:argocd.install to "cluster" to use the Argo CD there, or take '
    'them over: docs/operations.md, "Taking over what is in the way"')
CERT_MANAGER_IN_THE_WAY = (
    'Pulumi.staging.yaml: platform-ops:certManager.install: "stack" installs cert-manager, but Namespace '
    "cert-manager, CustomResourceDefinition certificaterequests.cert-manager.io, CustomResourceDefinition "
    "certificates.cert-manager.io, CustomResourceDefinition challenges.acme.cert-manager.io, "
    "CustomResourceDefinition clusterissuers.cert-manager.io, CustomResourceDefinition issuers.cert-manager.io, "
    "CustomResourceDefinition orders.acme.cert-manager.io, Deployment cert-manager/cert-manager, "
    "Deployment cert-manager/cert-manager-cainjector, Deployment cert-manager/cert-manager-webhook are already "
    "on the cluster and this stack did not make them; nothing was changed. Set platform-ops:certManager.install "
    'to "cluster" to use the cert-manager there, or take them over: docs/operations.md, "Taking over what is '
    'in the way"')
ARGOCD_NAMESPACE_IN_THE_WAY = (
    'Pulumi.staging.yaml: platform-ops:argocd.install: "stack" installs Argo CD, but Namespace argocd is already '
    "on the cluster and this stack did not make it; nothing was changed. Set platform-ops:argocd.install to "
    '"cluster" to use the Argo CD there, or take it over: docs/operations.md, "Taking over what is in the way"')
# The objects whose resourceVersions prove the user's installs untouched.
USER_INSTALL_OBJECTS = (
    ("deployments", "-n", "argocd"), ("deployments", "-n", "cert-manager"),
    ("crd", "applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"),
    ("crd", *CERT_MANAGER_CRDS))


def staging(workdir: Path, testbed: Path, cluster, argocd: str = "stack", cert_manager: str = "stack"
            ) -> PulumiProject:
    """The staging stack as the platform cycle runs it; a part set to "cluster" has its section as a user
    would write it for the Argo CD or cert-manager already there."""
    project = PulumiProject(testbed=testbed, source=REPO_ROOT, workdir=workdir, stack="staging",
                            python=Path(sys.executable))
    project.prepare(local_sources("staging", testbed, cluster.kubeconfig), secrets={"registryToken": REGISTRY_TOKEN})
    stack_file = project.project / "Pulumi.staging.yaml"
    settings = yaml.safe_load(stack_file.read_text())
    if argocd == "cluster":
        settings["config"]["platform-ops:argocd"] = {"install": "cluster"}
    if cert_manager == "cluster":
        settings["config"]["platform-ops:certManager"] = {"install": "cluster", "issuer": {"type": "selfSigned"}}
    stack_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    return project


def namespaces(cluster) -> set[str]:
    return {ns["metadata"]["name"] for ns in cluster.get("namespaces")["items"]}


def resources_in_state(project: PulumiProject) -> list[str]:
    """What the stack made, besides the stack itself."""
    deployment = json.loads(project.run("stack", "export").stdout)["deployment"]
    return [resource["urn"] for resource in deployment.get("resources") or []
            if resource["type"] != "pulumi:pulumi:Stack"]


def refused_lines(result) -> list[str]:
    """The program's refusal, one line per problem, as the engine prints it."""
    lines = (line.strip().removeprefix("error: ") for line in result.output.splitlines())
    return [line for line in lines if line.startswith("Pulumi.staging.yaml:")]


def test_a_stack_set_to_use_an_argocd_that_is_not_there_stops_with_one_line_and_creates_nothing(
        cluster, testbed, tmp_path):
    cluster.apply(cluster_ingress_class())
    before = namespaces(cluster)
    project = staging(tmp_path, testbed, cluster, argocd="cluster")
    result = project.up(check=False)
    assert result.returncode != 0
    assert refused_lines(result) == [
        'Pulumi.staging.yaml: platform-ops:argocd.install: "cluster" uses the Argo CD on the cluster, but '
        "CustomResourceDefinition applications.argoproj.io, CustomResourceDefinition appprojects.argoproj.io are "
        "not on the cluster; nothing was changed"]
    assert namespaces(cluster) == before
    assert resources_in_state(project) == []


@pytest.fixture(scope="module")
def user_installs_before(cluster, testbed):
    """Argo CD and cert-manager as a user installed them, and their resourceVersions once settled."""
    helm = tools_dir() / "helm"
    cluster.apply(cluster_ingress_class())
    user_installs.install_argocd(cluster, testbed)
    user_installs.install_cert_manager(cluster, testbed, helm)
    versions = user_installs.settled_resource_versions(cluster, *USER_INSTALL_OBJECTS)
    assert len(versions) == 6 + 3 + 3 + 6, versions
    yield versions
    user_installs.uninstall_argocd(cluster, testbed)
    user_installs.uninstall_cert_manager(cluster, testbed, helm)


def test_a_stack_that_installs_them_stops_before_any_change_naming_what_is_in_the_way(
        cluster, testbed, tmp_path, user_installs_before):
    before = namespaces(cluster)
    project = staging(tmp_path, testbed, cluster)
    result = project.up(check=False)
    assert result.returncode != 0
    assert refused_lines(result) == [ARGOCD_IN_THE_WAY, CERT_MANAGER_IN_THE_WAY]
    assert resources_in_state(project) == []
    assert namespaces(cluster) == before
    assert user_installs.resource_versions(cluster, *USER_INSTALL_OBJECTS) == user_installs_before


@pytest.fixture(scope="module")
def using(cluster, testbed, tmp_path_factory, user_installs_before):
    """The staging stack set to use the Argo CD and cert-manager on the cluster, previewed and up."""
    project = staging(tmp_path_factory.mktemp("pulumi-using"), testbed, cluster, argocd="cluster",
                      cert_manager="cluster")
    project.preview()
    project.up()
    return project


def test_a_stack_using_them_creates_its_project_applications_and_issuer_there(cluster, using):
    settings = load_config("staging", stack_file_config("staging")).gitops
    assert cluster.get("appproject", "platform-ops", "-n", "argocd")["spec"] == project_spec(settings)
    apps = {app["metadata"]["name"]: app for app in argocd_sync.applications(cluster)}
    assert {name: app["spec"] for name, app in apps.items()} == {
        app.service: application_spec(settings, app) for app in settings.apps}
    issuers = {i["metadata"]["name"]: i["spec"] for i in cluster.get("clusterissuers.cert-manager.io")["items"]}
    assert issuers == {"platform-ca": {"ca": {"secretName": "platform-ca"}}, "platform-ca-root": {"selfSigned": {}}}


def test_a_second_up_of_a_stack_using_them_changes_nothing(using):
    assert using.changes() == []
    using.up("--expect-no-changes")


def test_destroy_of_a_stack_using_them_leaves_argocd_and_cert_manager_untouched(cluster, using, user_installs_before):
    with Renderer() as renderer:
        deployed = argocd_sync.sync(cluster, renderer)
    namespace = deployed[0].namespace
    argocd_sync.deployments_available(cluster, namespace, [
        m["metadata"]["name"] for d in deployed for m in d.manifests if m["kind"] == "Deployment"])
    with argocd_sync.PruneOnDelete(cluster, deployed) as controller:
        using.destroy()
    assert controller.errors == []
    assert sorted(controller.pruned) == ["api-node", "core-go", "worker-python"]
    assert argocd_sync.applications(cluster) == []
    assert cluster.get("appprojects.argoproj.io", "-n", "argocd")["items"] == []
    assert cluster.get("clusterissuers.cert-manager.io")["items"] == []
    assert cluster.get("deployments", "-n", namespace, "-l", "app.kubernetes.io/part-of=platform-ops")["items"] == []
    assert user_installs.resource_versions(cluster, *USER_INSTALL_OBJECTS) == user_installs_before


@pytest.fixture(scope="module")
def user_namespace(cluster, testbed, user_installs_before):
    """Only a namespace `argocd` of the user's, holding a ConfigMap of theirs; cert-manager stays."""
    user_installs.uninstall_argocd(cluster, testbed)
    cluster.kubectl("create", "namespace", "argocd")
    cluster.kubectl("create", "configmap", "team-notes", "-n", "argocd", "--from-literal=owner=platform-team")
    return cluster.get("configmap", "team-notes", "-n", "argocd")["metadata"]["uid"]


def test_a_user_namespace_in_the_way_stops_the_up_before_any_change(cluster, testbed, tmp_path, user_namespace):
    project = staging(tmp_path, testbed, cluster, cert_manager="cluster")
    result = project.up(check=False)
    assert result.returncode != 0
    assert refused_lines(result) == [ARGOCD_NAMESPACE_IN_THE_WAY]
    assert resources_in_state(project) == []
    assert not made_by_pulumi(cluster.get("namespace", "argocd"))


def test_a_namespace_taken_over_is_installed_into_and_kept_on_destroy_with_what_the_user_put_there(
        cluster, testbed, tmp_path, user_namespace):
    # The takeover, as docs/operations.md gives it.
    cluster.kubectl("annotate", "namespace", "argocd", "platform-ops/taken-over-by=staging")
    project = staging(tmp_path, testbed, cluster, cert_manager="cluster")
    project.up()
    cluster.get("statefulset", "argocd-application-controller", "-n", "argocd")
    with argocd_sync.PruneOnDelete(cluster, []) as controller:
        project.destroy()
    assert controller.errors == []
    assert cluster.get("namespace", "argocd")["status"]["phase"] == "Active"
    assert cluster.get("configmap", "team-notes", "-n", "argocd")["metadata"]["uid"] == user_namespace
    assert cluster.get("deployments,statefulsets", "-n", "argocd")["items"] == []
    leftovers = cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    assert [crd for crd in leftovers if "argoproj.io" in crd] == []
