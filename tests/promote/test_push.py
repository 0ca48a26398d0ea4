"""`--push`: promotions racing each other on one remote all land, none is lost or forced over."""
from __future__ import annotations

import json

import yaml

from testbed.promotion_repo import (
    ENVS, INITIAL_TAGS, SERVICES, Remote, install_competitor_hook, remote_history,
)

# A hang guard for the subprocesses, not a performance assertion.
GUARD_SECONDS = 600


def remote_tag(remote: Remote, service: str, env: str) -> str:
    return yaml.safe_load(remote.show(f"charts/{service}/values-{env}.yaml"))["image"]["tag"]


def test_push_lands_the_commit_on_the_remote(remote, clone):
    result = clone.promote("set", "--env", "prod", "--service", "core-go", "--tag", "abcdef1", "--push")

    assert result.returncode == 0, result.stderr
    head = clone.head()
    assert result.stdout == (
        f"promoted prod core-go 0a1b2c3 -> abcdef1 (commit {head[:12]})\n"
        "pushed to origin main (attempt 1 of 10)\n"
    )
    assert remote.git("rev-parse", "main").strip() == head
    assert remote_tag(remote, "core-go", "prod") == "abcdef1"


def test_stale_clone_starts_from_the_remote_tip(remote):
    stale, fresh = remote.clone("stale"), remote.clone("fresh")
    assert fresh.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1111111", "--push").returncode == 0

    # The stale clone still has 1df3b1f, but the remote already has this tag: nothing to do.
    noop = stale.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1111111", "--push")
    assert noop.returncode == 0, noop.stderr
    assert noop.stdout == "dev api-node is already at ghcr.io/zainasr/api-node:1111111; nothing to commit\n"

    result = stale.promote("set", "--env", "dev", "--service", "api-node", "--tag", "2222222", "--push")
    assert result.returncode == 0, result.stderr
    assert [(e["from"], e["to"]) for e in remote_history(remote)] == [
        ("ghcr.io/zainasr/api-node:1111111", "ghcr.io/zainasr/api-node:2222222"),
        ("ghcr.io/zainasr/api-node:1df3b1f", "ghcr.io/zainasr/api-node:1111111"),
    ]


def test_unpushed_local_commits_are_refused(remote, clone):
    clone.write("README.md", b"local\n")
    clone.git("add", "README.md")
    clone.git("commit", "--quiet", "-m", "local work")
    head = clone.head()

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1234567", "--push")

    assert (result.returncode, result.stderr) == (
        2, "error: HEAD has 1 commit(s) that are not on origin/main; push or drop them before promoting with --push\n")
    assert clone.head() == head and clone.status() == ""


def test_rejected_push_with_conflict_reapplies_the_edit(remote):
    ours, theirs = remote.clone("ours"), remote.clone("theirs")
    install_competitor_hook(ours, theirs, [["set", "--env", "dev", "--service", "api-node", "--tag", "bbbbbbb"]])

    result = ours.promote("set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--push")

    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("pushed to origin main (attempt 2 of 10)\n")
    history = remote_history(remote)
    assert [(e["from"], e["to"]) for e in history] == [
        ("ghcr.io/zainasr/api-node:bbbbbbb", "ghcr.io/zainasr/api-node:aaaaaaa"),  # re-applied on top
        ("ghcr.io/zainasr/api-node:1df3b1f", "ghcr.io/zainasr/api-node:bbbbbbb"),
    ]
    assert remote.git("log", "-1", "--format=%s", "main").strip() == "chore(promote): dev api-node bbbbbbb -> aaaaaaa"
    assert remote_tag(remote, "api-node", "dev") == "aaaaaaa"
    assert ours.status() == ""


def test_rejected_push_without_conflict_is_rebased(remote):
    ours, theirs = remote.clone("ours"), remote.clone("theirs")
    install_competitor_hook(ours, theirs, [["set", "--env", "dev", "--service", "core-go", "--tag", "ccccccc"]])

    result = ours.promote("set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--push")

    assert result.returncode == 0, result.stderr
    assert [(e["service"], e["to"]) for e in remote_history(remote)] == [
        ("api-node", "ghcr.io/zainasr/api-node:aaaaaaa"), ("core-go", "ghcr.io/zainasr/core-go:ccccccc"),
    ]
    assert remote.git("rev-list", "--count", "main").strip() == "3"  # linear: no merge commit
    assert remote_tag(remote, "api-node", "dev") == "aaaaaaa"
    assert remote_tag(remote, "core-go", "dev") == "ccccccc"


