"""requirements files and Dockerfiles: found at the project's top level and below (bounded, skipping virtual
environments and VCS folders), read for the index options and torch lines they carry; never run."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from pathlib import Path


from torchdoctor.probes.reading import read_text
from torchdoctor.redact import clean, redact_url
from torchdoctor.snapshot import (
    RequirementLine,
    RequirementsOption,
)


MAX_REQUIREMENTS_BYTES = 1024 * 1024
SKIPPED_FOLDERS = frozenset({".git", ".venv", "node_modules", "__pycache__", ".tox", ".nox", "site-packages"})


INDEX_OPTIONS = {
    "-i": "--index-url", "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links", "--find-links": "--find-links",
    "--pre": "--pre",
}


def read_requirements_file(path: Path, root: Path) -> tuple[list[RequirementsOption], list[RequirementLine]]:
    """A requirements file's index options (`--index-url`, ...) and its requirement lines, read once."""
    text = clean(read_text(path, MAX_REQUIREMENTS_BYTES))
    relative = relative_to_root(path, root)
    lines = []
    for number, line in _logical_lines(text):
        content = re.split(r"(^|\s)#", line, maxsplit=1)[0].strip()
        if content and not content.startswith("-"):
            lines.append(RequirementLine(relative, number, content))
    return read_requirements_options(text, relative), lines


def read_requirements_options(text: str, relative: str) -> list[RequirementsOption]:
    found = []
    for number, line in _logical_lines(text):
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        for index, token in enumerate(tokens):
            option, sep, value = token.partition("=")
            canonical = INDEX_OPTIONS.get(option)
            if canonical is None:
                continue
            if canonical == "--pre":
                found.append(RequirementsOption(relative, number, canonical))
                continue
            if not sep:
                value = tokens[index + 1] if index + 1 < len(tokens) else ""
            found.append(RequirementsOption(relative, number, canonical, redact_url(value)))
    return found


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with backslash continuations joined, each with the number of the line it starts on. Numbered as editors
    and GitHub number them (by "\\n"); a lone CR or another separator pip splits on ends a requirement within its
    line (counted as lines, it shifted every annotation after it: issue 25 item 8)."""
    pending, start = "", 0
    for number, physical in enumerate(text.split("\n"), start=1):
        for line in physical.splitlines() or [""]:
            if not pending:
                start = number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            yield start, pending + line
            pending = ""
    if pending:
        yield start, pending


def find_requirements_files(root: Path) -> Iterable[Path]:
    for folder in (root, root / "requirements"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            is_requirements = name.endswith(".txt") and (name.startswith("requirements") or folder.name == "requirements")
            if is_requirements and (folder / name).is_file():
                yield folder / name


def find_dockerfiles(root: Path) -> Iterable[Path]:
    def is_dockerfile(name: str) -> bool:
        lower = name.lower()
        return lower.startswith(("dockerfile", "containerfile")) or lower.endswith(".dockerfile")

    try:
        top = list(os.scandir(root))
    except OSError:
        return
    for entry in top:
        if _is_file(entry) and is_dockerfile(entry.name):
            yield Path(entry.path)
        elif _is_dir(entry) and entry.name not in SKIPPED_FOLDERS and not entry.name.startswith("."):
            try:
                for inner in os.scandir(entry.path):
                    if _is_file(inner) and is_dockerfile(inner.name):
                        yield Path(inner.path)
            except OSError:
                continue


def _is_file(entry: os.DirEntry) -> bool:
    """A regular file (through symlinks); False for a symlink loop or anything unreadable."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def relative_to_root(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)

