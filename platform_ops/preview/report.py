"""The preview report of one stack, `build/preview/<stack>.md`: head's summary table (what should
be running), then what `pulumi up` would change from base to head, then the charts' diff.

Pure: the same outcome gives the same bytes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from platform_ops.preview.changes import OPERATION_ORDER, PulumiChanges
from platform_ops.preview.charts import SideRender, chart_diff
from platform_ops.render.summary import markdown_table

NO_CHANGES = "no changes"
KIND_NOTE = ("Stack {stack} runs on a Kind cluster; no Kind runs here, so this preview ran it on the "
             "existing-cluster path: the Kind cluster itself is not previewed.")
BASE_FAILED_NOTE = ("The base could not be built, so the head is previewed on an empty cluster "
                    "(every resource is a create). The base's error:")


@dataclass(frozen=True)
class PreviewOutcome:
    stack: str
    base: str  # how the base is named: the ref and its commit
    head: str
    base_render: SideRender
    head_render: SideRender
    secrets_changed: tuple[str, ...] = ()
    changes: Optional[PulumiChanges] = None  # None when the head could not be previewed
    base_error: Optional[str] = None
    head_error: Optional[str] = None
    kind_cluster: bool = False

    @property
    def chart_diff(self) -> str:
        return chart_diff(self.base_render.charts, self.head_render.charts)

    @property
    def unchanged(self) -> bool:
        return (self.head_error is None and self.base_error is None and self.changes is not None
                and not self.changes.changed and not self.secrets_changed and not self.chart_diff
                and self.base_render.error is None and self.head_render.error is None)

    @property
    def exit_code(self) -> int:
        """A head that cannot be previewed fails the check; a base that cannot is the head's to fix."""
        return 1 if self.head_error is not None else 0


def _counts(changes: PulumiChanges) -> str:
    order = {op: index for index, op in enumerate(OPERATION_ORDER)}
    parts = [f"{count} unchanged" if op == "same" else f"{count} to {op}"
             for op, count in sorted(changes.counts.items(), key=lambda item: order.get(item[0], len(order)))]
    return ", ".join(parts) or "no resources"


def _error_block(text: str) -> list[str]:
    return ["```", *text.splitlines(), "```"]


def _pulumi_section(outcome: PreviewOutcome) -> list[str]:
    lines = ["## Pulumi changes: what `pulumi up` would do", ""]
    if outcome.base_error is not None:
        lines += [BASE_FAILED_NOTE, "", *_error_block(outcome.base_error), ""]
    if outcome.head_error is not None:
        return lines + ["The head could not be previewed:", "", *_error_block(outcome.head_error), ""]
    changes = outcome.changes
    assert changes is not None
    if outcome.secrets_changed:
        keys = ", ".join(f"`{key}`" for key in outcome.secrets_changed)
        lines += [f"Secret settings changed: {keys} (their values are never shown).", ""]
    if not changes.changed:
        return lines + [f"{NO_CHANGES} ({_counts(changes)}).", ""]
    lines += [f"{_counts(changes)}.", ""]
    lines += markdown_table(("operation", "resource", "type", "object"),
                            ((r.op, r.name, r.type, r.object or "-") for r in changes.resources))
    for resource in changes.resources:
        if not resource.properties:
            continue
        where = f" ({resource.object})" if resource.object else ""
        lines += ["", f"### {resource.op} {resource.name}{where}", ""]
        lines += [f"- `{p.path}`: `{p.old}` → `{p.new}`" + ("" if p.kind in ("update", "add", "delete")
                                                       else f" ({p.kind})") for p in resource.properties]
    return lines + [""]


def _charts_section(outcome: PreviewOutcome) -> list[str]:
    lines = ["## Rendered charts: base vs head", ""]
    for side, render in (("base", outcome.base_render), ("head", outcome.head_render)):
        if render.error is not None:
            lines += [f"The {side} could not be rendered: {render.error}", ""]
    diff = outcome.chart_diff
    if not diff:
        return lines + [f"{NO_CHANGES}.", ""]
    return lines + ["```diff", *diff.splitlines(), "```", ""]


def _result(outcome: PreviewOutcome) -> str:
    if outcome.head_error is not None:
        return f"**the head fails**: {outcome.head_error.splitlines()[0]}"
    if outcome.unchanged:
        return f"**{NO_CHANGES}**"
    assert outcome.changes is not None
    changed = sum(count for op, count in outcome.changes.counts.items() if op != "same")
    base_charts, head_charts = outcome.base_render.charts, outcome.head_render.charts
    charts = sum(1 for name in set(base_charts) | set(head_charts) if base_charts.get(name) != head_charts.get(name))
    parts = [f"{changed} resource{'s' * (changed != 1)} changed",
             f"{charts} chart{'s' * (charts != 1)} differ{'s' * (charts == 1)}"]
    if outcome.secrets_changed:
        parts.append(f"{len(outcome.secrets_changed)} secret setting{'s' * (len(outcome.secrets_changed) != 1)} "
                     f"changed")
    if outcome.base_error is not None:
        parts.append("the base could not be built")
    return "**changes**: " + "; ".join(parts)


def format_report(outcome: PreviewOutcome) -> str:
    lines = [f"# Preview of stack {outcome.stack}: {outcome.base} → {outcome.head}", "", _result(outcome), ""]
    if outcome.kind_cluster:
        lines += [KIND_NOTE.format(stack=outcome.stack), ""]
    if outcome.head_render.summary is not None:
        lines += [outcome.head_render.summary.rstrip("\n"), ""]
    else:
        lines += [f"## Stack {outcome.stack}: what should be running", "",
                  f"The head could not be rendered: {outcome.head_render.error}", ""]
    lines += _pulumi_section(outcome)
    lines += _charts_section(outcome)
    return "\n".join(lines).rstrip("\n") + "\n"
