"""Fixing: choose the fixes a request names, prove them (proof.py), write them, and carry the change through
`uv lock` and `uv sync` to a verdict, as one transaction (transaction.py); undo puts back what the last one wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from torchdoctor.checks import run_checks
from torchdoctor.fixes import FixError, fixable, unified_diff
from torchdoctor.model import Applicability, Diagnosis
from torchdoctor.snapshot import Snapshot
from torchdoctor.workflow.planning import plan_fixes, prove_offers
from torchdoctor.workflow.proof import Proof

class CannotFix(Exception):
    """Nothing can be fixed here at all (no pyproject.toml, or one that cannot be read): said in one line."""


@dataclass(frozen=True)
class FixChoice:
    """What a fix request picks from the findings."""

    chosen: tuple[Diagnosis, ...]
    """The findings whose pyproject.toml fixes will be applied (and proven first)."""
    needs_unsafe: tuple[Diagnosis, ...] = ()
    """Findings with an unsafe fix left out because --unsafe was not given."""
    outside: tuple[Diagnosis, ...] = ()
    """Findings cured outside pyproject.toml: their commands are shown, never run."""


def choose_fixes(diagnoses: Iterable[Diagnosis], codes: set[str] | None = None, *, unsafe: bool = False) -> FixChoice:
    """The fixes a request picks: those of the named codes (every code when none is named), unsafe ones only when
    asked; the findings it names that are cured by commands are returned to be shown."""
    diagnoses = tuple(diagnoses)
    chosen = fixable(diagnoses, codes or None, unsafe=unsafe)
    everything = fixable(diagnoses, codes or None, unsafe=True)
    outside = tuple(d for d in diagnoses if d.fix is not None and d.fix.commands and (not codes or d.code in codes))
    return FixChoice(tuple(chosen), tuple(d for d in everything if d not in chosen), outside)


def fix_diagnoses(snapshot: Snapshot) -> tuple[Diagnosis, ...]:
    """The findings a fix may be asked for: every rule's, whatever the selection (a fix named on the command line
    is applied even when the project's settings hide its finding from the report), with the fixes the report offers:
    the same proven ones, so that `fix CODE --alternative N` means what the report printed."""
    return prove_offers(snapshot, run_checks(snapshot))


@dataclass(frozen=True)
class FixPreview:
    """The proven result of applying fixes to the project's pyproject.toml, before anything is written."""

    path: Path
    original: bytes
    """The file's bytes as read: the writer refuses to write if the file changed since (and undo restores them)."""
    before: str
    after: str
    applied: tuple[Diagnosis, ...]
    refused: tuple[tuple[Diagnosis, Proof], ...]
    """Fixes that could not be proven, each with the reasons."""

    @property
    def diff(self) -> str:
        """The change as a unified diff, for showing: credentials in any line of it, context lines included
        (`https://user:token@`, `?token=`), are redacted, as in every other output; the file gets `after` as is."""
        from torchdoctor.redact import clean

        return "".join(clean(line) for line in unified_diff(self.before, self.after).splitlines(keepends=True))

    @property
    def changes(self) -> bool:
        return self.after != self.before

    @property
    def refusal(self) -> str:
        """Why nothing could be proven, in one line ("" when something was)."""
        if self.applied or not self.refused:
            return ""
        return "the fix could not be proven: " + "; ".join(p for _, proof in self.refused for p in proof.problems)


def preview_fixes(snapshot: Snapshot, chosen: Iterable[Diagnosis], *, follow: bool = False,
                  codes: set[str] | None = None, unsafe: bool = False) -> FixPreview:
    """Apply and prove the chosen fixes on the project's pyproject.toml, in memory. With `follow`, the fixes that the
    applied ones reveal (of `codes`, safe unless `unsafe`) are applied too, to the fixed point, so that a second run
    finds nothing left; without it, exactly the chosen ones. Raises CannotFix when there is no file to fix."""
    pyproject = snapshot.project.pyproject
    if pyproject is None:
        raise CannotFix(f"no usable pyproject.toml in {snapshot.project.root}")
    path = Path(pyproject.path)
    try:
        original = path.read_bytes()
        before = original.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CannotFix(f"cannot fix {path}: {error}") from None

    def revealed(fixed: Snapshot) -> list[Diagnosis]:
        return fixable(run_checks(fixed), codes or None, unsafe=unsafe) if follow else []

    plan = plan_fixes(snapshot, before, list(chosen), revealed, unsafe=unsafe)
    return FixPreview(path, original, before, plan.after, plan.applied, plan.refused)


