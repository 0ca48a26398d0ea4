"""Argo CD: installed from a verified manifest, its admin credential set
declaratively or left to Argo CD, and never a read of what Argo CD creates."""
import base64
import hashlib
from types import SimpleNamespace

import bcrypt
import pulumi
import pytest

from components.argocd import ADMIN_PASSWORD_MANAGER, UNKNOWN_BEFORE_APPLY, admin_password_hash, applied_at
from components.sources import verified_copy_path
from platform_ops.render import program as render_module
from platform_ops.config import stack_file
from platform_ops.render.program import MOCK_APPLIED_AT, REDACTED, is_secret, redact, render_stack
from tests.platform.checks import leaked

PINNED = "09bfbb9041b4a8503c6e4fa22cf41c403fa62be17526de353648a4551f5beb77"
PASSWORD = "correct horse battery staple"


def with_argocd(stack, **settings):
    config = stack_file(stack)
    config["platform-ops:argocd"] = {**config["platform-ops:argocd"], **settings}
    return config


@pytest.fixture
def registrations(monkeypatch):
    """(name, ignoreChanges) of every resource the test's runs register (the stack itself aside)."""
    seen = []
    original = render_module._RecordingMonitor.RegisterResource

    def record(self, request):
        if request.type != "pulumi:pulumi:Stack":
            seen.append((request.name, list(request.ignoreChanges)))
        return original(self, request)

    monkeypatch.setattr(render_module._RecordingMonitor, "RegisterResource", record)
    return seen


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    """A local mirror of the install manifest, and the digest that pins it;
    verified copies go to a temporary folder."""
    monkeypatch.chdir(tmp_path)
    mirror = tmp_path / "mirror" / "install.yaml"
    mirror.parent.mkdir()
    mirror.write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: argocd-server\n")
    return mirror, hashlib.sha256(mirror.read_bytes()).hexdigest()


def test_the_program_never_reads_what_argocd_creates(rendered):
    for stack in ("dev", "staging", "prod"):
        assert [r.name for r in rendered(stack).resources if r.read] == []


def test_argocd_is_installed_from_the_verified_copy_into_its_namespace(rendered):
    render = rendered("dev")
    install = render.named("argocd-install")
    assert install.inputs["file"] == f"build/sources/argocd-install-{PINNED}.yaml"
    assert install.provider.startswith(render.named("argocd-provider").urn)
    assert render.named("argocd-provider").inputs["namespace"] == "argocd"
    assert render.named("argocd-namespace").urn in install.dependencies


def test_a_mirrored_manifest_with_the_pinned_digest_is_copied_and_installed(manifest):
    mirror, digest = manifest
    render = render_stack("dev", config=with_argocd("dev", installManifest=str(mirror),
                                                    installManifestSha256=digest), offline=False)
    assert render.named("argocd-install").inputs["file"] == str(verified_copy_path("argocd-install", digest))
    assert verified_copy_path("argocd-install", digest).read_bytes() == mirror.read_bytes()


def test_a_manifest_with_another_digest_stops_the_run_before_anything_is_registered(manifest, registrations):
    mirror, digest = manifest
    with pytest.raises(Exception) as caught:
        render_stack("dev", config=with_argocd("dev", installManifest=str(mirror)), offline=False)
    assert str(caught.value) == (
        f"Pulumi.dev.yaml: platform-ops:argocd.installManifestSha256: {mirror} has SHA-256 {digest}, "
        f"but {PINNED} is pinned; nothing was applied")
    assert registrations == []
    assert not verified_copy_path("argocd-install", PINNED).exists()


def test_an_unreadable_manifest_source_is_named(manifest, registrations):
    mirror, digest = manifest
    with pytest.raises(Exception) as caught:
        render_stack("dev", config=with_argocd("dev", installManifest=str(mirror) + ".missing",
                                               installManifestSha256=digest), offline=False)
    assert str(caught.value) == (
        f"Pulumi.dev.yaml: platform-ops:argocd.installManifest: cannot read {mirror}.missing: "
        f"[Errno 2] No such file or directory: '{mirror}.missing'")
    assert registrations == []


