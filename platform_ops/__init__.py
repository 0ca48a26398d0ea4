"""The library of platform-ops: what the Pulumi program, the command-line entry points in
scripts/, the tests, the testbed and the benchmarks share.

    contract     the names every part of the platform agrees on (namespaces, labels, ports, ...)
    paths        where the repository keeps things, and where the built tools live
    layout       which stacks and application charts the repository holds
    quantity     Kubernetes CPU and memory quantities as numbers
    config       stack settings: read once, validated before anything is registered
    render       the program under Pulumi's mock engine; the charts as Argo CD renders them
    chart_checks what a chart must satisfy before it may be promoted
    promotion    image tags into Git: set, copy, rollback, history

Imports only go downward: contract, paths, layout and quantity import nothing of the project;
config imports those; render imports config; chart_checks imports render; promotion (standard
library only, for CI before anything is installed) imports only layout.
"""
