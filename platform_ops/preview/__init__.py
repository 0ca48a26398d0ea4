"""The pull-request preview of a stack (`make preview-diff`): what `pulumi up` would change
between a base and a head, and how their charts render, as one markdown report.

    secrets     the stack files' secret settings: placeholders for each side, which ones changed
    changes     `pulumi preview --diff --json` read into changed resources and properties
    charts      each side's offline render (`make render`), and the diff of its charts
    report      the report: head's summary table, the Pulumi changes, the chart diff

Pure except charts, which runs each side's own render. The engine side (control plane, base
up, head preview) is testbed/preview.py.
"""
