"""The JSON report: a versioned envelope around the diagnoses and the snapshot they came from."""

from __future__ import annotations

import json
from typing import Any

from torchdoctor import __version__, serde
from torchdoctor.model import Diagnosis, Fix, Report, Severity
from torchdoctor.snapshot import finite_plain

REPORT_SCHEMA_VERSION = 1


def report_to_plain(report: Report) -> dict[str, Any]:
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "torchdoctor_version": __version__,
        "summary": {s.value: report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)},
        "diagnoses": [_runnable(_diagnosis_plain(d)) for d in report.diagnoses],
        "resolutions": _resolutions(report),
        **({"collectives": [finite_plain(serde.to_plain(rate)) for rate in report.collectives]} if report.collectives else {}),
        "snapshot": finite_plain(serde.to_plain(report.snapshot)),
    }


def _diagnosis_plain(diagnosis: Diagnosis) -> dict[str, Any]:
    """The diagnosis as JSON; a fix's typed edit is written as its `action` and `params` (schema 1's form)."""
    plain: dict[str, Any] = serde.to_plain(diagnosis)
    plain["fix"] = _fix_plain(diagnosis.fix) if diagnosis.fix is not None else None
    plain["alternatives"] = [_fix_plain(fix) for fix in diagnosis.alternatives]
    return plain


def _fix_plain(fix: Fix) -> dict[str, Any]:
    return {"title": fix.title, "applicability": fix.applicability.value, "action": fix.action,
            "params": fix.edit.params() if fix.edit is not None else {}, "commands": list(fix.commands)}


def _runnable(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """A fix's `commands` are the lines a program may run; the explanatory lines (written `# …` for people in the
    text report) move to `notes`, so a tool that runs `commands` never runs a comment or a placeholder."""
    for fix in [diagnosis.get("fix"), *diagnosis.get("alternatives", [])]:
        if isinstance(fix, dict) and "commands" in fix:
            lines = fix["commands"] or []
            fix["commands"] = [line for line in lines if not line.lstrip().startswith("#")]
            fix["notes"] = [line.lstrip().removeprefix("#").strip() for line in lines if line.lstrip().startswith("#")]
    return diagnosis


def render_json(report: Report) -> str:
    return json.dumps(report_to_plain(report), indent=2, allow_nan=False) + "\n"


def _resolutions(report: Report) -> dict[str, Any]:
    """What each platform and selection installs (the resolution model), and this machine's answers."""
    model = report.model
    if model is None:
        return {"basis": None, "note": "no project was read", "platforms": [], "this_machine": []}
    return {
        "basis": model.basis,
        "note": model.note,
        "platforms": [serde.to_plain(r) for r in model.resolutions],
        "this_machine": [serde.to_plain(r) for r in model.machine],
    }
