"""NetworkPolicies: ingress and egress denied by default, exactly the platform's flows allowed."""
from __future__ import annotations

from dataclasses import dataclass

from platform_ops.chart_checks.manifests import container_port_names, of_kind, pod_labels, pod_spec, ref
from platform_ops.contract import (APP_FLOWS, DNS_NAMESPACE, DNS_POD_LABELS, DNS_PORT, INGRESS_CONTROLLER_NAMESPACE,
                                   METRICS_PORT_NAME, NAME_LABEL, NAMESPACE_NAME_LABEL, OBSERVABILITY_NAMESPACE,
                                   PROMETHEUS_POD_LABELS)

Labels = frozenset  # frozenset of (key, value) pairs


@dataclass(frozen=True)
class Flow:
    """Traffic one NetworkPolicy peer is allowed on one port: from the peer (ingress) or to it (egress).

    namespace: None for the policy's own namespace, else the namespace selector's labels.
    pods: None for every pod (no pod selector), else the pod selector's labels.
    port: the container port's name (a number is translated to the name it belongs to).
    """

    namespace: Labels | None
    pods: Labels | None
    port: str
    protocol: str = "TCP"

    def __str__(self) -> str:
        def text(labels: Labels | None, none: str) -> str:
            return none if labels is None else "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels)) + "}"
        protocol = "" if self.protocol == "TCP" else f"/{self.protocol}"
        return (f"pods {text(self.pods, 'any')} in namespaces {text(self.namespace, '(this one)')}"
                f" to port {self.port}{protocol}")


def labels_of(selector: dict | None) -> Labels | None:
    return None if selector is None else frozenset((selector.get("matchLabels") or {}).items())


def _app(name: str) -> Labels:
    return frozenset({(NAME_LABEL, name)})


def expected_ingress(service: str) -> list[tuple[Flow, str | None]]:
    """The flows the platform admits to `service`, each with the app whose pods are the client
    (None for a peer outside the platform's charts)."""
    prometheus = Flow(frozenset({(NAMESPACE_NAME_LABEL, OBSERVABILITY_NAMESPACE)}), frozenset(PROMETHEUS_POD_LABELS.items()),
                      METRICS_PORT_NAME)
    flows = [(prometheus, None)]
    if service == "api-node":
        flows.append((Flow(frozenset({(NAMESPACE_NAME_LABEL, INGRESS_CONTROLLER_NAMESPACE)}), None, "http"), None))
    flows += [(Flow(None, _app(client), port), client) for client, server, port in APP_FLOWS if server == service]
    return flows


def expected_egress(service: str) -> list[tuple[Flow, str | None]]:
    """The flows the platform allows out of `service`, each with the app whose pods are the server
    (None for the cluster DNS): DNS over UDP and TCP, and its side of each declared flow."""
    dns_namespace = frozenset({(NAMESPACE_NAME_LABEL, DNS_NAMESPACE)})
    flows = [(Flow(dns_namespace, frozenset(DNS_POD_LABELS.items()), str(DNS_PORT), protocol), None)
             for protocol in ("UDP", "TCP")]
    flows += [(Flow(None, _app(server), port), server) for client, server, port in APP_FLOWS if client == service]
    return flows


def _matches(flow: Flow, want: Flow, app_pods: list[dict]) -> bool:
    """A peer matches an allowed flow when it is that flow, or (for a peer that is an app of the
    platform) that flow narrowed by more labels that the app's pods all carry."""
    if flow.namespace != want.namespace or flow.port != want.port or flow.protocol != want.protocol:
        return False
    if flow.pods == want.pods:
        return True
    return (flow.pods is not None and want.pods is not None and want.pods <= flow.pods
            and any(flow.pods <= frozenset(labels.items()) for labels in app_pods))


def _peer_app(peer: dict, renders: dict[str, list[dict]]) -> str | None:
    """The platform app a same-namespace peer names by its app.kubernetes.io/name label, if any."""
    if "namespaceSelector" in peer:
        return None
    name = ((peer.get("podSelector") or {}).get("matchLabels") or {}).get(NAME_LABEL)
    return name if name in renders else None


def _port_names(manifests: list[dict]) -> dict[str, str]:
    """Container port number (as text) -> its name, over an app's Deployments."""
    return {str(num): name for w in of_kind(manifests, "Deployment") for name, num in container_port_names(pod_spec(w)).items()}


