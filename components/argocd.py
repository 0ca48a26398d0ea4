"""Argo CD, installed from the verified manifest of a pinned release."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import bcrypt
import pulumi
import pulumi_kubernetes as k8s

from components.cluster import ClusterAccess, kubectl_command
from components.kubernetes_provider import kubernetes_provider
from platform_ops.config import ArgoCDSettings
from platform_ops.contract import PART_OF, PART_OF_LABEL

INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"
DEFAULT_PROJECT = "default"
SETTINGS_SECRET = "argocd-secret"
SETTINGS_CONFIGMAP = "argocd-cm"
TIMEOUT_KEY = "timeout.reconciliation"
JITTER_KEY = "timeout.reconciliation.jitter"
# The workloads that read the reconciliation keys of argocd-cm, once, at start: install.yaml
# passes them in as environment variables from the ConfigMap. The application controller reads
# both (ARGOCD_RECONCILIATION_TIMEOUT, ARGOCD_RECONCILIATION_JITTER); the repo server only the
# timeout, the lifetime of its cache of which commit a branch points at.
RECONCILING_WORKLOADS = (
    ("StatefulSet", "argocd-application-controller", (TIMEOUT_KEY, JITTER_KEY)),
    ("Deployment", "argocd-repo-server", (TIMEOUT_KEY,)),
)
# The pod-template annotation that carries each key's value: a new value restarts its readers.
RESTART_ANNOTATIONS = {
    TIMEOUT_KEY: "platform-ops/reconciliation-timeout",
    JITTER_KEY: "platform-ops/reconciliation-jitter",
}

# The field managers of the admin credential's two patches: fixed, so the time the API server
# records for the password patch can be found again.
ADMIN_PASSWORD_MANAGER = "platform-ops-argocd-admin-password"
ADMIN_PASSWORD_MTIME_MANAGER = "platform-ops-argocd-admin-password-mtime"
UNKNOWN_BEFORE_APPLY = "known after the password is applied"

# Argo CD's own hashes use cost 10 (util/password).
BCRYPT_COST = 10
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def admin_password_hash(password: str, stack: str) -> str:
    """bcrypt hash of the admin password with a salt derived from the password
    and the stack: the same password always gives the same hash, so a second
    `pulumi up` changes nothing, while equal passwords on two stacks still
    hash differently."""
    digest = hmac.new(f"platform-ops/{stack}/argocd-admin".encode(), password.encode(), hashlib.sha256).digest()
    # 22 characters of bcrypt's base64 carry the 128-bit salt; the last one
    # holds 2 bits, so it takes one of the four characters whose low bits are zero.
    salt = "".join(_BCRYPT_ALPHABET[byte % 64] for byte in digest[:21]) + "Oeu."[digest[21] % 4]
    return bcrypt.hashpw(password.encode(), f"$2b${BCRYPT_COST}${salt}".encode()).decode()


def initial_admin_password_command(cluster: ClusterAccess, namespace: str) -> str:
    return (kubectl_command(cluster) + f" -n {namespace} get secret {INITIAL_ADMIN_SECRET}"
            " -o jsonpath='{.data.password}' | base64 -d")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class ArgoCDArgs:
    """A pinned Argo CD release for one stack on one cluster."""

    settings: ArgoCDSettings
    cluster: ClusterAccess
    stack: str
    # The verified install manifest, relative to the project folder; None when Argo CD is already
    # on the cluster.
    install_manifest: Optional[Path]


class ArgoCD(pulumi.ComponentResource):
    """Argo CD from the verified install.yaml of a pinned release, applied server-side into its
    namespace through a provider whose default namespace is Argo CD's (the manifest names none).

    After the install: the reconciliation timeout and jitter in argocd-cm (restarting the
    workloads that read them at start); the admin account off, or its password when the stack
    sets one (otherwise the command that reads Argo CD's own); Argo CD's `default` AppProject
    emptied; and the Git webhook secret. It never reads an object Argo CD creates.

    With `argocd.install: cluster` the Argo CD already on the cluster is used as it is: nothing of
    it is installed, patched or deleted here (its `default` project and admin account included).
    """

    def __init__(self, name: str, args: ArgoCDArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:argocd:ArgoCD", name, None, opts)
        settings = args.settings
        namespace = settings.namespace
        # What the Applications wait for: the install, whose CRDs must exist before them and outlive them.
        self.install: list[pulumi.Resource] = []
        self.admin_password: Optional[pulumi.Output[str]] = None
        self.initial_admin_password_command: Optional[str] = None
        if settings.installed:
            self._install(name, args)
        self.ui_command = kubectl_command(args.cluster) + f" -n {namespace} port-forward svc/argocd-server 8080:443"
        self.register_outputs({
            "install": settings.install,
            "namespace": namespace,
            "version": settings.version,
            "ui": self.ui_command,
            "adminPassword": self.admin_password,
            "initialAdminPasswordCommand": self.initial_admin_password_command,
        })

    def _install(self, name: str, args: ArgoCDArgs) -> None:
        settings = args.settings
        namespace = settings.namespace
        # The label gives the stack a field of the namespace to own: the API server keeps no
        # managedFields entry for an apply that sets only the name, and that entry is how the next
        # `pulumi up` knows the namespace as this stack's own (platform_ops/cluster_check.py).
        namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": namespace, "labels": {PART_OF_LABEL: PART_OF}},
            opts=pulumi.ResourceOptions(parent=self))
        # install.yaml names no namespace: a provider whose default namespace is
        # Argo CD's puts every namespaced object there.
        provider = kubernetes_provider(
            f"{name}-provider", args.cluster, namespace=namespace, opts=pulumi.ResourceOptions(parent=self))
        install = k8s.yaml.v2.ConfigFile(
            f"{name}-install",
            file=str(args.install_manifest),
            opts=pulumi.ResourceOptions(
                parent=self, providers={"kubernetes": provider}, depends_on=[namespace_resource]),
        )
        self.install = [install]
        after_install = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[install])
        self._reconciliation(name, settings, namespace, after_install)

        # Never read what Argo CD creates (its initial admin secret exists only
        # once the server has run, and users delete it): the credential is
        # either set here or left to Argo CD.
        if not settings.admin_enabled:
            k8s.core.v1.ConfigMapPatch(
                f"{name}-admin-account",
                metadata={"name": SETTINGS_CONFIGMAP, "namespace": namespace},
                data={"admin.enabled": "false"},
                opts=after_install,
            )
        elif settings.admin_password is not None:
            self._admin_password(name, settings.admin_password, args.stack, namespace, after_install)
        else:
            self.initial_admin_password_command = initial_admin_password_command(args.cluster, namespace)
        self._restrict_default_project(name, namespace, after_install)
        if settings.webhook_secret is not None:
            k8s.core.v1.SecretPatch(
                f"{name}-webhook-secret",
                metadata={"name": SETTINGS_SECRET, "namespace": namespace},
                data=pulumi.Output.secret(settings.webhook_secret).apply(
                    lambda secret: {"webhook.github.secret": _b64(secret)}),
                opts=after_install,
            )

    def _reconciliation(self, name: str, settings: ArgoCDSettings, namespace: str,
                        opts: pulumi.ResourceOptions) -> None:
        # The jitter is always written: left out, Argo CD would add up to its own default
        # (60s in 3.x) to every wait, unseen.
        data = {TIMEOUT_KEY: settings.reconciliation_timeout, JITTER_KEY: settings.reconciliation_jitter}
        k8s.core.v1.ConfigMapPatch(
            f"{name}-reconciliation",
            metadata={"name": SETTINGS_CONFIGMAP, "namespace": namespace},
            data=data,
            opts=opts,
        )
        # The settings reach these workloads as environment variables, read at start: a change
        # of one restarts the workloads that read it, and only those.
        for kind, workload, keys in RECONCILING_WORKLOADS:
            restart = {"template": {"metadata": {"annotations": {
                RESTART_ANNOTATIONS[key]: data[key] for key in keys}}}}
            patch = k8s.apps.v1.StatefulSetPatch if kind == "StatefulSet" else k8s.apps.v1.DeploymentPatch
            patch(f"{name}-{workload}-reconciliation",
                  metadata={"name": workload, "namespace": namespace}, spec=restart, opts=opts)

    def _restrict_default_project(self, name: str, namespace: str, opts: pulumi.ResourceOptions) -> None:
        # Argo CD creates its `default` AppProject open to every repository, cluster and
        # namespace, and any Application may name it. Emptied, it allows nothing, so only the
        # platform's own project deploys. Created here when Argo CD has not made it yet (Argo CD
        # then leaves it as it is), taken over when it has.
        k8s.apiextensions.CustomResource(
            f"{name}-default-project",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata={"name": DEFAULT_PROJECT, "namespace": namespace,
                      "annotations": {"pulumi.com/patchForce": "true"}},
            spec={"description": "Argo CD's default project, emptied: nothing may deploy through it",
                  "sourceRepos": [], "destinations": [], "clusterResourceWhitelist": []},
            opts=opts,
        )

    def _admin_password(self, name: str, password: str, stack: str, namespace: str,
                        opts: pulumi.ResourceOptions) -> None:
        # Both patches have fixed names: a name, like any plain value, must tell nothing of the
        # password (a name derived from the hash would let anyone test guesses offline).
        password_patch = k8s.core.v1.SecretPatch(
            f"{name}-admin-password",
            metadata=_settings_secret_metadata(namespace, ADMIN_PASSWORD_MANAGER),
            data=pulumi.Output.secret({"admin.password": _b64(admin_password_hash(password, stack))}),
            opts=opts,
        )
        # admin.passwordMtime tells Argo CD which sessions predate the password. It is the time
        # the API server records for the password patch's last change of admin.password, so it
        # moves exactly when the password does and a second `pulumi up` changes nothing.
        changed_at = password_patch.metadata.apply(
            lambda metadata: applied_at(metadata.managed_fields, ADMIN_PASSWORD_MANAGER))
        k8s.core.v1.SecretPatch(
            f"{name}-admin-password-mtime",
            metadata=_settings_secret_metadata(namespace, ADMIN_PASSWORD_MTIME_MANAGER),
            data=pulumi.Output.secret(changed_at.apply(lambda time: {"admin.passwordMtime": _b64(time)})),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[password_patch])),
        )
        self.admin_password = pulumi.Output.secret(password)


def _settings_secret_metadata(namespace: str, field_manager: str) -> dict:
    # patchForce takes the fields over from an earlier patch, as `kubectl apply --force-conflicts`.
    return {"name": SETTINGS_SECRET, "namespace": namespace,
            "annotations": {"pulumi.com/patchForce": "true", "pulumi.com/patchFieldManager": field_manager}}


def applied_at(managed_fields, manager: str) -> str:
    """When the API server last recorded a change by this field manager."""
    times = [entry.time for entry in managed_fields or [] if entry.manager == manager]
    if times:
        return times[0]
    if pulumi.runtime.is_dry_run():
        # A preview of a new or changed password: the provider shows a patch's inputs, not the
        # API server's record, which exists only once it is applied. The mtime patch changes
        # with the password either way; its value is a secret, so the preview shows no time.
        return UNKNOWN_BEFORE_APPLY
    raise RuntimeError(f"argocd-secret: the API server recorded no change by field manager {manager}")
