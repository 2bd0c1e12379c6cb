"""The plain-text report `torchdoctor check` prints: facts first, then findings, most severe first."""

from __future__ import annotations

import textwrap

from torchdoctor.model import Diagnosis, Report, Severity
from torchdoctor.render.facts import bench_lines, build_lines, gpu_lines, machine_line, project_line, python_line, torch_line

ICONS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}
COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}
WIDTH = 100


def render_text(report: Report, *, color: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    snapshot = report.snapshot
    lines = [paint(f"torchdoctor {snapshot.torchdoctor_version}", "1") + f" — {snapshot.project.root}", ""]
    facts = [("machine", [machine_line(snapshot)]), ("gpu", gpu_lines(snapshot)), ("python", [python_line(snapshot)]),
             ("torch", [torch_line(snapshot)]), ("project", [project_line(snapshot)]), ("builds", build_lines(snapshot)),
             ("gemm", bench_lines(snapshot))]
    for label, values in facts:
        for number, value in enumerate(values):
            lines.append(f"  {label if number == 0 else '':<8} {value}")
    lines.append("")
    for diagnosis in report.diagnoses:
        lines.extend(_diagnosis(diagnosis, paint))
        lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _diagnosis(diagnosis: Diagnosis, paint) -> list[str]:
    severity = diagnosis.severity
    head = paint(f"{ICONS[severity]} {severity.value:<7} {diagnosis.code} {diagnosis.slug}", COLORS[severity])
    lines = [head, *textwrap.wrap(diagnosis.message, WIDTH, initial_indent="  ", subsequent_indent="  ")]
    lines.extend(textwrap.wrap(diagnosis.explanation, WIDTH, initial_indent="  why: ", subsequent_indent="       "))
    if diagnosis.evidence:
        lines.append("  evidence:")
        for item in diagnosis.evidence:
            value_lines = item.value.splitlines() or [""]
            lines.append(f"    {item.fact}: {value_lines[0]}")
            lines.extend(f"      {more}" for more in value_lines[1:])
            lines.append(paint(f"      ↳ {item.source}", "2"))
    fix = diagnosis.fix
    if fix is not None:
        if fix.action:
            lines.append(paint(f"  fix ({fix.applicability.value}): {fix.title}", "32"))
            flag = " --unsafe" if fix.applicability.value == "unsafe" else ""
            lines.append(f"      → torchdoctor fix {diagnosis.code}{flag}   (preview with --dry-run)")
        else:
            lines.append(paint(f"  fix: {fix.title}; run it yourself:", "32"))
            lines.extend(f"      $ {command}" for command in fix.commands)
    for number, alternative in enumerate(diagnosis.alternatives, start=1):
        lines.append(paint(f"  or ({alternative.applicability.value}): {alternative.title}", "32"))
        flag = " --unsafe" if alternative.applicability.value == "unsafe" else ""
        lines.append(f"      → torchdoctor fix {diagnosis.code} --alternative {number}{flag}")
    return lines


def summary_line(report: Report) -> str:
    errors, warnings, notes = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    if not errors and not warnings:
        verdict = "healthy"
    else:
        verdict = "problems found"
    return f"{verdict}: {errors} error(s), {warnings} warning(s), {notes} note(s)"
