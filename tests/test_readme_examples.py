"""The README's console examples print what the README shows.

Each ```console block in README.md is preceded by an annotation, an HTML comment that a reader
never sees:

- ``<!-- example session=NAME -->``: run the block's ``$`` commands, in order, against the
  session's server; blocks of one session share it, in the README's order, so records add up
  as the text says. ``serve="ARGS"`` on a session's first block starts its server with those
  options (a block whose first command is ``mockseg serve ...`` starts it with its own).
- ``<!-- example skip="why" -->``: shown, not run (a gunicorn recipe, say).
- ``<!-- example python -->`` before a ```python block: run it, and compare what it prints with
  the ```text block that follows it.

A command runs in bash, in a scratch folder where ``.venv/bin`` is this environment's, with the
server's real address in place of ``127.0.0.1:8765``. ``$ cat FILE`` of a file that does not
exist writes the shown text to it first, so a block can show its inputs. Outputs are compared
line for line after normalizing what differs run to run: dates, times, ids, ports, temporary
paths and curl's version.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.toolchains import require

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOC_ADDRESS = "127.0.0.1:8765"
_ANNOTATION = re.compile(r"<!-- example (?P<attrs>.*?) -->")
_ATTR = re.compile(r'(\w+)=(?:"([^"]*)"|(\S+))')

#: What differs from run to run, and what it becomes on both sides.
_NORMALIZE = [
    (re.compile(r"^Date: .*$", re.M), "Date: <date>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "<clock>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
    (re.compile(r"curl/[\d.]+"), "curl/<version>"),
    (re.compile(r"python-requests/[\d.]+"), "python-requests/<version>"),
    (re.compile(r"/tmp/mockseg-tls-\w+/"), "/tmp/mockseg-tls-<tmp>/"),
    (re.compile(r"(127\.0\.0\.1|localhost|\[::1\]):\d{2,5}"), r"\1:<port>"),
]


@dataclass
class Command:
    line: int
    text: str
    expected: list[str]


@dataclass
class Block:
    line: int
    attrs: dict[str, str]
    commands: list[Command] = field(default_factory=list)


def _complete(command: str) -> bool:
    """Whether a command's quotes are closed (a ``-d '{`` goes on over the next lines)."""
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


def _blocks(text: str) -> list[Block | int]:
    """Every console block (annotated), or its line number when it has no annotation."""
    lines = text.splitlines()
    found: list[Block | int] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```console":
            index += 1
            continue
        start = index
        back = index - 1
        while back >= 0 and not lines[back].strip():
            back -= 1
        match = _ANNOTATION.fullmatch(lines[back].strip()) if back >= 0 else None
        index += 1
        body: list[str] = []
        while lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        if match is None:
            found.append(start + 1)
            continue
        attrs = {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(match["attrs"])}
        block = Block(start + 1, attrs)
        for offset, line in enumerate(body):
            if line.startswith("$ "):
                block.commands.append(Command(start + 2 + offset, line[2:], []))
            elif block.commands and not block.commands[-1].expected and (
                    block.commands[-1].text.endswith("\\")
                    or not _complete(block.commands[-1].text)):
                block.commands[-1].text += "\n" + line  # continued, or inside a quote
            elif block.commands and not block.commands[-1].expected and (
                    block.commands[-1].text.rstrip().endswith("&")):
                block.commands[-1].text += "\n" + line  # a command in the background, then more
            elif block.commands:
                block.commands[-1].expected.append(line)
        found.append(block)
    return found


BLOCKS = _blocks(README.read_text("utf-8"))
SESSIONS: dict[str, list[Block]] = {}
for _block in BLOCKS:
    if isinstance(_block, Block) and "session" in _block.attrs:
        SESSIONS.setdefault(_block.attrs["session"], []).append(_block)


def test_every_console_block_is_run_or_says_why_not() -> None:
    unannotated = [line for line in BLOCKS if isinstance(line, int)]
    assert not unannotated, (
        f"README console blocks without an <!-- example ... --> annotation at lines "
        f"{unannotated}: give each a session=NAME to run it, or skip=\"why\"")
    for block in BLOCKS:
        assert isinstance(block, Block)
        assert ("session" in block.attrs) != ("skip" in block.attrs), block.line


def _normalize(text: str) -> str:
    # HTTP's CRLF is a line end; a progress line redrawn with carriage returns shows its last
    # state.
    text = text.replace("\r\n", "\n")
    text = "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    for pattern, replacement in _NORMALIZE:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


class _Server:
    """The session's ``mockseg serve``, started in the scratch folder."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockseg", "serve", "--port", "0", *args], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        self.banner: list[str] = []
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("mockseg serve exited: " + "".join(self.banner))
            self.banner.append(line.rstrip("\n"))
            if line.startswith("mockseg listening on "):
                break
        if "--tls" in args:
            self.banner.append(self.process.stdout.readline().rstrip("\n"))
        self.address = self.banner[-1 if "--tls" not in args else -2].rsplit("/", 1)[1]
        if "--tls" in args:
            self.ca_file = self.banner[-1].split(": ", 1)[1]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    bin_dir = str(Path(sys.executable).parent)
    # curl draws no progress meter on a terminal; here its output is a pipe, so say so.
    (tmp_path / ".curlrc").write_text("no-progress-meter\n")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1", "COLUMNS": "80", "NO_COLOR": "1"}
    env.pop("MOCKSEG_ADMIN_TOKEN", None)
    yield tmp_path, env


