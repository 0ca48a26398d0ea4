"""The library chart's constant defines equal platform_ops/contract.py (the one home of shared names)."""
from __future__ import annotations

import shutil

from platform_ops.chart_checks.library_contract import check_library_contract
from platform_ops.paths import CHARTS_DIR


def test_library_chart_copies_equal_the_contract():
    assert check_library_contract(CHARTS_DIR / "platform-lib") == []


def copy_of_library(tmp_path):
    chart = tmp_path / "platform-lib"
    shutil.copytree(CHARTS_DIR / "platform-lib", chart)
    return chart


def test_a_changed_namespace_in_the_library_chart_is_caught(tmp_path):
    chart = copy_of_library(tmp_path)
    helpers = chart / "templates" / "_helpers.tpl"
    helpers.write_text(helpers.read_text().replace("\nobservability\n", "\nmonitoring\n"))

    assert check_library_contract(chart) == [
        "platform-lib/templates/_helpers.tpl: define platform-lib.prometheusNamespace is 'monitoring', "
        "but contract.OBSERVABILITY_NAMESPACE is 'observability'"]


def test_a_removed_define_is_caught(tmp_path):
    chart = copy_of_library(tmp_path)
    workload = chart / "templates" / "_workload.tpl"
    workload.write_text(workload.read_text().replace('define "platform-lib.runAsId"', 'define "platform-lib.uid"'))

    assert check_library_contract(chart) == ["platform-lib: no define platform-lib.runAsId (contract.APP_RUN_AS_ID = 65532)"]


def test_a_changed_dns_pod_label_in_the_library_chart_is_caught(tmp_path):
    chart = copy_of_library(tmp_path)
    helpers = chart / "templates" / "_helpers.tpl"
    helpers.write_text(helpers.read_text().replace("\nk8s-app: kube-dns\n", "\nk8s-app: coredns\n"))

    assert check_library_contract(chart) == [
        "platform-lib/templates/_helpers.tpl: define platform-lib.dnsPodLabels is 'k8s-app: coredns', "
        "but contract.DNS_POD_LABELS is 'k8s-app: kube-dns'"]
