"""Image promotion for platform-ops: see scripts/promote.py."""
