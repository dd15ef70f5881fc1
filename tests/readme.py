#!/usr/bin/env python3
"""Follow README.md as a newcomer would, and check that it tells the truth.

Runs every ```sh block of the README, in order, in a fresh copy of the repository (the
files git tracks, as they are in the working tree), and checks for each command:

- its exit status: 0, or the status its trailing comment states (`# exit 2: changes`);
- when a plain ``` block follows the ```sh block directly, that every line it shows
  appears in the output of the block's last command, in order (`...` stands for lines
  left out; dates and day counts are compared as shapes, since they follow the calendar);
- the strings a `<!-- readme-test: output "..." -->` comment before the block names.

`cargo run [--release] [--quiet] -- ARGS` and `keelson ARGS` run the keelson binary given
by KEELSON_BIN (default: target/debug/keelson, built when missing), so the check does not
need a second, release build. A block whose fence is preceded by
`<!-- readme-test: skip: REASON -->` is not run (it needs an AWS account, or runs
forever); `tests/run.sh` itself is not run from inside it.

    tests/readme.py            # exit 0 when the README holds, 1 with every mismatch listed
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
EXIT = re.compile(r"#.*?\bexit(?:s| status)? (\d+)\b")
COMMAND_TIMEOUT = 600


@dataclass
class Block:
    """A fenced block of the README."""

    line: int
    lang: str
    text: list[str]
    markers: list[str] = field(default_factory=list)
    output: list[str] | None = None


def blocks(readme: list[str]) -> list[Block]:
    """The README's fenced blocks, with the markers written just before each, and each
    ```sh block's expected output (a plain block right after it)."""
    out: list[Block] = []
    i = 0
    pending: list[str] = []
    last_end = -1
    while i < len(readme):
        line = readme[i]
        m = MARKER.search(line)
        if m:
            pending.append(m.group(1))
        if line.startswith("```"):
            lang = line[3:].strip()
            start = i
            i += 1
            body = []
            while i < len(readme) and not readme[i].startswith("```"):
                body.append(readme[i])
                i += 1
            between = readme[last_end + 1 : start] if last_end >= 0 else ["x"]
            if (
                lang == ""
                and out
                and out[-1].lang == "sh"
                and all(not b.strip() for b in between)
            ):
                out[-1].output = body
            else:
                out.append(Block(start + 1, lang, body, pending))
            pending = []
            last_end = i
        elif line.strip() and not m:
            # A marker belongs to the next fence only when nothing but blank lines and
            # other markers stand between them.
            pending = []
        i += 1
    return out


def commands(block: Block) -> list[tuple[int, str]]:
    """The block's commands with their README line numbers: comment lines dropped,
    backslash continuations joined, aliases dropped (keelson is a function here)."""
    out = []
    acc, first = "", 0
    for n, raw in enumerate(block.text, start=block.line + 1):
        line = raw.rstrip()
        if not acc and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not acc:
            first = n
        if line.endswith("\\"):
            acc += line[:-1] + " "
            continue
        acc += line
        cmd = acc.strip()
        acc = ""
        if cmd.startswith("alias keelson="):
            continue
        out.append((first, cmd))
    return out


def expected_exit(cmd: str) -> int:
    m = EXIT.search(cmd)
    return int(m.group(1)) if m else 0


def shape(line: str) -> str:
    """A line as compared: trailing blanks dropped; dates, times of day, day counts and
    real-time durations as shapes (they follow the calendar and the machine)."""
    line = re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", line.rstrip())
    line = re.sub(r"\b\d{2}:\d{2}(:\d{2})?\b", "TIME", line)
    line = re.sub(r"\(\d+(\.\d+)?m?s of real time", "(N of real time", line)
    return re.sub(r"\(\d+ days?\)", "(N days)", line)


def pattern(expected: str) -> re.Pattern[str]:
    """An expected line as a pattern: `<...>` in it (a placeholder the README writes for
    a value of the run, such as `<completion time>`) matches anything."""
    parts = re.split(r"<[a-z][a-z ]*>", shape(expected))
    return re.compile(".*".join(re.escape(p) for p in parts) + r"\Z")


def missing_lines(expected: list[str], actual: str) -> list[str]:
    """Expected lines not found in `actual` in order (`...` and blank lines skipped)."""
    lines = [shape(a) for a in actual.splitlines()]
    pos = 0
    missing = []
    for e in expected:
        if not e.strip() or e.strip() == "...":
            continue
        want = pattern(e)
        found = next((i for i in range(pos, len(lines)) if want.match(lines[i])), None)
        if found is None:
            missing.append(e)
        else:
            pos = found + 1
    return missing


PRELUDE = r"""
set -o pipefail
keelson() { "$KEELSON_BIN" "$@"; }
cargo() {
    if [[ ${1:-} == run ]]; then
        shift
        while [[ $# -gt 0 && $1 != -- ]]; do
            case $1 in --release|--quiet|-q) shift ;; *) echo "readme test: cargo run $1 is not handled" >&2; return 99 ;; esac
        done
        shift
        "$KEELSON_BIN" "$@"
    else
        command cargo "$@"
    fi
}
"""


def fresh_copy(dest: str) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for f in files:
        if not f:
            continue
        src = os.path.join(ROOT, os.fsdecode(f))
        if not os.path.isfile(src):
            continue  # deleted in the working tree
        dst = os.path.join(dest, os.fsdecode(f))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def keelson_bin() -> str:
    path = os.environ.get("KEELSON_BIN") or os.path.join(ROOT, "target", "debug", "keelson")
    if not os.path.isfile(path):
        subprocess.run(["cargo", "build", "--quiet", "--bin", "keelson"], cwd=ROOT, check=True)
    return os.path.abspath(path)


def main() -> int:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read().splitlines()
    binary = keelson_bin()
    failures: list[str] = []
    ran = 0
    with tempfile.TemporaryDirectory(prefix="keelson-readme-") as work:
        fresh_copy(work)
        env = dict(os.environ, KEELSON_BIN=binary, NO_COLOR="1")
        for block in blocks(readme):
            if block.lang != "sh":
                continue
            skip = [m for m in block.markers if m.startswith("skip")]
            if skip:
                print(f"README.md:{block.line}: skipped ({skip[0]})")
                continue
            wanted = [
                m.group(1)
                for mk in block.markers
                for m in re.finditer(r'output "([^"]*)"', mk)
            ]
            block_output = ""
            last_output = ""
            for line, cmd in commands(block):
                if cmd.split("#")[0].strip() == "tests/run.sh":
                    continue
                ran += 1
                print(f"README.md:{line}: $ {cmd}", flush=True)
                try:
                    p = subprocess.run(
                        ["bash", "-c", PRELUDE + cmd],
                        cwd=work,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        timeout=COMMAND_TIMEOUT,
                    )
                    code, last_output = p.returncode, p.stdout
                except subprocess.TimeoutExpired:
                    code, last_output = -1, f"(no end after {COMMAND_TIMEOUT} s)"
                block_output += last_output
                want = expected_exit(cmd)
                if code != want:
                    tail = "\n".join(last_output.splitlines()[-15:])
                    failures.append(
                        f"README.md:{line}: `{cmd}` exited {code}, the README says {want}\n{tail}"
                    )
            if block.output is not None:
                for miss in missing_lines(block.output, last_output):
                    failures.append(
                        f"README.md:{block.line}: the output shown after this block has "
                        f"`{miss.strip()}`, which the last command did not print"
                    )
            for w in wanted:
                if w not in block_output:
                    failures.append(
                        f"README.md:{block.line}: the block's output lacks `{w}`"
                    )
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"readme: {ran} commands run, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
