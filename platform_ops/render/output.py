"""What `make render` writes: build/render/<stack>/ replaced atomically, with the summary of
what should be running (summary.py), the registered objects and each chart as Argo CD renders it."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

from platform_ops.render.charts import Renderer, render_stack_charts
from platform_ops.render.program import (K8S_REMOTE_COMPONENTS, Render, manifest, normalized, redact,
                                         render_stack, summary_rows)
from platform_ops.render.summary import StackSummary, format_objects, format_summary, summarize


def write_render(render: Render, out_dir: Path, charts: bool = True) -> str:
    """Replace out_dir with the render, atomically: a failed render leaves the old one.

    With `charts`, each Application's chart is rendered the way Argo CD will
    render it, into charts/<service>.yaml. Returns the summary, also written to
    summary.md; objects.md lists the registered objects."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        by_component: dict[str, list[dict]] = {}
        for r in render.resources:
            if r.is_kubernetes_object and not r.read:
                by_component.setdefault(render.component_of(r), []).append(manifest(r))
        for component, docs in sorted(by_component.items()):
            docs.sort(key=lambda d: (d.get("kind", ""), d["metadata"].get("namespace", ""),
                                     d["metadata"].get("name", "")))
            (staging / f"{component}.yaml").write_text(
                yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False))
        remote = [{"component": render.component_of(r), "type": r.type, "name": r.name, "inputs": redact(r.inputs)}
                  for r in render.resources if r.type in K8S_REMOTE_COMPONENTS]
        remote.sort(key=lambda item: item["name"])
        (staging / "installs.yaml").write_text(yaml.safe_dump(normalized(remote), sort_keys=True))
        (staging / "outputs.yaml").write_text(yaml.safe_dump(render.outputs, sort_keys=True))
        chart_manifests = None
        if charts:
            chart_manifests = render_stack_charts(render.stack, render.manifests, out_dir=staging / "charts")
        summary = format_summary(summarize(render.stack, render.config, render.manifests, chart_manifests))
        (staging / "summary.md").write_text(summary)
        (staging / "objects.md").write_text(format_objects(render.stack, summary_rows(render)))
    except BaseException:
        shutil.rmtree(staging)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return summary


def stack_summary(stack: str, renderer: Renderer | None = None) -> StackSummary:
    """Render a stack and its charts without writing anything; its StackSummary."""
    render = render_stack(stack)
    with tempfile.TemporaryDirectory(prefix="render-summary-") as tmp:
        charts = render_stack_charts(stack, render.manifests, renderer=renderer, out_dir=Path(tmp))
    return summarize(stack, render.config, render.manifests, charts)


def shown_path(path: Path) -> str:
    """A folder as printed: relative to the working directory, so no home or checkout path shows."""
    return os.path.relpath(path, Path.cwd())
