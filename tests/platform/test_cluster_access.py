"""A stack on an existing cluster is refused, naming the file and key, when
its kubeconfig or context does not exist: before Pulumi reaches the provider."""
import pytest
import yaml

from platform_ops.config import ExistingClusterSettings, cluster_access_problems, stack_file
from platform_ops.render.program import render_stack


def kubeconfig(path, *contexts):
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}} for name in contexts],
    }))
    return str(path)


def test_a_missing_kubeconfig_is_refused_with_the_file_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cluster_access_problems("staging", ExistingClusterSettings("~/.kube/config", "platform-staging")) == [
        "Pulumi.staging.yaml: platform-ops:cluster.kubeconfig: ~/.kube/config does not exist"]


def test_a_missing_context_is_refused_naming_the_contexts_that_exist(tmp_path):
    path = kubeconfig(tmp_path / "config", "platform-prod", "kind-platform-dev")
    assert cluster_access_problems("staging", ExistingClusterSettings(path, "platform-staging")) == [
        f"Pulumi.staging.yaml: platform-ops:cluster.context: platform-staging is not a context of {path} "
        "(contexts: kind-platform-dev, platform-prod)"]


def test_a_kubeconfig_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "config"
    path.write_text("contexts: [unclosed\n")
    [problem] = cluster_access_problems("prod", ExistingClusterSettings(str(path), "platform-prod"))
    assert problem.startswith(f"Pulumi.prod.yaml: platform-ops:cluster.kubeconfig: {path} is not readable YAML: ")


def test_an_existing_context_passes(tmp_path):
    path = kubeconfig(tmp_path / "config", "platform-staging")
    assert cluster_access_problems("staging", ExistingClusterSettings(path, "platform-staging")) == []


def test_the_program_refuses_a_missing_kubeconfig_before_registering_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(Exception) as caught:
        render_stack("staging", offline=False)
    assert str(caught.value) == "Pulumi.staging.yaml: platform-ops:cluster.kubeconfig: ~/.kube/config does not exist"


def test_the_offline_render_needs_no_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert render_stack("staging").named("kubernetes").inputs["kubeconfig"] == "~/.kube/config"


def test_the_provider_gets_the_kubeconfig_path_as_written_so_another_home_shows_no_diff(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "alice"))
    alice = render_stack("prod").named("kubernetes").inputs
    monkeypatch.setenv("HOME", str(tmp_path / "bob"))
    bob = render_stack("prod").named("kubernetes").inputs
    assert alice == bob
    assert stack_file("prod")["platform-ops:cluster"]["kubeconfig"] == alice["kubeconfig"]
