"""The check of what is on the cluster before any change, against a cluster played by a fake kubectl reader."""
from __future__ import annotations

import pulumi
import pytest

from components.takeover import keep_on_destroy
from platform_ops.cluster_check import (
    RESOURCES, ClusterReadError, ObjectRef, check_before_any_change, check_cluster, kubectl_reader,
)
from platform_ops.config import ConfigError, load_config, stack_file
from platform_ops.contract import PROJECT
from platform_ops import paths

PULUMI = [{"manager": "pulumi-kubernetes-5f1c2a7e", "operation": "Apply"}]
KUBECTL = [{"manager": "kubectl-create", "operation": "Update"}]


def staging(**sections):
    raw = {key[len(PROJECT) + 1:]: value for key, value in stack_file("staging").items()}
    raw.update(sections)
    return load_config("staging", raw)


def using_the_clusters(issuer=None):
    return staging(argocd={"install": "cluster"},
                   certManager={"install": "cluster", "issuer": issuer or {"type": "selfSigned"}})


def live(kind, name, namespace=None, managers=KUBECTL, annotations=None, labels=None):
    metadata = {"name": name, "managedFields": managers, "annotations": annotations or {}, "labels": labels or {}}
    if namespace:
        metadata["namespace"] = namespace
    return {"kind": kind, "metadata": metadata}


class FakeCluster:
    """Answers `kubectl get` as the check calls it: by kind/name, or by label selector."""

    def __init__(self, *objects):
        self.objects = list(objects)
        self.calls = []

    def __call__(self, args):
        self.calls.append(list(args))
        namespace = args[args.index("-n") + 1] if "-n" in args else None
        if "-l" in args:
            selector = dict([args[args.index("-l") + 1].split("=")])
            kinds = {kind for kind, resource in RESOURCES.items() if resource in args[0].split(",")}
            return [o for o in self.objects if o["kind"] in kinds and o["metadata"].get("namespace") == namespace
                    and selector.items() <= o["metadata"]["labels"].items()]
        wanted = {arg for arg in args if "/" in arg}
        return [o for o in self.objects if f"{RESOURCES[o['kind']]}/{o['metadata']['name']}" in wanted
                and o["metadata"].get("namespace") in (None, namespace)]


ARGOCD_CRDS = [live("CustomResourceDefinition", name) for name in
               ("applications.argoproj.io", "appprojects.argoproj.io")]
CERT_MANAGER_CRDS = [live("CustomResourceDefinition", name) for name in
                     ("certificates.cert-manager.io", "clusterissuers.cert-manager.io")]
ARGOCD_CONTROLLER = live("StatefulSet", "argocd-application-controller", "argocd",
                         labels={"app.kubernetes.io/name": "argocd-application-controller"})


def test_a_fresh_cluster_has_nothing_in_the_way():
    check = check_cluster(staging(), FakeCluster())
    assert (check.problems, check.taken_over) == ([], set())


def test_a_namespace_a_user_made_is_in_the_way_of_the_argocd_this_stack_installs():
    check = check_cluster(staging(), FakeCluster(live("Namespace", "argocd")))
    assert check.problems == [
        'Pulumi.staging.yaml: platform-ops:argocd.install: "stack" installs Argo CD, but Namespace argocd is already '
        "on the cluster and this stack did not make it; nothing was changed. Set platform-ops:argocd.install to "
        '"cluster" to use the Argo CD there, or take it over: docs/operations.md, "Taking over what is in the way"']


def test_the_crds_and_workloads_of_install_yaml_are_in_the_way_too():
    manifest = paths.testbed_dir() / "mirror" / "argocd-v3.5.7" / "install.yaml"
    if not manifest.is_file():
        pytest.skip("the Argo CD mirror is built by `make testbed`")
    cluster = FakeCluster(live("CustomResourceDefinition", "applicationsets.argoproj.io"),
                          live("Deployment", "argocd-server", "argocd"))
    [problem] = check_cluster(staging(), cluster, manifest).problems
    assert ("but CustomResourceDefinition applicationsets.argoproj.io, Deployment argocd/argocd-server are already "
            "on the cluster and this stack did not make them; nothing was changed.") in problem


def test_objects_pulumi_applied_are_the_stacks_own_and_a_second_up_goes_on():
    cluster = FakeCluster(*(live("Namespace", name, managers=KUBECTL + PULUMI)
                            for name in ("argocd", "cert-manager", "observability", "nginx-ingress")))
    check = check_cluster(staging(), cluster)
    assert (check.problems, check.taken_over) == ([], set())


