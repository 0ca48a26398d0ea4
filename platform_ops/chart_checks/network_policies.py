"""NetworkPolicies: ingress denied by default, exactly the platform's flows allowed."""
from __future__ import annotations

from dataclasses import dataclass

from platform_ops.chart_checks.labels import METRICS_CONTAINER_PORT
from platform_ops.chart_checks.manifests import container_port_names, of_kind, pod_labels, pod_spec, ref
from platform_ops.contract import INGRESS_CONTROLLER_NAMESPACE, NAMESPACE_NAME_LABEL, OBSERVABILITY_NAMESPACE, PROMETHEUS_POD_LABELS

Labels = frozenset  # frozenset of (key, value) pairs


@dataclass(frozen=True)
class Flow:
    """Traffic one NetworkPolicy peer admits on one port.

    namespace: None for the policy's own namespace, else the namespace selector's labels.
    pods: None for every pod (no pod selector), else the pod selector's labels.
    port: the container port's name (a number is translated to the name it belongs to).
    """

    namespace: Labels | None
    pods: Labels | None
    port: str

    def __str__(self) -> str:
        def text(labels: Labels | None, none: str) -> str:
            return none if labels is None else "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels)) + "}"
        return (f"pods {text(self.pods, 'any')} in namespaces {text(self.namespace, '(this one)')}"
                f" to port {self.port}")


def labels_of(selector: dict | None) -> Labels | None:
    return None if selector is None else frozenset((selector.get("matchLabels") or {}).items())


def expected_flows(service: str) -> list[tuple[Flow, str | None]]:
    """The flows the platform allows to `service`, each with the app whose pods are the client
    (None for a peer outside the platform's charts)."""
    prometheus = Flow(frozenset({(NAMESPACE_NAME_LABEL, OBSERVABILITY_NAMESPACE)}), frozenset(PROMETHEUS_POD_LABELS.items()),
                      METRICS_CONTAINER_PORT[service])
    flows = [(prometheus, None)]
    if service == "api-node":
        flows.append((Flow(frozenset({(NAMESPACE_NAME_LABEL, INGRESS_CONTROLLER_NAMESPACE)}), None, "http"), None))
    if service == "core-go":
        flows.append((Flow(None, frozenset({("app.kubernetes.io/name", "api-node")}), "http"), "api-node"))
    return flows


def _matches(flow: Flow, want: Flow, client_pods: list[dict]) -> bool:
    """A peer matches an allowed flow when it is that flow, or (for a client app of the platform)
    that flow narrowed by more labels that the client's pods all carry."""
    if flow.namespace != want.namespace or flow.port != want.port:
        return False
    if flow.pods == want.pods:
        return True
    return (flow.pods is not None and want.pods is not None and want.pods <= flow.pods
            and any(flow.pods <= frozenset(labels.items()) for labels in client_pods))


def check_network_policies(renders: dict[str, list[dict]]) -> list[str]:
    """Per app: ingress is denied by default and the policies admit exactly the platform's flows:
    ingress controller to api-node http, api-node to core-go http, Prometheus to each metrics port.

    `renders` maps each app to its chart's manifests for one environment.
    """
    problems = []
    pods_of = {svc: [pod_labels(w) for w in of_kind(objs, "Deployment")] for svc, objs in renders.items()}
    for service, manifests in renders.items():
        for workload in of_kind(manifests, "Deployment"):
            selector = workload["spec"]["selector"]["matchLabels"]
            by_number = {str(num): name for name, num in container_port_names(pod_spec(workload)).items()}
            admitted: dict[Flow, str] = {}
            isolated = False
            for policy in of_kind(manifests, "NetworkPolicy"):
                spec = policy.get("spec", {})
                say = lambda msg: problems.append(f"{service}: {ref(policy)} {msg}")  # noqa: E731
                pod_selector = spec.get("podSelector") or {}
                if pod_selector.get("matchLabels") != selector or pod_selector.get("matchExpressions"):
                    say(f"podSelector must be exactly the pods' selector {selector}")
                    continue
                if "Ingress" not in (spec.get("policyTypes") or ["Ingress"]):
                    continue
                isolated = True
                for i, rule in enumerate(spec.get("ingress") or []):
                    if not rule.get("from"):
                        say(f"ingress rule {i} has no 'from': it admits every source")
                        continue
                    if not rule.get("ports"):
                        say(f"ingress rule {i} has no 'ports': it admits every port")
                        continue
                    for peer in rule["from"]:
                        if "ipBlock" in peer:
                            say(f"ingress rule {i} admits ipBlock {peer['ipBlock'].get('cidr')}")
                            continue
                        if any((peer.get(k) or {}).get("matchExpressions") for k in ("namespaceSelector", "podSelector")):
                            say(f"ingress rule {i} uses matchExpressions, which this check does not accept")
                            continue
                        for port in rule["ports"]:
                            if port.get("protocol", "TCP") != "TCP" or "endPort" in port or "port" not in port:
                                say(f"ingress rule {i} admits more than one TCP port: {port}")
                                continue
                            name = by_number.get(str(port["port"]), str(port["port"]))
                            flow = Flow(labels_of(peer.get("namespaceSelector")), labels_of(peer.get("podSelector")), name)
                            admitted.setdefault(flow, ref(policy))
            if not isolated:
                problems.append(f"{service}: no NetworkPolicy denies ingress to its pods by default")
            allowed = expected_flows(service)
            for flow, policy in sorted(admitted.items(), key=lambda item: str(item[0])):
                if not any(_matches(flow, want, pods_of.get(client, [])) for want, client in allowed):
                    problems.append(f"{service}: {policy} admits {flow}, which is not an allowed flow")
            for want, client in allowed:
                if not any(_matches(flow, want, pods_of.get(client, [])) for flow in admitted):
                    problems.append(f"{service}: no NetworkPolicy admits {want}")
    return problems
