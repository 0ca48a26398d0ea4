"""The commands README.md and docs/*.md show work as written (the convention is described at the
top of docs/testing.md).

Every fenced sh, bash or console block passes `bash -n`; every `make <target>` in a block or an
inline command is a target of the Makefile, and every `scripts/...` path exists. A block right
after the line `<!-- runs offline -->` is run, in a throwaway Git copy of the working tree with
.venv and .tools linked in, a temporary HOME, and no way to the network; it must exit 0. Marked
blocks may only use commands known to be offline and local; unmarked blocks must use at least one
other command; no block pushes anywhere. The README stays short and links every document here,
and every link into docs/ resolves."""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
MARKER = "<!-- runs offline -->"
SHELL_LANGUAGES = ("sh", "bash", "console")
README_MAX_LINES = 220
PAST = 1_000_000_000  # 2001-09-09: older than any .venv/.installed stamp
RUN_TIMEOUT_SECONDS = 300

# What a block marked `<!-- runs offline -->` may run: commands that need no cluster, no Pulumi
# backend and no network, and change nothing outside the throwaway copy they run in. Promotions
# without --push commit locally only, which the docs show in a scratch clone.
OFFLINE_COMMANDS = tuple(re.compile(pattern) for pattern in (
    r"make help",
    r"make render STACK=[a-z]+",
    r"make diff-stacks STACK=[a-z]+ STACK2=[a-z]+",
    r"\.venv/bin/python scripts/check_charts\.py [a-z]+",
    r"python3 scripts/promote\.py(?: (?:set|copy|rollback|history|list|check))? --help",
    r"python3 scripts/promote\.py list (?:envs|services)",
    r"python3 scripts/promote\.py history(?: --env [a-z]+| --service [a-z-]+| --json| --limit [0-9]+)*",
    r"python3 scripts/promote\.py (?:check )?(?:set|copy|rollback)(?: --(?:env|service|tag|source-commit|from|to) [a-z0-9-]+)+",
    r"scratch=\$\(mktemp -d\)",
    r'git clone --quiet \. "\$scratch"',
    r'ln -s "\$PWD/\.venv" "\$PWD/\.tools" "\$scratch/"',
    r'cd "\$scratch"',
    r"git revert --no-edit HEAD",
))

