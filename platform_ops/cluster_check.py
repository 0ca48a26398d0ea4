"""What is already on the cluster, read with kubectl before the program registers any resource.

Two questions, one pass, every problem at once:

- a part this stack installs (`argocd.install: stack`, `certManager.install: stack`, the NGINX
  controller, Prometheus, the apps' namespace): is any of its namespaces, CRDs or workloads on the
  cluster already, made by someone else? Then `pulumi up` stops before any change: server-side
  apply would take it over silently, and `pulumi destroy` would delete it.
- a part the stack uses from the cluster (`install: cluster`): is what the stack needs of it there?

Whose an object is. Pulumi's Kubernetes provider applies every object it creates server-side under
a field manager of its own, `pulumi-kubernetes-<suffix>`, which the API server records in the
object's managedFields for as long as the object lives. kubectl, Helm and Argo CD apply under
other managers (`kubectl`, `kubectl-client-side-apply`, `kubectl-create`, `helm`,
`argocd-controller`). So an object whose managedFields name a Pulumi manager is the stack's own,
and a second `pulumi up` goes on; an object without one is in the way. The signal is on the object
itself: it needs neither the stack's state (which the program cannot read) nor anything the stack
would have to write on upstream manifests. What it cannot tell apart is two Pulumi stacks: two
stacks that both install Argo CD on one cluster each count the other's objects as their own.

An object annotated `platform-ops/taken-over-by: <stack>` (TAKEOVER_ANNOTATION) was handed to the
stack on purpose: the stack applies over it, and `pulumi destroy` leaves it on the cluster.
"""
from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import yaml

from platform_ops.config.errors import ConfigError
from platform_ops.config.settings import ALREADY_ON_CLUSTER, INSTALLED_BY_STACK, KindClusterSettings, PlatformConfig
from platform_ops.contract import OBSERVABILITY_NAMESPACE, PROJECT
from platform_ops.paths import stack_file_path

PULUMI_FIELD_MANAGER_PREFIX = "pulumi-kubernetes-"
TAKEOVER_ANNOTATION = f"{PROJECT}/taken-over-by"
TAKEOVER_DOC = 'docs/operations.md, "Taking over what is in the way"'

# What the stack needs of an Argo CD already on the cluster: the kinds it creates, and the
# application controller in the namespace its Applications go to (the controller watches its own
# namespace). install.yaml and Argo CD's Helm chart both label the controller so.
ARGOCD_USED_CRDS = ("applications.argoproj.io", "appprojects.argoproj.io")
ARGOCD_CONTROLLER_SELECTOR = "app.kubernetes.io/name=argocd-application-controller"
# cert-manager's API (its chart's CRDs) and the workloads of the chart released as "cert-manager".
CERT_MANAGER_CRDS = ("certificaterequests.cert-manager.io", "certificates.cert-manager.io",
                     "challenges.acme.cert-manager.io", "clusterissuers.cert-manager.io",
                     "issuers.cert-manager.io", "orders.acme.cert-manager.io")
CERT_MANAGER_DEPLOYMENTS = ("cert-manager", "cert-manager-cainjector", "cert-manager-webhook")
# What the stack creates with a cert-manager already on the cluster: ClusterIssuers and the CA's Certificate.
CERT_MANAGER_USED_CRDS = ("certificates.cert-manager.io", "clusterissuers.cert-manager.io")

# kubectl's fully qualified resource for each kind the check reads.
RESOURCES = {
    "Namespace": "namespaces",
    "CustomResourceDefinition": "customresourcedefinitions.apiextensions.k8s.io",
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "ClusterIssuer": "clusterissuers.cert-manager.io",
    "EndpointSlice": "endpointslices.discovery.k8s.io",
}
# The API server's own EndpointSlice, which every cluster keeps in `default`: its addresses.
API_SERVER_SLICE = ("default", "kubernetes.io/service-name=kubernetes")
# The kinds of an install that can be in the way: what holds the install, what defines its API and what runs it.
CHECKED_KINDS = ("Namespace", "CustomResourceDefinition", "Deployment", "StatefulSet")


class ClusterReadError(Exception):
    pass


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    name: str
    namespace: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


