"""`make up` says clearly which prerequisite is missing."""
import os
import subprocess

import pytest


def fake_tools(tmp_path, names, docker_answers=True):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        script = bin_dir / name
        body = "exit 0" if name != "docker" or docker_answers else 'if [ "$1" = info ]; then exit 1; fi'
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return bin_dir


def preflight(repo_root, bin_dir, stack):
    # Only the fake tools and a few shell utilities: real tools on the machine must not count.
    env = {**os.environ, "PATH": f"{bin_dir}:{fake_base(bin_dir)}"}
    return subprocess.run(["/bin/bash", "scripts/preflight.sh", stack], cwd=repo_root, env=env,
                          capture_output=True, text=True)


def fake_base(bin_dir):
    """A folder with just the shell utilities the script uses."""
    base = bin_dir.parent / "base"
    base.mkdir(exist_ok=True)
    for tool in ("bash", "grep", "ls", "sed", "tr", "cat"):
        for folder in ("/usr/bin", "/bin"):
            if os.path.exists(f"{folder}/{tool}") and not (base / tool).exists():
                (base / tool).symlink_to(f"{folder}/{tool}")
    return base


def test_all_prerequisites_present_passes(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl", "kind", "docker"]), "dev")
    assert (result.returncode, result.stderr) == (0, "")


def test_every_missing_tool_is_named(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["kubectl"]), "dev")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "make up: missing 'pulumi': the Pulumi CLI runs the program (https://www.pulumi.com/docs/iac/download-install/)",
        "make up: missing 'kind': stack dev runs on a Kind cluster (https://kind.sigs.k8s.io/)",
        "make up: missing 'docker': kind runs its node in Docker",
    ]


def test_docker_without_a_running_engine_is_named(repo_root, tmp_path):
    tools = fake_tools(tmp_path, ["pulumi", "kubectl", "kind", "docker"], docker_answers=False)
    result = preflight(repo_root, tools, "dev")
    assert result.returncode == 1
    assert result.stderr == "make up: Docker is installed but its engine does not answer: start Docker\n"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_existing_cluster_stacks_need_neither_kind_nor_docker(repo_root, tmp_path, stack):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl"]), stack)
    assert (result.returncode, result.stderr) == (0, "")


def test_unknown_stack_is_named(repo_root, tmp_path):
    result = preflight(repo_root, fake_tools(tmp_path, ["pulumi", "kubectl"]), "qa")
    assert result.returncode == 1
    assert result.stderr == "make up: no stack file Pulumi.qa.yaml (stacks: dev prod staging )\n"


def test_make_up_stops_before_pulumi_and_names_what_is_missing(repo_root, tmp_path):
    bin_dir = fake_tools(tmp_path, ["kubectl"])
    env = {**os.environ, "PATH": f"{bin_dir}:{fake_base(bin_dir)}"}
    result = subprocess.run(["/usr/bin/make", "--no-print-directory", "up", "STACK=dev"], cwd=repo_root, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:3] == [
        "make up: missing 'pulumi': the Pulumi CLI runs the program (https://www.pulumi.com/docs/iac/download-install/)",
        "make up: missing 'kind': stack dev runs on a Kind cluster (https://kind.sigs.k8s.io/)",
        "make up: missing 'docker': kind runs its node in Docker",
    ]
    assert not (repo_root / ".pulumi-state").exists()
