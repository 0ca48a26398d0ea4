"""The preview report, from recorded `pulumi preview --diff --json` output and crafted steps:
each changed property old → new, secrets as [secret], counts, errors, and the report's sections."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_ops.preview.changes import (PreviewOutputError, PulumiChanges, first_error, read_preview,
                                          split_path, value_at)
from platform_ops.preview.charts import SideRender, chart_diff
from platform_ops.preview.report import PreviewOutcome, format_report
from platform_ops.preview.secrets import BASE_PLACEHOLDER, CHANGED_PLACEHOLDER, plan_secrets
from testbed.preview import as_in_the_checkout

RECORDED = Path(__file__).parent / "recorded"
# Retention 7d -> 9d and a new registry token, previewed against staging by the real engine.
RETENTION_AND_TOKEN = (RECORDED / "staging-retention-and-registry-token.json").read_text()
BAD_RETENTION = (RECORDED / "staging-bad-retention.json").read_text()
SUMMARY = "## Stack staging: what should be running\n\n| service | chart |\n|---|---|\n| api-node | api-node-0.1.0 |\n"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
URN = "urn:pulumi:staging::platform-ops::platform-ops:prometheus:Prometheus$" + DEPLOYMENT + "::prometheus-deployment"


def step(op: str, old: dict | None, new: dict | None, detailed: dict | None = None, **extra) -> dict:
    return {"op": op, "urn": URN, **({"detailedDiff": detailed} if detailed is not None else {}),
            **({"oldState": {"inputs": old}} if old is not None else {}),
            **({"newState": {"inputs": new}} if new is not None else {}), **extra}


def preview_of(*steps: dict, summary: dict | None = None) -> str:
    return json.dumps({"steps": list(steps), "changeSummary": summary or {"update": len(steps)}})


def outcome(**fields) -> PreviewOutcome:
    defaults = dict(stack="staging", base="main (0123456789ab)", head="working tree",
                    base_render=SideRender(SUMMARY, {"charts/api-node.yaml": "replicas: 1\n"}),
                    head_render=SideRender(SUMMARY, {"charts/api-node.yaml": "replicas: 1\n"}),
                    changes=PulumiChanges({"same": 141}, ()))
    return PreviewOutcome(**{**defaults, **fields})


def test_a_recorded_preview_counts_resources_by_operation():
    assert read_preview(RETENTION_AND_TOKEN).counts == {"replace": 1, "same": 139, "update": 1}


def test_each_changed_property_shows_its_old_and_new_value():
    update = read_preview(RETENTION_AND_TOKEN).resources[1]
    assert (update.op, update.type, update.name, update.object) == (
        "update", DEPLOYMENT, "prometheus-deployment", "observability/prometheus")
    [change] = update.properties
    assert (change.path, change.old, change.new) == ("spec.template.spec.containers[0].args[2]",
                                                     '"--storage.tsdb.retention.time=7d"',
                                                     '"--storage.tsdb.retention.time=9d"')


def test_a_secret_property_shows_as_secret_on_both_sides():
    replace = read_preview(RETENTION_AND_TOKEN).resources[0]
    assert (replace.op, replace.name, replace.object) == ("replace", "registry-pull-secret", "default/ghcr-cred")
    assert [(p.path, p.kind, p.old, p.new) for p in replace.properties] == [
        ('data[".dockerconfigjson"]', "update-replace", "[secret]", "[secret]")]


def test_the_report_lists_each_changed_resource_and_property():
    report = format_report(outcome(changes=read_preview(RETENTION_AND_TOKEN),
                                   secrets_changed=("platform-ops:registryToken",)))
    assert "**changes**: 2 resources changed; 0 charts differ; 1 secret setting changed\n" in report
    assert "1 to replace, 1 to update, 139 unchanged.\n" in report
    assert "| update    | prometheus-deployment | kubernetes:apps/v1:Deployment | observability/prometheus |" in report
    assert ("### update prometheus-deployment (observability/prometheus)\n\n"
            "- `spec.template.spec.containers[0].args[2]`: `\"--storage.tsdb.retention.time=7d\"` → "
            "`\"--storage.tsdb.retention.time=9d\"`\n") in report
    assert "- `data[\".dockerconfigjson\"]`: `[secret]` → `[secret]` (update-replace)\n" in report
    assert ("Secret settings changed: `platform-ops:registryToken` (their values are never shown).\n"
            in report)


@pytest.mark.parametrize("path, parts", [
    ("spec.template.spec.containers[0].args[2]", ["spec", "template", "spec", "containers", 0, "args", 2]),
    ('data[".dockerconfigjson"]', ["data", ".dockerconfigjson"]),
    ('metadata.annotations["platform-ops/reconciliation-timeout"]',
     ["metadata", "annotations", "platform-ops/reconciliation-timeout"]),
    ("spec", ["spec"]),
])
def test_a_property_path_reads_as_keys_and_indexes(path, parts):
    assert split_path(path) == parts


def test_an_unreadable_property_path_is_refused():
    with pytest.raises(PreviewOutputError, match=r"^property path 'spec\[x': cannot read at character 4$"):
        split_path("spec[x")


def test_a_value_inside_a_secret_envelope_is_secret():
    envelope = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": '"tok"'}
    assert value_at({"data": envelope}, ["data", "token"]) == "[secret]"
    assert value_at({"data": {"token": envelope}}, ["data"]) == "[secret]"


def test_an_added_property_is_absent_in_the_base():
    [change] = read_preview(preview_of(step("update", {"spec": {}}, {"spec": {"replicas": 2}},
                                            {"spec.replicas": {"kind": "add"}}))).resources[0].properties
    assert (change.kind, change.old, change.new) == ("add", "(absent)", "2")


def test_a_long_value_is_cut_to_a_table_cell():
    [change] = read_preview(preview_of(step("update", {"data": "a" * 10}, {"data": "b" * 400},
                                            {"data": {"kind": "update"}}))).resources[0].properties
    assert change.new == '"' + "b" * 158 + "…"


def test_created_and_deleted_resources_are_listed_without_properties():
    changes = read_preview(preview_of(step("create", None, {"metadata": {"name": "new"}}),
                                      step("delete", {"metadata": {"name": "old", "namespace": "argocd"}}, None),
                                      summary={"create": 1, "delete": 1}))
    assert [(r.op, r.object, r.properties) for r in changes.resources] == [("delete", "argocd/old", ()),
                                                                           ("create", "new", ())]


def test_diff_reasons_stand_in_for_a_missing_detailed_diff():
    [change] = read_preview(preview_of(step("update", {"data": 1}, {"data": 2}, diffReasons=["data"]))
                            ).resources[0].properties
    assert (change.path, change.old, change.new) == ("data", "1", "2")


def test_output_that_is_not_json_is_an_error():
    with pytest.raises(PreviewOutputError, match="^pulumi preview --json printed no JSON: Expecting value"):
        read_preview("Previewing update (staging):\n")


def test_the_programs_error_comes_from_the_json_diagnostics():
    assert first_error(BAD_RETENTION) == ('Pulumi.staging.yaml: platform-ops:prometheus.retention must be a '
                                          'duration such as 30s, 15m or 2d, got "nonsense"')


def test_the_programs_error_comes_from_the_text_of_pulumi_up_with_every_line_of_it():
    text = ("Updating (staging):\n\nDiagnostics:\n  pulumi:pulumi:Stack (platform-ops-staging):\n"
            "    error: Pulumi.staging.yaml: platform-ops:cluster.mode must be \"kind\" or \"existing\", got \"k\"\n"
            "      Pulumi.staging.yaml: platform-ops:prometheus.retention must be a duration\n"
            "    error: an unhandled error occurred: program exited with non-zero exit code: 1\n")
    assert first_error(text) == ('Pulumi.staging.yaml: platform-ops:cluster.mode must be "kind" or "existing", '
                                 'got "k"\nPulumi.staging.yaml: platform-ops:prometheus.retention must be a duration')


def test_base_equal_to_head_says_no_changes_and_exits_0():
    result = outcome()
    report = format_report(result)
    assert (result.unchanged, result.exit_code) == (True, 0)
    assert report.splitlines()[:3] == ["# Preview of stack staging: main (0123456789ab) → working tree", "",
                                       "**no changes**"]
    assert "no changes (141 unchanged).\n" in report
    assert report.endswith("## Rendered charts: base vs head\n\nno changes.\n")


def test_the_report_opens_with_the_heads_summary_table():
    report = format_report(outcome())
    assert report.index(SUMMARY) < report.index("## Pulumi changes")


def test_a_chart_change_alone_is_a_change():
    head = SideRender(SUMMARY, {"charts/api-node.yaml": "replicas: 2\n"})
    report = format_report(outcome(head_render=head))
    assert "**changes**: 0 resources changed; 1 chart differs\n" in report
    assert ("```diff\n--- base/charts/api-node.yaml\n+++ head/charts/api-node.yaml\n@@ -1 +1 @@\n"
            "-replicas: 1\n+replicas: 2\n```\n") in report


def test_a_new_chart_is_diffed_against_nothing():
    assert chart_diff({}, {"charts/billing.yaml": "kind: Service\n"}) == (
        "--- /dev/null\n+++ head/charts/billing.yaml\n@@ -0,0 +1 @@\n+kind: Service\n")


def test_a_failing_head_shows_the_programs_error_and_exits_1():
    error = 'Pulumi.staging.yaml: platform-ops:prometheus.retention must be a duration such as 30s, 15m or 2d, got "x"'
    result = outcome(changes=None, head_error=error, head_render=SideRender(None, error=error))
    report = format_report(result)
    assert result.exit_code == 1
    assert f"**the head fails**: {error}\n" in report
    assert f"The head could not be previewed:\n\n```\n{error}\n```\n" in report
    assert f"The head could not be rendered: {error}\n" in report


def test_a_failing_base_says_so_and_the_head_is_all_create():
    error = "Pulumi.staging.yaml: platform-ops:cluster.mode must be \"kind\" or \"existing\", got \"k\""
    result = outcome(base_error=error, base_render=SideRender(None, error=error),
                     changes=PulumiChanges({"create": 141}, ()))
    report = format_report(result)
    assert result.exit_code == 0
    assert "**changes**: 141 resources changed; 1 chart differs; the base could not be built\n" in report
    assert ("The base could not be built, so the head is previewed on an empty cluster (every resource is a "
            f"create). The base's error:\n\n```\n{error}\n```\n") in report
    assert "141 to create.\n" in report
    assert f"The base could not be rendered: {error}\n" in report


def test_a_kind_stack_says_it_ran_on_the_existing_cluster_path():
    report = format_report(outcome(stack="dev", kind_cluster=True))
    assert ("Stack dev runs on a Kind cluster; no Kind runs here, so this preview ran it on the existing-cluster "
            "path: the Kind cluster itself is not previewed.\n") in report


SECURE_A, SECURE_B = {"secure": "v1:AAAA"}, {"secure": "v1:BBBB"}


def test_an_unchanged_secret_gets_the_same_placeholder_on_both_sides():
    plan = plan_secrets({"platform-ops:registryToken": SECURE_A}, {"platform-ops:registryToken": SECURE_A})
    assert (plan.base, plan.head, plan.changed) == ({"platform-ops:registryToken": BASE_PLACEHOLDER},
                                                    {"platform-ops:registryToken": BASE_PLACEHOLDER}, ())


def test_a_secret_whose_ciphertext_differs_is_changed():
    plan = plan_secrets({"platform-ops:registryToken": SECURE_A}, {"platform-ops:registryToken": SECURE_B})
    assert (plan.head, plan.changed) == ({"platform-ops:registryToken": CHANGED_PLACEHOLDER},
                                         ("platform-ops:registryToken",))


def test_a_secret_added_or_removed_is_changed_and_set_on_its_side_only():
    plan = plan_secrets({"platform-ops:argocdAdminPassword": SECURE_A}, {"platform-ops:registryToken": SECURE_B})
    assert plan.base == {"platform-ops:argocdAdminPassword": BASE_PLACEHOLDER}
    assert plan.head == {"platform-ops:registryToken": CHANGED_PLACEHOLDER}
    assert plan.changed == ("platform-ops:argocdAdminPassword", "platform-ops:registryToken")


def test_the_programs_error_is_looked_for_in_stderr_when_stdout_has_none():
    assert first_error('{"steps": [], "diagnostics": []}', "error: could not load plugin kubernetes\n") == \
        "could not load plugin kubernetes"


def test_without_an_error_message_the_engines_last_line_stands():
    assert first_error("", "panic: something\n\tgoroutine 1\n") == "goroutine 1"


COPY_ERROR = 'Pulumi.staging.yaml:31: platform-ops:prometheus.retention must be a duration such as 30s, 15m or 2d'
CHECKOUT_ERROR = 'Pulumi.staging.yaml:40: platform-ops:prometheus.retention must be a duration such as 30s, 15m or 2d'


def test_an_error_in_the_stack_file_names_the_checkouts_line_not_the_engine_copys():
    assert as_in_the_checkout(COPY_ERROR, SideRender(None, error=CHECKOUT_ERROR), "staging") == CHECKOUT_ERROR


def test_an_engine_error_the_render_does_not_share_is_kept():
    rendered = SideRender("summary", {})
    assert as_in_the_checkout("error: the API server refused it", rendered, "staging") == \
        "error: the API server refused it"
    assert as_in_the_checkout(None, SideRender(None, error=CHECKOUT_ERROR), "staging") is None
