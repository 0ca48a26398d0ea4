"""The Python requirements: every package pinned, and installed only with the hashes Git holds."""
import re

from platform_ops.paths import REPO_ROOT

REQUIREMENT = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")


def requirements(text: str) -> dict[str, list[str]]:
    """Each requirement of a pip requirements file (continuation lines joined), with its hashes."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = {}
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = REQUIREMENT.match(line)
        assert match, f"not pinned with ==: {line}"
        found[f"{match[1]}=={match[2]}"] = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", line)
    return found


def unhashed(text: str) -> list[str]:
    return [name for name, hashes in requirements(text).items() if not hashes]


def normalized(requirement: str) -> str:
    name, version = requirement.split("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_every_requirement_is_pinned_with_the_hashes_of_its_files():
    text = (REPO_ROOT / "requirements.txt").read_text()
    assert requirements(text) and unhashed(text) == []


def test_a_requirement_without_a_hash_is_found():
    text = "attrs==26.1.0 \\\n    --hash=sha256:" + "a" * 64 + "\nbcrypt==5.0.0\n"
    assert unhashed(text) == ["bcrypt==5.0.0"]


def test_the_direct_dependencies_are_the_versions_requirements_txt_locks():
    locked = {normalized(name) for name in requirements((REPO_ROOT / "requirements.txt").read_text())}
    direct = {normalized(name) for name in requirements((REPO_ROOT / "requirements.in").read_text())}
    assert direct - locked == set()


def test_make_venv_installs_with_require_hashes():
    [install] = [line for line in (REPO_ROOT / "Makefile").read_text().splitlines()
                 if "pip install" in line and "requirements.txt" in line]
    assert "--require-hashes" in install.split()
