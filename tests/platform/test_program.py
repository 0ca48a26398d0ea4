"""The resource graph the program registers, per stack, under Pulumi's mock engine."""
import base64
import copy
import json

import pytest

from components.cluster import kind_create_script, kind_delete_script
from platform_ops.render import program as render_module
from platform_ops.render.program import REDACTED, is_secret, render_stack, urn_type
from tests.platform.checks import leaked, not_after, off_the_stack_provider
from platform_ops.contract import STACKS

APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
TOKEN = "ghp_notARealTokenButSecretAllTheSame"


def parent_of(render, name):
    registration = render.named(name)
    return render.by_urn(registration.parent).name if urn_type(registration.parent) != "pulumi:pulumi:Stack" else None


def expected_graph(stack):
    kind = [
        ("platform-ops:cluster:KindCluster", "cluster", None),
        ("command:local:Command", "cluster-kind", "cluster"),
    ] if stack == "dev" else []
    return sorted(kind + [
        ("pulumi:providers:kubernetes", "kubernetes", None),
        ("platform-ops:apps:AppNamespace", "apps", None),
        ("kubernetes:core/v1:Namespace", "apps-namespace", "apps"),
        ("platform-ops:ingress:Ingress", "ingress", None),
        ("kubernetes:core/v1:Namespace", "ingress-namespace", "ingress"),
        ("kubernetes:helm.sh/v4:Chart", "ingress-controller", "ingress"),
        ("platform-ops:tls:CertManager", "cert-manager", None),
        ("kubernetes:core/v1:Namespace", "cert-manager-namespace", "cert-manager"),
        ("kubernetes:helm.sh/v4:Chart", "cert-manager-install", "cert-manager"),
        ("kubernetes:cert-manager.io/v1:ClusterIssuer", "cert-manager-ca-root", "cert-manager"),
        ("kubernetes:cert-manager.io/v1:Certificate", "cert-manager-ca", "cert-manager"),
        ("kubernetes:cert-manager.io/v1:ClusterIssuer", "cert-manager-issuer", "cert-manager"),
        ("platform-ops:argocd:ArgoCD", "argocd", None),
        ("kubernetes:core/v1:Namespace", "argocd-namespace", "argocd"),
        ("pulumi:providers:kubernetes", "argocd-provider", "argocd"),
        ("kubernetes:yaml/v2:ConfigFile", "argocd-install", "argocd"),
        ("kubernetes:core/v1:ConfigMapPatch", "argocd-reconciliation", "argocd"),
        ("kubernetes:apps/v1:StatefulSetPatch", "argocd-argocd-application-controller-reconciliation", "argocd"),
        ("kubernetes:apps/v1:DeploymentPatch", "argocd-argocd-repo-server-reconciliation", "argocd"),
        ("kubernetes:argoproj.io/v1alpha1:AppProject", "argocd-default-project", "argocd"),
        ("platform-ops:registry:RegistryCredentials", "registry", None),
        ("platform-ops:gitops:GitOpsApplications", "gitops", None),
        ("kubernetes:argoproj.io/v1alpha1:AppProject", "gitops-project", "gitops"),
        ("kubernetes:argoproj.io/v1alpha1:Application", "gitops-api-node", "gitops"),
        ("kubernetes:argoproj.io/v1alpha1:Application", "gitops-core-go", "gitops"),
        ("kubernetes:argoproj.io/v1alpha1:Application", "gitops-worker-python", "gitops"),
        ("platform-ops:prometheus:Prometheus", "prometheus", None),
        ("kubernetes:core/v1:Namespace", "prometheus-namespace", "prometheus"),
        ("kubernetes:core/v1:ServiceAccount", "prometheus-service-account", "prometheus"),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", "prometheus-discovery-apps", "prometheus"),
        ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "prometheus-discovery-apps-binding", "prometheus"),
        ("kubernetes:core/v1:ConfigMap", "prometheus-config", "prometheus"),
        ("kubernetes:apps/v1:Deployment", "prometheus-deployment", "prometheus"),
        ("kubernetes:core/v1:Service", "prometheus-service", "prometheus"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus-network-policy", "prometheus"),
    ])