def write_fixes(preview: FixPreview) -> Path:
    """Write the previewed text (the writer keeps a backup for `undo` and refuses if the file changed since it was
    read); returns the backup's path. Raises FixError."""
    from torchdoctor.fixes.writer import write_fixed

    if not preview.changes:
        raise FixError("nothing to write")
    return write_fixed(preview.path, preview.original, preview.after)


def undo_fix(root: Path) -> Path:
    """Put back pyproject.toml as it was before the last fix written in `root`; returns the backup's folder.
    Raises FixError."""
    from torchdoctor.fixes.writer import undo_last

    return undo_last(root / "pyproject.toml")


def reread_project(snapshot: Snapshot) -> Snapshot:
    """The snapshot with the project's files read again (after a fix, an undo or a lock); the machine is kept."""
    from torchdoctor.probes.collect import with_project

    return with_project(snapshot, Path(snapshot.project.root), offline=snapshot.project.offline)


@dataclass(frozen=True)
class Recheck:
    """What a re-check says of the findings a fix was meant to cure."""

    cured: tuple[str, ...]
    still: tuple[str, ...]


def recheck(fixed: Iterable[tuple[str, str]], before: Iterable[Diagnosis], after: Iterable[Diagnosis]) -> Recheck:
    """Findings are told apart by code and message, so fixing one of two TD304s cures that one. A code is still
    reported when a finding the fix meant to cure is, or when the fix made a new finding of that code (one cure
    traded for another problem of the same kind); it is cured when neither is so."""
    fixed = set(fixed)
    was = {(d.code, d.message) for d in before}
    now = {(d.code, d.message) for d in after}
    codes = {code for code, _ in fixed}
    still = {code for code, _ in fixed & now} | {code for code, _ in now - was if code in codes}
    cured = {code for code, _ in (fixed & was) - now} - still
    return Recheck(tuple(sorted(cured)), tuple(sorted(still)))


def is_unsafe(diagnosis: Diagnosis) -> bool:
    return diagnosis.fix is not None and diagnosis.fix.applicability is Applicability.UNSAFE


def unsafe_warning(diagnosis: Diagnosis) -> str | None:
    """What to weigh before writing an unsafe fix, as it is: a change of what the project promises, or (an index move
    only) a change of what every user of the project installs. None for a safe fix."""
    from torchdoctor.edits import changes_requirements

    if not is_unsafe(diagnosis) or diagnosis.fix is None:
        return None
    if diagnosis.fix.edit is not None and not changes_requirements(diagnosis.fix.edit):
        return ("Unsafe: this fix changes which builds every user of the project installs, not only this machine's "
                "(the title says for whom; a newer CUDA line needs a newer driver on each of their machines). Read the "
                "diff before writing it.")
    return ("Unsafe: this fix changes what the project promises (its dependencies, extras or Python range), not only "
            "where packages come from. Read the diff before writing it.")


def rule_codes() -> frozenset[str]:
    """Every diagnosis code there is (a fix request naming another is a usage error)."""
    from torchdoctor.checks import RULES

    return frozenset(RULES)


def undo(project_dir: Path) -> tuple[Path, Path]:
    """`undo` in the project found from `project_dir`: the file put back and the backup it came from. Raises CannotFix."""
    from torchdoctor.probes.project import find_project_root

    root, _ = find_project_root(project_dir)
    try:
        return root / "pyproject.toml", undo_fix(root)
    except FixError as error:
        raise CannotFix(str(error)) from None
