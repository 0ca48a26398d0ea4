"""Stack configuration: read once, validated before any resource is registered.

Every problem is reported as `<file>:<line>: <key> <what is wrong>` (the line where it is known),
such as `Pulumi.dev.yaml:40: platform-ops:prometheus.scrapeInterval ...`, all of them at once, so
that one `pulumi up` shows everything to fix.

    errors          ConfigError and MissingStackFile
    yaml_files      the YAML files a user edits, with the line of every key; one line per syntax error
    settings        the typed settings of a stack, the keys it may set and their defaults
    reader          walks the raw settings, checks each field's shape and collects every problem
    chart_values    each chart's Chart.yaml, its merged values checked against its schema, and that
                    they match the stack
    validation      load_config: every setting validated in one pass, one ConfigError for all
    stack_files     Pulumi.<stack>.yaml read straight from the repository, without Pulumi
    runtime         the settings through the running Pulumi program; the offline-render switch
    cluster_access  whether an existing cluster's kubeconfig lets the program reach it

Imports only go up that list, never down or in a circle, and no module imports this one.
Only runtime touches Pulumi, and only when read_pulumi_config is called.
"""
from __future__ import annotations

from platform_ops.config.chart_values import merged_values
from platform_ops.config.cluster_access import cluster_access_problems
from platform_ops.config.errors import ConfigError, MissingStackFile
from platform_ops.config.runtime import OFFLINE_RENDER_ENV, offline_render, read_pulumi_config
from platform_ops.config.settings import (
    ALREADY_ON_CLUSTER, INSTALLED_BY_STACK,
    CERT_MANAGER_CHART, CONFIG_KEYS, DEFAULT_ISSUER_NAMES, LETSENCRYPT_STAGING, NGINX_INGRESS_CHART, SECRET_KEYS,
    AppChart, ArgoCDSettings, CertManagerSettings, ClusterSettings, ExistingClusterSettings, GitOpsSettings,
    IngressSettings, IssuerSettings, KindClusterSettings, PlatformConfig, PrometheusSettings, RegistrySettings,
    TlsHost, argocd_install_manifest_url,
)
from platform_ops.config.stack_files import load_stack_file, stack_file, stack_file_config
from platform_ops.config.validation import load_config

__all__ = [
    "ALREADY_ON_CLUSTER", "INSTALLED_BY_STACK",
    "AppChart", "ArgoCDSettings", "CERT_MANAGER_CHART", "CONFIG_KEYS", "CertManagerSettings", "ClusterSettings",
    "ConfigError", "DEFAULT_ISSUER_NAMES", "ExistingClusterSettings", "GitOpsSettings", "IngressSettings",
    "IssuerSettings", "KindClusterSettings", "LETSENCRYPT_STAGING", "MissingStackFile", "NGINX_INGRESS_CHART",
    "OFFLINE_RENDER_ENV", "PlatformConfig", "PrometheusSettings", "RegistrySettings", "SECRET_KEYS",
    "TlsHost", "argocd_install_manifest_url", "cluster_access_problems", "load_config", "load_stack_file",
    "merged_values", "offline_render", "read_pulumi_config", "stack_file", "stack_file_config",
]