def _rules(service: str, policy: dict, direction: str, renders: dict[str, list[dict]], own_ports: dict[str, str],
           problems: list[str]) -> dict[Flow, str]:
    """The flows the `direction` ("ingress" or "egress") rules of one policy allow; each rule that
    allows more than one peer kind and one port becomes a problem instead."""
    peers_key, verb, every = ("from", "admits", "source") if direction == "ingress" else ("to", "allows", "destination")
    protocols = ("TCP",) if direction == "ingress" else ("TCP", "UDP")
    say = lambda msg: problems.append(f"{service}: {ref(policy)} {msg}")  # noqa: E731
    flows: dict[Flow, str] = {}
    for i, rule in enumerate(policy["spec"].get(direction) or []):
        where = f"{direction} rule {i}"
        if not rule.get(peers_key):
            say(f"{where} has no '{peers_key}': it {verb} every {every}")
            continue
        if not rule.get("ports"):
            say(f"{where} has no 'ports': it {verb} every port")
            continue
        for peer in rule[peers_key]:
            if "ipBlock" in peer:
                say(f"{where} {verb} ipBlock {peer['ipBlock'].get('cidr')}")
                continue
            if any((peer.get(k) or {}).get("matchExpressions") for k in ("namespaceSelector", "podSelector")):
                say(f"{where} uses matchExpressions, which this check does not accept")
                continue
            # A port is the receiving pod's: this app's for ingress, the peer app's for egress.
            if direction == "ingress":
                by_number = own_ports
            else:
                app = _peer_app(peer, renders)
                by_number = _port_names(renders[app]) if app is not None else {}
            for port in rule["ports"]:
                protocol = port.get("protocol", "TCP")
                if protocol not in protocols or "endPort" in port or "port" not in port:
                    say(f"{where} {verb} more than one {'/'.join(protocols)} port: {port}")
                    continue
                name = by_number.get(str(port["port"]), str(port["port"]))
                flow = Flow(labels_of(peer.get("namespaceSelector")), labels_of(peer.get("podSelector")), name, protocol)
                flows.setdefault(flow, ref(policy))
    return flows


def check_network_policies(renders: dict[str, list[dict]]) -> list[str]:
    """Per app: ingress and egress are denied by default and the policies allow exactly the
    platform's flows: in, the ingress controller to api-node http and Prometheus to each metrics
    port; out, the cluster DNS; and each declared app-to-app flow (contract.APP_FLOWS) on both
    sides, egress from the client's pods matching ingress to the server's.

    `renders` maps each app to its chart's manifests for one environment.
    """
    problems = []
    pods_of = {svc: [pod_labels(w) for w in of_kind(objs, "Deployment")] for svc, objs in renders.items()}
    sides: dict[tuple[str, str, str], dict[str, str]] = {flow: {} for flow in APP_FLOWS}
    for service, manifests in renders.items():
        own_ports = _port_names(manifests)
        for workload in of_kind(manifests, "Deployment"):
            selector = workload["spec"]["selector"]["matchLabels"]
            allowed: dict[str, dict[Flow, str]] = {"ingress": {}, "egress": {}}
            isolated = {"ingress": False, "egress": False}
            for policy in of_kind(manifests, "NetworkPolicy"):
                spec = policy.get("spec", {})
                pod_selector = spec.get("podSelector") or {}
                if pod_selector.get("matchLabels") != selector or pod_selector.get("matchExpressions"):
                    problems.append(f"{service}: {ref(policy)} podSelector must be exactly the pods' selector {selector}")
                    continue
                # Kubernetes' default: Ingress always, Egress when the policy has egress rules.
                types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
                for direction in ("ingress", "egress"):
                    if direction.capitalize() in types:
                        isolated[direction] = True
                        for flow, where in _rules(service, policy, direction, renders, own_ports, problems).items():
                            allowed[direction].setdefault(flow, where)
            for direction, expected, verb, unexplained in (
                    ("ingress", expected_ingress(service), "admits", "which is not an allowed flow"),
                    ("egress", expected_egress(service), "allows egress to", "which no declared flow explains")):
                if not isolated[direction]:
                    problems.append(f"{service}: no NetworkPolicy denies {direction} "
                                    f"{'to' if direction == 'ingress' else 'from'} its pods by default")
                for flow, policy in sorted(allowed[direction].items(), key=lambda item: str(item[0])):
                    if not any(_matches(flow, want, pods_of.get(app, [])) for want, app in expected):
                        problems.append(f"{service}: {policy} {verb} {flow}, {unexplained}")
                for want, app in expected:
                    found = [policy for flow, policy in allowed[direction].items()
                             if _matches(flow, want, pods_of.get(app, []))]
                    if not found:
                        problems.append(f"{service}: no NetworkPolicy {verb} {want}")
                    elif app is not None:
                        client, server = (app, service) if direction == "ingress" else (service, app)
                        sides[(client, server, want.port)][direction] = found[0]
    for (client, server, port), found in sides.items():
        if client in renders and server in renders and len(found) == 1:
            [(direction, policy)] = found.items()
            missing = f"ingress to {server}" if direction == "egress" else f"egress from {client}"
            problems.append(f"flow {client} -> {server} port {port}: {policy} allows the {direction} side, "
                            f"but no NetworkPolicy allows {missing}")
    return problems