def test_without_a_password_argocd_keeps_its_initial_secret_and_the_output_says_how_to_read_it(rendered):
    render = rendered("dev")
    assert [r.name for r in render.resources if "admin-password" in r.name] == []
    assert "argocdAdminPassword" not in render.outputs
    assert render.outputs["argocdInitialAdminPasswordCommand"] == (
        "kubectl --kubeconfig .kube/dev.yaml --context kind-platform-dev -n argocd get secret "
        "argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d")


def admin_patches(render):
    return render.named("argocd-admin-password"), render.named("argocd-admin-password-mtime")


def test_a_configured_password_is_set_as_a_bcrypt_hash_in_argocd_secret():
    render = render_stack("dev", secrets={"argocdAdminPassword": PASSWORD})
    patch, _ = admin_patches(render)
    assert patch.type == "kubernetes:core/v1:SecretPatch"
    assert patch.inputs["metadata"]["name"] == "argocd-secret"
    assert is_secret(patch.inputs["data"])
    data = patch.inputs["data"]["value"]
    assert list(data) == ["admin.password"]
    assert bcrypt.checkpw(PASSWORD.encode(), base64.b64decode(data["admin.password"]))
    assert render.named("argocd-install").urn in patch.dependencies


def test_the_password_time_is_the_api_servers_record_of_the_password_patch():
    render = render_stack("dev", secrets={"argocdAdminPassword": PASSWORD})
    patch, mtime = admin_patches(render)
    assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchFieldManager"] == ADMIN_PASSWORD_MANAGER
    assert is_secret(mtime.inputs["data"])
    assert mtime.inputs["data"]["value"] == {
        "admin.passwordMtime": base64.b64encode(MOCK_APPLIED_AT.encode()).decode()}
    assert patch.urn in mtime.dependencies


def test_the_time_is_read_from_the_password_patchs_own_field_manager():
    entries = [SimpleNamespace(manager="argocd-server", time="2026-01-01T00:00:00Z"),
               SimpleNamespace(manager=ADMIN_PASSWORD_MANAGER, time="2026-02-03T04:05:06Z")]
    assert applied_at(entries, ADMIN_PASSWORD_MANAGER) == "2026-02-03T04:05:06Z"


def test_a_preview_of_a_new_password_has_no_time_yet(monkeypatch):
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    assert applied_at([], ADMIN_PASSWORD_MANAGER) == UNKNOWN_BEFORE_APPLY


def test_an_applied_password_patch_without_its_record_is_an_error(monkeypatch):
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: False)
    with pytest.raises(RuntimeError) as error:
        applied_at([SimpleNamespace(manager="argocd-server", time="2026-01-01T00:00:00Z")], ADMIN_PASSWORD_MANAGER)
    assert str(error.value) == ("argocd-secret: the API server recorded no change by field manager "
                                "platform-ops-argocd-admin-password")


def test_the_admin_password_stays_secret_wherever_it_flows():
    render = render_stack("dev", secrets={"argocdAdminPassword": PASSWORD})
    assert render.outputs["argocdAdminPassword"] == REDACTED
    assert leaked(render, [PASSWORD, admin_password_hash(PASSWORD, "dev")]) == []


def plain_view(render):
    """Every name and every value of the render that is not a secret, in the order of the names."""
    return (sorted(repr((r.type, r.name, redact(r.inputs), sorted(r.dependencies))) for r in render.resources),
            redact(render.outputs))


def test_no_name_or_plain_value_depends_on_the_admin_password():
    first = render_stack("dev", secrets={"argocdAdminPassword": PASSWORD})
    second = render_stack("dev", secrets={"argocdAdminPassword": PASSWORD + "!"})
    assert plain_view(first) == plain_view(second)


