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
    where = fix_target(report)
    for diagnosis in report.diagnoses:
        lines.extend(_diagnosis(diagnosis, paint, where))
        lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def render_quiet(report: Report, *, color: bool = False) -> str:
    """`check --quiet`: a line per finding (`pyproject.toml:12: TD301 message`) and the summary, for CI logs and
    pre-commit, where the facts and the evidence would bury the finding."""
    from torchdoctor.render.ci import place

    lines = []
    for diagnosis in report.diagnoses:
        where = place(diagnosis, report.snapshot.project.root)
        prefix = f"{where[0]}{f':{where[1]}' if where[1] else ''}: " if where else ""
        mark = f"\x1b[{COLORS[diagnosis.severity]}m{ICONS[diagnosis.severity]}\x1b[0m" if color else ICONS[diagnosis.severity]
        lines.append(f"{mark} {prefix}{diagnosis.code} {diagnosis.message}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def fix_target(report: Report) -> str:
    """` --project DIR` when the project is not the current folder, so a suggested `torchdoctor fix` works as
    pasted (from the folder `check` ran in)."""
    import os
    import shlex

    root = report.snapshot.project.root
    if not root or not os.path.isdir(root):
        return ""  # a recorded project from another machine: `fix` takes the project here, not that path
    try:
        here = os.path.realpath(os.getcwd()) == os.path.realpath(root)
    except OSError:
        here = False
    return "" if here else f" --project {shlex.quote(root)}"


def _diagnosis(diagnosis: Diagnosis, paint, where: str = "") -> list[str]:
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
            lines.append(f"      → torchdoctor fix {diagnosis.code}{flag}{where}   (preview with --dry-run)")
        else:
            lines.append(paint(f"  fix: {fix.title}; run it yourself:", "32"))
            lines.extend(f"      $ {command}" for command in fix.commands)
    for number, alternative in enumerate(diagnosis.alternatives, start=1):
        lines.append(paint(f"  or ({alternative.applicability.value}): {alternative.title}", "32"))
        flag = " --unsafe" if alternative.applicability.value == "unsafe" else ""
        lines.append(f"      → torchdoctor fix {diagnosis.code} --alternative {number}{flag}{where}")
    return lines


def summary_line(report: Report) -> str:
    errors, warnings, notes = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    if not errors and not warnings:
        verdict = "healthy"
    else:
        verdict = "problems found"
    line = f"{verdict}: {errors} error(s), {warnings} warning(s), {notes} note(s)"
    project = report.snapshot.project
    if project.pyproject is None and not project.requirements_files and not project.dockerfiles:
        line += f" · no project here (no pyproject.toml in {project.root} or above): only the machine was checked"
    elif report.snapshot.torch.status == "not-probed":
        line += " · the project files only (--no-machine)"
    return line
