"""`make preview-diff STACK=<stack> [BASE=<git ref>]`: the real Pulumi diff of the working tree
against BASE on a throwaway control plane, and the charts' diff; build/preview/<stack>.md.

    python scripts/preview_diff.py STACK [--base REF] [--out DIR]

The machinery is testbed/preview.py; the report, platform_ops/preview.
"""
import sys

from testbed.preview import main

if __name__ == "__main__":
    sys.exit(main())
