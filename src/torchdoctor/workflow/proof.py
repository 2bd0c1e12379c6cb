"""A fix is proven before it is written.

The fixed text is parsed, read as a project again and checked through the resolution model, in memory: it
must be valid TOML, cure what it claims, raise no new warning or error, write no key that `[project] dynamic`
lists, and change what each platform installs only as its title says: never a platform from a GPU build to a
CPU one, never a torch-family package dropped where it was installed. Both sides are predicted from
pyproject.toml (the lock is rewritten by `uv lock` after the fix), so the comparison is like for like.

Costs a second reading of the project (tens of milliseconds); the CLI and the TUI call it before every write.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torchdoctor.edits import DROPS_PACKAGES, Edit
from torchdoctor.family import BUILD_CHECKED
from torchdoctor.model import Diagnosis, Severity
from torchdoctor.probes.project import FileProblem, parse_toml, probe_project
from torchdoctor.resolution import MODEL_PACKAGES, ProjectModel, build_model, project_model
from torchdoctor.snapshot import Snapshot


@dataclass(frozen=True)
class Proof:
    """Why a fix may not be written (empty: proven), and what it cures."""

    problems: tuple[str, ...] = ()
    cured: tuple[str, ...] = ()
    raised: tuple[Diagnosis, ...] = ()
    """The new warnings and errors the fix would raise (as found on the fixed text), when they are its only problem."""

    @property
    def proven(self) -> bool:
        return not self.problems


def prove(snapshot: Snapshot, before: str, after: str, chosen: Iterable[Diagnosis],
          locked: ProjectModel | None = None) -> Proof:
    """Check the fixed text against the original, as a project, before anything is written. `locked` is the model of
    the project's uv.lock, which alone knows the companions installed through other packages."""
    from torchdoctor.checks import run_checks  # the checks import fixes' neighbours; imported when used

    chosen = list(chosen)
    with tempfile.TemporaryDirectory(prefix="torchdoctor-proof-") as folder:
        try:
            after_data = parse_toml(after.removeprefix("\ufeff"), Path(folder) / "pyproject.toml")
        except FileProblem as problem:
            return Proof((f"the fixed pyproject.toml would not be valid TOML: {problem.error.message}",))
        try:
            before_data = parse_toml(before.removeprefix("\ufeff"), Path(folder) / "pyproject.toml")
        except FileProblem:
            before_data = {}
        problems = list(_dynamic_keys_written(before_data, after_data))
        before_snapshot = _as_project(snapshot, Path(folder) / "before", before)
        after_snapshot = _as_project(snapshot, Path(folder) / "after", after)
        before_model, after_model = build_model(before_snapshot, from_lock=False), build_model(after_snapshot, from_lock=False)
        problems += _builds_changed(before_model, after_model,
                                    [d.fix.edit for d in chosen if d.fix is not None and d.fix.edit is not None])
        problems += _companions_left(before_model, after_model, locked)
        found_before = {(d.code, d.message) for d in run_checks(before_snapshot)}
        found_after = run_checks(after_snapshot)
    remaining = {(d.code, d.message) for d in found_after}
    not_cured = [d for d in chosen if (d.code, d.message) in remaining]
    problems += [f"{d.code} would still be reported: {d.message}" for d in not_cured]
    raised = [d for d in found_after if d.severity >= Severity.WARNING and (d.code, d.message) not in found_before]
    only_raised = not problems
    problems += [f"it would raise {d.code} ({d.severity.value}): {d.message}" for d in raised]
    cured = tuple(dict.fromkeys(d.code for d in chosen if d not in not_cured))
    return Proof(tuple(dict.fromkeys(problems)), cured, tuple(raised) if only_raised else ())


def _as_project(snapshot: Snapshot, folder: Path, text: str) -> Snapshot:
    """The snapshot with its project replaced by `text` alone: no lock (uv lock redoes it after a fix)."""
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    project = probe_project(folder)
    pyproject = project.pyproject
    if pyproject is not None:  # keep the real path in what the checks say
        project = replace(project, pyproject=replace(pyproject, path=snapshot.project.pyproject.path
                                                     if snapshot.project.pyproject else pyproject.path))
    return replace(snapshot, project=replace(project, root=snapshot.project.root))


def _dynamic_keys_written(before: dict, after: dict) -> Iterable[str]:
    def table(value: Any) -> dict:
        return value if isinstance(value, dict) else {}

    project_before, project_after = table(before.get("project")), table(after.get("project"))
    listed = project_before.get("dynamic")
    dynamic = listed if isinstance(listed, list) else []
    for key in dynamic:
        if isinstance(key, str) and project_before.get(key) != project_after.get(key):
            yield f"it would write [project] {key}, which `dynamic` lists: the build backend owns that key"


