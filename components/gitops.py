"""The Argo CD project and one Application per chart: Argo CD, not Pulumi, applies the workloads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from platform_ops.config import GitOpsSettings
from platform_ops.contract import APP_PROJECT, APPLICATION_FINALIZER, ENVIRONMENT_LABEL, PART_OF, PART_OF_LABEL

IN_CLUSTER = "https://kubernetes.default.svc"

# What the charts may create in the app namespace; nothing cluster-scoped.
NAMESPACED_KINDS = (
    ("apps", "Deployment"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
)

SYNC_RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


@dataclass
class GitOpsApplicationsArgs:
    """What the Applications deploy, and the Argo CD install they need first."""

    settings: GitOpsSettings
    environment: str
    argocd_namespace: str
    # The Argo CD install: its CRDs must exist before, and outlive, the Applications.
    argocd_install: Sequence[pulumi.Resource]


def project_spec(settings: GitOpsSettings) -> dict:
    return {
        "description": "The platform's application workloads, from this repository only.",
        "sourceRepos": [settings.repo_url],
        "destinations": [{"server": IN_CLUSTER, "namespace": settings.namespace}],
        "namespaceResourceWhitelist": [{"group": group, "kind": kind} for group, kind in NAMESPACED_KINDS],
    }


def application_spec(settings: GitOpsSettings, app) -> dict:
    return {
        "project": APP_PROJECT,
        "source": {
            "repoURL": settings.repo_url,
            "targetRevision": settings.target_revision,
            "path": app.path,
            "helm": {"releaseName": app.service, "valueFiles": list(app.value_files)},
        },
        "destination": {"server": IN_CLUSTER, "namespace": settings.namespace},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "retry": SYNC_RETRY,
        },
    }


class GitOpsApplications(pulumi.ComponentResource):
    """The platform's AppProject and one Argo CD Application per chart in charts/: automated sync
    with prune and self-heal, retry with backoff, and the finalizer that makes Argo CD delete what
    an Application deployed before the Application goes. Argo CD, not Pulumi, applies the workloads.
    """

    def __init__(self, name: str, args: GitOpsApplicationsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:gitops:GitOpsApplications", name, None, opts)
        settings = args.settings
        labels = {PART_OF_LABEL: PART_OF, ENVIRONMENT_LABEL: args.environment}
        after_install = pulumi.ResourceOptions(parent=self, depends_on=list(args.argocd_install))
        self.project = k8s.apiextensions.CustomResource(
            f"{name}-project",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata={"name": APP_PROJECT, "namespace": args.argocd_namespace, "labels": labels},
            spec=project_spec(settings),
            opts=after_install,
        )
        self.applications = {
            app.service: k8s.apiextensions.CustomResource(
                f"{name}-{app.service}",
                api_version="argoproj.io/v1alpha1",
                kind="Application",
                metadata={
                    "name": app.service,
                    "namespace": args.argocd_namespace,
                    "labels": labels,
                    # Deleting the Application makes Argo CD delete what it deployed.
                    "finalizers": [APPLICATION_FINALIZER],
                },
                spec=application_spec(settings, app),
                opts=pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(depends_on=[self.project])),
            )
            for app in settings.apps
        }
        self.summary = [
            {"name": app.service, "path": app.path, "valueFiles": list(app.value_files)} for app in settings.apps
        ]
        self.register_outputs({"applications": self.summary})
