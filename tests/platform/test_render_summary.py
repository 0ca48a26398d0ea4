"""The summary's building blocks (platform_ops/render/summary.py), on hand-made manifests and config."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from platform_ops.config import load_config, stack_file
from platform_ops.contract import PROJECT
from platform_ops.render import summary as render_summary
from platform_ops.render.summary import (ServiceRow, StackSummary, diff_summaries, format_summary, markdown_table,
                                    platform_parts, service_rows, summarize)


def deployment(name: str, image: str, replicas=None, resources=None, chart="svc-0.1.0") -> dict:
    spec = {"template": {"spec": {"containers": [{"name": name, "image": image, "resources": resources or {}}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"kind": "Deployment", "metadata": {"name": name, "labels": {"helm.sh/chart": chart}}, "spec": spec}


def ingress(host: str, secret: str, annotations=None) -> dict:
    return {"kind": "Ingress", "metadata": {"name": "api", "annotations": annotations or {}},
            "spec": {"tls": [{"hosts": [host], "secretName": secret}], "rules": [{"host": host}]}}


def fields(row: ServiceRow) -> dict:
    return dict(row.fields)


def summary(stack: str, services: dict[str, dict], platform: dict[str, str]) -> StackSummary:
    rows = tuple(ServiceRow(name, tuple((f, values.get(f, "-")) for f in render_summary.SERVICE_FIELDS))
                 for name, values in sorted(services.items()))
    return StackSummary(stack, rows, tuple(platform.items()))


def test_markdown_table_pads_every_column_to_its_widest_cell_and_escapes_pipes():
    assert markdown_table(("a", "long header"), [("wide cell", "x|y"), ("b", "")]) == [
        "| a         | long header |",
        "|-----------|-------------|",
        "| wide cell | x\\|y        |",
        "| b         |             |",
    ]


def test_service_row_reads_chart_image_tag_replicas_resources_hosts_and_tls_from_the_manifests():
    [row] = service_rows("api", [
        deployment("api", "ghcr.io/o/api:abc1234", replicas=3, chart="api-0.2.0",
                   resources={"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}),
        ingress("api.example.test", "api-tls"),
    ])
    assert row.name == "api"
    assert fields(row) == {
        "chart": "api-0.2.0", "image": "ghcr.io/o/api", "tag": "abc1234", "replicas": "3",
        "cpu request/limit": "50m / -", "memory request/limit": "64Mi / 128Mi",
        "hosts": "api.example.test", "TLS": "api-tls",
    }


def test_an_image_pinned_by_digest_shows_the_digest_as_its_tag():
    digest = "sha256:" + "ab" * 32
    [row] = service_rows("api", [deployment("api", f"registry:5000/o/api@{digest}")])
    assert (row.get("image"), row.get("tag")) == ("registry:5000/o/api", digest)


def test_a_deployment_without_replicas_runs_one_and_an_image_without_tag_says_so():
    [row] = service_rows("api", [deployment("api", "registry:5000/o/api")])
    assert (row.get("replicas"), row.get("tag"), row.get("hosts"), row.get("TLS")) == ("1", "-", "-", "-")


def test_tls_names_the_cert_manager_issuer_of_the_ingress():
    [row] = service_rows("api", [deployment("api", "o/api:abc1234"),
                                 ingress("api.test", "api-tls", {"cert-manager.io/cluster-issuer": "platform-ca"})])
    assert row.get("TLS") == "api-tls (issuer platform-ca)"


def test_services_are_listed_sorted_by_name(monkeypatch):
    monkeypatch.setattr(render_summary, "PLATFORM_PARTS", ())
    charts = {name: [deployment(name, f"o/{name}:abc1234")] for name in ("worker", "api", "core")}
    result = summarize("dev", None, [], charts)
    assert [row.name for row in result.services] == ["api", "core", "worker"]
    lines = format_summary(result).splitlines()
    assert [line.split("|")[1].strip() for line in lines[4:7]] == ["api", "core", "worker"]


def test_adding_a_platform_part_is_one_row_and_a_part_a_stack_lacks_is_left_out(monkeypatch):
    cfg = SimpleNamespace(cert_manager=SimpleNamespace(version="v1.19.2"), issuer=None)
    monkeypatch.setattr(render_summary, "PLATFORM_PARTS", (
        ("cert-manager", lambda cfg, objects: cfg.cert_manager.version),
        ("issuer", lambda cfg, objects: cfg.issuer),
    ))
    assert platform_parts(cfg, []) == [("cert-manager", "v1.19.2")]


def test_prometheus_scrapes_reads_namespaces_and_apps_from_its_config_map():
    config = (
        "scrape_configs:\n"
        "- job_name: prometheus\n"
        "  static_configs: [{targets: ['localhost:9090']}]\n"
        "- job_name: platform-apps\n"
        "  kubernetes_sd_configs: [{role: endpointslice, namespaces: {names: [apps, default]}}]\n"
        "  relabel_configs:\n"
        "  - {source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_name], regex: b|a, action: keep}\n"
    )
    objects = [{"kind": "ConfigMap", "data": {"prometheus.yml": config}}]
    assert render_summary.prometheus_scrapes(objects) == "namespaces: apps, default; apps: a, b"


def test_diff_of_two_identical_stacks_says_each_service_and_part_is_identical():
    a = summary("dev", {"api": {"tag": "abc1234"}}, {"Argo CD": "v3.5.7"})
    b = summary("qa", {"api": {"tag": "abc1234"}}, {"Argo CD": "v3.5.7"})
    assert diff_summaries(a, b).splitlines() == [
        "## Stack dev vs stack qa",
        "",
        "0 of 1 services differ; 0 of 1 platform parts differ.",
        "",
        "| service | field      | dev       | qa        |",
        "|---------|------------|-----------|-----------|",
        "| api     | all fields | identical | identical |",
        "",
        "| platform part | dev       | qa        |",
        "|---------------|-----------|-----------|",
        "| Argo CD       | identical | identical |",
    ]


def test_diff_names_a_service_and_a_platform_part_that_only_one_stack_has():
    a = summary("dev", {"api": {}, "extra": {}}, {"Argo CD": "v3.5.7"})
    b = summary("prod", {"api": {}}, {"Argo CD": "v3.5.7", "cert-manager": "v1.19.2"})
    lines = diff_summaries(a, b).splitlines()
    assert lines[2] == "1 of 2 services differ; 1 of 2 platform parts differ."
    assert "| extra   | service    | present   | absent    |" in lines
    assert "| cert-manager  | absent    | v1.19.2   |" in lines


@pytest.mark.parametrize("image, expected", [
    ("ghcr.io/o/api:abc1234", ("ghcr.io/o/api", "abc1234")),
    ("localhost:5000/api", ("localhost:5000/api", "-")),
    ("api@sha256:00", ("api", "sha256:00")),
    ("ghcr.io/o/api:abc1234@sha256:00", ("ghcr.io/o/api", "abc1234@sha256:00")),
    ("localhost:5000/api:abc1234@sha256:00", ("localhost:5000/api", "abc1234@sha256:00")),
])
def test_split_image(image, expected):
    assert render_summary.split_image(image) == expected


def test_the_summary_says_which_parts_the_stack_installs_and_which_it_uses_from_the_cluster():
    raw = {key[len(PROJECT) + 1:]: value for key, value in stack_file("staging").items()}
    raw.update(argocd={"install": "cluster", "namespace": "gitops"},
               certManager={"install": "cluster", "issuer": {"type": "existing", "name": "platform-ca"}},
               ingress={"controller": "external"})
    parts = dict(platform_parts(load_config("staging", raw), []))
    assert (parts["ingress controller"], parts["Argo CD"], parts["cert-manager"], parts["certificate issuer"]) == (
        "the cluster's own: used, not installed by this stack",
        "the cluster's own, in namespace gitops: used, not installed by this stack",
        "the cluster's own, in namespace cert-manager: used, not installed by this stack",
        "platform-ca: a ClusterIssuer already on the cluster, used as it is")
