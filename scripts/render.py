"""Offline render of a stack: `make render STACK=dev`, `make diff-stacks STACK=dev STACK2=prod`.

    python scripts/render.py STACK [--out DIR] [--no-charts]
    python scripts/render.py --diff STACK OTHER

The library is platform_ops.render (cli.py for this command line).
"""
import sys

from platform_ops.render.cli import main

if __name__ == "__main__":
    sys.exit(main())
