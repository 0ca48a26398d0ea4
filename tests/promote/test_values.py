"""The values-file editor: exactly the two promotable lines change, everything else is kept."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from platform_ops.promotion.errors import Refusal
from platform_ops.promotion.values import Image, ValuesFile
from testbed.promotion_repo import values_text


def load(text: str) -> ValuesFile:
    return ValuesFile(Path("values-dev.yaml"), text, label="values-dev.yaml")


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.split("\n"), after.split("\n")
    assert len(old) == len(new), "the number of lines must not change"
    return [(a, b) for a, b in zip(old, new) if a != b]


@pytest.mark.parametrize("service", ["api-node", "core-go", "worker-python"])
@pytest.mark.parametrize("tag", ["1234567", "6063e25"])
def test_only_the_tag_line_changes_and_stays_a_string(service, tag):
    before = values_text(service, "dev", tag="0a1b2c3")
    after = load(before).render(tag)

    parsed = yaml.safe_load(after)
    assert parsed["image"]["tag"] == tag
    assert isinstance(parsed["image"]["tag"], str)
    [(old_line, new_line)] = changed_lines(before, after)
    assert old_line.split("tag:")[0] == new_line.split("tag:")[0]  # same key and indentation
    assert f'tag: "{tag}"' in new_line


def test_comments_blank_lines_and_sidecar_survive_byte_for_byte():
    before = values_text("api-node", "dev", tag="1df3b1f")
    after = load(before).render("6063e25")

    assert after == before.replace('  tag: "1df3b1f"\n', '  tag: "6063e25"\n', 1)
    parsed = yaml.safe_load(after)
    assert parsed["sidecar"]["image"]["tag"] == "1234567"
    assert parsed["podAnnotations"]["example.com/image-tag"] == "1df3b1f"


def test_unquoted_int_tag_becomes_a_quoted_string():
    before = values_text("core-go", "staging", tag="1234567")
    assert yaml.safe_load(before)["image"]["tag"] == 1234567  # the bug promotion prevents

    after = load(before).render("1234567")

    assert yaml.safe_load(after)["image"]["tag"] == "1234567"


def test_unquoted_tag_becomes_quoted_and_its_trailing_comment_is_kept():
    # PyYAML happens to read 6063e25 as a string, but Helm's YAML parser reads it as the
    # float 6.063e+28: the line must be requoted even though the text is the same.
    before = values_text("core-go", "dev", tag="6063e25")

    after = load(before).render("6063e25")

    assert changed_lines(before, after) == [(
        "  tag: 6063e25   # left unquoted on purpose: Helm reads 6063e25 as a float",
        '  tag: "6063e25"   # left unquoted on purpose: Helm reads 6063e25 as a float',
    )]
    parsed = yaml.safe_load(after)
    assert parsed["image"]["tag"] == "6063e25"
    assert after.endswith("    image:\n      tag: 6063e25\n")  # not the top-level image: untouched


def test_crlf_file_keeps_its_line_endings_and_four_space_indent():
    before = values_text("worker-python", "prod", tag="0a1b2c3")
    after = load(before).render("1234567", repository="ghcr.io/zainasr/worker-python-v2")

    assert after == before.replace(
        "    repository: \"ghcr.io/zainasr/worker-python\"\r\n",
        "    repository: \"ghcr.io/zainasr/worker-python-v2\"\r\n",
    ).replace("    tag: '0a1b2c3'\r\n", '    tag: "1234567"\r\n')


def test_repository_keeps_its_quoting_style():
    text = "image:\n  repository: ghcr.io/a/b  # plain\n  tag: \"1234567\"\n"
    after = load(text).render("1234567", repository="ghcr.io/a/c")
    assert after == "image:\n  repository: ghcr.io/a/c  # plain\n  tag: \"1234567\"\n"


def test_same_quoted_tag_renders_identical_text():
    text = values_text("api-node", "dev", tag="1df3b1f")
    assert load(text).render("1df3b1f") == text
    single = values_text("worker-python", "dev", tag="1df3b1f")
    assert load(single).render("1df3b1f") == single


def test_reads_image_with_escapes_and_quoted_keys():
    text = "'image':\n  \"repository\": 'ghcr.io/a/b'\n  tag: \"12\\u34567\"\n"
    assert load(text).image == Image("ghcr.io/a/b", "12\\u34567")


def test_empty_tag_gets_a_value_and_a_space():
    text = "image:\n  repository: ghcr.io/a/b\n  tag:\n"
    assert load(text).render("1234567") == "image:\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n"


def test_file_without_trailing_newline():
    text = "image:\n  repository: ghcr.io/a/b\n  tag: \"0000000\""
    assert load(text).render("1234567") == "image:\n  repository: ghcr.io/a/b\n  tag: \"1234567\""


def test_nested_image_tags_are_not_the_top_level_one():
    text = (
        "sidecar:\n  image:\n    repository: ghcr.io/x/y\n    tag: \"1111111\"\n"
        "image:\n  repository: ghcr.io/a/b\n  tag: \"2222222\"\n"
        "other:\n  tag: \"3333333\"\n"
    )
    values = load(text)
    assert values.image == Image("ghcr.io/a/b", "2222222")
    assert changed_lines(text, values.render("abcdef0")) == [('  tag: "2222222"', '  tag: "abcdef0"')]


@pytest.mark.parametrize("text, message", [
    ("replicaCount: 1\n", "values-dev.yaml: no top-level image mapping"),
    ("image: {repository: ghcr.io/a/b, tag: '1234567'}\n",
     "values-dev.yaml:1: top-level image must be a block mapping with repository and tag lines"),
    ("image: &img\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n",
     "values-dev.yaml:1: top-level image must be a block mapping with repository and tag lines"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: \"1\"\nimage:\n  tag: \"2\"\n",
     "values-dev.yaml:4: duplicate top-level image key"),
    ("image:\n# nothing\nnext: 1\n", "values-dev.yaml:1: the image mapping is empty"),
    ("image:\n  repository: ghcr.io/a/b\n", "values-dev.yaml:1: no image.tag in the top-level image mapping"),
    ("image:\n  tag: \"1234567\"\n", "values-dev.yaml:1: no image.repository in the top-level image mapping"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: \"1\"\n  tag: \"2\"\n", "values-dev.yaml:4: duplicate image.tag"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: *sha\n",
     "values-dev.yaml:3: image.tag uses YAML syntax that promotion does not rewrite "
     "(anchor, alias, tag, flow or block scalar)"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: |\n    1234567\n",
     "values-dev.yaml:3: image.tag uses YAML syntax that promotion does not rewrite "
     "(anchor, alias, tag, flow or block scalar)"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: \"12345\n    67\"\n",
     "values-dev.yaml:3: image.tag has an unterminated quoted value"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: \"1234567\" junk\n",
     "values-dev.yaml:3: image.tag has trailing content after its value"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: 1234567\n    89\n",
     "values-dev.yaml:3: image.tag must be a single-line scalar"),
    ("image:\n  repository: ghcr.io/a/b\n  tag:\n    value: x\n",
     "values-dev.yaml:3: image.tag must be a single-line scalar"),
    ("image:\n    repository: ghcr.io/a/b\n  tag: \"1\"\n",
     "values-dev.yaml:3: inconsistent indentation in the image block"),
    ("image:\n  repository: ghcr.io/a/b\n  - tag\n", "values-dev.yaml:3: unexpected content in the image block"),
    ("image:\n\trepository: ghcr.io/a/b\n", "values-dev.yaml:2: tab in indentation"),
])
def test_unsupported_layouts_are_refused_with_the_line(text, message):
    with pytest.raises(Refusal) as error:
        load(text)
    assert str(error.value) == message


def test_missing_and_non_utf8_files_are_refused(tmp_path):
    with pytest.raises(Refusal) as error:
        ValuesFile.load(tmp_path / "nope.yaml", label="charts/x/values-dev.yaml")
    assert str(error.value) == "charts/x/values-dev.yaml does not exist"
    (tmp_path / "latin1.yaml").write_bytes(b"# caf\xe9\nimage:\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n")
    with pytest.raises(Refusal) as error:
        ValuesFile.load(tmp_path / "latin1.yaml", label="latin1.yaml")
    assert str(error.value) == "latin1.yaml is not UTF-8 text"


DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER_DIGEST = "sha256:" + "f" * 64


def test_a_digest_is_added_right_after_the_tag_line_with_its_indentation():
    before = values_text("api-node", "dev", tag="1df3b1f")

    after = load(before).render("6063e25", digest=DIGEST)

    assert after == before.replace('  tag: "1df3b1f"\n', f'  tag: "6063e25"\n  digest: "{DIGEST}"\n', 1)
    assert load(after).image == Image("ghcr.io/zainasr/api-node", "6063e25", DIGEST)


def test_a_digest_line_keeps_the_file_line_endings_and_indent():
    before = values_text("worker-python", "prod", tag="0a1b2c3")

    after = load(before).render("1234567", digest=DIGEST)

    assert after == before.replace("    tag: '0a1b2c3'\r\n", f'    tag: "1234567"\r\n    digest: "{DIGEST}"\r\n')


def test_a_digest_added_to_a_file_without_trailing_newline_leaves_it_without_one():
    text = "image:\n  repository: ghcr.io/a/b\n  tag: \"0000000\""
    assert load(text).render("1234567", digest=DIGEST) == (
        f"image:\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n  digest: \"{DIGEST}\"")


def test_a_digest_is_replaced_in_place_and_keeps_its_comment():
    text = f"image:\n  digest: {DIGEST}  # pinned\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n"
    assert load(text).render("1234567", digest=OTHER_DIGEST) == (
        f"image:\n  digest: \"{OTHER_DIGEST}\"  # pinned\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n")


def test_no_digest_removes_the_digest_line():
    text = f"image:\n  repository: ghcr.io/a/b\n  tag: \"1234567\"\n  digest: \"{DIGEST}\"\nport: 1\n"
    assert load(text).render("7654321") == "image:\n  repository: ghcr.io/a/b\n  tag: \"7654321\"\nport: 1\n"


@pytest.mark.parametrize("text, message", [
    (f"image:\n  repository: ghcr.io/a/b\n  tag: \"1\"\n  digest: \"{DIGEST}\"\n  digest: \"{DIGEST}\"\n",
     "values-dev.yaml:5: duplicate image.digest"),
    ("image:\n  repository: ghcr.io/a/b\n  tag: \"1\"\n  digest:\n    value: x\n",
     "values-dev.yaml:4: image.digest must be a single-line scalar"),
])
def test_a_digest_that_cannot_be_rewritten_safely_is_refused(text, message):
    with pytest.raises(Refusal) as error:
        load(text)
    assert str(error.value) == message
