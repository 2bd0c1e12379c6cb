"""Which fixes to write, and which a report may offer: the chosen fixes applied one at a time, each proven on the text
the ones before it left (proof.py), bundled with the fixes of what it raises or with its siblings where it fails
alone, until a round adds nothing; and every fix a report shows proven so before any face shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from torchdoctor.model import Diagnosis
from torchdoctor.probes.reading import FileProblem, read_regular_file
from torchdoctor.resolution import ProjectModel, project_model
from torchdoctor.snapshot import Snapshot
from torchdoctor.workflow.proof import Proof, Sides, prove, side_of

MAX_PYPROJECT_BYTES = 16 << 20


@dataclass(frozen=True)
class FixPlan:
    """What `fix` writes: the text after every fix that was proven, applied one at a time until none is left."""

    before: str
    after: str
    applied: tuple[Diagnosis, ...] = ()
    refused: tuple[tuple[Diagnosis, Proof], ...] = ()
    """Fixes not applied, each with why: they failed their proof on top of the fixes applied before them."""


MAX_ROUNDS = 4


def plan_fixes(snapshot: Snapshot, text: str, chosen: list[Diagnosis], more: Callable[[Snapshot], list[Diagnosis]],
               unsafe: bool = False, sides: Sides | None = None, together: Iterable[Diagnosis] = ()) -> FixPlan:
    """Apply the chosen fixes one at a time, each proven on the text the ones before it left; then diagnose that
    text again and apply what `more` picks from the new findings, until a round adds nothing (the fixed point,
    so a second run finds nothing left to fix). A fix that cannot be proven is refused, with the reason.

    A fix that fails alone may pass with its siblings: the fixes of the other findings of the same rule (the marker
    torch needs and the one torchaudio needs, each alone leaving the other on another build on macOS), among the
    chosen or `together` (the report's other findings, when one finding is proven for the report)."""
    from torchdoctor.fixes import apply_fixes
    from torchdoctor.fixes.transforms import FixError

    current, applied, refused = text, [], []
    sides = {} if sides is None else sides
    locked = project_model(snapshot) if snapshot.project.lock is not None else None  # the report's, already walked
    seen: set[tuple[str, str]] = set()
    queue = list(chosen)
    for _ in range(MAX_ROUNDS):
        for diagnosis in queue:
            key = (diagnosis.code, diagnosis.message)
            if key in seen:
                continue
            seen.add(key)
            try:
                candidate = apply_fixes(current, [diagnosis])
            except FixError as error:
                refused.append((diagnosis, Proof((str(error),))))
                continue
            if candidate == current:
                continue
            proof = prove(snapshot, current, candidate, [diagnosis], locked, sides)
            bundle = [diagnosis]
            if not proof.proven and proof.raised:
                # The fix only trades its finding for others it raises (TD307's marker leaves torchvision on another
                # build, TD309's mapping takes torchvision to macOS): with their own fixes in the same change, it
                # may cure them all. Proven as one, or refused as before.
                candidate, bundle, proof = _with_the_fixes_of_what_it_raises(snapshot, current, candidate, diagnosis,
                                                                             proof, unsafe, locked, sides)
            if not proof.proven:
                siblings = [d for d in (*queue, *together) if d.code == diagnosis.code and d is not diagnosis
                            and d not in applied and d.fix is not None and d.fix.edit is not None]
                candidate, bundle, proof = _with_its_siblings(snapshot, current, candidate, diagnosis, bundle, proof,
                                                              siblings, locked, sides)
            if proof.proven:
                current = candidate
                applied.extend(bundle)
            else:
                refused.append((diagnosis, proof))
        queue = [d for d in more(side_of(snapshot, current, sides).snapshot) if (d.code, d.message) not in seen]
        if not queue:
            break
    refused = [(d, p) for d, p in refused if d not in applied]
    return FixPlan(text, current, tuple(applied), tuple(refused))


def _with_the_fixes_of_what_it_raises(snapshot: Snapshot, current: str, candidate: str, diagnosis: Diagnosis,
                                      proof: Proof, unsafe: bool, locked: ProjectModel | None,
                                      sides: Sides) -> tuple[str, list[Diagnosis], Proof]:
    """The candidate with the fixes of the findings it raises applied too (safe ones, or unsafe with `unsafe`), and
    the proof of the whole; the original candidate and proof when those findings have no such fix."""
    from torchdoctor.fixes import apply_fixes, fixable
    from torchdoctor.fixes.transforms import FixError

    companions = fixable(proof.raised, unsafe=unsafe)
    if not companions:
        return candidate, [diagnosis], proof
    try:
        combined = apply_fixes(candidate, companions)
    except FixError:
        return candidate, [diagnosis], proof
    bundle = [diagnosis, *companions]
    combined_proof = prove(snapshot, current, combined, [diagnosis], locked, sides)
    if not combined_proof.proven:
        return candidate, [diagnosis], proof
    return combined, bundle, combined_proof


def _with_its_siblings(snapshot: Snapshot, current: str, candidate: str, diagnosis: Diagnosis, bundle: list[Diagnosis],
                       proof: Proof, siblings: list[Diagnosis], locked: ProjectModel | None,
                       sides: Sides) -> tuple[str, list[Diagnosis], Proof]:
    """The fix with its siblings' fixes in one change, proven to cure them all; what was given when that fails."""
    from torchdoctor.fixes import apply_fixes
    from torchdoctor.fixes.transforms import FixError

    if not siblings:
        return candidate, bundle, proof
    try:
        combined = apply_fixes(current, [diagnosis, *siblings])
    except FixError:
        return candidate, bundle, proof
    combined_proof = prove(snapshot, current, combined, [diagnosis, *siblings], locked, sides)
    if not combined_proof.proven:
        return candidate, bundle, proof
    return combined, [diagnosis, *siblings], combined_proof


def prove_offers(snapshot: Snapshot, diagnoses: Iterable[Diagnosis]) -> tuple[Diagnosis, ...]:
    """Offered means proven: every edit a finding offers (its fix and each alternative) is proven here, as `fix` would
    prove it alone, before any face shows it. One that writes nothing or fails its proof is taken off the finding; a
    proven alternative then becomes the fix, and a finding left with none says why there is no automatic fix.

    The proofs of one report share what they read (the file's text, parsed once; the project as it is, read once), so
    each fix costs its own edit and one reading of its result."""
    diagnoses = tuple(diagnoses)
    if not any(f is not None and f.edit is not None for d in diagnoses for f in (d.fix, *d.alternatives)):
        return diagnoses
    pyproject = snapshot.project.pyproject
    try:  # a regular file, bounded: a recording may name any path (/dev/zero, a FIFO)
        text: str | None = (read_regular_file(Path(pyproject.path), MAX_PYPROJECT_BYTES).decode("utf-8")
                            if pyproject is not None else None)
    except (FileProblem, UnicodeDecodeError):
        text = None
    sides: Sides = {}
    return tuple(_proven_fixes(snapshot, d, text, sides, diagnoses) for d in diagnoses)


def _proven_fixes(snapshot: Snapshot, diagnosis: Diagnosis, text: str | None, sides: Sides,
                  report: tuple[Diagnosis, ...] = ()) -> Diagnosis:
    offered = [f for f in (diagnosis.fix, *diagnosis.alternatives) if f is not None]
    if not any(f.edit is not None for f in offered):
        return diagnosis
    kept, reasons = [], []
    for fix in offered:
        if fix.edit is None:
            kept.append(fix)
        elif text is None:
            reasons.append("pyproject.toml cannot be read here to prove one on (run `torchdoctor check` in the project)")
        else:
            taken = replace(diagnosis, fix=fix, alternatives=())
            plan = plan_fixes(snapshot, text, [taken], lambda fixed: [], unsafe=True, sides=sides,
                              together=[d for d in report if d is not diagnosis])
            if taken in plan.applied and plan.after != text:
                kept.append(fix)
            else:
                refusals = [problem for _, proof in plan.refused for problem in proof.problems]
                reasons.extend(refusals or ["the edit would change nothing in pyproject.toml"])
    if len(kept) == len(offered):
        return diagnosis
    if kept:
        return replace(diagnosis, fix=kept[0], alternatives=tuple(kept[1:]))
    return replace(diagnosis, fix=None, alternatives=(),
                   no_fix=f"no edit of pyproject.toml could be proven to cure it: {reasons[0]}")
