#!/usr/bin/env python3
"""Promote container images through the environments of this GitOps repository.

    python scripts/promote.py set --env dev --service api-node --tag 6063e25 [--push]
    python scripts/promote.py copy --from dev --to staging [--service api-node] [--push]
    python scripts/promote.py rollback --env prod --service api-node [--push]
    python scripts/promote.py history [--env prod] [--service api-node] [--json]

Exit codes: 0 done (or nothing to do), 2 request refused (nothing written), 1 failed.
Standard library only, so CI can run it with any Python 3.11 before installing anything. The
library is platform_ops/promotion (scripts/platform_ops links to platform_ops/, so every script here
imports the library of its own checkout).
"""
from __future__ import annotations

import sys

from platform_ops.promotion.cli import main

if __name__ == "__main__":
    sys.exit(main())
