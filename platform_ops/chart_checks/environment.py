"""Every check over the charts of one environment."""
from __future__ import annotations


from platform_ops.chart_checks.gitops import check_gitops_stable, check_image_tag, check_project_permits
from platform_ops.chart_checks.hardening import check_container_hardening, check_probes, check_resources, check_rollout
from platform_ops.chart_checks.labels import check_core_go_url, check_ingress, check_labels, check_service_wiring
from platform_ops.chart_checks.network_policies import check_network_policies
from platform_ops.chart_checks.pod_security import check_pod_security_restricted
from platform_ops.chart_checks.ports import check_high_availability, check_listen_ports, check_ports_resolve
from platform_ops.chart_checks.schema import check_kubernetes_schema

def check_environment(renders: dict[str, list[dict]], releases: dict[str, str], namespace: str,
                      tags: dict[str, tuple[str, str]], project: dict | None = None) -> list[str]:
    """Every check over the charts of one environment; `renders`, `releases`, `tags` (image tag and
    digest, "" without one) keyed by app.
    A problem found in one chart's render names that chart first."""
    problems = []
    for service, manifests in sorted(renders.items()):
        checks = [
            check_kubernetes_schema(manifests),
            check_pod_security_restricted(manifests),
            check_container_hardening(manifests),
            check_rollout(manifests),
            check_resources(manifests),
            check_probes(manifests),
            check_listen_ports(manifests),
            check_ports_resolve(manifests),
            check_high_availability(manifests),
            check_labels(manifests, service, releases[service]),
            check_service_wiring(manifests, service),
            check_ingress(manifests),
            check_gitops_stable(manifests),
            check_image_tag(manifests, *tags[service]),
        ]
        if project is not None:
            checks.append(check_project_permits(manifests, project))
        problems += [f"charts/{service}: {p}" for found in checks for p in found]
    if "api-node" in renders and "core-go" in renders:
        problems += check_core_go_url(renders["api-node"], renders["core-go"], namespace)
    problems += check_network_policies(renders)
    return problems