def _builds_changed(before: ProjectModel, after: ProjectModel, edits: list[Edit]) -> Iterable[str]:
    """Never a platform from a GPU build to CPU; never a family package dropped where it was installed."""
    after_by_key = {(r.platform, r.selection): r for r in after.resolutions}
    for resolution in before.resolutions:
        fixed = after_by_key.get((resolution.platform, resolution.selection))
        if fixed is None:
            continue
        where = f"{resolution.platform_label}" + ("" if resolution.option is None else f" with `{resolution.option}`")
        torch_before, torch_after = resolution.torch, fixed.torch
        gpu_platform = not resolution.platform.startswith("macos")  # a CUDA build on macOS installs nowhere
        if (gpu_platform and torch_before is not None and torch_after is not None and torch_before.accelerated
                and torch_after.build == "cpu"):
            yield f"{where} would move from torch's {torch_before.build} build to a CPU build"
        if any(isinstance(edit, DROPS_PACKAGES) for edit in edits):
            continue
        for package in MODEL_PACKAGES:
            if resolution.get(package) is not None and fixed.get(package) is None and not fixed.note:
                yield f"{where} would no longer install {package}"


def _companions_left(before: ProjectModel, after: ProjectModel, locked: ProjectModel | None) -> Iterable[str]:
    """Where the fix moves torch to another index, every companion built per CUDA line must come along: one the
    fixed project requires is predicted from its sources; one installed only through another package stays where
    the lock has it (uv applies sources to the project's own requirements only), which must then be torch's line."""
    if locked is None:
        return
    before_by_key = {(r.platform, r.selection): r for r in before.resolutions}
    after_by_key = {(r.platform, r.selection): r for r in after.resolutions}
    for resolution in locked.resolutions:
        key = (resolution.platform, resolution.selection)
        was, now = before_by_key.get(key), after_by_key.get(key)
        if was is None or now is None or was.torch is None or now.torch is None or not now.torch.decided:
            continue
        if was.torch.index == now.torch.index:
            continue  # the fix does not move torch here
        for package in BUILD_CHECKED:
            stays = resolution.get(package)
            if stays is None:
                continue
            follows = now.get(package)
            if follows is not None:
                if follows.decided and follows.index != now.torch.index:
                    yield (f"{package} would come from {follows.index or 'PyPI'} beside torch from {now.torch.index or 'PyPI'} "
                           f"on {resolution.platform_label}" + (f" with `{resolution.option}`" if resolution.option else ""))
                continue
            if stays.index != now.torch.index and not (stays.build and stays.build == now.torch.build):
                yield (f"{package}, installed only through another package, would stay on {stays.index or 'PyPI'} "
                       f"({stays.build or 'its build'}) beside torch from {now.torch.index or 'PyPI'} on "
                       f"{resolution.platform_label}" + (f" with `{resolution.option}`" if resolution.option else ""))


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
               unsafe: bool = False) -> FixPlan:
    """Apply the chosen fixes one at a time, each proven on the text the ones before it left; then diagnose that
    text again and apply what `more` picks from the new findings, until a round adds nothing (the fixed point,
    so a second run finds nothing left to fix). A fix that cannot be proven is refused, with the reason."""
    from torchdoctor.fixes import apply_fixes
    from torchdoctor.fixes.transforms import FixError

    current, applied, refused = text, [], []
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
            proof = prove(_with_text(snapshot, current), current, candidate, [diagnosis], locked)
            bundle = [diagnosis]
            if not proof.proven and proof.raised:
                # The fix only trades its finding for others it raises (TD307's marker leaves torchvision on another
                # build, TD309's mapping takes torchvision to macOS): with their own fixes in the same change, it
                # may cure them all. Proven as one, or refused as before.
                candidate, bundle, proof = _with_the_fixes_of_what_it_raises(snapshot, current, candidate, diagnosis,
                                                                             proof, unsafe, locked)
            if proof.proven:
                current = candidate
                applied.extend(bundle)
            else:
                refused.append((diagnosis, proof))
        with tempfile.TemporaryDirectory(prefix="torchdoctor-plan-") as folder:
            queue = [d for d in more(_as_project(snapshot, Path(folder) / "p", current)) if (d.code, d.message) not in seen]
        if not queue:
            break
    refused = [(d, p) for d, p in refused if d not in applied]
    return FixPlan(text, current, tuple(applied), tuple(refused))


def _with_the_fixes_of_what_it_raises(snapshot: Snapshot, current: str, candidate: str, diagnosis: Diagnosis,
                                      proof: Proof, unsafe: bool,
                                      locked: ProjectModel | None) -> tuple[str, list[Diagnosis], Proof]:
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
    combined_proof = prove(_with_text(snapshot, current), current, combined, [diagnosis], locked)
    if not combined_proof.proven:
        return candidate, [diagnosis], proof
    return combined, bundle, combined_proof


def _with_text(snapshot: Snapshot, text: str) -> Snapshot:
    """The snapshot as the proof of the next fix sees it: the project as the fixes so far left it."""
    with tempfile.TemporaryDirectory(prefix="torchdoctor-plan-") as folder:
        return _as_project(snapshot, Path(folder) / "p", text)