def test_every_platform_namespace_a_user_made_is_named_under_its_setting():
    cluster = FakeCluster(*(live("Namespace", name) for name in ("argocd", "cert-manager", "nginx-ingress",
                                                                 "observability", "apps")))
    problems = check_cluster(staging(gitops={**stack_file("staging")["platform-ops:gitops"], "namespace": "apps"}),
                             cluster).problems
    assert [problem.split(": ")[1] for problem in problems] == [
        "platform-ops:argocd.install", "platform-ops:certManager.install", "platform-ops:ingress.controller",
        "platform-ops:prometheus", "platform-ops:gitops.namespace"]
    assert problems[3] == (
        "Pulumi.staging.yaml: platform-ops:prometheus: the stack installs Prometheus, but Namespace observability is "
        "already on the cluster and this stack did not make it; nothing was changed. Take it over: "
        'docs/operations.md, "Taking over what is in the way"')


def test_a_namespace_annotated_for_this_stack_is_taken_over():
    cluster = FakeCluster(live("Namespace", "argocd", annotations={"platform-ops/taken-over-by": "staging"}))
    check = check_cluster(staging(), cluster)
    assert (check.problems, check.taken_over) == ([], {ObjectRef("Namespace", "argocd")})


def test_a_namespace_annotated_for_another_stack_is_still_in_the_way():
    cluster = FakeCluster(live("Namespace", "argocd", annotations={"platform-ops/taken-over-by": "prod"}))
    [problem] = check_cluster(staging(), cluster).problems
    assert "but Namespace argocd is already on the cluster and this stack did not make it" in problem


def test_using_argocd_and_cert_manager_of_the_cluster_needs_their_crds():
    assert check_cluster(using_the_clusters(), FakeCluster(live("Namespace", "cert-manager"))).problems == [
        'Pulumi.staging.yaml: platform-ops:argocd.install: "cluster" uses the Argo CD on the cluster, but '
        "CustomResourceDefinition applications.argoproj.io, CustomResourceDefinition appprojects.argoproj.io are "
        "not on the cluster; nothing was changed",
        'Pulumi.staging.yaml: platform-ops:certManager.install: "cluster" uses the cert-manager on the cluster, but '
        "CustomResourceDefinition certificates.cert-manager.io, CustomResourceDefinition "
        "clusterissuers.cert-manager.io are not on the cluster; nothing was changed"]


def test_using_the_clusters_argocd_needs_its_controller_in_the_configured_namespace():
    cluster = FakeCluster(*ARGOCD_CRDS, *CERT_MANAGER_CRDS, live("Namespace", "cert-manager"),
                          live("Namespace", "argocd"))
    assert check_cluster(using_the_clusters(), cluster).problems == [
        'Pulumi.staging.yaml: platform-ops:argocd.install: "cluster" uses the Argo CD on the cluster, but namespace '
        "argocd runs no Argo CD application controller (no StatefulSet or Deployment labelled "
        "app.kubernetes.io/name=argocd-application-controller); set platform-ops:argocd.namespace to the namespace "
        "Argo CD runs in; nothing was changed"]


def test_using_the_clusters_argocd_in_a_namespace_that_does_not_exist_is_refused():
    cluster = FakeCluster(*ARGOCD_CRDS, *CERT_MANAGER_CRDS, live("Namespace", "cert-manager"))
    cfg = staging(argocd={"install": "cluster", "namespace": "gitops"},
                  certManager={"install": "cluster"})
    assert check_cluster(cfg, cluster).problems == [
        'Pulumi.staging.yaml: platform-ops:argocd.install: "cluster" uses the Argo CD on the cluster, but namespace '
        "gitops does not exist; set platform-ops:argocd.namespace to the namespace Argo CD runs in; nothing was "
        "changed"]


def test_using_the_clusters_argocd_and_cert_manager_when_both_are_there():
    cluster = FakeCluster(*ARGOCD_CRDS, *CERT_MANAGER_CRDS, live("Namespace", "cert-manager"),
                          live("Namespace", "argocd"), ARGOCD_CONTROLLER)
    check = check_cluster(using_the_clusters(), cluster)
    assert (check.problems, check.taken_over) == ([], set())