def test_push_gives_up_loudly_after_the_bounded_attempts_and_never_forces(remote):
    ours, theirs = remote.clone("ours"), remote.clone("theirs")
    competing = [["set", "--env", "prod", "--service", "api-node", "--tag", tag]
                 for tag in ("1111111", "2222222", "3333333")]
    install_competitor_hook(ours, theirs, competing)

    result = ours.promote("set", "--env", "prod", "--service", "api-node", "--tag", "aaaaaaa",
                          "--push", "--max-attempts", "3")

    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: push to origin main was rejected 3 times; the promotion is committed locally as "
        f"{ours.head()[:12]} but NOT pushed. Last error:\n")
    # Every competing promotion is still on the remote: nothing was forced over them.
    assert [e["to"] for e in remote_history(remote)] == [
        "ghcr.io/zainasr/api-node:3333333", "ghcr.io/zainasr/api-node:2222222", "ghcr.io/zainasr/api-node:1111111",
    ]


def run_concurrently(remote: Remote, jobs: list[tuple[str, str, str]]) -> None:
    clones = [remote.clone(f"ci-{index}") for index in range(len(jobs))]
    processes = [
        clone.popen("set", "--env", env, "--service", service, "--tag", tag, "--push", "--max-attempts", "20")
        for clone, (service, env, tag) in zip(clones, jobs)
    ]
    results = [process.communicate(timeout=GUARD_SECONDS) for process in processes]
    failures = [(job, out, err) for job, process, (out, err) in zip(jobs, processes, results) if process.returncode]
    assert not failures


def test_ten_promoters_on_nine_files_all_land(remote):
    jobs = [(service, env, f"{index:07x}a") for index, (service, env) in
            enumerate((s, e) for s in SERVICES for e in ENVS)]
    jobs.append(("api-node", "dev", "fffffffa"))  # a second promoter of the same file

    run_concurrently(remote, jobs)

    history = remote_history(remote)
    assert sorted((e["service"], e["env"], e["to"]) for e in history) == sorted(
        (service, env, f"ghcr.io/zainasr/{service}:{tag}") for service, env, tag in jobs)
    for service in SERVICES:
        for env in ENVS:
            last = next(e for e in history if e["service"] == service and e["env"] == env)
            assert f"{remote_tag(remote, service, env)}" == last["to"].rsplit(":", 1)[1]
    assert remote.git("rev-list", "--merges", "--count", "main").strip() == "0"


def test_ten_promoters_of_the_same_file_all_land_in_a_chain(remote):
    tags = [f"{index:x}" * 7 for index in range(10)]

    run_concurrently(remote, [("core-go", "prod", tag) for tag in tags])

    history = list(reversed(remote_history(remote)))  # oldest first
    assert sorted(e["to"] for e in history) == sorted(f"ghcr.io/zainasr/core-go:{tag}" for tag in tags)
    # Each promotion starts from what the previous one left: every rebase conflict was re-applied.
    expected_from = f"ghcr.io/zainasr/core-go:{INITIAL_TAGS[('core-go', 'prod')]}"
    for entry in history:
        assert entry["from"] == expected_from
        expected_from = entry["to"]
    assert f"ghcr.io/zainasr/core-go:{remote_tag(remote, 'core-go', 'prod')}" == history[-1]["to"]


def test_two_processes_in_one_clone_do_not_lose_each_other(remote, clone):
    first = clone.popen("set", "--env", "staging", "--service", "api-node", "--tag", "1111111", "--push")
    second = clone.popen("set", "--env", "staging", "--service", "core-go", "--tag", "2222222", "--push")
    outputs = [process.communicate(timeout=GUARD_SECONDS) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs

    assert remote_tag(remote, "api-node", "staging") == "1111111"
    assert remote_tag(remote, "core-go", "staging") == "2222222"
    assert {(e["service"], e["to"]) for e in remote_history(remote)} == {
        ("api-node", "ghcr.io/zainasr/api-node:1111111"), ("core-go", "ghcr.io/zainasr/core-go:2222222")}
    assert clone.status() == ""


def test_two_local_promotions_in_one_clone_both_commit(clone):
    first = clone.popen("set", "--env", "prod", "--service", "api-node", "--tag", "1111111")
    second = clone.popen("set", "--env", "prod", "--service", "api-node", "--tag", "2222222")
    outputs = [process.communicate(timeout=GUARD_SECONDS) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs

    history = json.loads(clone.promote("history", "--json").stdout)
    assert sorted(e["to"] for e in history) == ["ghcr.io/zainasr/api-node:1111111", "ghcr.io/zainasr/api-node:2222222"]
    # Serialised by the clone's lock: the second one started from what the first one wrote.
    assert history[0]["from"] == history[1]["to"]
    assert clone.status() == ""
