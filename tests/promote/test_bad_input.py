"""A garbled values-<env>.yaml or Chart.yaml stops `promote.py set` with one line naming the file,
the line and the key: exit 2, no traceback, the file unchanged and no commit."""
from __future__ import annotations

import pytest

VALUES = "charts/api-node/values-dev.yaml"

GARBLES = [
    pytest.param(lambda text: text[: text.index(b'tag: "') + 8],
                 "charts/api-node/values-dev.yaml:6: image.tag has an unterminated quoted value", id="truncated"),
    pytest.param(lambda text: text.replace(b'  tag: "', b'\ttag: "'),
                 "charts/api-node/values-dev.yaml:6: tab in indentation", id="tab"),
    pytest.param(lambda text: text.replace(b'"1df3b1f"', b'"1df3b1f', 1),
                 "charts/api-node/values-dev.yaml:6: image.tag has an unterminated quoted value", id="unclosed quote"),
    pytest.param(lambda text: text.replace(b'image:\n', b'image: ghcr.io/zainasr/api-node\n'),
                 "charts/api-node/values-dev.yaml:4: top-level image must be a block mapping with repository and "
                 "tag lines", id="wrong type"),
    pytest.param(lambda text: text + b"\xff\n", "charts/api-node/values-dev.yaml is not UTF-8 text", id="not utf-8"),
]


@pytest.mark.parametrize("garble, line", GARBLES)
def test_a_garbled_values_file_is_refused_in_one_line_and_nothing_is_written(clone, garble, line):
    clone.write(VALUES, garble(clone.read(VALUES)))
    clone.git("commit", "-qam", "garble")
    before, head = clone.read(VALUES), clone.head()
    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25")
    assert (result.returncode, result.stderr, result.stdout) == (2, f"error: {line}\n", "")
    assert (clone.read(VALUES), clone.head(), clone.status()) == (before, head, "")


def test_a_chart_yaml_that_is_not_utf8_does_not_stop_promotion_with_a_traceback(clone):
    # Promotion reads only the chart's type from Chart.yaml; make render names the bad bytes.
    clone.write("charts/core-go/Chart.yaml", clone.read("charts/core-go/Chart.yaml") + b"\xff\n")
    clone.git("commit", "-qam", "garble")
    result = clone.promote("list", "services")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == ["api-node", "core-go", "worker-python"]
