"""The JSON report: a versioned envelope around the diagnoses and the snapshot they came from."""

from __future__ import annotations

import json

from torchdoctor import __version__, serde
from torchdoctor.model import Report, Severity
from torchdoctor.resolution import project_model

REPORT_SCHEMA_VERSION = 1


def report_to_plain(report: Report) -> dict:
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "torchdoctor_version": __version__,
        "summary": {s.value: report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)},
        "diagnoses": [serde.to_plain(d) for d in report.diagnoses],
        "resolutions": _resolutions(report),
        "snapshot": serde.to_plain(report.snapshot),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_to_plain(report), indent=2, allow_nan=False) + "\n"


def _resolutions(report: Report) -> dict:
    """What each platform and selection installs (the resolution model), and this machine's answers."""
    model = project_model(report.snapshot)
    return {
        "basis": model.basis,
        "note": model.note,
        "platforms": [serde.to_plain(r) for r in model.resolutions],
        "this_machine": [serde.to_plain(r) for r in model.machine],
    }
