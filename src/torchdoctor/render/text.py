"""The plain-text report `torchdoctor check` prints: facts first, each with a mark for its area (as
`flutter doctor` does: ✓ nothing found, else the most severe finding's icon), then the findings, most severe
first. The evidence under each finding is printed with `-v` (`--verbose`): by default a finding is its
message, why and fix, so that one screen holds the answer; the recorded goldens pin the verbose form."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from torchdoctor.model import Diagnosis, Report, Severity
from torchdoctor.render.facts import bench_lines, build_lines, gpu_lines, machine_line, project_line, python_line, torch_line

ICONS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}
COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}
WIDTH = 100
"""The widest a text report wraps to; narrower terminals (COLUMNS, or the terminal's own width) get their width."""


def width() -> int:
    import os
    import shutil
    import sys

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        if not sys.stdout.isatty():
            return WIDTH
        columns = shutil.get_terminal_size((WIDTH, 24)).columns
    return max(40, min(WIDTH, columns - 1))


def table_width() -> int:
    """What the builds table may take after its label: the terminal's width (COLUMNS, or the terminal's own), and no
    limit when the report is piped (a file or a CI log does not wrap)."""
    import os
    import shutil
    import sys

    try:
        return int(os.environ["COLUMNS"]) - 12
    except (KeyError, ValueError):
        return shutil.get_terminal_size((WIDTH, 24)).columns - 12 if sys.stdout.isatty() else 10_000


_AREA_OF_FAMILY = {"TD0": "project", "TD1": "torch", "TD2": "gpu", "TD3": "project", "TD4": "project",
                   "TD5": "machine", "TD6": "gemm", "TD7": "fleet"}
_AREA_OF_CODE = {"TD000": None, "TD101": "python", "TD405": "python", "TD404": "torch", "TD251": "torch",
                 "TD260": "torch", "TD270": "torch", "TD271": "torch", **{f"TD53{n}": "project" for n in range(10)}}
"""Exceptions to the families of docs/rules.md: the interpreter's own findings, an installed torch that is not
the locked one, extensions and toolchains against torch, the Dockerfile rules (project files). TD000 (a rule
crashed) belongs to no area."""


def area_of(code: str) -> str | None:
    """The fact line a finding's mark goes on."""
    return _AREA_OF_CODE[code] if code in _AREA_OF_CODE else _AREA_OF_FAMILY.get(code[:3])


def render_text(report: Report, *, color: bool = False, verbose: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    snapshot = report.snapshot
    lines = [paint(f"torchdoctor {snapshot.torchdoctor_version}", "1") + f" — {snapshot.project.root}", ""]
    if snapshot.torch.status == "not-probed":
        machine = [("machine", ["not probed here: the ranks of a fleet job reported their own (`torchdoctor fleet --snapshot` shows them)" if snapshot.fleet
                                else "not probed (--no-machine): only the project files were checked"])]
    else:
        machine = [("machine", [machine_line(snapshot)]), ("gpu", gpu_lines(snapshot)),
                   ("python", [python_line(snapshot)]), ("torch", [torch_line(snapshot)])]
    facts = [*machine, ("project", [project_line(snapshot)]), ("builds", build_lines(report.model, table_width())),
             ("gemm", bench_lines(report))]
    worst: dict[str | None, Severity] = {}
    for diagnosis in report.diagnoses:
        area = area_of(diagnosis.code)
        if snapshot.torch.status == "not-probed" and area in ("gpu", "python", "torch"):
            area = "machine"  # one line stands for the unprobed machine
        worst[area] = max(worst.get(area, diagnosis.severity), diagnosis.severity)
    for label, values in facts:
        if label == "builds":
            mark = " "  # a part of the project's line
        elif label in worst:
            mark = paint(ICONS[worst[label]], COLORS[worst[label]])
        else:
            mark = "-" if snapshot.torch.status == "not-probed" and label == "machine" else paint("✓", "32")
        for number, value in enumerate(values or ([""] if label in worst else [])):
            prefix = f"{mark} {label:<8}" if number == 0 else f"  {'':<8}"
            lines.append(f"{prefix} {value}".rstrip())
    lines.append("")
    where = fix_target(report)
    for diagnosis in report.diagnoses:
        lines.extend(diagnosis_lines(diagnosis, paint, where, verbose=verbose))
        lines.append("")
    lines.append(summary_line(report))
    if not verbose and any(d.evidence for d in report.diagnoses):
        lines.append(paint("the facts behind each finding: run it again with -v", "2"))
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


def diagnosis_lines(diagnosis: Diagnosis, paint: Callable[[str, str], str], where: str = "", verbose: bool = True) -> list[str]:
    severity = diagnosis.severity
    head = paint(f"{ICONS[severity]} {severity.value:<7} {diagnosis.code} {diagnosis.slug}", COLORS[severity])
    columns = width()
    lines = [head, *textwrap.wrap(diagnosis.message, columns, initial_indent="  ", subsequent_indent="  ")]
    lines.extend(textwrap.wrap(diagnosis.explanation, columns, initial_indent="  why: ", subsequent_indent="       "))
    if diagnosis.evidence and verbose:
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
    if diagnosis.no_fix:
        lines.extend(textwrap.wrap(diagnosis.no_fix, columns, initial_indent="  no automatic fix: ",
                                   subsequent_indent="       "))
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
    if project.pyproject is None and not (project.requirements_files or project.dockerfiles or project.errors):
        line += f" · no project here (no pyproject.toml in {project.root} or above): only the machine was checked"
    elif report.snapshot.fleet is not None:
        line += f" · {report.snapshot.fleet.world_size} rank(s) of a fleet job"
    elif report.snapshot.torch.status == "not-probed":
        line += " · the project files only (--no-machine)"
    return line
