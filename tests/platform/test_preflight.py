"""scripts/preflight.sh names every missing prerequisite of `make up` / `make destroy`,
each message naming the target it runs for. The runs through make are in test_make_up.py."""
import os
import subprocess

import pytest

PULUMI_MISSING = ("missing 'pulumi': the Pulumi CLI runs the program "
                  "(https://www.pulumi.com/docs/iac/download-install/)")
KIND_MISSING = "missing 'kind': stack dev runs on a Kind cluster (https://kind.sigs.k8s.io/)"
DOCKER_MISSING = "missing 'docker': kind runs its node in Docker"


def fake_tools(tmp_path, names, docker_answers=True):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        script = bin_dir / name
        body = "exit 0" if name != "docker" or docker_answers else 'if [ "$1" = info ]; then exit 1; fi'
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return bin_dir


def preflight(repo_root, bin_dir, *args):
    # Only the fake tools and a few shell utilities: real tools on the machine must not count.
    env = {"PATH": f"{bin_dir}:{fake_base(bin_dir)}"}
    return subprocess.run(["/bin/bash", "scripts/preflight.sh", *args], cwd=repo_root, env=env,
                          capture_output=True, text=True)


def fake_base(bin_dir):
    """A folder with just the shell utilities the script uses."""
    base = bin_dir.parent / "base"
    base.mkdir(exist_ok=True)
    for tool in ("bash", "grep", "sed", "tr", "cat"):
        for folder in ("/usr/bin", "/bin"):
            if os.path.exists(f"{folder}/{tool}") and not (base / tool).exists():
                (base / tool).symlink_to(f"{folder}/{tool}")
    return base


def test_all_prerequisites_present_passes(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl", "kind", "docker"]), "up", "dev")
    assert (result.returncode, result.stderr) == (0, "")


def test_every_missing_tool_is_named(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["kubectl"]), "up", "dev")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"make up: {PULUMI_MISSING}",
        f"make up: {KIND_MISSING}",
        f"make up: {DOCKER_MISSING}",
    ]


def test_messages_name_the_target_they_run_for(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["kubectl", "kind", "docker"]), "destroy", "dev")
    assert (result.returncode, result.stderr) == (1, f"make destroy: {PULUMI_MISSING}\n")


def test_docker_without_a_running_engine_is_named(repo_root, tmp_path):
    tools = fake_tools(tmp_path, ["pulumi", "kubectl", "kind", "docker"], docker_answers=False)
    result = preflight(repo_root, tools, "up", "dev")
    assert result.returncode == 1
    assert result.stderr == "make up: Docker is installed but its engine does not answer: start Docker\n"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_existing_cluster_stacks_need_neither_kind_nor_docker(repo_root, tmp_path, stack):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl"]), "up", stack)
    assert (result.returncode, result.stderr) == (0, "")


def test_unknown_stack_is_named_with_the_stacks_there_are(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl"]), "up", "qa")
    assert result.returncode == 1
    assert result.stderr == "make up: no stack file Pulumi.qa.yaml (stacks: dev, prod, staging)\n"


@pytest.mark.parametrize("args", [(), ("dev",), ("down", "dev"), ("up", "dev", "extra")])
def test_anything_but_a_target_and_a_stack_is_refused(repo_root, tmp_path, args):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl", "kind", "docker"]), *args)
    assert (result.returncode, result.stderr) == (2, "usage: scripts/preflight.sh up|destroy STACK\n")
