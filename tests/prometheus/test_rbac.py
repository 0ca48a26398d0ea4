"""Least privilege: Prometheus may read exactly what endpointslice discovery watches, only in the
app namespaces, and nothing else."""
from __future__ import annotations

import pytest

from components import prometheus as prom
from platform_ops.render.program import normalized
from tests.prometheus.harness import program_args, run_program

ENDPOINTSLICE_NEEDS = {
    ("discovery.k8s.io", "endpointslices"),
    ("", "services"),
    ("", "pods"),
}
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
         "impersonate", "bind", "escalate")
NEVER = [
    ("", "secrets"), ("", "configmaps"), ("", "nodes"), ("", "namespaces"), ("", "endpoints"),
    ("", "pods/exec"), ("", "pods/log"), ("", "serviceaccounts/token"), ("", "services/proxy"),
    ("discovery.k8s.io", "*"), ("apps", "deployments"), ("rbac.authorization.k8s.io", "roles"),
]


def allows(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    """Whether RBAC `rules` permit `verb` on `resource` of API `group` (wildcards as Kubernetes
    evaluates them; resourceNames would narrow a rule, so a rule with them never counts)."""
    def matches(values, value):
        return "*" in values or value in values

    return any(matches(rule.get("verbs", []), verb) and matches(rule.get("apiGroups", []), group)
               and matches(rule.get("resources", []), resource) and not rule.get("resourceNames")
               for rule in rules)


def grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    """Every (verb, group, resource) of interest the rules permit."""
    candidates = ENDPOINTSLICE_NEEDS | set(NEVER)
    return {(verb, group, resource) for verb in VERBS for group, resource in candidates
            if allows(rules, verb, group, resource)}


def test_endpointslice_rules_are_exactly_read_access_to_slices_services_and_pods():
    assert prom.discovery_rbac_rules("endpointslice") == [
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]},
    ]


def test_endpointslice_rules_grant_what_discovery_needs_and_nothing_more():
    rules = prom.discovery_rbac_rules("endpointslice")
    assert grants(rules) == {(verb, group, resource) for verb in ("get", "list", "watch")
                             for group, resource in ENDPOINTSLICE_NEEDS}


@pytest.mark.parametrize("extra, leaked", [
    ({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, ("get", "", "secrets")),
    ({"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["list"]}, ("list", "", "secrets")),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, ("delete", "", "pods")),
    ({"apiGroups": [""], "resources": ["endpoints"], "verbs": ["watch"]}, ("watch", "", "endpoints")),
])
def test_the_grant_check_catches_a_broader_rule(extra, leaked):
    rules = prom.discovery_rbac_rules("endpointslice") + [extra]
    assert leaked in grants(rules) - grants(prom.discovery_rbac_rules("endpointslice"))


def test_the_grant_check_catches_a_missing_permission():
    rules = [r for r in prom.discovery_rbac_rules("endpointslice") if r["apiGroups"] != ["discovery.k8s.io"]]
    missing = {(verb, "discovery.k8s.io", "endpointslices") for verb in ("get", "list", "watch")}
    assert missing & grants(rules) == set()


def test_a_discovery_role_without_reviewed_rules_gets_nothing():
    with pytest.raises(ValueError) as error:
        prom.discovery_rbac_rules("node")
    assert str(error.value) == "no RBAC rules for Kubernetes discovery role 'node' (known: endpointslice)"


def test_the_render_binds_a_discovery_role_in_the_app_namespace_only(prometheus_render):
    render = prometheus_render("dev")
    assert render.all("ClusterRole") == [] and render.all("ClusterRoleBinding") == []
    role = render.one("Role")
    binding = render.one("RoleBinding")
    app_namespaces = sorted({s.namespace for s in render.chart_sources})
    assert app_namespaces == ["apps"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "apps"
    assert role["rules"] == prom.discovery_rbac_rules("endpointslice")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "observability"}]
    account = render.one("ServiceAccount")
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == ("prometheus", "observability")
    assert render.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "prometheus"


def test_every_app_namespace_gets_its_own_role_and_binding():
    args = program_args("dev")
    registered = run_program(lambda: prom.Prometheus(
        "prometheus", prom.PrometheusArgs(args.settings, ["default", "team-a"], args.apps)))
    objects = [normalized(r.inputs) for r in registered if r.custom]
    roles = sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects if o["kind"] == "Role")
    bindings = sorted((o["metadata"]["namespace"], o["roleRef"]["name"]) for o in objects if o["kind"] == "RoleBinding")
    assert roles == bindings == [("default", "prometheus-discovery"), ("team-a", "prometheus-discovery")]
    assert not any(o["kind"].startswith("Cluster") for o in objects)
