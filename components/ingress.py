"""NGINX ingress: F5's NGINX Ingress Controller, or the cluster's own controller."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import KIND_NODE_PORTS
from platform_ops.config import IngressSettings

# Where users reach the controller on Kind: kind maps the host's ports to the NodePorts.
KIND_PUBLIC_ADDRESS = "127.0.0.1"


@dataclass
class IngressArgs:
    """The ingress settings of a stack, and how the controller is exposed."""

    settings: IngressSettings
    # True on Kind: NodePort service on KIND_NODE_PORTS; else a LoadBalancer.
    node_ports: bool = False


def controller_values(settings: IngressSettings, node_ports: bool) -> dict:
    service: dict = {"type": "NodePort" if node_ports else "LoadBalancer"}
    # Argo CD counts an Ingress healthy once its status has an address, which
    # the controller writes: the LoadBalancer's address by default, and on
    # Kind, where a NodePort has none, the address users reach it at.
    config_entries: dict = {}
    if node_ports:
        service["httpPort"] = {"nodePort": KIND_NODE_PORTS["http"]}
        service["httpsPort"] = {"nodePort": KIND_NODE_PORTS["https"]}
        config_entries["external-status-address"] = KIND_PUBLIC_ADDRESS
    return {
        "controller": {
            "ingressClass": {"name": settings.class_name, "create": True, "setAsDefaultIngress": True},
            "service": service,
            "reportIngressStatus": {"enable": True},
            "config": {"entries": config_entries},
            # Only Ingress objects are used; F5's CRDs (VirtualServer, ...) stay off.
            "enableCustomResources": False,
            # Off unless the stack turns it on: the controller sends F5 product telemetry once a
            # day when its -enable-telemetry-reporting flag is true. In nginx/kubernetes-ingress,
            # charts/nginx-ingress/values.yaml sets `controller.telemetryReporting.enable: true`
            # and charts/nginx-ingress/templates/_helpers.tpl turns it into the flag:
            # `- -enable-telemetry-reporting={{ .Values.controller.telemetryReporting.enable}}`.
            "telemetryReporting": {"enable": settings.telemetry_reporting},
        },
    }


class Ingress(pulumi.ComponentResource):
    """The controller that serves the charts' Ingresses through settings.class_name.

    With `controller: external` the cluster's own controller serves that class
    and nothing is installed."""

    def __init__(self, name: str, args: IngressArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:ingress:Ingress", name, None, opts)
        settings = args.settings
        if settings.installed:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata={"name": settings.namespace, "labels": {
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                }},
                opts=pulumi.ResourceOptions(parent=self),
            )
            k8s.helm.v4.Chart(
                f"{name}-controller",
                name="nginx-ingress",
                chart=settings.chart,
                version=settings.chart_version,
                namespace=settings.namespace,
                values=controller_values(settings, args.node_ports),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )
        self.class_name = settings.class_name
        self.register_outputs({
            "controller": settings.controller,
            "className": settings.class_name,
        })