def _write_shown_source(name: str, cwd: Path) -> None:
    """Write the README's code block that starts with the comment ``# NAME``."""
    text = README.read_text("utf-8")
    match = re.search(rf"```\w+\n# {re.escape(name)}\n(.*?)```", text, re.S)
    assert match, f"no code block in the README starts with '# {name}'"
    (cwd / name).write_text(match[1], "utf-8")


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # a $(...) or a quote across lines: not a simple command
        return []


def _write_shown_files(command: Command, cwd: Path) -> None:
    words = _words(command.text)
    if words[:1] == ["cat"] and len(words) == 2 and not (cwd / words[1]).exists():
        (cwd / words[1]).write_text("\n".join(command.expected) + "\n", "utf-8")


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_readme_session_prints_what_the_readme_shows(
        name: str, scratch: tuple[Path, dict[str, str]]) -> None:
    require("curl", "bash")
    cwd, env = scratch
    for block in SESSIONS[name]:
        if "file" in block.attrs:
            _write_shown_source(block.attrs["file"], cwd)
    server: _Server | None = None
    try:
        for block in SESSIONS[name]:
            commands = list(block.commands)
            if server is None:
                first = commands[0].text if commands else ""
                if re.match(r"(\.venv/bin/)?mockseg serve\b(?!.*--help)", first):
                    server = _Server(_words(first)[2:], cwd, env)
                    _compare(commands[0], "\n".join(server.banner))
                    commands = commands[1:]
                else:
                    server = _Server(shlex.split(block.attrs.get("serve", "")), cwd, env)
            status = 0  # each command sees the one before's exit status, as `echo $?` would
            for command in commands:
                _write_shown_files(command, cwd)
                text = command.text.replace(DOC_ADDRESS, server.address)
                done = subprocess.run(["bash", "-c", f"(exit {status}); {text}"], cwd=cwd,
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, timeout=240, check=False)
                status = done.returncode
                _compare(command, done.stdout.decode("utf-8", "replace"))
    finally:
        if server is not None:
            server.stop()


def _compare(command: Command, actual: str) -> None:
    __tracebackhide__ = True
    want = _normalize("\n".join(command.expected))
    got = _normalize(actual)
    if want != got:
        import difflib

        diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(),
                                              "README", "actual", lineterm=""))
        pytest.fail(f"README.md line {command.line}: `$ {command.text}` prints otherwise than "
                    f"the README shows:\n{diff}")


def _python_examples(text: str) -> list[tuple[int, str, str]]:
    """(line, source, shown output) of each annotated Python block and the text block after."""
    found = []
    pattern = re.compile(r"<!-- example python -->\n```python\n(.*?)```\n\s*```text\n(.*?)```",
                         re.S)
    for match in pattern.finditer(text):
        found.append((text.count("\n", 0, match.start()) + 2, match[1], match[2]))
    return found


PYTHON_EXAMPLES = _python_examples(README.read_text("utf-8"))


def test_there_are_python_examples_to_run() -> None:
    assert len(PYTHON_EXAMPLES) >= 4


@pytest.mark.parametrize(("line", "source", "shown"), PYTHON_EXAMPLES,
                         ids=[f"line-{line}" for line, _, _ in PYTHON_EXAMPLES])
def test_readme_python_example_prints_what_the_readme_shows(
        line: int, source: str, shown: str, scratch: tuple[Path, dict[str, str]]) -> None:
    cwd, env = scratch
    (cwd / "example.py").write_text(source, "utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=cwd, env=env, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    _compare(Command(line, "python example.py", shown.splitlines()),
             done.stdout.decode("utf-8", "replace"))
