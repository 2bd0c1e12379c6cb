"""The selections a project documents: the `uv sync` commands its README, Makefile, justfile, Dockerfiles and CI
workflows run. A problem behind an extra or a group that the project tells everyone to install is the project's
plain install in practice (`make sync-training` → `uv sync --group training`), and is rated as such (issue 28).

Read, never run: only the project's top-level text files of those kinds and its `.github/workflows/*.yml`, each a
regular file of at most 256 KiB, at most 64 files; a line is searched only when it mentions `uv sync`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from torchdoctor.probes.reading import FileProblem, read_text
from torchdoctor.redact import clean
from torchdoctor.snapshot import DocumentedSync

MAX_BYTES = 256 << 10
MAX_FILES = 64
TOP_LEVEL = re.compile(r"^(readme(\.[a-z]+)?|makefile|justfile|taskfile\.ya?ml|dockerfile(\..+)?|.+\.dockerfile|"
                       r"containerfile|install\.sh|setup\.sh)$", re.IGNORECASE)
UV_SYNC = re.compile(r"\buv\s+sync\b([^\n`'\"|;&)]*)")
"""`uv sync` and its arguments up to the end of the command (a pipe, `&&`, a quote or code span closing)."""


def read_documented_syncs(root: Path) -> tuple[DocumentedSync, ...]:
    found: list[DocumentedSync] = []
    for path in _candidates(root):
        try:
            text = read_text(path, MAX_BYTES)
        except FileProblem:
            continue
        relative = path.relative_to(root).as_posix()
        for number, line in enumerate(text.split("\n"), 1):
            if "uv" not in line or "sync" not in line:
                continue
            for match in UV_SYNC.finditer(line):
                options = _selections(match.group(1))
                if options:
                    found.append(DocumentedSync(relative, number, clean(match.group(0).strip())[:200], options))
    return tuple(found)


def _candidates(root: Path) -> Iterable[Path]:
    count = 0
    try:
        top = sorted(p for p in root.iterdir() if TOP_LEVEL.match(p.name))
    except OSError:
        top = []
    workflows = root / ".github" / "workflows"
    try:
        flows = sorted(p for p in workflows.iterdir() if p.suffix in (".yml", ".yaml")) if workflows.is_dir() else []
    except OSError:
        flows = []
    for path in (*top, *flows):
        if count >= MAX_FILES:
            return
        if path.is_file() and not path.is_symlink():
            count += 1
            yield path


def _selections(arguments: str) -> tuple[str, ...]:
    """`--extra gpu --group dev` → ("--extra gpu", "--group dev"); --all-extras → "*extra". Shell variables and
    placeholders (`--extra $BACKEND`, `--extra <name>`) name no selection and are left out."""
    try:
        words = shlex.split(arguments, comments=True)
    except ValueError:
        words = arguments.split()
    options: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        name, _, inline = word.partition("=")
        if name in ("--extra", "--group", "--only-group") and (inline or position + 1 < len(words)):
            value = inline or words[position + 1]
            position += 0 if inline else 1
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
                options.append(f"--{'extra' if name == '--extra' else 'group'} {value}")
        elif word == "--all-extras":
            options.append("*extra")
        elif word == "--all-groups":
            options.append("*group")
        position += 1
    return tuple(dict.fromkeys(options))