def test_the_same_password_gives_the_same_patches_so_a_second_up_changes_nothing():
    first = admin_patches(render_stack("dev", secrets={"argocdAdminPassword": PASSWORD}))
    second = admin_patches(render_stack("dev", secrets={"argocdAdminPassword": PASSWORD}))
    assert [patch.inputs for patch in first] == [patch.inputs for patch in second]


def test_the_admin_credential_ignores_no_change(registrations):
    render_stack("dev", secrets={"argocdAdminPassword": PASSWORD})
    assert [ignored for name, ignored in registrations if name.startswith("argocd-admin-password")] == [[], []]


def test_with_the_admin_account_off_argocd_cm_says_so_and_no_password_is_offered():
    render = render_stack("dev", config=with_argocd("dev", adminEnabled=False))
    assert render.named("argocd-admin-account").inputs["data"] == {"admin.enabled": "false"}
    assert [r.name for r in render.resources if r.name.startswith("argocd-admin-password")] == []
    assert "argocdInitialAdminPasswordCommand" not in render.outputs
    assert "argocdAdminPassword" not in render.outputs


def test_a_password_for_an_admin_account_that_is_off_is_refused():
    with pytest.raises(Exception) as error:
        render_stack("dev", config=with_argocd("dev", adminEnabled=False), secrets={"argocdAdminPassword": PASSWORD})
    assert str(error.value) == (
        "Pulumi.dev.yaml: platform-ops:argocd.adminEnabled is false, which turns Argo CD's admin account off: "
        "platform-ops:argocdAdminPassword would never be used; remove it with "
        "pulumi config rm platform-ops:argocdAdminPassword")


def test_argocds_default_project_is_emptied_so_only_the_platforms_project_deploys(rendered):
    project = rendered("dev").named("argocd-default-project")
    assert project.inputs["kind"] == "AppProject"
    assert project.inputs["metadata"]["name"] == "default"
    assert project.inputs["metadata"]["namespace"] == "argocd"
    assert {key: project.inputs["spec"][key] for key in ("sourceRepos", "destinations", "clusterResourceWhitelist")} \
        == {"sourceRepos": [], "destinations": [], "clusterResourceWhitelist": []}
    assert rendered("dev").named("argocd-install").urn in project.dependencies


def test_the_hash_is_stable_and_differs_between_stacks_and_passwords():
    assert admin_password_hash(PASSWORD, "dev") == admin_password_hash(PASSWORD, "dev")
    assert admin_password_hash(PASSWORD, "dev") != admin_password_hash(PASSWORD, "prod")
    assert admin_password_hash(PASSWORD, "dev") != admin_password_hash(PASSWORD + "!", "dev")
    assert admin_password_hash(PASSWORD, "dev").startswith("$2b$10$")


def test_reconciliation_timeout_reaches_argocd_cm_and_restarts_its_readers(rendered):
    render = rendered("dev")
    patch = render.named("argocd-reconciliation").inputs
    assert patch["metadata"] == {"name": "argocd-cm", "namespace": "argocd"}
    assert patch["data"]["timeout.reconciliation"] == "30s"
    for name in ("argocd-argocd-application-controller-reconciliation", "argocd-argocd-repo-server-reconciliation"):
        spec = render.named(name).inputs["spec"]
        assert spec["template"]["metadata"]["annotations"]["platform-ops/reconciliation-timeout"] == "30s"


def test_a_git_webhook_secret_goes_to_argocd_secret_as_a_secret():
    render = render_stack("prod", secrets={"argocdWebhookSecret": "hook-s3cret"})
    patch = render.named("argocd-webhook-secret")
    assert patch.inputs["metadata"] == {"name": "argocd-secret", "namespace": "argocd"}
    assert is_secret(patch.inputs["data"])
    assert base64.b64decode(patch.inputs["data"]["value"]["webhook.github.secret"]) == b"hook-s3cret"
    assert leaked(render, ["hook-s3cret"]) == []
