"""The application charts and their values as Argo CD renders them: which charts are
services, their merged value files, the TLS host each exposes, and the check that those
values name the ingress class and certificate issuer the stack provides."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import yaml

from platform_ops.config.reader import SettingsReader, show_value
from platform_ops.config.settings import CertManagerSettings, GitOpsSettings, IngressSettings, TlsHost
from platform_ops.contract import PROJECT


def ingress_tls(chart_dir: Path, env_values_file: Path) -> Optional[TlsHost]:
    """The host and TLS secret the chart's Ingress uses in this environment,
    read from the same value files Argo CD renders with."""
    ingress = merged_values(chart_dir, ["values.yaml", env_values_file.name]).get("ingress") or {}
    if not ingress.get("enabled") or not ingress.get("host") or not ingress.get("tlsSecretName"):
        return None
    return TlsHost(host=ingress["host"], secret_name=ingress["tlsSecretName"],
                   class_name=ingress.get("className") or "", cluster_issuer=ingress.get("clusterIssuer") or "")


def check_charts_match_platform(reader: SettingsReader, stack: str, gitops: GitOpsSettings,
                                ingress: IngressSettings, cert_manager: CertManagerSettings) -> None:
    """Argo CD renders the charts from Git alone, so each chart's ingress class
    and certificate issuer must name what this stack provides."""
    for app in gitops.apps:
        if app.tls is None:
            continue
        values_file = f"charts/{app.service}/values-{stack}.yaml"
        if ingress.class_name and app.tls.class_name != ingress.class_name:
            reader.problems.append(
                f"{values_file}: ingress.className {show_value(app.tls.class_name)} is not the stack's ingress "
                f"class {show_value(ingress.class_name)} ({PROJECT}:ingress.className)")
        if cert_manager.issuer.name and app.tls.cluster_issuer != cert_manager.issuer.name:
            reader.problems.append(
                f"{values_file}: ingress.clusterIssuer {show_value(app.tls.cluster_issuer)} is not the stack's "
                f"issuer {show_value(cert_manager.issuer.name)} ({PROJECT}:certManager.issuer.name)")


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def merged_values(chart_dir: Path, value_files: Iterable[str]) -> dict:
    """A chart's values after the given value files, merged in order as Helm does."""
    values: dict = {}
    for name in value_files:
        values = _merge(values, yaml.safe_load((Path(chart_dir) / name).read_text()) or {})
    return values