FENCE = re.compile(r"^ {0,3}(```+|~~~+)\s*([\w+-]*)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
INLINE_MAKE_COMMAND = re.compile(r"make(?: [\w.=<>/-]+)+")
MAKE_CALL = re.compile(r"(?:^|[;&|(]\s*)make((?:\s+[^\s;&|)#]+)*)")
# A path of the repository's own code, which must exist wherever a document names it.
SCRIPT_PATH = re.compile(r"(?<![\w./-])(?:scripts|platform_ops|components|testbed|bench|prometheus)/[\w./-]*\w")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    source: str
    line: int  # of the opening fence
    language: str
    lines: tuple[tuple[int, str], ...]  # (line number, text) of the body
    marked: bool

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def script_lines(self) -> list[tuple[int, str]]:
        """The lines bash runs: the whole body, or in a console block the `$ ` lines and their
        continuations."""
        if self.language != "console":
            return list(self.lines)
        script, continued = [], False
        for number, text in self.lines:
            if continued or text.startswith("$ "):
                command = text if continued else text[2:]
                script.append((number, command))
                continued = command.rstrip().endswith("\\")
        return script

    @property
    def script(self) -> str:
        return "".join(text + "\n" for _, text in self.script_lines)

    def commands(self) -> list[tuple[int, str]]:
        """Logical command lines: continuations joined, comments and blank lines dropped."""
        commands, pending, start = [], "", 0
        for number, text in self.script_lines:
            if not pending:
                start = number
            if text.rstrip().endswith("\\"):
                pending += text.rstrip()[:-1] + " "
                continue
            command = " ".join(without_comment(pending + text).split())
            pending = ""
            if command:
                commands.append((start, command))
        return commands


def without_comment(line: str) -> str:
    """`line` up to a `#` that starts a shell comment (outside quotes, at the start of a word)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def parse(text: str, source: str) -> tuple[list[Block], list[tuple[int, str]], list[int]]:
    """The fenced blocks of a markdown text, its prose lines (outside blocks), and the line
    numbers of markers that are not followed by a shell block."""
    blocks, prose, stray_markers = [], [], []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            prose.append((index + 1, lines[index]))
            if lines[index].strip() == MARKER:
                following = FENCE.match(lines[index + 1]) if index + 1 < len(lines) else None
                if not following or following.group(2) not in SHELL_LANGUAGES:
                    stray_markers.append(index + 1)
            index += 1
            continue
        opening, language = index, fence.group(2)
        body = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence.group(1)):
            body.append((index + 1, lines[index]))
            index += 1
        index += 1
        marked = opening > 0 and lines[opening - 1].strip() == MARKER
        blocks.append(Block(source, opening + 1, language, tuple(body), marked))
    return blocks, prose, stray_markers


def shell_blocks(text: str, source: str) -> list[Block]:
    return [block for block in parse(text, source)[0] if block.language in SHELL_LANGUAGES]


def makefile_targets(makefile: str) -> set[str]:
    targets = set()
    for line in makefile.splitlines():
        if not line or line[0] in "\t #":
            continue
        rule = re.match(r"^([^:=#$]+?)\s*::?(?!=)", line)
        if rule:
            targets.update(name for name in rule.group(1).split() if not name.startswith("."))
    return targets


def make_targets_in(command: str) -> list[str]:
    """The targets of every `make` call in a command line (a placeholder such as `<target>` is none)."""
    targets = []
    for call in MAKE_CALL.finditer(command):
        words = call.group(1).split()
        skip = False
        for word in words:
            if skip:
                skip = False
            elif word in ("-C", "-f", "--directory", "--file"):
                skip = True
            elif not word.startswith("-") and "=" not in word and not re.fullmatch(r"<[\w-]+>", word):
                targets.append(word)
    return targets


def reference_problems(text: str, source: str, targets: set[str], root: Path) -> list[str]:
    """Each `make <target>` that the Makefile lacks and each `scripts/...` path that does not
    exist, in the shell blocks and the inline code of one document."""
    mentions: list[tuple[int, str, bool]] = []  # (line, text, is a command)
    blocks, prose, _ = parse(text, source)
    for block in blocks:
        if block.language in SHELL_LANGUAGES:
            mentions += [(number, command, True) for number, command in block.commands()]
    for number, line in prose:
        for span in INLINE_CODE.findall(line):
            mentions.append((number, span, bool(INLINE_MAKE_COMMAND.fullmatch(span))))
    problems = []
    for number, mention, is_command in mentions:
        if is_command:
            problems += [f"{source}:{number}: make target '{target}' is not in the Makefile"
                         for target in make_targets_in(mention) if target not in targets]
        problems += [f"{source}:{number}: {path} does not exist"
                     for path in SCRIPT_PATH.findall(mention) if not (root / path).exists()]
    return problems


def syntax_problems(blocks: list[Block]) -> list[str]:
    problems = []
    for block in blocks:
        result = subprocess.run(["bash", "-n"], input=block.script, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["exit status %d" % result.returncode])[0]
            problems.append(f"{block.where}: bash -n: {first}")
    return problems


def is_offline(command: str) -> bool:
    return any(pattern.fullmatch(command) for pattern in OFFLINE_COMMANDS)


def convention_problems(blocks: list[Block]) -> list[str]:
    problems = []
    for block in blocks:
        commands = [command for _, command in block.commands()]
        if block.marked:
            problems += [f"{block.where}: marked to run offline, but `{command}` is not a known offline command"
                         for command in commands if not is_offline(command)]
        elif commands and all(is_offline(command) for command in commands):
            problems.append(f"{block.where}: every command runs offline: put {MARKER} before the block")
    return problems


def push_problems(blocks: list[Block]) -> list[str]:
    problems = []
    for block in blocks:
        for number, command in block.commands():
            if re.search(r"\bgit push\b", command):
                problems.append(f"{block.source}:{number}: `git push` in a documented command")
            if re.search(r"(?<![\w-])--push\b", command) and not re.search(r'--remote "\$[A-Z_]+"', command):
                problems.append(f"{block.source}:{number}: --push without a placeholder --remote \"$REMOTE\"")
    return problems


def documents() -> list[Path]:
    return [README] + sorted(DOCS.glob("*.md"))


def name(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def all_shell_blocks() -> list[Block]:
    return [block for path in documents() for block in shell_blocks(path.read_text(), name(path))]


def runnable_blocks() -> list[Block]:
    """The marked blocks, each distinct script once."""
    unique: dict[str, Block] = {}
    for block in all_shell_blocks():
        if block.marked:
            unique.setdefault(block.script, block)
    return list(unique.values())


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a document."""
    anchors, seen = set(), {}
    in_block = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_block = not in_block
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_block or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# --- the checker itself -------------------------------------------------------------------------

SNIPPET = """\
# A README

Build with `make deploy STACK=dev`.

```sh
make render STACK=dev
make publish
python3 scripts/deploy.py --env dev
```
"""


def test_the_checker_reports_a_make_target_that_is_not_in_the_makefile():
    problems = reference_problems(SNIPPET, "README.md", {"render", "help"}, REPO_ROOT)
    assert [p for p in problems if "make target" in p] == [
        "README.md:7: make target 'publish' is not in the Makefile",
        "README.md:3: make target 'deploy' is not in the Makefile",
    ]


def test_the_checker_reports_a_script_that_does_not_exist():
    problems = reference_problems(SNIPPET, "README.md", {"render", "help"}, REPO_ROOT)
    assert [p for p in problems if "does not exist" in p] == ["README.md:8: scripts/deploy.py does not exist"]


def test_the_checker_reports_a_block_that_bash_cannot_parse():
    [block] = shell_blocks("```sh\nmake render STACK=<stack>\n```\n", "README.md")
    [problem] = syntax_problems([block])
    assert problem.startswith("README.md:1: bash -n: ") and "syntax error" in problem


def test_the_checker_reports_a_marked_block_that_does_not_run_offline():
    blocks = shell_blocks(f"{MARKER}\n```sh\nmake render STACK=dev\nmake up STACK=dev\n```\n", "README.md")
    assert convention_problems(blocks) == [
        "README.md:2: marked to run offline, but `make up STACK=dev` is not a known offline command"]


def test_the_checker_reports_an_unmarked_block_that_could_run_offline():
    blocks = shell_blocks("```sh\nmake help  # the targets\n```\n", "README.md")
    assert convention_problems(blocks) == [
        f"README.md:1: every command runs offline: put {MARKER} before the block"]


def test_the_checker_reports_a_push_to_a_real_remote():
    blocks = shell_blocks("```sh\npython3 scripts/promote.py set --env dev --service api-node --tag 1234567 "
                          "--push\ngit push origin main\n```\n", "README.md")
    assert push_problems(blocks) == [
        'README.md:2: --push without a placeholder --remote "$REMOTE"',
        "README.md:3: `git push` in a documented command",
    ]


# --- the documents --------------------------------------------------------------------------------

def test_every_command_block_passes_bash_syntax_check():
    blocks = all_shell_blocks()
    assert blocks
    assert syntax_problems(blocks) == []


def test_every_make_target_and_script_named_in_the_documents_exists():
    targets = makefile_targets((REPO_ROOT / "Makefile").read_text())
    assert {"help", "render", "diff-stacks", "test", "up", "destroy"} <= targets
    problems = [problem for path in documents()
                for problem in reference_problems(path.read_text(), name(path), targets, REPO_ROOT)]
    assert problems == []


def test_every_offline_marker_is_right_before_a_shell_block():
    stray = [f"{name(path)}:{line}" for path in documents() for line in parse(path.read_text(), name(path))[2]]
    assert stray == []


def test_marked_blocks_use_only_offline_commands_and_unmarked_blocks_do_not():
    assert runnable_blocks()
    assert convention_problems(all_shell_blocks()) == []


def test_no_documented_command_pushes_to_a_real_remote():
    assert push_problems(all_shell_blocks()) == []


def test_the_marker_convention_is_documented_at_the_top_of_docs_testing():
    top = (DOCS / "testing.md").read_text().split("\n## The tiers", 1)[0]
    assert f"`{MARKER}`" in top


# --- running the marked blocks --------------------------------------------------------------------

def working_tree_files() -> list[str]:
    """What a checkout of the working tree holds: tracked and untracked files (symbolic links among
    them), minus ignored ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout
    return sorted({path for path in listed.split("\0") if path and ((REPO_ROOT / path).is_file() or (REPO_ROOT / path).is_symlink())})


def sandbox_env(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    dead = "http://127.0.0.1:9"
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Docs Test", "GIT_AUTHOR_EMAIL": "docs-test@example.com",
        "GIT_COMMITTER_NAME": "Docs Test", "GIT_COMMITTER_EMAIL": "docs-test@example.com",
        # No way out: proxies that refuse, and Go and pip kept off their indexes.
        "http_proxy": dead, "https_proxy": dead, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "ALL_PROXY": dead,
        "no_proxy": "", "NO_PROXY": "",
        "GOPROXY": "off", "GOFLAGS": "-mod=mod", "PIP_NO_INDEX": "1",
    }


@pytest.fixture(scope="module")
def worktree_copy(tmp_path_factory) -> Path:
    """A Git repository holding the working tree as one commit; every block runs in a clone of it."""
    venv, tools = REPO_ROOT / ".venv", REPO_ROOT / ".tools"
    helm_version = re.search(r"^HELM_VERSION := (\S+)", (REPO_ROOT / "Makefile").read_text(), re.M).group(1)
    missing = [str(path.relative_to(REPO_ROOT)) for path in
               (venv / ".installed", tools / "bin" / "helm", tools / "bin" / f".helm-{helm_version}")
               if not path.exists()]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)}: run `make venv tools`", pytrace=False)
    base = tmp_path_factory.mktemp("worktree") / "repo"
    for path in working_tree_files():
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, base / path, follow_symlinks=False)
    env = sandbox_env(base.parent)
    for args in (["init", "--quiet", "--initial-branch=main"], ["add", "--all"],
                 ["commit", "--quiet", "--no-verify", "--message", "working tree"]):
        subprocess.run(["git", *args], cwd=base, env=env, check=True, capture_output=True, timeout=60)
    return base


def checkout_for(worktree_copy: Path, tmp: Path) -> Path:
    checkout = tmp / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(worktree_copy), str(checkout)], check=True, capture_output=True,
                   env=sandbox_env(tmp), timeout=60)
    for built in (".venv", ".tools"):
        (checkout / built).symlink_to(REPO_ROOT / built)
    with (checkout / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".venv\n.tools\n")
    # make compares requirements.txt with .venv/.installed: the clone's fresh time would reinstall.
    os.utime(checkout / "requirements.txt", (PAST, PAST))
    return checkout


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda block: block.where)
def test_marked_block_runs_offline(block, worktree_copy, tmp_path):
    checkout = checkout_for(worktree_copy, tmp_path)
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.script], cwd=checkout,
                            env=sandbox_env(tmp_path), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_SECONDS)
    assert result.returncode == 0, f"{block.where} exited {result.returncode}:\n{result.stdout[-3000:]}\n" \
                                   f"{result.stderr[-3000:]}"


# --- the README and its links ---------------------------------------------------------------------

def test_the_readme_is_at_most_220_lines():
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


def test_the_readme_links_every_file_in_docs():
    linked = {target.split("#", 1)[0] for target in LINK.findall(README.read_text())}
    assert sorted(f"docs/{path.name}" for path in DOCS.glob("*.md") if f"docs/{path.name}" not in linked) == []


def link_problems(text: str, path: Path) -> list[str]:
    """Each link of a document (at `path`) to a file that does not exist, to a heading its file
    lacks, or out of the repository, which a user's clone does not have."""
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.is_relative_to(REPO_ROOT):
            broken.append(f"{name(path)}: {target}: points outside the repository")
        elif not linked.exists():
            broken.append(f"{name(path)}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked.read_text()):
            broken.append(f"{name(path)}: {target}: no such heading")
    return broken


def test_every_link_into_and_within_docs_resolves():
    assert [problem for path in documents() for problem in link_problems(path.read_text(), path)] == []


def test_the_checker_reports_a_link_out_of_the_repository():
    text = "Kept [elsewhere](../../shared/reference/setup.md) and [here](testing.md).\n"
    assert link_problems(text, DOCS / "operations.md") == [
        "docs/operations.md: ../../shared/reference/setup.md: points outside the repository"]


def test_the_readme_shows_the_architecture_tree_of_the_programs_docstring():
    docstring = ast.get_docstring(ast.parse((REPO_ROOT / "__main__.py").read_text()), clean=False)
    tree = [line for line in docstring.split("\n\n", 1)[1].splitlines() if line.strip()]
    lines = README.read_text().splitlines()
    assert any(lines[start:start + len(tree)] == tree for start in range(len(lines)))