@pytest.mark.parametrize("stack", STACKS)
def test_resource_graph_is_the_platform(rendered, stack):
    render = rendered(stack)
    graph = sorted((r.type, r.name, parent_of(render, r.name)) for r in render.resources)
    assert graph == expected_graph(stack)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_existing_cluster_stacks_create_no_kind_cluster(rendered, stack):
    render = rendered(stack)
    assert render.of_type("command:local:Command") == []
    provider = render.named("kubernetes").inputs
    assert provider["kubeconfig"] == "~/.kube/config"
    assert provider["context"] == f"platform-{stack}"
    assert provider["clusterIdentifier"] == f"context-platform-{stack}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_resource_uses_the_stacks_provider(rendered, stack):
    render = rendered(stack)
    assert [r for r in render.resources if r.type.startswith("kubernetes:")]
    assert off_the_stack_provider(render) == []


def test_the_provider_check_catches_a_default_provider_and_another_cluster(rendered):
    render = copy.deepcopy(rendered("dev"))
    render.named("argocd-namespace").provider = ""
    render.named("argocd-provider").inputs["clusterIdentifier"] = "kind-somewhere-else"
    render.named("prometheus-config").provider = render.named("kubernetes").provider
    render.named("kubernetes").inputs["enableServerSideApply"] = "false"
    problems = off_the_stack_provider(render)
    assert "argocd-namespace: no explicit Kubernetes provider" in problems
    assert "argocd-install: provider argocd-provider is for another cluster" in problems
    assert "ingress-namespace: provider kubernetes does not use server-side apply" in problems


def test_provider_cluster_identifier_survives_a_changed_kubeconfig(monkeypatch):
    first = render_stack("dev").named("kubernetes").inputs
    monkeypatch.setattr(render_module, "MOCK_KUBECONFIG", "apiVersion: v1\nkind: Config\n# rotated certs\n")
    second = render_stack("dev").named("kubernetes").inputs
    assert first["kubeconfig"] != second["kubeconfig"]
    assert first["clusterIdentifier"] == second["clusterIdentifier"] == "kind-platform-dev"


def test_kind_command_creates_or_adopts_the_cluster_and_deletes_it(rendered):
    command = rendered("dev").named("cluster-kind").inputs
    assert command["create"] == kind_create_script("platform-dev", ".kube/dev.yaml")
    assert command["delete"] == kind_delete_script("platform-dev", ".kube/dev.yaml")
    assert "if kind get clusters 2>/dev/null | grep -qx platform-dev; then" in command["create"]
    assert "kind create cluster --name platform-dev --config /dev/stdin --kubeconfig .kube/dev.yaml" in command["create"]
    assert command["delete"].startswith("kind delete cluster --name platform-dev --kubeconfig .kube/dev.yaml")


def test_kind_config_pins_the_node_image_and_maps_the_ingress_ports(rendered):
    import yaml

    command = rendered("dev").named("cluster-kind").inputs
    node = yaml.safe_load(command["stdin"])["nodes"][0]
    assert node["image"].startswith("kindest/node:v1.37.0@sha256:")
    assert node["labels"] == {"ingress-ready": "true"}
    assert node["extraPortMappings"] == [
        {"containerPort": 30080, "hostPort": 80, "protocol": "TCP"},
        {"containerPort": 30443, "hostPort": 443, "protocol": "TCP"},
    ]
    # Any change to the kind config replaces the cluster.
    assert command["triggers"] == [command["stdin"]]


def test_kind_kubeconfig_is_secret_and_kept_out_of_the_logs(rendered):
    render = rendered("dev")
    command = render.named("cluster-kind")
    assert command.additional_secret_outputs == ["stdout"]
    assert command.inputs["logging"] == "stderr"
    assert is_secret(render.named("kubernetes").inputs["kubeconfig"])
    assert render.outputs["kubeconfig"] == REDACTED


def test_registry_token_is_secret_wherever_it_flows():
    render = render_stack("dev", secrets={"registryToken": TOKEN})
    secret = render.named("registry-pull-secret").inputs
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert is_secret(secret["stringData"])
    config = json.loads(secret["stringData"]["value"][".dockerconfigjson"])
    assert config["auths"]["ghcr.io"]["auth"] == base64.b64encode(f"zainasr:{TOKEN}".encode()).decode()
    assert leaked(render, [TOKEN, base64.b64encode(f"zainasr:{TOKEN}".encode()).decode()]) == []


