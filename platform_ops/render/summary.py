"""What should be running in a stack, as two markdown tables that read the same in a terminal and
in a pull-request comment; and what differs between two stacks.

Services come from the charts rendered the way Argo CD renders them (their Deployments and
Ingresses): what Argo CD will apply, not what the values files are meant to say. Platform parts
come from the stack's validated config (config.PlatformConfig); Prometheus's scrape targets from
the ConfigMap the program gives it.

Everything here is pure: no Pulumi, no helm, no clock, no paths. Same input, same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import yaml

NONE = "-"
IDENTICAL = "identical"

# Columns of the services table after the service name, in order; the diff compares the same fields.
SERVICE_FIELDS = ("chart", "image", "tag", "replicas", "cpu request/limit", "memory request/limit",
                  "hosts", "TLS")
# Ingress annotations through which cert-manager issues an Ingress's certificate.
ISSUER_ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")


# --- platform parts ---------------------------------------------------------------------------------
#
# One row per platform part: (label, value). `cfg` is the stack's config.PlatformConfig; `objects` are
# the Kubernetes objects the program registers (secrets redacted). A value of None leaves the row out,
# for a part a stack does not have. Adding a part is one line here, e.g.
#     ("cert-manager", lambda cfg, objects: cfg.cert_manager.version),

def _cluster(settings: Any) -> str:
    if hasattr(settings, "node_image"):
        ports = f"host ports {settings.http_port}/{settings.https_port}"
        return f"kind cluster {settings.name} (node {short_image(settings.node_image)}, {ports})"
    return f"existing cluster, context {settings.context} (kubeconfig {settings.kubeconfig})"


def _ingress_controller(settings: Any) -> str:
    if not settings.installed:
        return "the cluster's own: used, not installed by this stack"
    return f"NGINX Ingress Controller, chart {settings.chart}@{settings.chart_version}, namespace {settings.namespace}"


def _argocd(settings: Any) -> str:
    if not settings.installed:
        return f"the cluster's own, in namespace {settings.namespace}: used, not installed by this stack"
    return (f"{settings.version}, installed by this stack, namespace {settings.namespace}, reconciles every "
            f"{settings.reconciliation_timeout} + up to {settings.reconciliation_jitter}")


def _cert_manager(settings: Any) -> str:
    if not settings.installed:
        return f"the cluster's own, in namespace {settings.namespace}: used, not installed by this stack"
    return f"{settings.version}, installed by this stack, chart {settings.chart}, namespace {settings.namespace}"


def _issuer(issuer: Any) -> str:
    if issuer.type == "existing":
        return f"{issuer.name}: a ClusterIssuer already on the cluster, used as it is"
    if issuer.type == "acme":
        return f"{issuer.name}: ACME {issuer.server}, account {issuer.email}"
    return f"{issuer.name}: self-signed CA made in the cluster"


def _registry(settings: Any) -> str:
    if not settings.has_credentials:
        return f"{settings.server}, anonymous pulls (no registryToken)"
    return f"{settings.server}, pull secret {settings.secret_name}"


PLATFORM_PARTS: tuple[tuple[str, Callable[[Any, Sequence[dict]], Optional[str]]], ...] = (
    ("cluster", lambda cfg, objects: _cluster(cfg.cluster)),
    ("ingress controller", lambda cfg, objects: _ingress_controller(cfg.ingress)),
    ("ingress class", lambda cfg, objects: cfg.ingress.class_name),
    ("Argo CD", lambda cfg, objects: _argocd(cfg.argocd)),
    ("cert-manager", lambda cfg, objects: _cert_manager(cfg.cert_manager)),
    ("certificate issuer", lambda cfg, objects: _issuer(cfg.cert_manager.issuer)),
    ("Git source", lambda cfg, objects: f"{cfg.gitops.repo_url} at {cfg.gitops.target_revision}"),
    ("app namespace", lambda cfg, objects: cfg.gitops.namespace),
    ("image registry", lambda cfg, objects: _registry(cfg.registry)),
    ("Prometheus", lambda cfg, objects: f"{cfg.prometheus.version}, retention {cfg.prometheus.retention}, "
                                        f"scrape every {cfg.prometheus.scrape_interval}"),
    ("Prometheus resources", lambda cfg, objects: f"cpu {cfg.prometheus.cpu_request} / {NONE}, "
                                                  f"memory {cfg.prometheus.memory_request} / "
                                                  f"{cfg.prometheus.memory_limit} (request / limit)"),
    ("Prometheus scrapes", lambda cfg, objects: prometheus_scrapes(objects)),
)


def short_image(image: str) -> str:
    """An image reference with its digest cut to 12 hex digits: still unique, fits a table."""
    name, _, digest = image.partition("@")
    if digest.startswith("sha256:"):
        return f"{name}@sha256:{digest[len('sha256:'):][:12]}"
    return image


def prometheus_scrapes(objects: Iterable[dict]) -> Optional[str]:
    """Namespaces and apps in the prometheus.yml of the Prometheus ConfigMap, or None without one."""
    for obj in objects:
        if obj.get("kind") != "ConfigMap" or "prometheus.yml" not in (obj.get("data") or {}):
            continue
        config = yaml.safe_load(obj["data"]["prometheus.yml"]) or {}
        namespaces: set[str] = set()
        apps: set[str] = set()
        for job in config.get("scrape_configs") or []:
            for sd in job.get("kubernetes_sd_configs") or []:
                namespaces.update((sd.get("namespaces") or {}).get("names") or [])
            for relabel in job.get("relabel_configs") or []:
                if (relabel.get("action") == "keep"
                        and relabel.get("source_labels") == ["__meta_kubernetes_service_label_app_kubernetes_io_name"]):
                    apps.update(relabel.get("regex", "").split("|"))
        return f"namespaces: {', '.join(sorted(namespaces)) or NONE}; apps: {', '.join(sorted(apps)) or NONE}"
    return None


def platform_parts(cfg: Any, objects: Sequence[dict]) -> list[tuple[str, str]]:
    rows = []
    for label, value in PLATFORM_PARTS:
        text = value(cfg, objects)
        if text is not None:
            rows.append((label, str(text)))
    return rows


# --- services -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceRow:
    name: str
    fields: tuple[tuple[str, str], ...]  # (field, value) in SERVICE_FIELDS order

    def get(self, field: str) -> str:
        return dict(self.fields)[field]


def split_image(image: str) -> tuple[str, str]:
    """Repository and what pins it: the tag, the sha256: digest, or both as tag@digest."""
    name, at, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "")
    return repository, "@".join(part for part in (tag, digest) if part) or NONE


def _quantity(value: Any) -> str:
    return NONE if value is None else str(value)


def _pair(resources: Mapping[str, Any], key: str) -> str:
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    return f"{_quantity(requests.get(key))} / {_quantity(limits.get(key))}"


def service_rows(service: str, manifests: Sequence[dict]) -> list[ServiceRow]:
    """One row per container of the service's Deployments (one for each chart of this repository)."""
    hosts: set[str] = set()
    tls: set[str] = set()
    for obj in manifests:
        if obj.get("kind") == "Ingress":
            spec = obj.get("spec") or {}
            hosts.update(rule["host"] for rule in spec.get("rules") or [] if rule.get("host"))
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            issuer = next((annotations[a] for a in ISSUER_ANNOTATIONS if annotations.get(a)), None)
            for entry in spec.get("tls") or []:
                secret = entry.get("secretName") or f"controller default ({', '.join(entry.get('hosts') or [])})"
                tls.add(f"{secret} (issuer {issuer})" if issuer else secret)
    shared = {
        "hosts": ", ".join(sorted(hosts)) or NONE,
        "TLS": ", ".join(sorted(tls)) or NONE,
    }
    deployments = sorted((m for m in manifests if m.get("kind") == "Deployment"),
                         key=lambda m: m["metadata"]["name"])
    containers = [(d, c) for d in deployments for c in d["spec"]["template"]["spec"].get("containers") or []]
    rows = []
    for deployment, container in containers:
        repository, tag = split_image(str(container.get("image", "")))
        resources = container.get("resources") or {}
        values = {
            "chart": (deployment["metadata"].get("labels") or {}).get("helm.sh/chart", NONE),
            "image": repository or NONE,
            "tag": tag,
            "replicas": str(deployment["spec"].get("replicas", 1)),
            "cpu request/limit": _pair(resources, "cpu"),
            "memory request/limit": _pair(resources, "memory"),
            **shared,
        }
        name = service if len(containers) == 1 else f"{service}/{deployment['metadata']['name']}/{container['name']}"
        rows.append(ServiceRow(name, tuple((f, values[f]) for f in SERVICE_FIELDS)))
    if not rows:
        rows.append(ServiceRow(service, tuple((f, shared.get(f, NONE)) for f in SERVICE_FIELDS)))
    return rows


