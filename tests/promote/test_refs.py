"""What promotion accepts as a tag, an image repository and a source commit."""
from __future__ import annotations

import pytest

from platform_ops.promotion.errors import Refusal
from platform_ops.promotion.refs import check_repository, check_source_commit, check_tag, image_ref

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("tag", ["1234567", "6063e25", "0" * 40, "a1b2c3d4e5f6", DIGEST])
def test_commit_shas_and_digests_are_tags(tag):
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", [
    "latest", "", "123456", "0" * 41, "ABCDEF1", "v1.2.3", "../x", "1234567/../../x",
    "1234567; rm -rf /", "$(id)", "`id`", "1234567\n", "1234567\nimage: evil", " 1234567",
    "sha256:" + "ab" * 31, "sha256:" + "AB" * 32, "sha512:" + "ab" * 64, "1234567:latest",
])
def test_anything_else_is_refused_with_its_value_shown(tag):
    with pytest.raises(Refusal) as error:
        check_tag(tag)
    assert str(error.value) == (
        f"invalid tag {tag!r}: expected a 7-40 character lowercase hex commit SHA "
        "or a sha256:<64 hex> digest"
    )


@pytest.mark.parametrize("repository", [
    "ghcr.io/zainasr/api-node", "ghcr.io/zainasr/api_node", "registry.example.com:5000/team/app",
    "localhost/app", "localhost:5000/a/b__c", "ghcr.io/a/b.c/d-e",
])
def test_fully_qualified_image_names_are_repositories(repository):
    assert check_repository(repository) == repository


@pytest.mark.parametrize("repository", [
    "nginx", "zainasr/api-node", "Ghcr.io/zainasr/api-node", "ghcr.io/Zainasr/api-node",
    "ghcr.io/zainasr/api-node:latest", "ghcr.io/zainasr/api-node@" + DIGEST, "ghcr.io/zainasr/",
    "ghcr.io//api-node", "ghcr.io/zainasr/-api", "ghcr.io/zainasr/api-node\n", "ghcr.io/a b/c",
    "ghcr.io/a/$(id)", "", "ghcr.io/" + "a" * 255,
])
def test_other_repositories_are_refused(repository):
    with pytest.raises(Refusal) as error:
        check_repository(repository)
    assert str(error.value) == (
        f"invalid image repository {repository!r}: expected a fully qualified image name such as "
        "ghcr.io/zainasr/api-node (lowercase registry host and path, without tag or digest)"
    )


def test_source_commit_must_be_a_sha():
    assert check_source_commit("6063e25") == "6063e25"
    with pytest.raises(Refusal) as error:
        check_source_commit("main")
    assert str(error.value) == "invalid source commit 'main': expected a 7-40 character lowercase hex commit SHA"


def test_digests_are_referenced_with_at():
    assert image_ref("ghcr.io/a/b", "1234567") == "ghcr.io/a/b:1234567"
    assert image_ref("ghcr.io/a/b", DIGEST) == f"ghcr.io/a/b@{DIGEST}"