def test_an_existing_issuer_named_in_config_must_be_on_the_cluster():
    cluster = FakeCluster(*ARGOCD_CRDS, *CERT_MANAGER_CRDS, live("Namespace", "argocd"), ARGOCD_CONTROLLER)
    cfg = using_the_clusters(issuer={"type": "existing", "name": "platform-ca"})
    assert check_cluster(cfg, cluster).problems == [
        "Pulumi.staging.yaml: platform-ops:certManager.issuer.name: ClusterIssuer platform-ca is not on the "
        'cluster (issuer.type "existing" uses one as it is); nothing was changed']
    cluster.objects.append(live("ClusterIssuer", "platform-ca"))
    assert check_cluster(cfg, cluster).problems == []


def test_a_cluster_that_cannot_be_read_stops_the_run_naming_the_context(tmp_path, monkeypatch):
    # A kubectl that fails as kubectl does for a context its kubeconfig lacks.
    (tmp_path / "kubectl").write_text('#!/bin/sh\necho \'error: context "platform-staging" does not exist\' >&2\n'
                                      "exit 1\n")
    (tmp_path / "kubectl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    cfg = staging(cluster={"mode": "existing", "kubeconfig": "~/.kube/config", "context": "platform-staging"})
    with pytest.raises(ConfigError) as caught:
        check_before_any_change(cfg, None, "unused")
    assert str(caught.value) == (
        "Pulumi.staging.yaml: platform-ops:cluster.context: cannot read what cluster platform-staging runs, which is "
        'checked before any change: error: context "platform-staging" does not exist')


def test_kubectl_missing_from_path_is_named():
    with pytest.raises(ClusterReadError) as caught:
        kubectl_reader("~/.kube/config", "platform-staging", kubectl="no-such-kubectl")(["namespaces/argocd"])
    assert str(caught.value) == "no-such-kubectl is not on PATH"


def test_a_kind_cluster_not_created_yet_is_read_as_empty(tmp_path):
    cfg = load_config("dev", {key[len(PROJECT) + 1:]: value for key, value in stack_file("dev").items()})
    assert check_before_any_change(cfg, None, str(tmp_path / "dev.yaml")) == set()


def transform_args(type_, props, custom=True):
    return pulumi.ResourceTransformArgs(custom=custom, type_=type_, name="x", props=props,
                                        opts=pulumi.ResourceOptions())


def test_a_taken_over_object_is_kept_on_destroy():
    keep = keep_on_destroy({ObjectRef("Namespace", "argocd"),
                            ObjectRef("Deployment", "argocd-server", "argocd")})
    namespace = keep(transform_args("kubernetes:core/v1:Namespace", {"metadata": {"name": "argocd"}}))
    deployment = keep(transform_args("kubernetes:apps/v1:Deployment", {"metadata": {"name": "argocd-server"}}))
    assert namespace.opts.retain_on_delete is True and deployment.opts.retain_on_delete is True


def test_what_was_not_taken_over_is_deleted_on_destroy_as_before():
    keep = keep_on_destroy({ObjectRef("Namespace", "argocd")})
    assert keep(transform_args("kubernetes:core/v1:Namespace", {"metadata": {"name": "observability"}})) is None
    assert keep(transform_args("kubernetes:core/v1:NamespacePatch", {"metadata": {"name": "argocd"}})) is None
    assert keep(transform_args("kubernetes:apps/v1:Deployment",
                               {"metadata": {"name": "argocd", "namespace": "apps"}})) is None


def api_server_slice(*addresses):
    endpoint_slice = live("EndpointSlice", "kubernetes", "default", labels={"kubernetes.io/service-name": "kubernetes"})
    endpoint_slice["endpoints"] = [{"addresses": [address]} for address in addresses]
    return endpoint_slice


def test_an_api_server_inside_prometheus_api_server_cidrs_passes():
    check = check_cluster(staging(prometheus={**stack_file("staging")["platform-ops:prometheus"],
                                              "apiServerCidrs": ["10.0.0.0/24"]}),
                          FakeCluster(api_server_slice("10.0.0.7")))
    assert check.problems == []


def test_an_api_server_outside_prometheus_api_server_cidrs_stops_the_run():
    check = check_cluster(staging(prometheus={**stack_file("staging")["platform-ops:prometheus"],
                                              "apiServerCidrs": ["10.0.0.0/24"]}),
                          FakeCluster(api_server_slice("10.0.0.7", "172.18.0.2")))
    assert check.problems == [
        "Pulumi.staging.yaml: platform-ops:prometheus.apiServerCidrs 10.0.0.0/24 does not hold the API server's "
        "address 172.18.0.2 (EndpointSlice default/kubernetes), so Prometheus could not reach it for discovery; "
        "nothing was changed"]
