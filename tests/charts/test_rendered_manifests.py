"""Every chart, in every environment, renders what the issue asks for: valid Kubernetes 1.37 objects,
restricted and hardened pods, wiring that resolves, the discovery contract, and exactly the allowed
network flows. Each test runs one check of scripts/chart_checks.py on the nine renders."""
from __future__ import annotations

import pytest
import yaml

from platform_ops import chart_checks as checks
from platform_ops.config import merged_values
from platform_ops.layout import application_charts
from platform_ops.paths import CHARTS_DIR
from platform_ops.render.charts import GoYamlLoader, total_requests


def test_objects_are_valid_kubernetes_1_37_under_strict_schema(chart_manifests, each_render):
    assert checks.check_kubernetes_schema(chart_manifests(*each_render), "1.37.0") == []


def test_pods_meet_pod_security_restricted(chart_manifests, each_render):
    assert checks.check_pod_security_restricted(chart_manifests(*each_render)) == []


def test_containers_are_hardened(chart_manifests, each_render):
    assert checks.check_container_hardening(chart_manifests(*each_render)) == []


def test_rollouts_never_drop_ready_capacity(chart_manifests, each_render):
    assert checks.check_rollout(chart_manifests(*each_render)) == []


def test_containers_request_cpu_and_memory_and_limit_memory(chart_manifests, each_render):
    assert checks.check_resources(chart_manifests(*each_render)) == []


def test_probes_are_http_gets_on_named_ports(chart_manifests, each_render):
    assert checks.check_probes(chart_manifests(*each_render)) == []


def test_apps_declare_the_ports_they_are_told_to_listen_on(chart_manifests, each_render):
    assert checks.check_listen_ports(chart_manifests(*each_render)) == []


def test_probe_ports_and_service_target_ports_are_ports_the_containers_declare(chart_manifests, each_render):
    assert checks.check_ports_resolve(chart_manifests(*each_render)) == []


def test_multiple_replicas_get_a_pdb_and_topology_spread(chart_manifests, each_render):
    assert checks.check_high_availability(chart_manifests(*each_render)) == []


def test_objects_and_pods_carry_the_discovery_contract_labels(chart_manifests, sources, each_render):
    stack, app = each_render
    assert checks.check_labels(chart_manifests(stack, app), app, sources(stack)[app].release) == []


def test_services_select_the_pods_and_target_named_container_ports(chart_manifests, each_render):
    stack, app = each_render
    assert checks.check_service_wiring(chart_manifests(stack, app), app) == []


def test_output_is_stable_under_gitops(chart_manifests, each_render):
    assert checks.check_gitops_stable(chart_manifests(*each_render)) == []


def test_image_is_the_tag_promoted_to_the_environment(chart_manifests, sources, renderer, each_render):
    stack, app = each_render
    source = sources(stack)[app]
    tag = merged_values(renderer.chart_dir(source), source.value_files)["image"]["tag"]
    assert checks.check_image_tag(chart_manifests(stack, app), tag) == []


def test_argo_cd_project_permits_every_rendered_kind(chart_manifests, rendered, each_render):
    stack, _ = each_render
    project = next(m for m in rendered(stack).manifests
                   if m["kind"] == "AppProject" and m["metadata"]["name"] == "platform-ops")
    assert checks.check_project_permits(chart_manifests(*each_render), project) == []


def test_ingress_backend_is_the_api_node_service_http_port(chart_manifests, each_stack):
    assert checks.check_ingress(chart_manifests(each_stack, "api-node")) == []


