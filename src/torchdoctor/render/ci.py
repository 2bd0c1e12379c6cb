"""Reports for CI: GitHub workflow annotations and SARIF 2.1.0 (code scanning).

Both place a finding on the file and line its evidence names (`pyproject.toml:12:5`); a finding about the machine
has no file, and is annotated on the workflow run (GitHub) or on the project's pyproject.toml (SARIF, which needs a
location for code scanning to show it).
"""

from __future__ import annotations

from typing import Protocol

import hashlib
import json
import os
import urllib.parse
import re
from pathlib import Path

from torchdoctor import __version__
from torchdoctor.model import Diagnosis, Report, Severity

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_PLACE = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+)(?::(?P<column>\d+))?)?$")


def place(diagnosis: Diagnosis, root: str) -> tuple[str, int | None, int | None] | None:
    """(path relative to the project, line, column) of the first evidence read from a file in the project. Evidence
    that names the file without a line (a requirement, an index URL) is found in the file's text; the first evidence
    placed on a line wins, else the first on a file."""
    on_file = None
    for evidence in diagnosis.evidence:
        match = _PLACE.match(evidence.source or "")
        if match is None:
            continue
        path = Path(match.group("path"))
        if not path.is_absolute():
            path = Path(root) / path
        try:
            relative = path.resolve().relative_to(Path(root).resolve())
        except (ValueError, OSError, RuntimeError):
            continue
        if not (Path(root) / relative).is_file():
            continue
        line, column = match.group("line"), match.group("column")
        if line is not None:
            return relative.as_posix(), int(line), int(column) if column else None
        found = _locate(Path(root) / relative, evidence.value)
        if found is not None:
            return relative.as_posix(), found[0], found[1]
        on_file = on_file or (relative.as_posix(), None, None)
    return on_file


_TEXTS: dict[Path, str] = {}


def _locate(path: Path, value: str) -> tuple[int, int] | None:
    """The first line and column where `value` (a requirement, an index name or URL, as the evidence shows it, or the
    quoted string inside it: evidence writes `url = '…'` where the file may have double quotes) is written in the file;
    never a redacted value, never one shorter than 8 characters."""
    needles = [value.strip(), *(m.group(2) for m in re.finditer(r"(['\"])(.{3,}?)\1", value))]
    # Long enough to be the entry, not a word of it: "torch" alone is on many lines, "torch>=2.9" on one.
    needles = [n for n in needles if 8 <= len(n) <= 500 and "\n" not in n and "***" not in n]
    if not needles:
        return None
    if path not in _TEXTS:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                _TEXTS[path] = handle.read(4 << 20)
        except OSError:
            _TEXTS[path] = ""
        if len(_TEXTS) > 64:
            _TEXTS.pop(next(iter(_TEXTS)))
    text = _TEXTS[path]
    offset = next((o for o in (text.find(n) for n in needles) if o >= 0), -1)
    if offset < 0:
        return None
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def repository_root(start: str) -> Path:
    """The folder holding `.git` at or above `start` (a worktree's `.git` file counts), found by walking up, never by
    running git; `start` itself when there is none."""
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def _escape(text: str, property_value: bool = False) -> str:
    """GitHub's workflow-command escaping (%, CR, LF; and , : in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def render_github(report: Report) -> str:
    """One `::error file=…,line=…::message` line per finding, as GitHub Actions reads them from a step's output."""
    root = report.snapshot.project.root
    lines = []
    for diagnosis in report.diagnoses:
        properties = [f"title={_escape(f'{diagnosis.code} {diagnosis.slug}', True)}"]
        where = place(diagnosis, root)
        if where is not None:
            path, line, column = where
            # GitHub resolves paths from the repository root: the workspace, when the project is inside it.
            workspace = os.environ.get("GITHUB_WORKSPACE")
            if workspace:
                try:
                    path = (Path(root) / path).resolve().relative_to(Path(workspace).resolve()).as_posix()
                except (ValueError, OSError):
                    pass
            properties.insert(0, f"file={_escape(path, True)}")
            if line is not None:
                properties.insert(1, f"line={line}")
                if column is not None:
                    properties.insert(2, f"col={column}")
        message = diagnosis.message + (f" — fix: {diagnosis.fix.title}" if diagnosis.fix else "")
        lines.append(f"::{LEVELS[diagnosis.severity]} {','.join(properties)}::{_escape(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _relative_uri(path: Path, repository: Path) -> str:
    """The file as a URI reference relative to the repository root, percent-encoded (a space, `#`, `%` in a folder name)."""
    try:
        relative = path.resolve().relative_to(repository).as_posix()
    except (ValueError, OSError, RuntimeError):
        relative = path.name
    return urllib.parse.quote(relative, safe="/")


def _project_file(report: Report) -> tuple[str, int | None, int | None] | None:
    """Where a finding about the machine goes: the project's pyproject.toml, else its first requirements file, else
    nowhere (SARIF allows a result without a location; one on a file that does not exist is an error there)."""
    root = report.snapshot.project.root
    candidates = ["pyproject.toml", *report.snapshot.project.requirements_files]
    return next(((name, None, None) for name in candidates if root and (Path(root) / name).is_file()), None)


class _Documented(Protocol):
    """What SARIF shows of a rule (the registry's Rule, which this renderer reads but does not import by name)."""

    @property
    def slug(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def section(self, title: str) -> str: ...


def _rule_descriptor(code: str, rule: _Documented) -> dict[str, object]:
    """The rule's documentation inside the SARIF file, as code-scanning viewers show it: torchdoctor has no public
    documentation site for a helpUri to point at, so the docs travel with the results (docs/rules.md is the same)."""
    sections = [(title, rule.section(title)) for title in ("What it detects", "Why it matters", "Fix safety")]
    sections = [(title, text) for title, text in sections if text]
    return {"id": code, "name": rule.slug, "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": sections[0][1] if sections else rule.summary},
            "help": {"text": "\n\n".join(f"{title}: {text}" for title, text in sections) or rule.summary,
                     "markdown": "\n\n".join(f"**{title}.** {text}" for title, text in sections) or rule.summary}}


def render_sarif(report: Report) -> str:
    from torchdoctor.checks import RULES

    root = report.snapshot.project.root
    repository = repository_root(root) if root else Path.cwd()
    codes = sorted({d.code for d in report.diagnoses})
    rules = [_rule_descriptor(code, RULES[code]) for code in codes if code in RULES]
    results = []
    for diagnosis in report.diagnoses:
        where = place(diagnosis, root) or _project_file(report)
        locations = []
        uri = ""
        if where is not None:  # a machine finding of a project with no file to put it on has no location
            region = {"startLine": where[1]} if where[1] else {}
            if where[1] and where[2]:
                region["startColumn"] = where[2]
            uri = _relative_uri(Path(root) / where[0] if root else Path(where[0]), repository)
            locations.append({"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                                                   **({"region": region} if region else {})}})
        results.append({
            "ruleId": diagnosis.code, "level": SARIF_LEVELS[diagnosis.severity],
            "message": {"text": diagnosis.message + (f"\n\n{diagnosis.explanation}" if diagnosis.explanation else "")},
            "locations": locations,
            # Stable across runs and line moves, so code scanning keeps one alert per finding.
            "partialFingerprints": {"torchdoctor/v1": hashlib.sha256(
                f"{diagnosis.code}\0{uri}\0{diagnosis.message}".encode("utf-8", "replace")).hexdigest()[:32]},
        })
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "torchdoctor", "version": __version__, "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"uri": repository.as_uri() + "/"}},
            "results": results,
        }],
    }
    return json.dumps(document, indent=2) + "\n"
