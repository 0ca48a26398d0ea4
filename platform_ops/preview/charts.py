"""Each side's offline render, by the side's own `scripts/render.py` (what `make render` runs),
and the diff of the charts as Argo CD renders them.

Both sides run with this checkout's Python and helm, so the diff shows chart and values
changes, not a change of renderer."""
from __future__ import annotations

import difflib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from platform_ops.paths import TOOLS_ENV, tools_dir

RENDER_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class SideRender:
    summary: Optional[str]  # summary.md: what should be running
    charts: dict[str, str] = field(default_factory=dict)  # charts/<service>.yaml -> text
    error: Optional[str] = None


def render_tree(tree: Path, stack: str, out_dir: Path) -> SideRender:
    """Render `stack` of the checkout in `tree` into `out_dir`; the render's own one-line
    error (its last line of output) when it fails."""
    env = {**os.environ, TOOLS_ENV: str(tools_dir()), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run([sys.executable, "scripts/render.py", stack, "--out", str(out_dir)], cwd=tree,
                                env=env, capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return SideRender(None, error=f"make render STACK={stack} still running after {RENDER_TIMEOUT_SECONDS}s")
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        return SideRender(None, error=lines[-1].strip() if lines else f"render exited {result.returncode}")
    charts = {f"charts/{path.name}": path.read_text() for path in sorted((out_dir / "charts").glob("*.yaml"))}
    return SideRender((out_dir / "summary.md").read_text(), charts)


def chart_diff(base: dict[str, str], head: dict[str, str]) -> str:
    """A unified diff of every chart, base against head; "" when they render the same."""
    parts = []
    for name in sorted(set(base) | set(head)):
        old, new = base.get(name), head.get(name)
        if old == new:
            continue
        parts += difflib.unified_diff((old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                                      fromfile=f"base/{name}" if old is not None else "/dev/null",
                                      tofile=f"head/{name}" if new is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n" for line in parts)
