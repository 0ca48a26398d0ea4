"""The library of platform-ops: what the Pulumi program, the command-line entry points in
scripts/, the tests, the testbed and the benchmarks share.

    contract     the names every part of the platform agrees on (namespaces, labels, ports, ...)
    paths        where the repository keeps things, and where the built tools live
    config       stack settings: read once, validated before anything is registered
    render       the program under Pulumi's mock engine; the charts as Argo CD renders them
    chart_checks what a chart must satisfy before it may be promoted
    promotion    image tags into Git: set, copy, rollback, history

Imports only go downward in that list's sense: contract and paths import nothing of the project.
"""