# Runs `kubectl get <args> -o json` on the stack's cluster and returns the objects it printed, managedFields kept.
Reader = Callable[[Sequence[str]], list[dict]]


def kubectl_reader(kubeconfig: str, context: str, kubectl: str = "kubectl") -> Reader:
    def read(args: Sequence[str]) -> list[dict]:
        command = [kubectl, f"--kubeconfig={os.path.expanduser(kubeconfig)}", f"--context={context}",
                   "--request-timeout=30s", "get", *args, "-o", "json", "--show-managed-fields"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise ClusterReadError(f"{kubectl} is not on PATH") from None
        except subprocess.TimeoutExpired:
            raise ClusterReadError("kubectl got no answer within 60s") from None
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            raise ClusterReadError(lines[-1] if lines else f"kubectl exited {result.returncode}")
        if not result.stdout.strip():
            return []
        printed = json.loads(result.stdout)
        return printed.get("items", []) if printed.get("kind") == "List" else [printed]
    return read


def empty_cluster(args: Sequence[str]) -> list[dict]:
    """The reader of a Kind cluster the stack has not created yet: nothing is on it."""
    return []


def install_manifest_objects(manifest: Path, namespace: str) -> list[ObjectRef]:
    """The objects of an upstream manifest that can be in the way, namespaced ones in `namespace`."""
    refs = []
    for document in yaml.safe_load_all(manifest.read_text()):
        if isinstance(document, dict) and document.get("kind") in CHECKED_KINDS:
            kind = document["kind"]
            scoped = kind not in ("Namespace", "CustomResourceDefinition")
            refs.append(ObjectRef(kind, document["metadata"]["name"], namespace if scoped else None))
    return refs


@dataclass(frozen=True)
class Install:
    """One part the stack installs: the setting that says so, how it reads, the objects that would be
    in the way, and what else the user may do instead of a takeover."""

    key: str
    subject: str
    objects: tuple[ObjectRef, ...]
    alternative: str = ""


@dataclass
class ClusterCheck:
    # Objects handed to the stack with TAKEOVER_ANNOTATION: applied over, kept on destroy.
    taken_over: set[ObjectRef] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def stack_installs(cfg: PlatformConfig, argocd_manifest: Optional[Path]) -> list[Install]:
    """Every part of the platform whose namespace, CRDs or workloads this stack would create."""
    installs = []
    argocd, cert_manager, ingress = cfg.argocd, cfg.cert_manager, cfg.ingress
    if argocd.installed:
        objects = [ObjectRef("Namespace", argocd.namespace)]
        objects += install_manifest_objects(argocd_manifest, argocd.namespace) if argocd_manifest else []
        installs.append(Install(
            "argocd.install", f'"{INSTALLED_BY_STACK}" installs Argo CD', tuple(objects),
            f'Set {PROJECT}:argocd.install to "{ALREADY_ON_CLUSTER}" to use the Argo CD there, or take '))
    if cert_manager.installed:
        objects = [ObjectRef("Namespace", cert_manager.namespace)]
        objects += [ObjectRef("CustomResourceDefinition", name) for name in CERT_MANAGER_CRDS]
        objects += [ObjectRef("Deployment", name, cert_manager.namespace) for name in CERT_MANAGER_DEPLOYMENTS]
        installs.append(Install(
            "certManager.install", f'"{INSTALLED_BY_STACK}" installs cert-manager', tuple(objects),
            f'Set {PROJECT}:certManager.install to "{ALREADY_ON_CLUSTER}" to use the cert-manager there, or take '))
    if ingress.installed:
        installs.append(Install(
            "ingress.controller", f'"{ingress.controller}" installs the NGINX Ingress Controller',
            (ObjectRef("Namespace", ingress.namespace),),
            f'Set {PROJECT}:ingress.controller to "external" to use the cluster\'s controller, or take '))
    installs.append(Install("prometheus", "the stack installs Prometheus",
                            (ObjectRef("Namespace", OBSERVABILITY_NAMESPACE),)))
    installs.append(Install("gitops.namespace", "the stack creates the apps' namespace",
                            (ObjectRef("Namespace", cfg.gitops.namespace),)))
    return installs


def check_before_any_change(cfg: PlatformConfig, argocd_manifest: Optional[Path],
                            kind_kubeconfig: str) -> set[ObjectRef]:
    """Check the stack's cluster with kubectl; the objects taken over, or ConfigError naming every problem."""
    stack_file = stack_file_path(cfg.stack).name
    if isinstance(cfg.cluster, KindClusterSettings):
        kubeconfig, context, key = kind_kubeconfig, f"kind-{cfg.cluster.name}", "cluster.name"
        # A Kind cluster this stack has not created yet holds nothing.
        read = kubectl_reader(kubeconfig, context) if Path(kubeconfig).is_file() else empty_cluster
    else:
        kubeconfig, context, key = cfg.cluster.kubeconfig, cfg.cluster.context, "cluster.context"
        read = kubectl_reader(kubeconfig, context)
    try:
        check = check_cluster(cfg, read, argocd_manifest)
    except ClusterReadError as error:
        raise ConfigError(f"{stack_file}: {PROJECT}:{key}: cannot read what cluster {context} runs, which is "
                          f"checked before any change: {error}") from None
    if check.problems:
        raise ConfigError("\n".join(check.problems))
    return check.taken_over


def check_cluster(cfg: PlatformConfig, read: Reader, argocd_manifest: Optional[Path] = None) -> ClusterCheck:
    """Read the cluster once for every part of the stack; raises ClusterReadError when it cannot."""
    stack_file = stack_file_path(cfg.stack).name
    check = ClusterCheck()
    installs = stack_installs(cfg, argocd_manifest)
    used = _used_objects(cfg)
    found = _read_objects(read, [ref for install in installs for ref in install.objects] + used)

    for install in installs:
        in_the_way = []
        for ref in install.objects:
            live = found.get(ref)
            if live is None:
                continue
            if (live["metadata"].get("annotations") or {}).get(TAKEOVER_ANNOTATION) == cfg.stack:
                check.taken_over.add(ref)
            elif not made_by_pulumi(live):
                in_the_way.append(ref)
        if in_the_way:
            check.problems.append(in_the_way_problem(stack_file, install, in_the_way))

    if not cfg.argocd.installed:
        check.problems += _argocd_problems(stack_file, cfg, read, found)
    if not cfg.cert_manager.installed:
        check.problems += _cert_manager_problems(stack_file, cfg, read, found)
    check.problems += _api_server_problems(stack_file, cfg, read)
    return check


def _api_server_problems(stack_file: str, cfg: PlatformConfig, read: Reader) -> list[str]:
    """Prometheus may connect to the API server only inside prometheus.apiServerCidrs: an address
    outside them would leave discovery blind, and nothing would say so until Prometheus ran."""
    namespace, selector = API_SERVER_SLICE
    slices = read([RESOURCES["EndpointSlice"], "-n", namespace, "-l", selector])
    addresses = sorted({address for endpoint_slice in slices for endpoint in endpoint_slice.get("endpoints") or []
                        for address in endpoint.get("addresses") or []})
    networks = [ipaddress.ip_network(cidr) for cidr in cfg.prometheus.api_server_cidrs]
    outside = [address for address in addresses
               if not any(ipaddress.ip_address(address) in network for network in networks)]
    if not outside:
        return []
    return [f"{stack_file}: {PROJECT}:prometheus.apiServerCidrs {', '.join(cfg.prometheus.api_server_cidrs)} "
            f"does not hold the API server's address {', '.join(outside)} (EndpointSlice {namespace}/kubernetes), "
            "so Prometheus could not reach it for discovery; nothing was changed"]


def made_by_pulumi(live: dict) -> bool:
    return any(entry.get("manager", "").startswith(PULUMI_FIELD_MANAGER_PREFIX)
               for entry in live["metadata"].get("managedFields") or [])


def in_the_way_problem(stack_file: str, install: Install, refs: Sequence[ObjectRef]) -> str:
    listed = ", ".join(str(ref) for ref in refs)
    one = len(refs) == 1
    way_on = (install.alternative or "Take ") + f"{'it' if one else 'them'} over: {TAKEOVER_DOC}"
    return (f"{stack_file}: {PROJECT}:{install.key}: {install.subject}, but {listed} "
            f"{'is' if one else 'are'} already on the cluster and this stack did not make "
            f"{'it' if one else 'them'}; nothing was changed. {way_on}")


def _used_objects(cfg: PlatformConfig) -> list[ObjectRef]:
    refs = []
    if not cfg.argocd.installed:
        refs += [ObjectRef("Namespace", cfg.argocd.namespace)]
        refs += [ObjectRef("CustomResourceDefinition", name) for name in ARGOCD_USED_CRDS]
    if not cfg.cert_manager.installed:
        refs += [ObjectRef("Namespace", cfg.cert_manager.namespace)]
        refs += [ObjectRef("CustomResourceDefinition", name) for name in CERT_MANAGER_USED_CRDS]
    return refs


def _missing(found: dict, refs: Iterable[ObjectRef]) -> list[ObjectRef]:
    return [ref for ref in refs if ref not in found]


def _argocd_problems(stack_file: str, cfg: PlatformConfig, read: Reader, found: dict) -> list[str]:
    prefix = f'{stack_file}: {PROJECT}:argocd.install: "{ALREADY_ON_CLUSTER}" uses the Argo CD on the cluster, but'
    namespace = cfg.argocd.namespace
    missing = _missing(found, [ObjectRef("CustomResourceDefinition", name) for name in ARGOCD_USED_CRDS])
    if missing:
        return [f"{prefix} {_are_not_there(missing)}; nothing was changed"]
    if ObjectRef("Namespace", namespace) not in found:
        return [f"{prefix} namespace {namespace} does not exist; set {PROJECT}:argocd.namespace to the "
                f"namespace Argo CD runs in; nothing was changed"]
    if not read(["statefulsets.apps,deployments.apps", "-n", namespace, "-l", ARGOCD_CONTROLLER_SELECTOR]):
        return [f"{prefix} namespace {namespace} runs no Argo CD application controller (no StatefulSet or "
                f"Deployment labelled {ARGOCD_CONTROLLER_SELECTOR}); set {PROJECT}:argocd.namespace to the "
                f"namespace Argo CD runs in; nothing was changed"]
    return []


def _cert_manager_problems(stack_file: str, cfg: PlatformConfig, read: Reader, found: dict) -> list[str]:
    prefix = (f'{stack_file}: {PROJECT}:certManager.install: "{ALREADY_ON_CLUSTER}" uses the cert-manager on '
              f"the cluster, but")
    settings = cfg.cert_manager
    missing = _missing(found, [ObjectRef("CustomResourceDefinition", name) for name in CERT_MANAGER_USED_CRDS])
    if missing:
        return [f"{prefix} {_are_not_there(missing)}; nothing was changed"]
    if settings.issuer.type == "selfSigned" and ObjectRef("Namespace", settings.namespace) not in found:
        return [f"{prefix} namespace {settings.namespace} does not exist; set {PROJECT}:certManager.namespace "
                f"to the namespace cert-manager runs in (the self-signed CA is kept there); nothing was changed"]
    if settings.issuer.type == "existing" and not read([f"{RESOURCES['ClusterIssuer']}/{settings.issuer.name}",
                                                        "--ignore-not-found"]):
        return [f"{stack_file}: {PROJECT}:certManager.issuer.name: ClusterIssuer {settings.issuer.name} is not on "
                f'the cluster (issuer.type "existing" uses one as it is); nothing was changed']
    return []


def _are_not_there(refs: Sequence[ObjectRef]) -> str:
    return f"{', '.join(str(ref) for ref in refs)} {'is' if len(refs) == 1 else 'are'} not on the cluster"


def _read_objects(read: Reader, refs: Sequence[ObjectRef]) -> dict[ObjectRef, dict]:
    """The live objects among `refs`, one kubectl call per namespace."""
    by_namespace: dict[Optional[str], list[ObjectRef]] = {}
    for ref in dict.fromkeys(refs):
        by_namespace.setdefault(ref.namespace, []).append(ref)
    found = {}
    for namespace, group in sorted(by_namespace.items(), key=lambda item: item[0] or ""):
        args = [f"{RESOURCES[ref.kind]}/{ref.name}" for ref in group] + ["--ignore-not-found"]
        for live in read(args + (["-n", namespace] if namespace else [])):
            meta = live["metadata"]
            ref = ObjectRef(live["kind"], meta["name"], meta.get("namespace"))
            found[ref] = live
    return found