def test_the_leak_check_catches_a_token_in_a_manifest_and_a_log():
    render = render_stack("dev", secrets={"registryToken": TOKEN})
    render.named("gitops-api-node").inputs["metadata"]["labels"]["token"] = TOKEN
    render.log.append(f"info: using {TOKEN}")
    assert leaked(render, [TOKEN]) == ["ghp_... shows in manifests", "ghp_... shows in log"]


def test_registry_secret_is_attached_to_the_default_service_account():
    render = render_stack("dev", secrets={"registryToken": TOKEN})
    patch = render.named("registry-default-serviceaccount")
    assert patch.type == "kubernetes:core/v1:ServiceAccountPatch"
    assert patch.inputs["metadata"] == {"name": "default", "namespace": "apps"}
    assert patch.inputs["imagePullSecrets"] == [{"name": "ghcr-cred"}]
    assert render.named("registry-pull-secret").urn in patch.dependencies


def test_without_a_token_no_pull_secret_is_created_and_the_log_says_so(rendered):
    render = rendered("dev")
    assert render.of_type("kubernetes:core/v1:ServiceAccountPatch") == []
    assert [m for m in render.manifests if m.get("type") == "kubernetes.io/dockerconfigjson"] == []
    assert ("info: registry: platform-ops:registryToken is not set, so no pull secret is created "
            "and images from ghcr.io are pulled anonymously") in render.log


@pytest.mark.parametrize("stack", STACKS)
def test_applications_are_created_after_the_argocd_install(rendered, stack):
    render = rendered(stack)
    assert len(render.of_type(APPLICATION)) == 3
    assert not_after(render, [APPLICATION, APP_PROJECT], "argocd-install") == []


def test_the_dependency_check_catches_an_application_created_too_early(rendered):
    render = copy.deepcopy(rendered("dev"))
    render.named("gitops-core-go").dependencies = []
    assert not_after(render, [APPLICATION, APP_PROJECT], "argocd-install") == [
        "gitops-core-go does not depend on argocd-install"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_service_gets_an_application_on_its_chart_and_environment_values(rendered, stack):
    apps = {m["metadata"]["name"]: m for m in rendered(stack).manifests if m["kind"] == "Application"}
    assert sorted(apps) == ["api-node", "core-go", "worker-python"]
    for service, app in apps.items():
        assert app["metadata"]["namespace"] == "argocd"
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
        assert app["spec"]["project"] == "platform-ops"
        assert app["spec"]["source"] == {
            "repoURL": "https://github.com/zainasr/platform-ops.git",
            "targetRevision": "main",
            "path": f"charts/{service}",
            "helm": {"releaseName": service, "valueFiles": ["values.yaml", f"values-{stack}.yaml"]},
        }
        assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "apps"}
        assert app["spec"]["syncPolicy"] == {
            "automated": {"prune": True, "selfHeal": True},
            "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
        }


def test_project_allows_only_this_repository_and_the_app_namespace(rendered):
    project = next(m for m in rendered("dev").manifests
                   if m["kind"] == "AppProject" and m["metadata"]["name"] == "platform-ops")
    assert project["spec"]["sourceRepos"] == ["https://github.com/zainasr/platform-ops.git"]
    assert project["spec"]["destinations"] == [{"namespace": "apps", "server": "https://kubernetes.default.svc"}]
    assert "clusterResourceWhitelist" not in project["spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_apps_get_a_namespace_of_their_own_with_pod_security_restricted(rendered, stack):
    namespace = rendered(stack).named("apps-namespace")
    assert namespace.type == "kubernetes:core/v1:Namespace"
    assert namespace.inputs["metadata"]["name"] == "apps"
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_touches_the_default_namespace(rendered, stack):
    assert [(r.type, r.name) for r in rendered(stack).resources
            if r.is_kubernetes_object and r.inputs.get("metadata", {}).get("namespace") == "default"
            or r.type.startswith("kubernetes:core/v1:Namespace") and r.inputs["metadata"]["name"] == "default"] == []


def test_outputs_list_the_applications_and_how_to_reach_argocd(rendered):
    outputs = rendered("dev").outputs
    assert outputs["applications"][0] == {
        "name": "api-node", "path": "charts/api-node", "valueFiles": ["values.yaml", "values-dev.yaml"]}
    assert outputs["argocdUi"] == (
        "kubectl --kubeconfig .kube/dev.yaml --context kind-platform-dev -n argocd "
        "port-forward svc/argocd-server 8080:443")
    assert outputs["kubeconfigPath"] == ".kube/dev.yaml"
