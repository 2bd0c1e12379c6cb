"""Reading the field corpus: what `uv export --frozen` printed for each selection, as per-platform answers.

The corpus (tests/fixtures/field, a copy of the team's shared/field) holds real public projects verbatim,
with the export of every selection. Each export line is `name==version ; marker`, the marker written by uv;
evaluated on a platform it says whether that platform gets that version. Nothing here is torchdoctor's
own reading of uv: the markers are uv's, evaluated by packaging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from torchdoctor.resolution import Selection, default_groups

FIELD = Path(__file__).resolve().parent / "fixtures" / "field"


@dataclass(frozen=True)
class ExportRun:
    project: str
    arguments: str
    lines: tuple[tuple[str, str, str | None], ...]
    """(name, version, marker) for each torch-family line uv printed."""


def export_runs(path: Path) -> list[ExportRun]:
    project = path.name.removesuffix("__export.txt")
    runs, arguments, lines = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## uv export"):
            if arguments is not None:
                runs.append(ExportRun(project, arguments, tuple(lines)))
            arguments, lines = line.removeprefix("## uv export").strip(), []
        elif line.strip() and not line.startswith("("):
            requirement, _, marker = line.partition(" ; ")
            name, _, version = requirement.partition("==")
            lines.append((canonicalize_name(name.strip()), version.strip(), marker.strip() or None))
    if arguments is not None:
        runs.append(ExportRun(project, arguments, tuple(lines)))
    return runs


def selection_of(arguments: str, extras: list[str], groups: list[str], pyproject) -> Selection:
    """The Selection an export's command-line arguments make, by uv's rules for default groups."""
    words = arguments.split()
    defaults = list(default_groups(pyproject, groups))
    chosen_extras: list[str] = []
    if "--all-extras" in words:
        chosen_extras = list(extras)
    chosen_groups = list(groups) if "--all-groups" in words else defaults
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--extra":
            chosen_extras.append(canonicalize_name(value))
        elif flag == "--group" and canonicalize_name(value) not in chosen_groups:
            chosen_groups.append(canonicalize_name(value))
        elif flag == "--no-group":
            chosen_groups = [g for g in chosen_groups if g != canonicalize_name(value)]
    return Selection(tuple(chosen_extras), tuple(chosen_groups), arguments or "default")


def expected_on(run: ExportRun, environment: dict[str, str]) -> set[tuple[str, str]]:
    """The (name, version) pairs uv's export installs on `environment`."""
    return {(name, version) for name, version, marker in run.lines if marker is None or Marker(marker).evaluate(environment)}


def field_projects() -> list[str]:
    return sorted(p.name.removesuffix("__export.txt") for p in FIELD.glob("*__export.txt"))


def python_versions(requires_python: str | None) -> list[str]:
    from packaging.specifiers import SpecifierSet

    candidates = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
    if not requires_python:
        return candidates
    spec = SpecifierSet(requires_python)
    return [p for p in candidates if spec.contains(f"{p}.0", prereleases=True)] or candidates[-1:]


def strip_header(text: str) -> str:
    """The file as it was in its repository: the corpus added one `# source:` line at the top."""
    return re.sub(r"\A# source:[^\n]*\n", "", text, count=1)
