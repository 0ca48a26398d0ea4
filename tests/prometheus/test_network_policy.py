"""Prometheus gets the apps' network posture: deny by default, and only the
flows it needs."""
from __future__ import annotations

from components.prometheus import network_policy_spec

ALLOW = network_policy_spec(["default"], ["api-node", "core-go", "worker-python"])


def test_prometheus_denies_every_flow_it_does_not_name():
    assert ALLOW["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert ALLOW["policyTypes"] == ["Ingress", "Egress"]


def test_prometheus_reaches_the_api_server_for_discovery():
    assert ALLOW["egress"][0] == {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}


def test_prometheus_reaches_only_the_apps_metrics_ports_in_the_app_namespaces():
    assert ALLOW["egress"][1] == {
        "to": [{
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["default"]}]},
            "podSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In",
                 "values": ["api-node", "core-go", "worker-python"]}]},
        }],
        "ports": [{"protocol": "TCP", "port": "http"}, {"protocol": "TCP", "port": "metrics"}],
    }


def test_prometheus_ui_is_open_only_within_its_namespace():
    assert ALLOW["ingress"] == [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 9090}]}]


def test_prometheus_ui_command_reaches_the_stacks_cluster(rendered):
    assert rendered("staging").outputs["prometheusUi"] == (
        "kubectl --kubeconfig ~/.kube/config --context platform-staging "
        "port-forward -n observability svc/prometheus 9090:9090")
