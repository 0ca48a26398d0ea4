"""The names the platform's parts agree on, in one place.

The Pulumi components, the config reader, the chart checks, the testbed and the tests import
them from here. The library chart (charts/platform-lib) cannot import Python, so it keeps its
own copies of the chart-facing ones; tests/charts/test_library_contract.py checks they are equal.
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
# Where Argo CD deploys the charts: a namespace of their own, which the stack creates.
APPS_NAMESPACE = "apps"
# Namespaces the cluster itself owns: the platform never puts its apps there, so it never
# labels, fills or empties them.
CLUSTER_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

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
# The one range of every rule in prometheus/rules/ (tests/prometheus/test_rules.py checks they use
# no other): the stack's scrape interval must give it enough samples.
RATE_WINDOW = "5m"
# A 5m rate needs several samples to be stable; four is the usual floor.
MIN_SAMPLES_PER_RATE_WINDOW = 4

# --- the apps --------------------------------------------------------------------------------
# UID/GID the app images declare (the distroless "nonroot" user).
APP_RUN_AS_ID = 65532
# Port every HTTP Service exposes as "http", so a client chart derives a peer's address.
HTTP_SERVICE_PORT = 80
# Every app serves /metrics on its own container port of this name and number (passed as
# METRICS_PORT), apart from any port an Ingress routes: Prometheus scrapes it, nothing else reaches
# it. 9000 is where worker-python always served its metrics.
METRICS_PORT_NAME = "metrics"
METRICS_PORT = 9000

# The app-to-app flows the platform declares: (client app, server app, server's container port
# name). Each is allowed on both sides, as egress from the client's pods and as ingress to the
# server's; the chart checks refuse a side without the other and a flow not listed here.
APP_FLOWS = (("api-node", "core-go", "http"),)

# --- cluster DNS -----------------------------------------------------------------------------
# The apps resolve names through the cluster DNS: the pods labelled k8s-app=kube-dns in
# kube-system (CoreDNS keeps the kube-dns label on Kind and on the managed clusters), port 53.
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
DNS_PORT = 53

# --- versions --------------------------------------------------------------------------------
# The Kubernetes version the charts are rendered, linted and schema-checked against.
KUBE_VERSION = "1.37.0"

# --- patterns --------------------------------------------------------------------------------
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A single-unit Prometheus duration such as 30s or 5m.
DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
