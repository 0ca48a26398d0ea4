"""Prometheus gets the apps' network posture: deny by default, and only the
flows it needs."""
from __future__ import annotations

import pytest

from components.prometheus import network_policy_spec

ALLOW = network_policy_spec(["default"], ["api-node", "core-go", "worker-python"], ["172.18.0.0/16", "fd00:10::/64"])


def test_prometheus_denies_every_flow_it_does_not_name():
    assert ALLOW["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert ALLOW["policyTypes"] == ["Ingress", "Egress"]


def test_prometheus_reaches_the_api_server_for_discovery_only_at_its_addresses():
    assert ALLOW["egress"][0] == {
        "to": [{"ipBlock": {"cidr": "172.18.0.0/16"}}, {"ipBlock": {"cidr": "fd00:10::/64"}}],
        "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}


def test_prometheus_may_open_no_connection_outside_its_named_destinations():
    # A rule without "to" would reach every address; there is no DNS rule either: Prometheus
    # resolves no name.
    assert [bool(rule.get("to")) for rule in ALLOW["egress"]] == [True, True]


def test_prometheus_policy_without_api_server_addresses_is_refused():
    with pytest.raises(ValueError, match="^API server CIDRs: at least one is required$"):
        network_policy_spec(["default"], ["api-node"], [])


@pytest.mark.parametrize("stack,cidrs", [("dev", ["172.18.0.0/16"]), ("prod", ["10.0.0.0/24"])])
def test_each_stack_lets_prometheus_reach_the_api_server_addresses_of_its_stack_file(rendered, stack, cidrs):
    [policy] = [m for m in rendered(stack).manifests
                if m["kind"] == "NetworkPolicy" and m["metadata"]["namespace"] == "observability"]
    assert [peer["ipBlock"]["cidr"] for peer in policy["spec"]["egress"][0]["to"]] == cidrs


def test_prometheus_reaches_only_the_apps_metrics_ports_in_the_app_namespaces():
    assert ALLOW["egress"][1] == {
        "to": [{
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["default"]}]},
            "podSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In",
                 "values": ["api-node", "core-go", "worker-python"]}]},
        }],
        "ports": [{"protocol": "TCP", "port": "metrics"}],
    }


def test_prometheus_ui_is_open_only_within_its_namespace():
    assert ALLOW["ingress"] == [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 9090}]}]


def test_prometheus_ui_command_reaches_the_stacks_cluster(rendered):
    assert rendered("staging").outputs["prometheusUi"] == (
        "kubectl --kubeconfig ~/.kube/config --context platform-staging "
        "port-forward -n observability svc/prometheus 9090:9090")
