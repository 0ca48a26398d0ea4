"""Refuses a stack whose cluster cannot be reached before Pulumi runs:

    python scripts/check_cluster_access.py STACK

Exit 0 when the stack file, the charts it deploys and its config are valid and its kubeconfig
and context exist; otherwise prints each problem, naming the file, line and key, and exits 1."""
from __future__ import annotations

import sys

from platform_ops.config import ConfigError, cluster_access_problems, load_stack_file


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_cluster_access.py STACK", file=sys.stderr)
        return 2
    stack = argv[0]
    try:
        cfg = load_stack_file(stack)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    problems = cluster_access_problems(stack, cfg.cluster)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
