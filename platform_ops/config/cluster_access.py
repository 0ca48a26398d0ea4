"""Whether an existing cluster's kubeconfig lets the program reach it, checked before Pulumi
hands the file to the Kubernetes provider."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from platform_ops.config.settings import ClusterSettings, ExistingClusterSettings
from platform_ops.contract import PROJECT
from platform_ops.paths import stack_file_path


def cluster_access_problems(stack: str, cluster: ClusterSettings) -> list[str]:
    """Why the stack's existing cluster cannot be reached through its kubeconfig,
    checked before Pulumi hands the file to the Kubernetes provider (whose own
    error for a missing file is a JSON parse error). Kind stacks write their own."""
    if not isinstance(cluster, ExistingClusterSettings):
        return []
    stack_file = stack_file_path(stack).name
    path = Path(os.path.expanduser(cluster.kubeconfig))
    if not path.is_file():
        return [f"{stack_file}: {PROJECT}:cluster.kubeconfig: {cluster.kubeconfig} does not exist"]
    try:
        kubeconfig = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        return [f"{stack_file}: {PROJECT}:cluster.kubeconfig: {cluster.kubeconfig} is not readable YAML: "
                f"{str(error).splitlines()[0]}"]
    entries = kubeconfig.get("contexts") if isinstance(kubeconfig, dict) else None
    contexts = sorted(entry["name"] for entry in entries or []
                      if isinstance(entry, dict) and isinstance(entry.get("name"), str))
    if cluster.context not in contexts:
        return [f"{stack_file}: {PROJECT}:cluster.context: {cluster.context} is not a context of "
                f"{cluster.kubeconfig} (contexts: {', '.join(contexts) or 'none'})"]
    return []