def test_ingress_host_and_tls_secret_come_from_the_environment_values(chart_manifests, sources, renderer, find,
                                                                      each_stack):
    source = sources(each_stack)["api-node"]
    values = merged_values(renderer.chart_dir(source), source.value_files)["ingress"]
    ingress = find(chart_manifests(each_stack, "api-node"), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == values["host"]
    assert ingress["spec"]["tls"] == [{"hosts": [values["host"]], "secretName": values["tlsSecretName"]}]


def test_ingress_asks_cert_manager_for_its_certificate_from_the_environments_issuer(
        chart_manifests, sources, renderer, find, each_stack):
    source = sources(each_stack)["api-node"]
    values = merged_values(renderer.chart_dir(source), source.value_files)["ingress"]
    ingress = find(chart_manifests(each_stack, "api-node"), "Ingress")
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": values["clusterIssuer"]}
    assert values["clusterIssuer"] == "platform-ca"


def test_core_go_base_url_points_at_the_core_go_service(chart_manifests, sources, each_stack):
    namespace = sources(each_stack)["api-node"].namespace
    problems = checks.check_core_go_url(chart_manifests(each_stack, "api-node"),
                                        chart_manifests(each_stack, "core-go"), namespace)
    assert problems == []


def test_network_policies_admit_exactly_the_platform_flows(chart_manifests, each_stack):
    renders = {app: chart_manifests(each_stack, app) for app in application_charts(CHARTS_DIR)}
    assert checks.check_network_policies(renders) == []


def test_environment_values_differ_in_replicas_resources_and_env(chart_manifests, find):
    deployments = {stack: find(chart_manifests(stack, "api-node"), "Deployment") for stack in ("dev", "prod")}
    env = {stack: {e["name"]: e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
           for stack, d in deployments.items()}
    assert (env["dev"]["ENV"], env["prod"]["ENV"]) == ("dev", "prod")
    assert deployments["dev"]["spec"]["replicas"] < deployments["prod"]["spec"]["replicas"]
    assert deployments["dev"]["spec"]["template"]["spec"]["containers"][0]["resources"] != \
        deployments["prod"]["spec"]["template"]["spec"]["containers"][0]["resources"]


@pytest.mark.parametrize("app,port", [("api-node", "3000"), ("core-go", "8080")])
def test_http_apps_get_port_and_env(chart_manifests, find, app, port):
    container = find(chart_manifests("dev", app), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PORT"] == port and env["ENV"] == "dev"
    assert container["ports"][0] == {"name": "http", "containerPort": int(port), "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}


@pytest.mark.parametrize("app", ["api-node", "core-go", "worker-python"])
def test_every_app_serves_metrics_on_its_own_port_that_the_service_exposes(chart_manifests, find, app):
    manifests = chart_manifests("dev", app)
    container = find(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e["value"] for e in container["env"]}["METRICS_PORT"] == "9000"
    assert container["ports"][-1] == {"name": "metrics", "containerPort": 9000, "protocol": "TCP"}
    assert find(manifests, "Service")["spec"]["ports"][-1] == {
        "name": "metrics", "port": 9000, "targetPort": "metrics", "protocol": "TCP"}


def test_api_node_egress_to_core_go_selects_the_core_go_release_it_calls(chart_manifests, find):
    policy = find(chart_manifests("dev", "api-node"), "NetworkPolicy", "api-node-allow-egress-to-core-go")
    assert policy["spec"]["egress"] == [{
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "core-go",
                                                "app.kubernetes.io/instance": "core-go"}}}],
        "ports": [{"protocol": "TCP", "port": "http"}]}]


def test_worker_gets_metrics_port_job_interval_and_env(chart_manifests, find):
    container = find(chart_manifests("dev", "worker-python"), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert {k: env[k] for k in ("METRICS_PORT", "JOB_INTERVAL_SECONDS", "ENV")} == \
        {"METRICS_PORT": "9000", "JOB_INTERVAL_SECONDS": "10", "ENV": "dev"}
    assert container["ports"] == [{"name": "metrics", "containerPort": 9000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["port"] == "metrics"


def test_templates_use_no_non_deterministic_or_cluster_reading_functions(chart_dirs):
    assert checks.check_template_sources(chart_dirs) == []


def test_rendered_text_parses_the_same_with_go_yaml_rules(chart_text, each_render):
    # Any scalar Go YAML would read differently from PyYAML's 1.1 rules shows up as a difference.
    text = chart_text(*each_render)
    assert list(yaml.safe_load_all(text)) == list(yaml.load_all(text, Loader=GoYamlLoader))


def test_total_requests_multiplies_container_requests_by_replicas(chart_manifests):
    manifests = chart_manifests("prod", "core-go") + chart_manifests("dev", "worker-python")
    # prod core-go: 3 x (100m, 64Mi); dev worker-python: 1 x (25m, 64Mi); other kinds count for nothing.
    assert total_requests(manifests) == pytest.approx({"cpu": 0.325, "memory": 4 * 64 * 2**20})
