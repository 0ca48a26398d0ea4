"""What a commit costs in time: Argo CD looks at Git every `argocd.reconciliationTimeout` plus up
to `argocd.reconciliationJitter`, both written to argocd-cm, and the workloads that read them at
start restart when they change."""
import pytest

from platform_ops.config import ConfigError, load_config, stack_file
from platform_ops.contract import PROJECT
from platform_ops.render.program import render_stack

CONTROLLER_PATCH = "argocd-argocd-application-controller-reconciliation"
REPO_SERVER_PATCH = "argocd-argocd-repo-server-reconciliation"
TIMEOUT_ANNOTATION = "platform-ops/reconciliation-timeout"
JITTER_ANNOTATION = "platform-ops/reconciliation-jitter"


def with_argocd(stack: str, **settings) -> dict:
    """The stack's config with `settings` set in (or, given None, removed from) its argocd section."""
    config = stack_file(stack)
    section = {**config[f"{PROJECT}:argocd"], **settings}
    config[f"{PROJECT}:argocd"] = {key: value for key, value in section.items() if value is not None}
    return config


def settings_of(config: dict) -> dict:
    """The `platform-ops:*` settings of a config block, keys without the project prefix."""
    return {key[len(PROJECT) + 1:]: value for key, value in config.items()}


def annotations(render, patch: str) -> dict:
    return render.named(patch).inputs["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("stack, timeout, jitter", [("dev", "30s", "0s"), ("staging", "60s", "10s"),
                                                    ("prod", "180s", "30s")])
def test_argocd_cm_carries_the_timeout_and_the_jitter_of_each_stack(rendered, stack, timeout, jitter):
    patch = rendered(stack).named("argocd-reconciliation").inputs
    assert patch["metadata"] == {"name": "argocd-cm", "namespace": "argocd"}
    assert patch["data"] == {"timeout.reconciliation": timeout, "timeout.reconciliation.jitter": jitter}


def test_left_out_the_jitter_is_none_so_the_timeout_alone_is_the_wait():
    config = with_argocd("prod", reconciliationJitter=None)
    assert load_config("prod", settings_of(config)).argocd.reconciliation_jitter == "0s"
    data = render_stack("prod", config=config).named("argocd-reconciliation").inputs["data"]
    # Written even so: left out of argocd-cm, Argo CD would add up to its own 60s.
    assert data["timeout.reconciliation.jitter"] == "0s"


@pytest.mark.parametrize("jitter", ["0s", "45s", "2m", "1h"])
def test_a_jitter_in_whole_seconds_minutes_or_hours_is_accepted(jitter):
    config = with_argocd("dev", reconciliationJitter=jitter)
    assert load_config("dev", settings_of(config)).argocd.reconciliation_jitter == jitter


@pytest.mark.parametrize("jitter, shown", [("soon", '"soon"'), ("30", '"30"'), ("-5s", '"-5s"'),
                                           ("1m30s", '"1m30s"'), ("500ms", '"500ms"')])
def test_a_bad_jitter_is_refused_with_one_line(jitter, shown):
    with pytest.raises(ConfigError) as caught:
        load_config("dev", settings_of(with_argocd("dev", reconciliationJitter=jitter)))
    assert str(caught.value) == (
        "Pulumi.dev.yaml: platform-ops:argocd.reconciliationJitter must be a duration such as 0s, 30s or 1m, "
        f"got {shown}")


def test_a_jitter_given_as_a_bare_number_is_refused():
    with pytest.raises(ConfigError) as caught:
        load_config("dev", settings_of(with_argocd("dev", reconciliationJitter=30)))
    assert str(caught.value) == (
        "Pulumi.dev.yaml: platform-ops:argocd.reconciliationJitter must be a non-empty string, got 30")


def test_the_application_controller_restarts_when_the_jitter_changes():
    before = render_stack("staging", config=with_argocd("staging", reconciliationJitter="10s"))
    after = render_stack("staging", config=with_argocd("staging", reconciliationJitter="20s"))
    assert annotations(before, CONTROLLER_PATCH) == {TIMEOUT_ANNOTATION: "60s", JITTER_ANNOTATION: "10s"}
    assert annotations(after, CONTROLLER_PATCH) == {TIMEOUT_ANNOTATION: "60s", JITTER_ANNOTATION: "20s"}


def test_the_repo_server_which_never_reads_the_jitter_does_not_restart_for_it():
    before = render_stack("staging", config=with_argocd("staging", reconciliationJitter="10s"))
    after = render_stack("staging", config=with_argocd("staging", reconciliationJitter="20s"))
    assert annotations(before, REPO_SERVER_PATCH) == annotations(after, REPO_SERVER_PATCH) == {
        TIMEOUT_ANNOTATION: "60s"}


def test_both_readers_restart_when_the_timeout_changes():
    render = render_stack("staging", config=with_argocd("staging", reconciliationTimeout="90s"))
    assert annotations(render, CONTROLLER_PATCH)[TIMEOUT_ANNOTATION] == "90s"
    assert annotations(render, REPO_SERVER_PATCH)[TIMEOUT_ANNOTATION] == "90s"


def test_the_restarts_follow_the_install(rendered):
    render = rendered("prod")
    install = render.named("argocd-install").urn
    for patch in ("argocd-reconciliation", CONTROLLER_PATCH, REPO_SERVER_PATCH):
        assert install in render.named(patch).dependencies
