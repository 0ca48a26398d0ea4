"""The names the platform's parts agree on, in one place.

The Pulumi components, the config reader, the chart checks, the testbed and the tests import
them from here. The library chart (charts/platform-lib) cannot import Python, so it keeps its
own copies of the chart-facing ones; tests/charts/test_contract.py checks they are equal.
"""
from __future__ import annotations

import re

PROJECT = "platform-ops"
STACKS = ("dev", "staging", "prod")

# --- namespaces ------------------------------------------------------------------------------
# Upstream install.yaml binds its ClusterRoles to ServiceAccounts in namespace "argocd", so
# installing anywhere else breaks Argo CD.
ARGOCD_NAMESPACE = "argocd"
OBSERVABILITY_NAMESPACE = "observability"
# Where the F5 NGINX Ingress Controller runs; the charts' NetworkPolicies admit it from here.
INGRESS_CONTROLLER_NAMESPACE = "nginx-ingress"
CERT_MANAGER_NAMESPACE = "cert-manager"
# Namespaces every cluster has: they are labelled in place, never created or deleted.
BUILT_IN_NAMESPACES = frozenset({"default"})

# --- labels ----------------------------------------------------------------------------------
PART_OF_LABEL = "app.kubernetes.io/part-of"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
# Prometheus keeps a scrape target only when its Service carries PART_OF_LABEL=PROJECT.
PART_OF = PROJECT
ENVIRONMENT_LABEL = f"{PROJECT}/environment"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
POD_SECURITY_RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}

# --- Argo CD ---------------------------------------------------------------------------------
# The finalizer that makes Argo CD delete what an Application deployed before the Application.
APPLICATION_FINALIZER = "resources-finalizer.argocd.argoproj.io"
# The AppProject every Application of the platform belongs to.
APP_PROJECT = PROJECT

# --- Prometheus ------------------------------------------------------------------------------
PROMETHEUS_NAME = "prometheus"
PROMETHEUS_POD_LABELS = {NAME_LABEL: PROMETHEUS_NAME}
PROMETHEUS_PORT = 9090
PROMETHEUS_CONFIG_MAP = "prometheus-config"
# The scrape job that discovers the apps.
APPS_SCRAPE_JOB = "platform-apps"

# --- the apps --------------------------------------------------------------------------------
# UID/GID the app images declare (the distroless "nonroot" user).
APP_RUN_AS_ID = 65532
# Port every HTTP Service exposes as "http", so a client chart derives a peer's address.
HTTP_SERVICE_PORT = 80

# --- versions --------------------------------------------------------------------------------
# The Kubernetes version the charts are rendered, linted and schema-checked against.
KUBE_VERSION = "1.37.0"

# --- patterns --------------------------------------------------------------------------------
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A single-unit Prometheus duration such as 30s or 5m.
DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
