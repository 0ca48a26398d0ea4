"""NGINX ingress: F5's NGINX Ingress Controller and self-signed TLS for the app hosts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.cluster import KIND_NODE_PORTS
from config import IngressSettings, TlsHost

CHART = "oci://ghcr.io/nginx/charts/nginx-ingress"

CERT_VALIDITY_HOURS = 24 * 365
CERT_EARLY_RENEWAL_HOURS = 24 * 30


@dataclass
class IngressArgs:
    settings: IngressSettings
    tls_namespace: str
    tls_hosts: Sequence[TlsHost] = field(default_factory=tuple)
    # True on Kind: NodePort service on KIND_NODE_PORTS; else a LoadBalancer.
    node_ports: bool = False


def controller_values(settings: IngressSettings, node_ports: bool) -> dict:
    service: dict = {"type": "NodePort" if node_ports else "LoadBalancer"}
    if node_ports:
        service["httpPort"] = {"nodePort": KIND_NODE_PORTS["http"]}
        service["httpsPort"] = {"nodePort": KIND_NODE_PORTS["https"]}
    return {
        "controller": {
            "ingressClass": {"name": settings.class_name, "create": True, "setAsDefaultIngress": True},
            "service": service,
            # Only Ingress objects are used; F5's CRDs (VirtualServer, ...) stay off.
            "enableCustomResources": False,
        },
    }


class Ingress(pulumi.ComponentResource):
    def __init__(self, name: str, args: IngressArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:ingress:Ingress", name, None, opts)
        settings = args.settings
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": settings.namespace, "labels": {
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
            }},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.controller = k8s.helm.v4.Chart(
            f"{name}-controller",
            chart=CHART,
            version=settings.chart_version,
            namespace=settings.namespace,
            values=controller_values(settings, args.node_ports),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]),
        )
        self.tls_secrets = [self._self_signed_tls(name, host, args.tls_namespace) for host in args.tls_hosts]
        self.register_outputs({
            "namespace": settings.namespace,
            "className": settings.class_name,
            "tlsSecrets": [host.secret_name for host in args.tls_hosts],
        })

    def _self_signed_tls(self, name: str, host: TlsHost, namespace: str) -> k8s.core.v1.Secret:
        # Generated at `pulumi up`: the key lives only in (encrypted) state and the cluster.
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-{host.secret_name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-{host.secret_name}-cert",
            private_key_pem=key.private_key_pem,
            subject={"common_name": host.host, "organization": "platform-ops"},
            dns_names=[host.host],
            validity_period_hours=CERT_VALIDITY_HOURS,
            early_renewal_hours=CERT_EARLY_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=child,
        )
        return k8s.core.v1.Secret(
            f"{name}-{host.secret_name}",
            metadata={"name": host.secret_name, "namespace": namespace},
            type="kubernetes.io/tls",
            string_data={"tls.crt": cert.cert_pem, "tls.key": pulumi.Output.secret(key.private_key_pem)},
            opts=child,
        )
