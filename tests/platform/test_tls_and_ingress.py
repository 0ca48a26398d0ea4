"""TLS from cert-manager (keys never in Pulumi state) and the ingress
controller, installed here or brought by the cluster."""
import pytest

from platform_ops.config import stack_file
from platform_ops.render.program import render_stack

CLUSTER_ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"


def with_section(stack, section, **settings):
    config = stack_file(stack)
    config[f"platform-ops:{section}"] = {**config.get(f"platform-ops:{section}", {}), **settings}
    return config


def test_no_tls_key_is_made_by_pulumi(rendered):
    for stack in ("dev", "staging", "prod"):
        render = rendered(stack)
        assert [r.type for r in render.resources if r.type.startswith("tls:")] == []
        assert [m for m in render.manifests if m.get("type") == "kubernetes.io/tls"] == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_cert_manager_is_installed_from_a_pinned_chart_with_its_crds(rendered, stack):
    chart = rendered(stack).named("cert-manager-install").inputs
    assert chart["name"] == "cert-manager"
    assert chart["chart"] == "oci://quay.io/jetstack/charts/cert-manager"
    assert chart["version"] == "v1.21.2"
    assert chart["namespace"] == "cert-manager"
    assert chart["values"] == {
        "crds": {"enabled": True, "keep": False},
        "startupapicheck": {"enabled": False},
        "global": {"leaderElection": {"namespace": "cert-manager"}},
    }


def test_cert_manager_runs_under_pod_security_restricted(rendered):
    namespace = rendered("dev").named("cert-manager-namespace").inputs
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_self_signed_issuer_is_a_ca_made_in_the_cluster(rendered):
    render = rendered("dev")
    root, issuer = (render.named("cert-manager-ca-root").inputs, render.named("cert-manager-issuer").inputs)
    ca = render.named("cert-manager-ca").inputs
    assert root["spec"] == {"selfSigned": {}}
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platform-ca-root"}
    assert issuer["metadata"] == {"name": "platform-ca"}
    assert issuer["spec"] == {"ca": {"secretName": ca["spec"]["secretName"]}}
    assert ca["metadata"]["namespace"] == "cert-manager"


def test_issuers_are_created_after_cert_manager(rendered):
    render = rendered("staging")
    install = render.named("cert-manager-install").urn
    for issuer in render.of_type(CLUSTER_ISSUER):
        assert install in issuer.dependencies


def test_acme_issuer_solves_http01_through_the_platforms_ingress_class():
    config = with_section("prod", "certManager", issuer={"type": "acme", "name": "platform-ca",
                                                          "email": "ops@example.com"})
    render = render_stack("prod", config=config)
    assert [r.name for r in render.of_type(CLUSTER_ISSUER)] == ["cert-manager-issuer"]
    assert render.named("cert-manager-issuer").inputs["spec"] == {"acme": {
        "email": "ops@example.com",
        "server": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "privateKeySecretRef": {"name": "platform-ca-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
    }}


def test_applications_wait_for_the_ingress_and_the_issuer(rendered):
    render = rendered("prod")
    # A dependency on a component is one on each of its children.
    dependencies = render.named("gitops").dependencies
    assert render.named("ingress-controller").urn in dependencies
    assert render.named("cert-manager-issuer").urn in dependencies


def test_ingress_controller_is_f5_nginx_from_a_pinned_chart(rendered):
    chart = rendered("dev").named("ingress-controller").inputs
    assert chart["name"] == "nginx-ingress"
    assert chart["chart"] == "oci://ghcr.io/nginx/charts/nginx-ingress"
    assert chart["version"] == "2.4.4"
    assert chart["namespace"] == "nginx-ingress"
    controller = chart["values"]["controller"]
    assert controller["ingressClass"] == {"name": "nginx", "create": True, "setAsDefaultIngress": True}
    assert controller["service"] == {"type": "NodePort", "httpPort": {"nodePort": 30080},
                                     "httpsPort": {"nodePort": 30443}}


def test_on_kind_the_controller_publishes_the_address_users_reach_it_at(rendered):
    controller = rendered("dev").named("ingress-controller").inputs["values"]["controller"]
    assert controller["reportIngressStatus"] == {"enable": True}
    assert controller["config"] == {"entries": {"external-status-address": "127.0.0.1"}}


def test_on_an_existing_cluster_the_controller_publishes_its_load_balancer(rendered):
    controller = rendered("prod").named("ingress-controller").inputs["values"]["controller"]
    assert controller["service"] == {"type": "LoadBalancer"}
    assert controller["reportIngressStatus"] == {"enable": True}
    assert controller["config"] == {"entries": {}}


def test_an_external_ingress_controller_installs_nothing():
    render = render_stack("staging", config=with_section("staging", "ingress", controller="external"))
    assert [r.name for r in render.resources if r.name.startswith("ingress-")] == []
    assert render.named("ingress").outputs == {"controller": "external", "className": "nginx"}


def test_ingress_chart_can_come_from_a_mirror():
    config = with_section("dev", "ingress", chart="oci://registry.internal/charts/nginx-ingress")
    chart = render_stack("dev", config=config).named("ingress-controller").inputs
    assert chart["chart"] == "oci://registry.internal/charts/nginx-ingress"


def test_cert_manager_chart_can_come_from_a_local_path():
    config = with_section("prod", "certManager", chart="vendor/cert-manager")
    assert render_stack("prod", config=config).named("cert-manager-install").inputs["chart"] == "vendor/cert-manager"