# --- a stack's summary ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StackSummary:
    stack: str
    # None when the charts were not rendered (render.py --no-charts).
    services: Optional[tuple[ServiceRow, ...]]
    platform: tuple[tuple[str, str], ...]


def summarize(stack: str, cfg: Any, objects: Sequence[dict],
              charts: Optional[Mapping[str, Sequence[dict]]]) -> StackSummary:
    """`charts` maps each service to the manifests its chart renders to (None: not rendered)."""
    services = None
    if charts is not None:
        services = tuple(sorted((row for name, docs in charts.items() for row in service_rows(name, docs)),
                                key=lambda row: row.name))
    return StackSummary(stack, services, tuple(platform_parts(cfg, objects)))


def _cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table padded to fixed column widths, one string per line."""
    table = [[_cell(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(table[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in table[1:]]


def format_summary(summary: StackSummary) -> str:
    lines = [f"## Stack {summary.stack}: what should be running", ""]
    if summary.services is None:
        lines.append("Services: charts not rendered (--no-charts).")
    else:
        lines += markdown_table(("service",) + SERVICE_FIELDS,
                                ((row.name,) + tuple(v for _, v in row.fields) for row in summary.services))
    lines.append("")
    lines += markdown_table(("platform part", "setting"), summary.platform)
    return "\n".join(lines) + "\n"


def format_objects(stack: str, rows: Sequence[tuple[str, str, str]]) -> str:
    """The registered platform objects: (component, kind, namespace/name)."""
    lines = [f"## Stack {stack}: objects the program registers ({len(rows)})", ""]
    lines += markdown_table(("component", "kind", "namespace/name"), rows)
    return "\n".join(lines) + "\n"


# --- two stacks -------------------------------------------------------------------------------------------

def diff_summaries(a: StackSummary, b: StackSummary) -> str:
    """What differs between two stacks, service by service and platform part by platform part."""
    left = {row.name: dict(row.fields) for row in a.services or ()}
    right = {row.name: dict(row.fields) for row in b.services or ()}
    service_lines = []
    services_differing = 0
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            service_lines.append((name, "service", "present" if name in left else "absent",
                                  "present" if name in right else "absent"))
            services_differing += 1
            continue
        changed = [(name, f, left[name][f], right[name][f]) for f in SERVICE_FIELDS
                   if left[name][f] != right[name][f]]
        services_differing += bool(changed)
        service_lines += changed or [(name, "all fields", IDENTICAL, IDENTICAL)]

    left_parts, right_parts = dict(a.platform), dict(b.platform)
    labels = [label for label, _ in a.platform] + [label for label, _ in b.platform if label not in left_parts]
    part_lines = []
    parts_differing = 0
    for label in labels:
        x, y = left_parts.get(label, "absent"), right_parts.get(label, "absent")
        if x == y:
            part_lines.append((label, IDENTICAL, IDENTICAL))
        else:
            part_lines.append((label, x, y))
            parts_differing += 1

    services_total = len(set(left) | set(right))
    lines = [f"## Stack {a.stack} vs stack {b.stack}", "",
             f"{services_differing} of {services_total} services differ; "
             f"{parts_differing} of {len(labels)} platform parts differ.", ""]
    lines += markdown_table(("service", "field", a.stack, b.stack), service_lines)
    lines.append("")
    lines += markdown_table(("platform part", a.stack, b.stack), part_lines)
    return "\n".join(lines) + "\n"
