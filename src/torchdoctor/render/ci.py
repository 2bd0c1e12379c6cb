"""Reports for CI: GitHub workflow annotations and SARIF 2.1.0 (code scanning).

Both place a finding on the file and line its evidence names (`pyproject.toml:12:5`); a finding about the machine
has no file, and is annotated on the workflow run (GitHub) or on the project's pyproject.toml (SARIF, which needs a
location for code scanning to show it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from torchdoctor import __version__
from torchdoctor.model import Diagnosis, Report, Severity

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_PLACE = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+)(?::(?P<column>\d+))?)?$")


def place(diagnosis: Diagnosis, root: str) -> tuple[str, int | None, int | None] | None:
    """(path relative to the project, line, column) of the first evidence read from a file in the project."""
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
        return relative.as_posix(), int(line) if line else None, int(column) if column else None
    return None


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


def render_sarif(report: Report) -> str:
    from torchdoctor.checks import RULES

    root = report.snapshot.project.root
    codes = sorted({d.code for d in report.diagnoses})
    rules = [{"id": code, "name": RULES[code].slug, "shortDescription": {"text": RULES[code].summary},
              "help": {"text": f"`torchdoctor rules` and docs/rules.md explain {code} in full"}}
             for code in codes if code in RULES]
    results = []
    for diagnosis in report.diagnoses:
        where = place(diagnosis, root) or ("pyproject.toml", None, None)
        region = {"startLine": where[1]} if where[1] else {}
        if where[1] and where[2]:
            region["startColumn"] = where[2]
        location = {"physicalLocation": {"artifactLocation": {"uri": where[0], "uriBaseId": "PROJECTROOT"},
                                         **({"region": region} if region else {})}}
        results.append({
            "ruleId": diagnosis.code, "level": SARIF_LEVELS[diagnosis.severity],
            "message": {"text": diagnosis.message + (f"\n\n{diagnosis.explanation}" if diagnosis.explanation else "")},
            "locations": [location],
        })
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "torchdoctor", "version": __version__, "rules": rules}},
            "originalUriBaseIds": {"PROJECTROOT": {"uri": Path(root).resolve().as_uri() + "/"}},
            "results": results,
        }],
    }
    return json.dumps(document, indent=2) + "\n"
