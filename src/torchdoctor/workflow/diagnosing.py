"""Diagnose: every rule on a snapshot, kept as the selection (the command line, then `[tool.torchdoctor]`) says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from pathlib import Path

from torchdoctor.checks import PROJECT_RULES, assess_gemm, run_checks
from torchdoctor.collectives import collective_rates
from torchdoctor.model import SELECTION_NAMED, Applicability, Area, Diagnosis, Fix, Report, Severity
from torchdoctor.resolution import project_model
from torchdoctor.snapshot import Snapshot
from torchdoctor.workflow.planning import prove_offers


@dataclass(frozen=True)
class Selection:
    """Which codes to report: prefixes, as ruff's selectors (`TD3` is every TD3xx)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def keeps(self, code: str) -> bool:
        if self.select and not any(code.startswith(prefix) for prefix in self.select):
            return False
        return not any(code.startswith(prefix) for prefix in self.ignore)


def selection_for(snapshot: Snapshot, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> Selection:
    """The command line's --select replaces the project's `select`; --ignore adds to its `ignore`."""
    settings = snapshot.project.pyproject.settings if snapshot.project.pyproject else None
    chosen = tuple(code.upper() for code in select) or (settings.select if settings else ())
    ignored = (settings.ignore if settings else ()) + tuple(code.upper() for code in ignore)
    return Selection(chosen, ignored)


def fail_on(snapshot: Snapshot, given: str | None) -> Severity:
    """--fail-on, else the project's `fail-on`, else error."""
    settings = snapshot.project.pyproject.settings if snapshot.project.pyproject else None
    return Severity(given or (settings.fail_on if settings and settings.fail_on else "error"))


def diagnose(snapshot: Snapshot, selection: Selection | None = None) -> Report:
    """The Report: every rule run on the snapshot, the findings the selection keeps, each offering only the fixes
    proven to cure it (planning.prove_offers). A problem with the settings themselves (TD001) is always kept: a typo in
    `ignore` must not hide itself."""
    selection = selection or selection_for(snapshot)
    kept: list[Diagnosis] = [d for d in run_checks(snapshot)
                             if selection.keeps(d.code) or (d.code == "TD001" and "[tool.torchdoctor]" in d.message)]
    if snapshot.torch.status == "not-probed":
        # Nothing of this machine was probed (`check --no-machine`, a fleet run, or a recording of either): only the
        # rules that read the project's files, and the fleet's own, which read what each rank reported.
        kept = [d for d in kept if d.code in PROJECT_RULES or d.area is Area.FLEET]
    proven = prove_offers(snapshot, kept)
    members, cures = _member_findings(snapshot, proven, selection)
    cured = _cured_in_members(proven, cures)
    # A member's finding that a root finding now says with the member's cure is said once, by the root (in the words
    # of the root's own selections, which are what its users run).
    adopted = {(d.code, id(d.fix)) for d in cured if d.fix is not None}
    members = [m for m in members if (m.code, id(m.fix)) not in adopted]
    return Report(snapshot=snapshot, diagnoses=tuple(merge_selections([*cured, *members])), gemm=assess_gemm(snapshot),
                  model=project_model(snapshot), collectives=collective_rates(snapshot.fleet))



def _member_findings(snapshot: Snapshot, said: Iterable[Diagnosis], selection: Selection
                     ) -> tuple[list[Diagnosis], list[tuple[str, str, Fix]]]:
    """A workspace root's members, each checked as its own project on the same machine (a root that declares no
    torch looked healthy while a member mapped torch to a line the driver cannot run: issue 31 item 4). A finding the
    root already made (the machine's own) is said once; the others are named by their member, and a fix of the
    member's pyproject.toml is offered as the command that writes and proves it there. Also returned: each member
    finding's cure as (code, subject, command), for the root's findings about the same thing (`_cured_in_members`)."""
    seen = {(d.code, d.message) for d in said}
    found: list[Diagnosis] = []
    cures: list[tuple[str, str, Fix]] = []
    for member in snapshot.project.members:
        if member.pyproject is None or not (member.pyproject.torch_requirements or member.pyproject.extension_requirements):
            continue  # a member that asks for nothing of torch's family: the machine's findings are the root's
        name = member.pyproject.name if member.pyproject and member.pyproject.name else Path(member.root).name
        where = _relative_to(Path(member.root), Path(snapshot.project.root))
        folder = _as_argument(Path(member.root))
        as_member = replace(snapshot, project=member)
        for diagnosis in prove_offers(as_member, run_checks(as_member)):  # offered there means proven there
            if not selection.keeps(diagnosis.code):
                continue
            if snapshot.torch.status == "not-probed" and diagnosis.code not in PROJECT_RULES:
                continue
            fixes = [f for f in (diagnosis.fix, *diagnosis.alternatives) if f is not None]
            commands = tuple(f for f in fixes if f.edit is None)
            edit = next((f for f in fixes if f.edit is not None), None)
            if edit is not None:
                unsafe = " --unsafe" if edit.applicability is Applicability.UNSAFE else ""
                command = Fix(f"Fix it in {where}: {edit.title}", Applicability.DISPLAY_ONLY,
                              commands=(f"torchdoctor fix {diagnosis.code}{unsafe} --project {folder}",))
                commands = (command, *commands)
                cures.append((diagnosis.code, _subject(diagnosis.message), command))
            if (diagnosis.code, diagnosis.message) in seen:
                continue
            seen.add((diagnosis.code, diagnosis.message))
            found.append(replace(diagnosis, message=f"workspace member {name} ({where}): {diagnosis.message}",
                                 fix=commands[0] if commands else None, alternatives=tuple(commands[1:])))
    return found, cures


def _subject(message: str) -> str:
    """What a finding is about without where it holds: the words before "for <where>" (the whole message without)."""
    return message.partition(" for ")[0]


def _cured_in_members(said: Iterable[Diagnosis], cures: list[tuple[str, str, Fix]]) -> list[Diagnosis]:
    """A root's finding with no cure of its own, about what a member configures: the root's uv.lock pairs torch with
    another build of a companion for `uv sync --extra cu130` because the member's extra that the root's extra turns
    on maps torch and not the companion. The member's finding names the same pair for its own extra, with the fix of
    the member's file: the root's finding points there. Matched by the same rule and the same words before
    "for <where>"."""
    adopted = []
    for diagnosis in said:
        cure = None
        if diagnosis.fix is None and not diagnosis.alternatives:
            cure = next((fix for code, subject, fix in cures
                         if code == diagnosis.code and subject == _subject(diagnosis.message)), None)
        adopted.append(replace(diagnosis, fix=cure) if cure is not None else diagnosis)
    return adopted


def _as_argument(folder: Path) -> str:
    """The folder as a command run from here names it: relative below the current folder, else absolute."""
    import shlex

    try:
        text = folder.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except (ValueError, OSError):
        text = str(folder)
    return shlex.quote(text)


def _relative_to(folder: Path, root: Path) -> str:
    try:
        return folder.relative_to(root).as_posix()
    except ValueError:
        return str(folder)




def merge_selections(diagnoses: Iterable[Diagnosis]) -> list[Diagnosis]:
    """Findings that differ only in the selection they name (`uv sync --extra a`, `--extra b`: the same torch, the same
    cure) are one finding: the first (a plain `uv sync` before the extras), at the highest severity, naming the others."""
    groups: dict[tuple[object, ...], list[Diagnosis]] = {}
    order: list[tuple[object, ...]] = []
    for diagnosis in diagnoses:
        named = SELECTION_NAMED.findall(diagnosis.message)
        key: tuple[object, ...] = ((diagnosis.code, SELECTION_NAMED.sub("`…`", diagnosis.message), SELECTION_NAMED.sub("`…`", diagnosis.explanation),
                       diagnosis.fix, diagnosis.alternatives, diagnosis.no_fix) if len(named) == 1 else (id(diagnosis),))
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append(diagnosis)
    merged = []
    for key in order:
        group = groups[key]
        first = group[0]
        if len(group) == 1:
            merged.append(first)
            continue
        others = [SELECTION_NAMED.findall(d.message)[0].strip("`").removeprefix("uv sync ") for d in group[1:]]
        shown = ", ".join(others[:6]) + (f" and {len(others) - 6} more" if len(others) > 6 else "")
        evidence = tuple(dict.fromkeys(e for d in group for e in d.evidence))[:8]
        merged.append(replace(first, severity=max(d.severity for d in group), evidence=evidence,
                              message=f"{first.message} (the same with {shown})"))
    return merged


def rules() -> dict[str, Any]:
    """The rule registry, code to rule, for `torchdoctor rules` and docs/rules.md."""
    from torchdoctor.checks import RULES

    return RULES
