"""A stack that uses the Argo CD and cert-manager already on the cluster registers nothing of them:
only its AppProject, Applications and issuer (the offline render, under Pulumi's mocks)."""
import pytest

from platform_ops.config import stack_file
from platform_ops.render.program import render_stack


@pytest.fixture(scope="module")
def render():
    config = stack_file("staging")
    config["platform-ops:argocd"] = {"install": "cluster"}
    config["platform-ops:certManager"] = {"install": "cluster"}
    # The ingress controller's chart aside, the stack then installs no upstream release at all.
    config["platform-ops:ingress"] = {"controller": "external"}
    return render_stack("staging", config=config)


def test_nothing_of_argocd_or_cert_manager_is_installed_or_patched(render):
    names = [resource.name for resource in render.resources]
    assert [name for name in names if name.startswith(("argocd-", "cert-manager-"))] == [
        "cert-manager-ca-root", "cert-manager-ca", "cert-manager-issuer"]
    types = {resource.type for resource in render.resources}
    assert not types & {"kubernetes:yaml/v2:ConfigFile", "kubernetes:helm.sh/v4:Chart",
                        "kubernetes:core/v1:ConfigMapPatch", "kubernetes:core/v1:SecretPatch"}


def test_the_project_and_applications_go_into_argocds_namespace(render):
    gitops = [r for r in render.resources if r.name.startswith("gitops-")]
    assert sorted((r.inputs["kind"], r.inputs["metadata"]["name"], r.inputs["metadata"]["namespace"])
                  for r in gitops if r.custom) == [
        ("AppProject", "platform-ops", "argocd"), ("Application", "api-node", "argocd"),
        ("Application", "core-go", "argocd"), ("Application", "worker-python", "argocd")]


def test_the_outputs_offer_no_admin_password_of_an_argocd_the_stack_did_not_install(render):
    assert "argocdInitialAdminPasswordCommand" not in render.outputs
    assert render.outputs["argocdUi"].endswith("-n argocd port-forward svc/argocd-server 8080:443")
