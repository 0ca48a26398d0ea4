"""cert-manager and the stack's certificate issuer: TLS keys are made, kept and
renewed in the cluster, never in Pulumi state."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from platform_ops.config import CertManagerSettings, IssuerSettings
from platform_ops.contract import POD_SECURITY_RESTRICTED_LABELS

CERT_MANAGER_API = "cert-manager.io/v1"
# The self-signed issuer only signs the CA; the CA signs the hosts' certificates.
CA_SECRET = "platform-ca"


def chart_values(namespace: str) -> dict:
    return {
        "crds": {"enabled": True, "keep": False},
        # Pulumi waits for the Deployments itself; the check Job adds nothing.
        "startupapicheck": {"enabled": False},
        # Leader election in cert-manager's own namespace: no Role in kube-system.
        "global": {"leaderElection": {"namespace": namespace}},
    }


def acme_issuer_spec(issuer: IssuerSettings, ingress_class: str) -> dict:
    return {"acme": {
        "email": issuer.email,
        "server": issuer.server,
        "privateKeySecretRef": {"name": f"{issuer.name}-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": ingress_class}}}],
    }}


@dataclass
class CertManagerArgs:
    """cert-manager's settings, the ingress class ACME solvers use, and the stack (names the CA)."""

    settings: CertManagerSettings
    ingress_class: str
    stack: str


class CertManager(pulumi.ComponentResource):
    """cert-manager from its pinned chart, in a Pod Security restricted namespace, and the stack's
    ClusterIssuer: a self-signed root that signs a CA made in the cluster, or ACME HTTP-01.

    With `certManager.install: cluster` the cert-manager already on the cluster is used as it is:
    only the stack's issuer is created, or, with issuer type `existing`, nothing at all."""

    def __init__(self, name: str, args: CertManagerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:tls:CertManager", name, None, opts)
        settings = args.settings
        self.install: list[pulumi.Resource] = []
        if settings.installed:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace", metadata={"name": settings.namespace, "labels": POD_SECURITY_RESTRICTED_LABELS},
                opts=pulumi.ResourceOptions(parent=self))
            self.install = [k8s.helm.v4.Chart(
                f"{name}-install",
                name="cert-manager",
                chart=settings.chart,
                version=settings.version,
                namespace=settings.namespace,
                values=chart_values(settings.namespace),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )]
        after_install = pulumi.ResourceOptions(parent=self, depends_on=self.install)
        issuer = settings.issuer
        if issuer.type == "acme":
            self._cluster_issuer(f"{name}-issuer", issuer.name, acme_issuer_spec(issuer, args.ingress_class),
                                 after_install)
        elif issuer.type == "selfSigned":
            root = self._cluster_issuer(f"{name}-ca-root", f"{issuer.name}-root", {"selfSigned": {}}, after_install)
            ca = k8s.apiextensions.CustomResource(
                f"{name}-ca",
                api_version=CERT_MANAGER_API,
                kind="Certificate",
                metadata={"name": CA_SECRET, "namespace": settings.namespace},
                spec={
                    "isCA": True,
                    "commonName": f"platform-ops {args.stack} CA",
                    "secretName": CA_SECRET,
                    "privateKey": {"algorithm": "ECDSA", "size": 256},
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": f"{issuer.name}-root"},
                },
                opts=pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(depends_on=[root])),
            )
            self._cluster_issuer(f"{name}-issuer", issuer.name, {"ca": {"secretName": CA_SECRET}},
                                 pulumi.ResourceOptions.merge(after_install, pulumi.ResourceOptions(depends_on=[ca])))
        self.issuer_name = issuer.name
        self.register_outputs({"install": settings.install, "version": settings.version, "issuer": issuer.name,
                               "issuerType": issuer.type})

    def _cluster_issuer(self, resource_name: str, issuer_name: str, spec: dict,
                        opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=CERT_MANAGER_API,
            kind="ClusterIssuer",
            metadata={"name": issuer_name},
            spec=spec,
            opts=opts,
        )
