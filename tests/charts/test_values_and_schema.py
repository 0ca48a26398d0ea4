"""Values files follow the chart values contract, values.schema.json refuses bad values with Helm's own
error, and image tags that look like numbers still render as strings."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml

from platform_ops import chart_checks as checks
from platform_ops.render.charts import ChartRenderError
from platform_ops.contract import STACKS

APPS = ("api-node", "core-go", "worker-python")
SCHEMA_ERROR = "Error: values don't meet the specifications of the schema(s) in the following chart(s):"
PROMOTABLE_BLOCK = re.compile(
    r"^# [^\n]*[Ww]ritten by promotion[^\n]*\n"
    r"image:\n"
    r"  repository: ghcr\.io/zainasr/(?P<app>[a-z-]+)\n"
    r"  tag: \"(?P<tag>[0-9a-f]{7,40})\"\n",
    re.M,
)


def schema_failure(renderer, source, extra_args=()) -> list[str]:
    """Helm's error lines when the chart refuses the values."""
    with pytest.raises(ChartRenderError) as err:
        renderer.render_text(source, extra_args)
    lines = str(err.value).splitlines()[1:]
    assert lines[:2] == [SCHEMA_ERROR, f"{source.service}:"], str(err.value)
    return lines[2:]


@pytest.fixture(params=APPS)
def dev_source(request, sources):
    return sources("dev")[request.param]


# --- values files --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("app", APPS)
def test_values_yaml_has_no_image_tag(repo_root, app):
    values = yaml.safe_load((repo_root / "charts" / app / "values.yaml").read_text())
    assert "tag" not in values["image"]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("app", APPS)
def test_environment_file_carries_the_promotable_image_block(repo_root, app, stack):
    text = (repo_root / "charts" / app / f"values-{stack}.yaml").read_text()
    blocks = list(PROMOTABLE_BLOCK.finditer(text))
    assert len(blocks) == 1, f"values-{stack}.yaml of {app} lacks the promotable image block"
    assert blocks[0]["app"] == app


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("app", APPS)
def test_environment_file_sets_what_differs_per_environment(repo_root, app, stack):
    values = yaml.safe_load((repo_root / "charts" / app / f"values-{stack}.yaml").read_text())
    assert values["environment"] == stack
    assert {"replicaCount", "resources", "logLevel", "image"} <= set(values)
    if app == "api-node":
        assert set(values["ingress"]) == {"host", "tlsSecretName", "clusterIssuer"}


def test_dev_ingress_host_is_api_local_dev(repo_root):
    values = yaml.safe_load((repo_root / "charts" / "api-node" / "values-dev.yaml").read_text())
    assert values["ingress"]["host"] == "api.local.dev"


@pytest.mark.parametrize("app", APPS)
def test_values_yaml_documents_every_value_in_place(repo_root, app):
    lines = (repo_root / "charts" / app / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        # Top-level keys and their children; deeper keys are Kubernetes fields explained by their parent.
        key = re.match(r"^ {0,2}([A-Za-z][\w-]*):", line)
        if key and not lines[i - 1].lstrip().startswith("#"):
            undocumented.append(key.group(1))
    assert undocumented == []


@pytest.mark.parametrize("app", APPS)
def test_image_pull_secrets_default_to_ghcr_cred(repo_root, app):
    values = yaml.safe_load((repo_root / "charts" / app / "values.yaml").read_text())
    assert values["imagePullSecrets"] == [{"name": "ghcr-cred"}]


# --- values.schema.json ----------------------------------------------------------------------------------------

def _objects(schema):
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value)


@pytest.mark.parametrize("app", APPS)
def test_schema_is_self_contained_and_closed(repo_root, app):
    text = (repo_root / "charts" / app / "values.schema.json").read_text()
    schema = json.loads(text)
    assert "$ref" not in text and "$id" not in text
    open_objects = [o.get("description", "<root>") for o in _objects(schema) if o.get("additionalProperties") is not False]
    assert open_objects == []


def test_schema_rejects_an_unknown_top_level_key(renderer, dev_source):
    assert schema_failure(renderer, dev_source, ["--set", "replicas=2"]) == [
        "- at '': additional properties 'replicas' not allowed"]


def test_schema_rejects_tag_latest(renderer, dev_source):
    assert schema_failure(renderer, dev_source, ["--set-string", "image.tag=latest"]) == [
        "- at '/image/tag': 'latest' does not match pattern '^([0-9a-f]{7,40}|sha256:[0-9a-f]{64})$'"]


