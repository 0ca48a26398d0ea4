"""Promotion timings against a local bare remote (no network, so this measures promote.py and git,
not GitHub):

- one `set --push`: median and spread over sequential runs;
- ten concurrent `set --push` from ten clones: time until all ten have landed, and how many push
  attempts the retries needed, for ten different files and for ten promotions of one file.

    .venv/bin/python -m bench.promote [--runs 15] [--rounds 3]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path


from testbed.promotion_repo import ENVS, SERVICES, Remote

_ATTEMPT = re.compile(r"attempt (\d+) of")


def single_push(runs: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        remote = Remote.create(Path(tmp))
        clone = remote.clone("work")
        timings = []
        for run in range(runs):
            tag = f"{run + 1:07x}"
            start = time.perf_counter()
            result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", tag, "--push")
            timings.append(time.perf_counter() - start)
            if result.returncode != 0:
                raise SystemExit(f"set --push failed: {result.stderr}")
        return timings


def concurrent(jobs: list[tuple[str, str, str]]) -> tuple[float, list[int]]:
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        remote = Remote.create(Path(tmp))
        clones = [remote.clone(f"ci-{index}") for index in range(len(jobs))]
        start = time.perf_counter()
        processes = [clone.popen("set", "--env", env, "--service", service, "--tag", tag, "--push",
                                 "--max-attempts", "20")
                     for clone, (service, env, tag) in zip(clones, jobs)]
        outputs = [process.communicate() for process in processes]
        elapsed = time.perf_counter() - start
        attempts = []
        for process, (out, err) in zip(processes, outputs):
            if process.returncode != 0:
                raise SystemExit(f"a concurrent promotion failed: {err}")
            match = _ATTEMPT.search(out)
            attempts.append(int(match.group(1)) if match else 0)
        landed = remote.git("rev-list", "--count", "main").strip()
        if int(landed) != len(jobs) + 1:
            raise SystemExit(f"expected {len(jobs)} promotions on the remote, found {int(landed) - 1}")
        return elapsed, attempts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="sequential set --push runs")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each concurrent scenario")
    args = parser.parse_args()

    timings = single_push(args.runs)
    print(f"set --push, local bare remote, {args.runs} runs: median {statistics.median(timings) * 1000:.0f} ms "
          f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f})")

    scenarios = {
        "10 promotions, 9 files (one file twice)":
            [(s, e, f"{i:07x}") for i, (s, e) in enumerate((s, e) for s in SERVICES for e in ENVS)]
            + [("api-node", "dev", "fffffff")],
        "10 promotions of one file": [("core-go", "prod", f"{i:x}" * 7) for i in range(10)],
    }
    for name, jobs in scenarios.items():
        results = [concurrent(jobs) for _ in range(args.rounds)]
        times = [elapsed for elapsed, _ in results]
        attempts = [sum(a) for _, a in results]
        worst = max(max(a) for _, a in results)
        print(f"{name}: all landed in median {statistics.median(times):.2f} s "
              f"(min {min(times):.2f}, max {max(times):.2f}) over {args.rounds} rounds; "
              f"push attempts per round {attempts}, most by one promoter {worst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
