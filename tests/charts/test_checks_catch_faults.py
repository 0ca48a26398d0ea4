"""Each chart check catches the fault it exists for: a real render with one thing broken gives exactly
the expected message."""
from __future__ import annotations

import copy

import pytest
import yaml

from platform_ops import chart_checks as checks
from platform_ops.layout import application_charts
from platform_ops.paths import CHARTS_DIR
from platform_ops.render.charts import GoYamlLoader, load_manifests


def pod(manifests, find):
    return find(manifests, "Deployment")["spec"]["template"]["spec"]


def container(manifests, find):
    return pod(manifests, find)["containers"][0]


# --- Kubernetes schema ---------------------------------------------------------------------------------------

def test_schema_check_reports_an_unknown_field(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Deployment")["spec"]["replica"] = 2
    assert checks.check_kubernetes_schema(manifests) == [
        "Deployment/api-node: spec: Additional properties are not allowed ('replica' was unexpected)"]


def test_schema_check_reports_a_label_that_is_not_a_string(chart_manifests, find):
    manifests = chart_manifests("dev", "core-go")
    find(manifests, "Service")["metadata"]["labels"]["app.kubernetes.io/version"] = 1234567
    assert checks.check_kubernetes_schema(manifests) == [
        "Service/core-go: metadata.labels.app.kubernetes.io/version: 1234567 is not of type 'string', 'null'"]


# --- Pod Security restricted -----------------------------------------------------------------------------------

@pytest.mark.parametrize("break_it,message", [
    (lambda p: p["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
     "Deployment/api-node: container api-node: securityContext.allowPrivilegeEscalation must be false"),
    (lambda p: p["containers"][0]["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
     "Deployment/api-node: container api-node: securityContext.capabilities.drop must contain ALL"),
    (lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
     "Deployment/api-node: container api-node: securityContext.capabilities.add may only hold NET_BIND_SERVICE, "
     "not SYS_ADMIN"),
    (lambda p: (p["securityContext"].pop("runAsNonRoot"), p["containers"][0]["securityContext"].pop("runAsNonRoot")),
     "Deployment/api-node: container api-node: runAsNonRoot must be true (in the container or the pod "
     "securityContext)"),
    (lambda p: (p["securityContext"].pop("seccompProfile"), p["containers"][0]["securityContext"].pop("seccompProfile")),
     "Deployment/api-node: container api-node: seccompProfile.type must be RuntimeDefault or Localhost "
     "(in the container or the pod)"),
    (lambda p: p["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}}),
     "Deployment/api-node: volume host has type hostPath, not allowed by the restricted level"),
    (lambda p: p.update(hostNetwork=True),
     "Deployment/api-node: hostNetwork must not be true"),
    (lambda p: p["containers"][0]["ports"][0].update(hostPort=3000),
     "Deployment/api-node: container api-node: port http must not set hostPort"),
    (lambda p: p["containers"][0]["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
     "Deployment/api-node: container api-node: securityContext.appArmorProfile.type Unconfined is not allowed"),
], ids=["privilege-escalation", "capabilities-not-dropped", "capability-added", "may-run-as-root",
        "no-seccomp", "hostpath-volume", "host-network", "host-port", "apparmor-unconfined"])
def test_pod_security_check_reports_a_restricted_violation(chart_manifests, find, break_it, message):
    manifests = chart_manifests("dev", "api-node")
    break_it(pod(manifests, find))
    assert checks.check_pod_security_restricted(manifests) == [message]


# --- hardening --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("break_it,message", [
    (lambda p: p["containers"][0]["securityContext"].update(readOnlyRootFilesystem=False),
     "Deployment/core-go: container core-go: securityContext.readOnlyRootFilesystem must be true"),
    (lambda p: p["containers"][0].pop("volumeMounts"),
     "Deployment/core-go: container core-go: /tmp must be an emptyDir volume mount"),
    (lambda p: p.update(automountServiceAccountToken=True),
     "Deployment/core-go: automountServiceAccountToken must be false"),
    (lambda p: p["securityContext"].update(runAsUser=1000),
     "Deployment/core-go: securityContext.runAsUser must be 65532"),
    (lambda p: p["containers"][0].update(imagePullPolicy="Always"),
     "Deployment/core-go: container core-go: imagePullPolicy must be IfNotPresent"),
    (lambda p: p.pop("imagePullSecrets"),
     "Deployment/core-go: imagePullSecrets must name the registry secret"),
], ids=["writable-root", "no-tmp", "token-mounted", "other-uid", "pull-always", "no-pull-secret"])
def test_hardening_check_reports_a_weakened_container(chart_manifests, find, break_it, message):
    manifests = chart_manifests("dev", "core-go")
    break_it(pod(manifests, find))
    assert checks.check_container_hardening(manifests) == [message]


def test_hardening_check_reports_a_service_account_that_mounts_its_token(chart_manifests, find):
    manifests = chart_manifests("dev", "core-go")
    find(manifests, "ServiceAccount")["automountServiceAccountToken"] = True
    assert checks.check_container_hardening(manifests) == [
        "ServiceAccount/core-go: automountServiceAccountToken must be false"]


def test_rollout_check_reports_a_strategy_that_drops_capacity(chart_manifests, find):
    manifests = chart_manifests("prod", "worker-python")
    find(manifests, "Deployment")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
    assert checks.check_rollout(manifests) == [
        "Deployment/worker-python: strategy must be RollingUpdate with maxUnavailable 0"]


def test_rollout_check_reports_a_missing_revision_history_limit(chart_manifests, find):
    manifests = chart_manifests("prod", "worker-python")
    del find(manifests, "Deployment")["spec"]["revisionHistoryLimit"]
    assert checks.check_rollout(manifests) == ["Deployment/worker-python: revisionHistoryLimit must be set"]


def test_resources_check_reports_a_missing_memory_limit(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    del container(manifests, find)["resources"]["limits"]
    assert checks.check_resources(manifests) == [
        "Deployment/worker-python: container worker-python: resources must set limits.memory"]


def test_resources_check_reports_a_memory_limit_below_the_request(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    container(manifests, find)["resources"]["limits"]["memory"] = "32Mi"
    assert checks.check_resources(manifests) == [
        "Deployment/worker-python: container worker-python: limits.memory 32Mi is below requests.memory 64Mi"]


def test_probe_check_reports_a_numeric_port(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    container(manifests, find)["readinessProbe"]["httpGet"]["port"] = 9000
    assert checks.check_probes(manifests) == [
        "Deployment/worker-python: container worker-python: readinessProbe port 9000 is not a named container port"]


def test_probe_check_reports_a_probe_that_is_not_an_http_get(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    container(manifests, find)["livenessProbe"] = {"exec": {"command": ["true"]}}
    assert checks.check_probes(manifests) == [
        "Deployment/api-node: container api-node: livenessProbe must be an httpGet probe"]


# --- ports: listened on, probed, targeted ------------------------------------------------------------------------

def _port_from_config_map(c):
    env = next(e for e in c["env"] if e["name"] == "PORT")
    del env["value"]
    env["valueFrom"] = {"configMapKeyRef": {"name": "core-go", "key": "port"}}


@pytest.mark.parametrize("app,break_it,message", [
    ("api-node", lambda c: c["ports"][0].update(containerPort=3001),
     "Deployment/api-node: container api-node: listens on PORT=3000 but declares port http as containerPort 3001"),
    ("worker-python", lambda c: c["ports"][0].update(containerPort=9001),
     "Deployment/worker-python: container worker-python: listens on METRICS_PORT=9000 but declares port metrics "
     "as containerPort 9001"),
    ("core-go", lambda c: c["ports"][0].update(name="web"),
     "Deployment/core-go: container core-go: listens on PORT=8080 but declares no port http"),
    ("core-go", _port_from_config_map,
     "Deployment/core-go: container core-go: PORT must be a literal value to compare with port http"),
], ids=["port-differs", "metrics-port-differs", "port-renamed", "port-from-config-map"])
def test_listen_port_check_reports_a_container_port_that_is_not_the_one_the_app_listens_on(
        chart_manifests, find, app, break_it, message):
    manifests = chart_manifests("dev", app)
    break_it(container(manifests, find))
    assert checks.check_listen_ports(manifests) == [message]


@pytest.mark.parametrize("app,probe,message", [
    ("worker-python", {"readinessProbe": {"httpGet": {"path": "/", "port": "http"}}},
     "Deployment/worker-python: container worker-python: readinessProbe httpGet port 'http' is not a port the "
     "container declares (metrics=9000)"),
    ("api-node", {"livenessProbe": {"tcpSocket": {"port": 3001}}},
     "Deployment/api-node: container api-node: livenessProbe tcpSocket port 3001 is not a port the container "
     "declares (http=3000, metrics=9000)"),
    ("core-go", {"startupProbe": {"grpc": {"port": 9090}}},
     "Deployment/core-go: container core-go: startupProbe grpc port 9090 is not a port the container declares "
     "(http=8080, metrics=9000)"),
], ids=["named-http-get", "numeric-tcp-socket", "grpc-startup"])
def test_port_check_reports_a_probe_on_a_port_the_container_does_not_declare(chart_manifests, find, app, probe,
                                                                             message):
    manifests = chart_manifests("dev", app)
    container(manifests, find).update(probe)
    assert checks.check_ports_resolve(manifests) == [message]


def test_port_check_reports_a_service_target_port_naming_a_port_that_does_not_exist(chart_manifests, find):
    manifests = chart_manifests("dev", "core-go")
    find(manifests, "Service")["spec"]["ports"][0]["targetPort"] = "web"
    assert checks.check_ports_resolve(manifests) == [
        "Service/core-go: port http targetPort 'web' is not declared by a container of Deployment/core-go "
        "(container core-go: http=8080, metrics=9000)"]


def test_port_check_reports_a_numeric_service_target_port_the_container_does_not_declare(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Service")["spec"]["ports"][1]["targetPort"] = 3001
    assert checks.check_ports_resolve(manifests) == [
        "Service/api-node: port metrics targetPort 3001 is not declared by a container of Deployment/api-node "
        "(container api-node: http=3000, metrics=9000)"]


def test_port_check_reports_a_service_port_without_target_port_when_its_number_is_not_declared(chart_manifests,
                                                                                              find):
    manifests = chart_manifests("dev", "worker-python")
    del find(manifests, "Service")["spec"]["ports"][0]["targetPort"]
    find(manifests, "Service")["spec"]["ports"][0]["port"] = 80
    assert checks.check_ports_resolve(manifests) == [
        "Service/worker-python: port metrics targetPort 80 is not declared by a container of "
        "Deployment/worker-python (container worker-python: metrics=9000)"]


def test_port_check_accepts_a_numeric_target_port_the_container_declares(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Service")["spec"]["ports"][1]["targetPort"] = 3000
    assert checks.check_ports_resolve(manifests) == []


def test_availability_check_reports_replicas_without_a_pdb(chart_manifests):
    manifests = [m for m in chart_manifests("staging", "core-go") if m["kind"] != "PodDisruptionBudget"]
    assert checks.check_high_availability(manifests) == [
        "Deployment/core-go: 2 replicas but no PodDisruptionBudget selects its pods"]


def test_availability_check_reports_replicas_without_topology_spread(chart_manifests, find):
    manifests = chart_manifests("staging", "core-go")
    del pod(manifests, find)["topologySpreadConstraints"]
    assert checks.check_high_availability(manifests) == [
        "Deployment/core-go: 2 replicas but no topologySpreadConstraint spreads its pods"]


def test_availability_check_reports_a_pdb_on_a_single_replica(chart_manifests, find):
    manifests = chart_manifests("dev", "core-go")
    manifests.append(find(chart_manifests("staging", "core-go"), "PodDisruptionBudget"))
    assert checks.check_high_availability(manifests) == [
        "Deployment/core-go: a single replica must not have a PodDisruptionBudget "
        "(PodDisruptionBudget/core-go would block node drains)"]


# --- labels, Services, Ingress, CORE_GO_BASE_URL ---------------------------------------------------------------

def test_label_check_reports_a_missing_part_of_label(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    del find(manifests, "Service")["metadata"]["labels"]["app.kubernetes.io/part-of"]
    assert checks.check_labels(manifests, "worker-python", "worker-python") == [
        "Service/worker-python: missing labels app.kubernetes.io/part-of"]


def test_label_check_reports_a_selector_with_more_than_name_and_instance(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    find(manifests, "Deployment")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/version"] = "1df3b1f"
    assert checks.check_labels(manifests, "worker-python", "worker-python") == [
        "Deployment/worker-python: selector must be exactly {'app.kubernetes.io/name': 'worker-python', "
        "'app.kubernetes.io/instance': 'worker-python'}, got {'app.kubernetes.io/name': 'worker-python', "
        "'app.kubernetes.io/instance': 'worker-python', 'app.kubernetes.io/version': '1df3b1f'}"]


def test_label_check_reports_an_instance_that_is_not_the_release(chart_manifests):
    manifests = chart_manifests("dev", "worker-python")
    problems = checks.check_labels(manifests, "worker-python", "worker")
    assert problems[0] == ("NetworkPolicy/worker-python-allow-dns: label app.kubernetes.io/instance is "
                           "'worker-python', expected 'worker'")


def test_service_check_reports_a_numeric_target_port(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Service")["spec"]["ports"][1]["targetPort"] = 3000
    assert checks.check_service_wiring(manifests, "api-node") == [
        "Service/api-node: port metrics targetPort 3000 is not a named container port (http, metrics)",
        "Service/api-node: port metrics must target container port 'metrics' (discovery contract), got 3000"]


def test_service_check_reports_a_selector_that_matches_no_pod(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Service")["spec"]["selector"]["app.kubernetes.io/name"] = "api"
    assert checks.check_service_wiring(manifests, "api-node") == [
        "Service/api-node: selector {'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api-node'} "
        "matches no pod template"]


def test_service_check_reports_a_missing_metrics_port(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    find(manifests, "Service")["spec"]["ports"][0]["name"] = "prometheus"
    assert checks.check_service_wiring(manifests, "worker-python") == [
        "Service/worker-python: port metrics must target container port 'metrics' (discovery contract), got None"]


def test_ingress_check_reports_a_backend_service_that_does_not_exist(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "api"
    assert checks.check_ingress(manifests) == ["Ingress/api-node: backend Service api does not exist"]


def test_ingress_check_reports_a_backend_port_the_service_lacks(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "web"}
    assert checks.check_ingress(manifests) == ["Ingress/api-node: backend Service api-node has no port web"]


def _ingress_backend(manifests, find):
    return find(manifests, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]


def test_ingress_check_reports_a_backend_on_the_metrics_service_port_by_name(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    _ingress_backend(manifests, find)["port"] = {"name": "metrics"}
    assert checks.check_ingress(manifests) == [
        "Ingress/api-node: backend Service api-node port metrics reaches /metrics (it is the Service's metrics "
        "port); no Ingress may route a metrics port"]


def test_ingress_check_reports_a_backend_on_the_metrics_service_port_by_number(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    _ingress_backend(manifests, find)["port"] = {"number": 9000}
    assert checks.check_ingress(manifests) == [
        "Ingress/api-node: backend Service api-node port 9000 reaches /metrics (it is the Service's metrics "
        "port); no Ingress may route a metrics port"]


@pytest.mark.parametrize("target", ["metrics", 9000], ids=["named", "numeric"])
def test_ingress_check_reports_a_backend_whose_service_port_targets_the_metrics_container_port(
        chart_manifests, find, target):
    manifests = chart_manifests("dev", "api-node")
    find(manifests, "Service")["spec"]["ports"][0]["targetPort"] = target
    assert checks.check_ingress(manifests) == [
        f"Ingress/api-node: backend Service api-node port http reaches /metrics (its targetPort {target!r} is "
        f"container port metrics (9000) of Deployment/api-node); no Ingress may route a metrics port"]


def test_ingress_check_reports_a_host_without_tls(chart_manifests, find):
    manifests = chart_manifests("dev", "api-node")
    del find(manifests, "Ingress")["spec"]["tls"]
    assert checks.check_ingress(manifests) == ["Ingress/api-node: host api.local.dev has no TLS secret"]


def _set_core_go_url(manifests, find, url):
    for env in container(manifests, find)["env"]:
        if env["name"] == "CORE_GO_BASE_URL":
            env["value"] = url


def test_core_go_url_check_reports_the_container_port_instead_of_the_service_port(chart_manifests, find):
    api = chart_manifests("dev", "api-node")
    _set_core_go_url(api, find, "http://core-go:8080")
    assert checks.check_core_go_url(api, chart_manifests("dev", "core-go"), "default") == [
        "Deployment/api-node: CORE_GO_BASE_URL http://core-go:8080 uses port 8080, but Service/core-go serves "
        "http on 80"]


def test_core_go_url_check_reports_a_name_that_is_not_the_core_go_service(chart_manifests, find):
    api = chart_manifests("dev", "api-node")
    _set_core_go_url(api, find, "http://core-go-core-go:80")
    assert checks.check_core_go_url(api, chart_manifests("dev", "core-go"), "default") == [
        "Deployment/api-node: CORE_GO_BASE_URL http://core-go-core-go:80 does not name the core-go Service in "
        "namespace default (Services: core-go)"]


def test_core_go_url_check_reports_another_namespace(chart_manifests, find):
    api = chart_manifests("dev", "api-node")
    _set_core_go_url(api, find, "http://core-go.staging.svc:80")
    assert checks.check_core_go_url(api, chart_manifests("dev", "core-go"), "default") == [
        "Deployment/api-node: CORE_GO_BASE_URL http://core-go.staging.svc:80 does not name the core-go Service in "
        "namespace default (Services: core-go)"]


def test_core_go_url_check_accepts_the_namespace_qualified_name(chart_manifests, find):
    api = chart_manifests("dev", "api-node")
    _set_core_go_url(api, find, "http://core-go.default.svc.cluster.local:80")
    assert checks.check_core_go_url(api, chart_manifests("dev", "core-go"), "default") == []


# --- NetworkPolicies -------------------------------------------------------------------------------------------

@pytest.fixture
def dev_renders(chart_manifests):
    return {app: chart_manifests("dev", app) for app in application_charts(CHARTS_DIR)}


def test_network_policy_check_reports_a_missing_default_deny(dev_renders):
    dev_renders["worker-python"] = [m for m in dev_renders["worker-python"] if m["kind"] != "NetworkPolicy"]
    assert checks.check_network_policies(dev_renders) == [
        "worker-python: no NetworkPolicy denies ingress to its pods by default",
        "worker-python: no NetworkPolicy admits pods {app.kubernetes.io/name=prometheus} in namespaces "
        "{kubernetes.io/metadata.name=observability} to port metrics",
        "worker-python: no NetworkPolicy denies egress from its pods by default",
        "worker-python: no NetworkPolicy allows egress to pods {k8s-app=kube-dns} in namespaces "
        "{kubernetes.io/metadata.name=kube-system} to port 53/UDP",
        "worker-python: no NetworkPolicy allows egress to pods {k8s-app=kube-dns} in namespaces "
        "{kubernetes.io/metadata.name=kube-system} to port 53"]


def test_network_policy_check_reports_a_rule_without_from(dev_renders, find):
    policy = find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-api-node")
    del policy["spec"]["ingress"][0]["from"]
    assert checks.check_network_policies(dev_renders) == [
        "core-go: NetworkPolicy/core-go-allow-api-node ingress rule 0 has no 'from': it admits every source",
        "core-go: no NetworkPolicy admits pods {app.kubernetes.io/name=api-node} in namespaces (this one) "
        "to port http",
        "flow api-node -> core-go port http: NetworkPolicy/api-node-allow-egress-to-core-go allows the egress "
        "side, but no NetworkPolicy allows ingress to core-go"]


def test_network_policy_check_reports_a_rule_without_ports(dev_renders, find):
    policy = find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-ingress-controller")
    del policy["spec"]["ingress"][0]["ports"]
    assert checks.check_network_policies(dev_renders) == [
        "api-node: NetworkPolicy/api-node-allow-ingress-controller ingress rule 0 has no 'ports': "
        "it admits every port",
        "api-node: no NetworkPolicy admits pods any in namespaces {kubernetes.io/metadata.name=nginx-ingress} "
        "to port http"]


def test_network_policy_check_reports_prometheus_namespace_without_pod_selector(dev_renders, find):
    policy = find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-prometheus")
    del policy["spec"]["ingress"][0]["from"][0]["podSelector"]
    assert checks.check_network_policies(dev_renders) == [
        "api-node: NetworkPolicy/api-node-allow-prometheus admits pods any in namespaces "
        "{kubernetes.io/metadata.name=observability} to port metrics, which is not an allowed flow",
        "api-node: no NetworkPolicy admits pods {app.kubernetes.io/name=prometheus} in namespaces "
        "{kubernetes.io/metadata.name=observability} to port metrics"]


def test_network_policy_check_reports_prometheus_and_namespace_as_two_peers(dev_renders, find):
    # Two list items are OR: any pod in observability, and prometheus pods in this namespace.
    policy = find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-prometheus")
    peer = policy["spec"]["ingress"][0]["from"][0]
    policy["spec"]["ingress"][0]["from"] = [{"namespaceSelector": peer["namespaceSelector"]},
                                            {"podSelector": peer["podSelector"]}]
    assert checks.check_network_policies(dev_renders) == [
        "core-go: NetworkPolicy/core-go-allow-prometheus admits pods any in namespaces "
        "{kubernetes.io/metadata.name=observability} to port metrics, which is not an allowed flow",
        "core-go: NetworkPolicy/core-go-allow-prometheus admits pods {app.kubernetes.io/name=prometheus} "
        "in namespaces (this one) to port metrics, which is not an allowed flow",
        "core-go: no NetworkPolicy admits pods {app.kubernetes.io/name=prometheus} in namespaces "
        "{kubernetes.io/metadata.name=observability} to port metrics"]


def test_network_policy_check_reports_the_worker_reachable_from_api_node(dev_renders, find):
    allow = copy.deepcopy(find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-api-node"))
    allow["spec"]["podSelector"] = find(dev_renders["worker-python"], "NetworkPolicy",
                                        "worker-python-default-deny")["spec"]["podSelector"]
    allow["spec"]["ingress"][0]["ports"][0]["port"] = "metrics"
    dev_renders["worker-python"].append(allow)
    assert checks.check_network_policies(dev_renders) == [
        "worker-python: NetworkPolicy/core-go-allow-api-node admits pods {app.kubernetes.io/name=api-node, "
        "app.kubernetes.io/part-of=platform-ops} in namespaces (this one) to port metrics, which is not an "
        "allowed flow"]


def test_network_policy_check_reports_a_policy_selecting_every_pod(dev_renders, find):
    find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-ingress-controller")["spec"]["podSelector"] = {
        "matchLabels": {"app.kubernetes.io/part-of": "platform-ops"}}
    problems = checks.check_network_policies(dev_renders)
    assert problems[0] == (
        "api-node: NetworkPolicy/api-node-allow-ingress-controller podSelector must be exactly the pods' selector "
        "{'app.kubernetes.io/name': 'api-node', 'app.kubernetes.io/instance': 'api-node'}")


def test_network_policy_check_reports_a_client_selector_the_client_pods_do_not_match(dev_renders, find):
    policy = find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-api-node")
    policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] = "api"
    assert checks.check_network_policies(dev_renders) == [
        "core-go: NetworkPolicy/core-go-allow-api-node admits pods {app.kubernetes.io/instance=api, "
        "app.kubernetes.io/name=api-node, app.kubernetes.io/part-of=platform-ops} in namespaces (this one) "
        "to port http, which is not an allowed flow",
        "core-go: no NetworkPolicy admits pods {app.kubernetes.io/name=api-node} in namespaces (this one) "
        "to port http",
        "flow api-node -> core-go port http: NetworkPolicy/api-node-allow-egress-to-core-go allows the egress "
        "side, but no NetworkPolicy allows ingress to core-go"]


def test_network_policy_check_reports_an_app_without_dns(dev_renders, find):
    dev_renders["worker-python"].remove(find(dev_renders["worker-python"], "NetworkPolicy", "worker-python-allow-dns"))
    assert checks.check_network_policies(dev_renders) == [
        "worker-python: no NetworkPolicy allows egress to pods {k8s-app=kube-dns} in namespaces "
        "{kubernetes.io/metadata.name=kube-system} to port 53/UDP",
        "worker-python: no NetworkPolicy allows egress to pods {k8s-app=kube-dns} in namespaces "
        "{kubernetes.io/metadata.name=kube-system} to port 53"]


def test_network_policy_check_reports_a_default_deny_that_leaves_egress_open(dev_renders, find):
    find(dev_renders["core-go"], "NetworkPolicy", "core-go-default-deny")["spec"]["policyTypes"] = ["Ingress"]
    dev_renders["core-go"].remove(find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-dns"))
    assert checks.check_network_policies(dev_renders)[0] == (
        "core-go: no NetworkPolicy denies egress from its pods by default")


def test_network_policy_check_reports_dns_to_any_destination_on_port_53(dev_renders, find):
    del find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-dns")["spec"]["egress"][0]["to"]
    assert checks.check_network_policies(dev_renders)[0] == (
        "api-node: NetworkPolicy/api-node-allow-dns egress rule 0 has no 'to': it allows every destination")


def test_network_policy_check_reports_dns_to_every_pod_of_kube_system(dev_renders, find):
    policy = find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-dns")
    del policy["spec"]["egress"][0]["to"][0]["podSelector"]
    assert checks.check_network_policies(dev_renders)[:2] == [
        "api-node: NetworkPolicy/api-node-allow-dns allows egress to pods any in namespaces "
        "{kubernetes.io/metadata.name=kube-system} to port 53, which no declared flow explains",
        "api-node: NetworkPolicy/api-node-allow-dns allows egress to pods any in namespaces "
        "{kubernetes.io/metadata.name=kube-system} to port 53/UDP, which no declared flow explains"]


def test_network_policy_check_reports_egress_to_an_ip_block(dev_renders, find):
    policy = find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-egress-to-core-go")
    policy["spec"]["egress"][0]["to"].append({"ipBlock": {"cidr": "0.0.0.0/0"}})
    assert checks.check_network_policies(dev_renders) == [
        "api-node: NetworkPolicy/api-node-allow-egress-to-core-go egress rule 0 allows ipBlock 0.0.0.0/0"]


def test_network_policy_check_reports_an_egress_no_declared_flow_explains(dev_renders, find):
    egress = copy.deepcopy(find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-egress-to-core-go"))
    egress["spec"]["podSelector"] = find(dev_renders["worker-python"], "NetworkPolicy",
                                         "worker-python-default-deny")["spec"]["podSelector"]
    dev_renders["worker-python"].append(egress)
    assert checks.check_network_policies(dev_renders) == [
        "worker-python: NetworkPolicy/api-node-allow-egress-to-core-go allows egress to pods "
        "{app.kubernetes.io/instance=core-go, app.kubernetes.io/name=core-go} in namespaces (this one) to port http, "
        "which no declared flow explains"]


def test_network_policy_check_reports_an_egress_to_the_peers_metrics_port(dev_renders, find):
    policy = find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-egress-to-core-go")
    policy["spec"]["egress"][0]["ports"][0]["port"] = 9000
    assert checks.check_network_policies(dev_renders) == [
        "api-node: NetworkPolicy/api-node-allow-egress-to-core-go allows egress to pods "
        "{app.kubernetes.io/instance=core-go, app.kubernetes.io/name=core-go} in namespaces (this one) "
        "to port metrics, which no declared flow explains",
        "api-node: no NetworkPolicy allows egress to pods {app.kubernetes.io/name=core-go} in namespaces "
        "(this one) to port http",
        "flow api-node -> core-go port http: NetworkPolicy/core-go-allow-api-node allows the ingress side, "
        "but no NetworkPolicy allows egress from api-node"]


def test_network_policy_check_reports_an_egress_that_selects_no_pod_of_the_server(dev_renders, find):
    # api-node would call a core-go release that is not the one whose pods admit it.
    policy = find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-egress-to-core-go")
    policy["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] = "core"
    assert checks.check_network_policies(dev_renders) == [
        "api-node: NetworkPolicy/api-node-allow-egress-to-core-go allows egress to pods "
        "{app.kubernetes.io/instance=core, app.kubernetes.io/name=core-go} in namespaces (this one) "
        "to port http, which no declared flow explains",
        "api-node: no NetworkPolicy allows egress to pods {app.kubernetes.io/name=core-go} in namespaces "
        "(this one) to port http",
        "flow api-node -> core-go port http: NetworkPolicy/core-go-allow-api-node allows the ingress side, "
        "but no NetworkPolicy allows egress from api-node"]


def test_network_policy_check_reports_a_flow_with_an_egress_side_and_no_ingress_side(dev_renders, find):
    dev_renders["core-go"].remove(find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-api-node"))
    assert checks.check_network_policies(dev_renders) == [
        "core-go: no NetworkPolicy admits pods {app.kubernetes.io/name=api-node} in namespaces (this one) "
        "to port http",
        "flow api-node -> core-go port http: NetworkPolicy/api-node-allow-egress-to-core-go allows the egress "
        "side, but no NetworkPolicy allows ingress to core-go"]


def test_network_policy_check_reports_a_flow_with_an_ingress_side_and_no_egress_side(dev_renders, find):
    dev_renders["api-node"].remove(find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-egress-to-core-go"))
    assert checks.check_network_policies(dev_renders) == [
        "api-node: no NetworkPolicy allows egress to pods {app.kubernetes.io/name=core-go} in namespaces "
        "(this one) to port http",
        "flow api-node -> core-go port http: NetworkPolicy/core-go-allow-api-node allows the ingress side, "
        "but no NetworkPolicy allows egress from api-node"]


def test_network_policy_check_resolves_numeric_egress_ports_against_the_destination(dev_renders, find):
    find(dev_renders["api-node"], "NetworkPolicy", "api-node-allow-egress-to-core-go")["spec"]["egress"][0]["ports"][0]["port"] = 8080
    assert checks.check_network_policies(dev_renders) == []


def test_network_policy_check_resolves_numeric_ports_to_their_names(dev_renders, find):
    find(dev_renders["core-go"], "NetworkPolicy", "core-go-allow-api-node")["spec"]["ingress"][0]["ports"][0]["port"] = 8080
    assert checks.check_network_policies(dev_renders) == []


# --- strings, GitOps stability, template sources, Argo CD project ----------------------------------------------

def test_image_tag_check_reports_a_version_label_read_back_as_a_number(chart_text):
    text = chart_text("dev", "core-go").replace('app.kubernetes.io/version: "1df3b1f"', "app.kubernetes.io/version: 6063e25")
    manifests = [m for m in load_manifests(text) if m["kind"] == "Deployment"]
    assert checks.check_image_tag(manifests, "1df3b1f") == [
        "Deployment/core-go: label app.kubernetes.io/version is float 6.063e+28, not a string",
        "Deployment/core-go: pod template: label app.kubernetes.io/version is float 6.063e+28, not a string"]


def test_image_tag_check_reports_an_image_not_at_the_promoted_tag(chart_manifests, find):
    manifests = chart_manifests("dev", "core-go")
    container(manifests, find)["image"] = "ghcr.io/zainasr/core-go:latest"
    assert checks.check_image_tag(manifests, "1df3b1f") == [
        "Deployment/core-go: container core-go image 'ghcr.io/zainasr/core-go:latest' does not end in :1df3b1f"]


def test_image_tag_check_reports_an_image_not_pinned_by_the_promoted_digest(chart_manifests):
    digest = "sha256:" + "cd" * 32
    assert checks.check_image_tag(chart_manifests("dev", "core-go"), "1df3b1f", digest) == [
        "Deployment/core-go: container core-go image 'ghcr.io/zainasr/core-go:1df3b1f' does not end in "
        f":1df3b1f@{digest}"]


def test_gitops_check_reports_an_empty_map(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    pod(manifests, find)["volumes"][0]["emptyDir"] = {}
    assert checks.check_gitops_stable(manifests) == [
        "Deployment/worker-python: spec.template.spec.volumes[0].emptyDir is {}"]


def test_gitops_check_reports_a_null(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    find(manifests, "Service")["metadata"]["annotations"] = None
    assert checks.check_gitops_stable(manifests) == ["Service/worker-python: metadata.annotations is null"]


def test_gitops_check_reports_a_helm_hook(chart_manifests, find):
    manifests = chart_manifests("dev", "worker-python")
    find(manifests, "ServiceAccount")["metadata"]["annotations"] = {"helm.sh/hook": "pre-install"}
    assert checks.check_gitops_stable(manifests) == [
        "ServiceAccount/worker-python: annotation helm.sh/hook makes it a Helm hook"]


def test_template_source_check_reports_a_random_value(tmp_path):
    chart = tmp_path / "demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "templates" / "secret.yaml").write_text(
        'kind: Secret\n# "now" in a comment is fine: {{/* now */}}\nstringData:\n'
        '  token: {{ randAlphaNum 16 | quote }}\n  at: {{ now | date "2006" }}\n  name: {{ "lookup" }}\n')
    assert checks.check_template_sources([chart]) == [
        "demo/templates/secret.yaml:4: uses randAlphaNum",
        "demo/templates/secret.yaml:5: uses now"]


def test_project_check_reports_a_kind_argo_cd_would_refuse(chart_manifests, rendered):
    project = next(m for m in rendered("dev").manifests
                   if m["kind"] == "AppProject" and m["metadata"]["name"] == "platform-ops")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "api-node"}}
    assert checks.check_project_permits(chart_manifests("dev", "api-node") + [role], project) == [
        "Role/api-node: kind Role of group 'rbac.authorization.k8s.io' is not permitted by AppProject platform-ops"]


def test_go_yaml_loader_reads_exponent_scalars_as_numbers():
    assert yaml.load("a: 6063e25\nb: '6063e25'\nc: 1df3b1f\n", Loader=GoYamlLoader) == \
        {"a": 6.063e28, "b": "6063e25", "c": "1df3b1f"}