def test_schema_rejects_replica_count_zero(renderer, dev_source):
    assert schema_failure(renderer, dev_source, ["--set", "replicaCount=0"]) == [
        "- at '/replicaCount': minimum: got 0, want 1"]


def test_schema_rejects_missing_resources(renderer, dev_source, tmp_path):
    env_file = renderer.chart_dir(dev_source) / dev_source.value_files[-1]
    values = yaml.safe_load(env_file.read_text())
    del values["resources"]
    (tmp_path / "values-noresources.yaml").write_text(yaml.safe_dump(values))
    source = dataclasses.replace(dev_source, value_files=("values.yaml", str(tmp_path / "values-noresources.yaml")))
    assert schema_failure(renderer, source) == ["- at '': missing property 'resources'"]


def test_schema_rejects_an_unquoted_numeric_tag(renderer, dev_source, tmp_path):
    (tmp_path / "tag.yaml").write_text("image:\n  tag: 6063e25\n")
    source = dataclasses.replace(dev_source, value_files=dev_source.value_files + (str(tmp_path / "tag.yaml"),))
    assert schema_failure(renderer, source) == ["- at '/image/tag': got number, want string"]


def test_schema_requires_host_tls_secret_and_issuer_when_ingress_is_enabled(renderer, sources, tmp_path):
    source = sources("dev")["api-node"]
    values = yaml.safe_load((renderer.chart_dir(source) / source.value_files[-1]).read_text())
    del values["ingress"]
    (tmp_path / "values-noingress.yaml").write_text(yaml.safe_dump(values))
    broken = dataclasses.replace(source, value_files=("values.yaml", str(tmp_path / "values-noingress.yaml")))
    assert schema_failure(renderer, broken) == [
        "- at '/ingress': missing properties 'host', 'tlsSecretName', 'clusterIssuer'"]


# --- tags that look like numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["1234567", "6063e25", "0000000"])
def test_numeric_looking_tag_set_as_string_renders_as_a_string(renderer, dev_source, tag):
    manifests = renderer.render(dev_source, ["--set-string", f"image.tag={tag}"])
    assert checks.check_image_tag(manifests, tag) == []
    assert checks.check_kubernetes_schema(manifests) == []


@pytest.mark.parametrize("tag", ["1234567", "6063e25"])
def test_numeric_looking_tag_quoted_in_a_values_file_renders_as_a_string(renderer, dev_source, tmp_path, tag):
    (tmp_path / "tag.yaml").write_text(f'image:\n  tag: "{tag}"\n')
    source = dataclasses.replace(dev_source, value_files=dev_source.value_files + (str(tmp_path / "tag.yaml"),))
    manifests = renderer.render(source)
    assert checks.check_image_tag(manifests, tag) == []
    assert checks.check_gitops_stable(manifests) == []


def test_digest_renders_the_image_by_digest(renderer, sources, find):
    source = sources("dev")["core-go"]
    digest = "sha256:" + "ab" * 32
    manifests = renderer.render(source, ["--set-string", f"image.tag={digest}"])
    container = find(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/zainasr/core-go@{digest}"
    assert checks.check_image_tag(manifests, digest) == []
    assert checks.check_kubernetes_schema(manifests) == []


def test_digest_beside_a_tag_pins_the_image_as_repository_tag_at_digest(renderer, sources, find):
    source = sources("dev")["core-go"]
    digest = "sha256:" + "cd" * 32
    manifests = renderer.render(source, ["--set-string", "image.tag=6063e25", "--set-string", f"image.digest={digest}"])
    container = find(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/zainasr/core-go:6063e25@{digest}"
    assert checks.check_image_tag(manifests, "6063e25", digest) == []
    assert checks.check_kubernetes_schema(manifests) == []


def test_schema_rejects_a_digest_that_is_not_sha256_hex(renderer, dev_source):
    assert schema_failure(renderer, dev_source, ["--set-string", "image.digest=sha256:abc"]) == [
        "- at '/image/digest': 'sha256:abc' does not match pattern '^sha256:[0-9a-f]{64}$'"]


def test_a_digest_beside_a_digest_tag_is_refused(renderer, sources):
    digest = "sha256:" + "cd" * 32
    with pytest.raises(ChartRenderError) as err:
        renderer.render_text(sources("dev")["core-go"], ["--set-string", f"image.tag={digest}",
                                                         "--set-string", f"image.digest={digest}"])
    assert "image.digest is set but image.tag is already a digest: keep one of them" in str(err.value)
