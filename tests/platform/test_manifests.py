"""Every object the program registers is valid for the pinned Kubernetes version and meets Pod Security restricted."""
import pytest

from platform_ops.chart_checks import check_kubernetes_schema, check_pod_security_restricted
from platform_ops.contract import STACKS

# Argo CD's and cert-manager's types: the program tests check their specs field
# by field, and the real-cluster tier against their CRDs' schemas.
CUSTOM_KINDS = {"Application", "AppProject", "ClusterIssuer", "Certificate"}


def built_in(manifests):
    return [m for m in manifests if m["kind"] not in CUSTOM_KINDS]


@pytest.mark.parametrize("stack", STACKS)
def test_every_registered_object_passes_the_strict_kubernetes_schema(rendered, stack):
    manifests = rendered(stack).manifests
    assert {m["kind"] for m in manifests} - CUSTOM_KINDS
    assert check_kubernetes_schema(built_in(manifests)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_registered_workload_meets_pod_security_restricted(rendered, stack):
    manifests = rendered(stack).manifests
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment"] == ["prometheus"]
    assert check_pod_security_restricted(manifests) == []


def test_the_schema_check_catches_an_unknown_field(rendered):
    namespace = next(m for m in rendered("dev").manifests
                     if m["kind"] == "Namespace" and m["metadata"]["name"] == "argocd")
    broken = {**namespace, "spek": {}}
    assert check_kubernetes_schema([broken]) == [
        "Namespace/argocd: <root>: Additional properties are not allowed ('spek' was unexpected)"]
