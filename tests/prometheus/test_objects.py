"""The Kubernetes objects of the Prometheus component: valid, restricted, and wired to each other."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import prometheus as prom
from platform_ops.chart_checks import check_kubernetes_schema, check_pod_security_restricted
from platform_ops.contract import PROMETHEUS_POD_LABELS, STACKS
from platform_ops.paths import REPO_ROOT
from platform_ops.render.program import _RecordingMonitor, normalized
from tests.prometheus.harness import program_args, run_program

CHILDREN = [
    ("kubernetes:core/v1:Namespace", "prometheus-namespace"),
    ("kubernetes:core/v1:ServiceAccount", "prometheus-service-account"),
    ("kubernetes:rbac.authorization.k8s.io/v1:Role", "prometheus-discovery-apps"),
    ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "prometheus-discovery-apps-binding"),
    ("kubernetes:core/v1:ConfigMap", "prometheus-config"),
    ("kubernetes:apps/v1:Deployment", "prometheus-deployment"),
    ("kubernetes:core/v1:Service", "prometheus-service"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus-network-policy"),
]


def container(deployment: dict) -> dict:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("stack", STACKS)
def test_objects_pass_the_strict_kubernetes_schema(prometheus_render, stack):
    assert check_kubernetes_schema(prometheus_render(stack).manifests) == []


def test_the_schema_check_catches_a_misspelt_field(prometheus_render):
    deployment = copy.deepcopy(prometheus_render("dev").one("Deployment"))
    container(deployment)["readinesProbe"] = container(deployment).pop("readinessProbe")
    assert check_kubernetes_schema([deployment]) == [
        "Deployment/prometheus: spec.template.spec.containers.0: "
        "Additional properties are not allowed ('readinesProbe' was unexpected)"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_pod_meets_pod_security_restricted(prometheus_render, stack):
    assert check_pod_security_restricted(prometheus_render(stack).manifests) == []


def test_the_pod_security_check_catches_a_loosened_pod(prometheus_render):
    deployment = copy.deepcopy(prometheus_render("dev").one("Deployment"))
    spec = deployment["spec"]["template"]["spec"]
    del spec["securityContext"]["runAsNonRoot"]
    del container(deployment)["securityContext"]["runAsNonRoot"]
    container(deployment)["securityContext"]["allowPrivilegeEscalation"] = True
    container(deployment)["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}
    assert check_pod_security_restricted([deployment]) == [
        "Deployment/prometheus: container prometheus: securityContext.allowPrivilegeEscalation must be false",
        "Deployment/prometheus: container prometheus: securityContext.capabilities.drop must contain ALL",
        "Deployment/prometheus: container prometheus: runAsNonRoot must be true "
        "(in the container or the pod securityContext)",
    ]


def test_the_namespace_enforces_pod_security_restricted(prometheus_render):
    namespace = prometheus_render("dev").one("Namespace")
    assert namespace["metadata"]["name"] == "observability"
    assert namespace["metadata"]["labels"] == {
        "app.kubernetes.io/part-of": "platform-ops",
        "app.kubernetes.io/managed-by": "pulumi",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def test_every_namespaced_object_is_in_observability_except_the_discovery_rbac(prometheus_render):
    where = sorted((m["kind"], m["metadata"].get("namespace")) for m in prometheus_render("dev").manifests)
    assert where == [
        ("ConfigMap", "observability"), ("Deployment", "observability"), ("Namespace", None),
        ("NetworkPolicy", "observability"),
        ("Role", "apps"), ("RoleBinding", "apps"), ("Service", "observability"),
        ("ServiceAccount", "observability"),
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_tests_run_the_prometheus_version_the_stacks_deploy(stack):
    [built_for_tests] = re.findall(r"^PROMETHEUS_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert program_args(stack).settings.version == built_for_tests


@pytest.mark.parametrize("stack", STACKS)
def test_the_deployment_runs_the_configured_prometheus(prometheus_render, stack):
    settings = program_args(stack).settings
    deployment = prometheus_render(stack).one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(deployment)
    assert c["image"] == (
        "prom/prometheus:v3.13.4@sha256:87861b8cf91579109319ebc300f3f1060e6da9c05d6ae8ad15a20c879e84e32e")
    assert c["args"] == [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        f"--storage.tsdb.retention.time={settings.retention}",
        "--storage.tsdb.retention.size=1GB",
        "--web.listen-address=:9090",
    ]
    assert c["resources"] == {"requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
                              "limits": {"memory": settings.memory_limit}}
    assert c["volumeMounts"] == [{"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                                 {"name": "data", "mountPath": "/prometheus"}]
    assert pod["volumes"] == [{"name": "config", "configMap": {"name": "prometheus-config"}},
                              {"name": "data", "emptyDir": {"sizeLimit": "2Gi"}}]


def test_the_pod_runs_as_nobody_with_a_read_only_root(prometheus_render):
    deployment = prometheus_render("dev").one("Deployment")
    assert deployment["spec"]["template"]["spec"]["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert container(deployment)["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def test_probes_use_the_ready_and_healthy_endpoints(prometheus_render):
    c = container(prometheus_render("dev").one("Deployment"))
    assert {name: c[name]["httpGet"] for name in ("startupProbe", "readinessProbe", "livenessProbe")} == {
        "startupProbe": {"path": "/-/ready", "port": "web"},
        "readinessProbe": {"path": "/-/ready", "port": "web"},
        "livenessProbe": {"path": "/-/healthy", "port": "web"},
    }
    assert c["ports"] == [{"name": "web", "containerPort": 9090, "protocol": "TCP"}]


def test_only_the_prometheus_pod_mounts_the_api_token(prometheus_render):
    render = prometheus_render("dev")
    assert render.one("ServiceAccount")["automountServiceAccountToken"] is False
    assert render.one("Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def test_the_config_checksum_is_the_sha256_of_the_config_map_data(prometheus_render):
    render = prometheus_render("dev")
    data = render.config_map_data
    annotations = render.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "checksum/config": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()}


def _deployment_checksum(settings) -> str:
    registered = run_program(lambda: prom.Prometheus(
        "prometheus", prom.PrometheusArgs(settings, ["default"], ["api-node", "core-go", "worker-python"])))
    [deployment] = [r.inputs for r in registered if r.type == "kubernetes:apps/v1:Deployment"]
    return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_a_config_change_changes_the_pod_template_and_nothing_else_does():
    settings = program_args("dev").settings
    same = _deployment_checksum(settings)
    assert _deployment_checksum(dataclasses.replace(settings, memory_limit="1Gi")) == same
    assert _deployment_checksum(dataclasses.replace(settings, scrape_interval="15s")) != same


def test_the_service_selects_the_prometheus_pod_on_9090(prometheus_render):
    render = prometheus_render("dev")
    service = render.one("Service")
    template_labels = render.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == ("prometheus", "observability")
    assert service["spec"]["ports"] == [{"name": "web", "port": 9090, "targetPort": "web", "protocol": "TCP"}]
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "prometheus"}
    assert render.one("Deployment")["spec"]["selector"] == {"matchLabels": service["spec"]["selector"]}
    assert service["spec"]["selector"].items() <= template_labels.items()


def test_the_pod_has_the_labels_app_network_policies_admit(prometheus_render):
    template_labels = prometheus_render("dev").one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert PROMETHEUS_POD_LABELS.items() <= template_labels.items()


def test_the_component_is_a_typed_parent_of_every_object(prometheus_render):
    render = prometheus_render("dev")
    assert (render.component.type, render.component.name) == ("platform-ops:prometheus:Prometheus", "prometheus")
    assert sorted((r.type, r.name) for r in render.children) == sorted(CHILDREN)


def _registered_aliases(monkeypatch, program) -> dict[str, list[tuple[str, str]]]:
    """Resource name -> the (name, type) aliases the engine gets with its registration (the render
    does not record aliases, so they are read where the mock engine receives them)."""
    aliases = {}
    register = _RecordingMonitor.RegisterResource

    def recording(monitor, request):
        aliases[request.name] = [(alias.spec.name, alias.spec.type) for alias in request.aliases]
        return register(monitor, request)

    monkeypatch.setattr(_RecordingMonitor, "RegisterResource", recording)
    run_program(program)
    return aliases


def test_the_component_keeps_the_state_of_its_former_type(monkeypatch):
    aliases = _registered_aliases(monkeypatch, lambda: prom.Prometheus("prometheus", program_args("dev")))
    assert aliases["prometheus"] == [("", "platform-ops:prometheus:PrometheusStack")]


def test_aliases_given_in_the_options_are_kept(monkeypatch):
    aliases = _registered_aliases(monkeypatch, lambda: prom.Prometheus(
        "prometheus", program_args("dev"), opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="monitoring")])))
    assert aliases["prometheus"] == [("monitoring", ""), ("", "platform-ops:prometheus:PrometheusStack")]


def _run_with(provider_in_args: bool):
    args = program_args("dev")

    def program():
        provider = k8s.Provider("cluster", kubeconfig="{}")
        if provider_in_args:
            prom.Prometheus("obs", dataclasses.replace(args, provider=provider))
        else:
            prom.Prometheus("obs", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run_program(program)


@pytest.mark.parametrize("provider_in_args", [True, False], ids=["provider-in-args", "provider-in-opts"])
def test_children_are_named_after_the_component_and_use_its_provider(provider_in_args):
    registered = _run_with(provider_in_args)
    component = next(r for r in registered if r.type == prom.COMPONENT_TYPE)
    children = [r for r in registered if r.parent == component.urn]
    assert sorted(r.name for r in children) == sorted(name.replace("prometheus-", "obs-", 1) for _, name in CHILDREN)
    assert {r.provider.split("::")[-2] for r in children} == {"cluster"}


def test_the_component_registers_its_outputs():
    registered = _run_with(True)
    component = next(r for r in registered if r.type == prom.COMPONENT_TYPE)
    assert normalized(component.outputs) == {
        "namespace": "observability",
        "service": "prometheus",
        "version": program_args("dev").settings.version,
        "configChecksum": prom.config_checksum(prom.config_map_data(
            program_args("dev").settings, ["apps"], program_args("dev").apps)),
        "ui": "kubectl port-forward -n observability svc/prometheus 9090:9090",
    }


def test_apps_the_rule_files_do_not_name_fail_before_anything_is_registered():
    args = program_args("dev")

    def program():
        with pytest.raises(prom.RuleFileError) as error:
            prom.Prometheus("prometheus", dataclasses.replace(args, apps=["api-node"]))
        assert str(error.value) == (
            "prometheus/rules/platform-apps-alerts.yaml: groups[0].rules[0].expr: AppTargetDown names the apps "
            "api-node, core-go, worker-python, not the apps Prometheus scrapes: api-node")

    registered = run_program(program)
    assert registered == []
