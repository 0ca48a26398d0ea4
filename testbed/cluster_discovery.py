"""Prometheus's Kubernetes discovery, for real: the pinned Prometheus runs the
prometheus.yml the platform deployed, read back from the cluster, changed only
to reach this API server as Prometheus's own ServiceAccount.

Scrapes fail (fake pods' addresses lead nowhere); discovery and relabeling
are what this shows."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

from platform_ops.contract import (APPS_SCRAPE_JOB, OBSERVABILITY_NAMESPACE, PROMETHEUS_CONFIG_MAP,
                                    PROMETHEUS_NAME)
from platform_ops.paths import tools_dir
from testbed.controlplane import ControlPlane, free_port

SERVICE_ACCOUNT = PROMETHEUS_NAME


def prometheus_binary() -> Path:
    return tools_dir() / "prometheus"


def write_config(cluster: ControlPlane, workdir: Path) -> Path:
    """The deployed config and rules, with kubeconfig_file added to each
    Kubernetes discovery: a token of Prometheus's ServiceAccount and this
    cluster's CA."""
    config_dir = workdir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    for name, text in cluster.get("configmap", PROMETHEUS_CONFIG_MAP, "-n", OBSERVABILITY_NAMESPACE)["data"].items():
        (config_dir / name).write_text(text)
    token = cluster.kubectl("create", "token", SERVICE_ACCOUNT, "-n", OBSERVABILITY_NAMESPACE, "--duration=10m").stdout.strip()
    kubeconfig = config_dir / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": cluster.server,
                                               "certificate-authority": str(cluster.certs / "ca.crt")}}],
        "users": [{"name": "prometheus", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "prometheus"}}],
        "current-context": "c",
    }))
    config_file = config_dir / "prometheus.yml"
    config = yaml.safe_load(config_file.read_text())
    for scrape in config["scrape_configs"]:
        for sd in scrape.get("kubernetes_sd_configs", []):
            sd["kubeconfig_file"] = str(kubeconfig)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_file


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def discovered_targets(cluster: ControlPlane, workdir: Path, expected: int,
                       timeout: float = 60) -> tuple[list[dict], set[str]]:
    """(labels of each active target of the apps' job, sorted by pod; names of
    the Services discovery dropped) once `expected` targets are active."""
    config_file = write_config(cluster, workdir)
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [str(prometheus_binary()), f"--config.file={config_file}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={workdir / 'data'}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                targets = _get(f"http://127.0.0.1:{port}/api/v1/targets?state=any")["data"]
            except OSError:
                targets = None
            if targets is not None:
                active = [t["labels"] for t in targets["activeTargets"] if t["scrapePool"] == APPS_SCRAPE_JOB]
                if len(active) >= expected:
                    dropped = {t["discoveredLabels"].get("__meta_kubernetes_service_name", "")
                               for t in targets["droppedTargets"] if t.get("scrapePool", APPS_SCRAPE_JOB) == APPS_SCRAPE_JOB}
                    return sorted(active, key=lambda labels: labels["pod"]), dropped
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Prometheus found {len(active) if targets else 0} of {expected} targets:\n"
                                     + (workdir / "prometheus.log").read_text(errors="replace")[-3000:])
            time.sleep(0.25)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
