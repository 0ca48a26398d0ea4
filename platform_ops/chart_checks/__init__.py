"""What a chart must satisfy before it may be promoted, one module per topic.

Each check is a plain function over parsed manifests that returns a list of problems (empty when
the render is fine), so a test can feed it a broken manifest and compare the exact message, and
scripts/check_charts.py can print them all. stack.py runs every check for one stack.
"""
from platform_ops.chart_checks.environment import check_environment
from platform_ops.chart_checks.gitops import (check_gitops_stable, check_image_tag, check_project_permits,
                                              check_template_sources)
from platform_ops.chart_checks.hardening import (check_container_hardening, check_probes, check_resources,
                                                 check_rollout)
from platform_ops.chart_checks.labels import check_core_go_url, check_ingress, check_labels, check_service_wiring
from platform_ops.chart_checks.network_policies import check_network_policies
from platform_ops.chart_checks.pod_security import check_pod_security_restricted
from platform_ops.chart_checks.ports import check_high_availability, check_listen_ports, check_ports_resolve
from platform_ops.chart_checks.schema import check_kubernetes_schema

__all__ = [
    "check_container_hardening", "check_core_go_url", "check_environment", "check_gitops_stable",
    "check_high_availability", "check_image_tag", "check_ingress", "check_kubernetes_schema", "check_labels",
    "check_listen_ports", "check_network_policies", "check_pod_security_restricted", "check_ports_resolve",
    "check_probes", "check_project_permits", "check_resources", "check_rollout", "check_service_wiring",
    "check_template_sources",
]
