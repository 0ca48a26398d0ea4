"""The library chart's copies of the platform's shared names equal platform_ops/contract.py.

Helm templates cannot import Python, so charts/platform-lib keeps the names the charts need as
constant defines (`{{- define "platform-lib.partOf" -}}platform-ops{{- end -}}`). This check
reads those defines and compares each with the contract, so the two cannot drift apart.
"""
from __future__ import annotations

import re
from pathlib import Path

from platform_ops.contract import (APP_RUN_AS_ID, DNS_NAMESPACE, DNS_POD_LABELS, DNS_PORT, HTTP_SERVICE_PORT,
                                   INGRESS_CONTROLLER_NAMESPACE, METRICS_PORT, METRICS_PORT_NAME,
                                   OBSERVABILITY_NAMESPACE, PART_OF, PROMETHEUS_NAME)

# Each constant define of the library chart, and the contract's value it copies.
LIBRARY_CONSTANTS = {
    "platform-lib.partOf": ("PART_OF", PART_OF),
    "platform-lib.httpServicePort": ("HTTP_SERVICE_PORT", HTTP_SERVICE_PORT),
    "platform-lib.metricsPortName": ("METRICS_PORT_NAME", METRICS_PORT_NAME),
    "platform-lib.metricsPort": ("METRICS_PORT", METRICS_PORT),
    "platform-lib.dnsNamespace": ("DNS_NAMESPACE", DNS_NAMESPACE),
    # The define is the YAML of the labels, one `key: value` line each.
    "platform-lib.dnsPodLabels": ("DNS_POD_LABELS", "\n".join(f"{k}: {v}" for k, v in DNS_POD_LABELS.items())),
    "platform-lib.dnsPort": ("DNS_PORT", DNS_PORT),
    "platform-lib.ingressControllerNamespace": ("INGRESS_CONTROLLER_NAMESPACE", INGRESS_CONTROLLER_NAMESPACE),
    "platform-lib.prometheusNamespace": ("OBSERVABILITY_NAMESPACE", OBSERVABILITY_NAMESPACE),
    "platform-lib.prometheusName": ("PROMETHEUS_NAME", PROMETHEUS_NAME),
    "platform-lib.runAsId": ("APP_RUN_AS_ID", APP_RUN_AS_ID),
}
_DEFINE = re.compile(r'\{\{-? define "(?P<name>[^"]+)" -?\}\}(?P<body>.*?)\{\{-? end -?\}\}', re.S)


def library_defines(chart_dir: Path) -> dict[str, tuple[str, str]]:
    """Every define of the chart's templates: name -> (file relative to the chart, body stripped)."""
    defines = {}
    for path in sorted((chart_dir / "templates").glob("*.tpl")):
        for match in _DEFINE.finditer(path.read_text()):
            defines[match.group("name")] = (str(path.relative_to(chart_dir.parent)), match.group("body").strip())
    return defines


def check_library_contract(chart_dir: Path) -> list[str]:
    """Each constant define of the library chart holds exactly the contract's value."""
    defines = library_defines(chart_dir)
    problems = []
    for name, (contract_name, value) in LIBRARY_CONSTANTS.items():
        if name not in defines:
            problems.append(f"{chart_dir.name}: no define {name} (contract.{contract_name} = {value})")
            continue
        where, body = defines[name]
        if body != str(value):
            problems.append(f"{where}: define {name} is {body!r}, but contract.{contract_name} is {str(value)!r}")
    return problems
