"""A fix is proven before it is written.

The fixed text is parsed, read as a project again and checked through the resolution model, in memory: it
must be valid TOML, cure what it claims, raise no new warning or error, write no key that `[project] dynamic`
lists, and change what each platform installs only as its title says: never a platform from a GPU build to a
CPU one, never a torch-family package dropped where it was installed. Both sides are predicted from
pyproject.toml (the lock is rewritten by `uv lock` after the fix), so the comparison is like for like. A finding
about the torch installed now (TD220, TD221, TD230: their rules say `cured_by_sync`) is cured by the `uv sync` that
follows the lock, so it is judged on the machine as that sync would leave it (`as_synced`), and only where the probed
interpreter is the project's uv environment, the one the sync changes.

Costs a second reading of the project (tens of milliseconds, in memory: nothing is written, so an interrupted proof
leaves nothing behind); the CLI and the TUI call it before every write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torchdoctor.edits import DROPS_PACKAGES, Edit
from torchdoctor.family import BUILD_CHECKED
from torchdoctor.model import SELECTION_NAMED, Diagnosis, Severity
from torchdoctor.probes.project import project_of_text
from torchdoctor.probes.pyproject_file import parse_toml
from torchdoctor.probes.reading import FileProblem
from torchdoctor.resolution import MODEL_PACKAGES, ProjectModel, project_model
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


@dataclass(frozen=True)
class _Side:
    """One text of pyproject.toml as the proof reads it: parsed, as a project, its model and its findings."""

    data: dict[str, Any]
    snapshot: Snapshot
    model: ProjectModel
    findings: tuple[Diagnosis, ...]
    invalid: str | None = None
    """Why the text is not valid TOML; None when it is."""


Sides = dict[str, _Side]
"""Texts already read by proofs, by text: the proofs of one plan, or of every fix of one report, share them (the
text after one fix is the text before the next; every fix of a report starts from the same text)."""


def side_of(snapshot: Snapshot, text: str, sides: Sides) -> _Side:
    from torchdoctor.checks import run_checks  # the checks import fixes' neighbours; imported when used

    if text not in sides:
        path = Path(snapshot.project.pyproject.path if snapshot.project.pyproject else
                    Path(snapshot.project.root) / "pyproject.toml")
        invalid = None
        try:
            data = parse_toml(text.removeprefix("\ufeff"), path)
        except FileProblem as problem:
            data, invalid = {}, problem.error.message
        side_snapshot = _as_project(snapshot, path, text, None if invalid else data)
        sides[text] = _Side(data, side_snapshot, project_model(side_snapshot), run_checks(side_snapshot), invalid)
    return sides[text]


def prove(snapshot: Snapshot, before: str, after: str, chosen: Iterable[Diagnosis],
          locked: ProjectModel | None = None, sides: Sides | None = None) -> Proof:
    """Check the fixed text against the original, as a project, before anything is written. `locked` is the model of
    the project's uv.lock, which alone knows the companions installed through other packages."""
    chosen = list(chosen)
    sides = {} if sides is None else sides
    now = side_of(snapshot, after, sides)
    if now.invalid is not None:
        return Proof((f"the fixed pyproject.toml would not be valid TOML: {now.invalid}",))
    was = side_of(snapshot, before, sides)
    problems = list(_dynamic_keys_written(was.data, now.data))
    problems += _builds_changed(was.model, now.model,
                                [d.fix.edit for d in chosen if d.fix is not None and d.fix.edit is not None])
    problems += _companions_left(was.model, now.model, locked)
    found_before = {(d.code, d.message) for d in was.findings}
    said_before = {_said_of(d) for d in was.findings}
    remaining = {(d.code, d.message) for d in now.findings}
    not_cured = [d for d in chosen if (d.code, d.message) in remaining and not cured_once_synced(now.snapshot, d.code)]
    problems += [f"{d.code} would still be reported: {d.message}" for d in not_cured]
    raised = [d for d in now.findings if d.severity >= Severity.WARNING and (d.code, d.message) not in found_before
              and _said_of(d) not in said_before]
    only_raised = not problems
    problems += [f"it would raise {d.code} ({d.severity.value}): {d.message}" for d in raised]
    cured = tuple(dict.fromkeys(d.code for d in chosen if d not in not_cured))
    return Proof(tuple(dict.fromkeys(problems)), cured, tuple(raised) if only_raised else ())


def cured_once_synced(snapshot: Snapshot, code: str) -> bool:
    """A finding about the installed build (its rule says `cured_by_sync`) that the project, as `snapshot` reads it,
    would no longer give once `uv sync` installs the build the project plans here."""
    from torchdoctor.checks import RULES, run_checks

    rule = RULES.get(code)
    if rule is None or not rule.cured_by_sync:
        return False
    synced = as_synced(snapshot)
    return synced is not None and not run_checks(synced, codes=(code,))


def as_synced(snapshot: Snapshot) -> Snapshot | None:
    """The machine as `uv sync` would leave it: the installed torch replaced by the build the project's plain selection
    installs on this machine, known by its version and CUDA line only (the knowledge tables then stand in for what its
    files would say: its arch list). None when that cannot be said: the probed interpreter is not the project's uv
    environment (a sync would not touch it), or the model does not know the build or the release."""
    from torchdoctor.knowledge import cuda_of_variant, knowledge

    if project_environment(snapshot) is None or snapshot.torch.status != "ok":
        return None
    resolution = project_model(snapshot).machine_default
    planned = resolution.torch if resolution is not None else None
    if planned is None or not planned.decided or not planned.build:
        return None
    cuda = cuda_of_variant(planned.build)
    if cuda is None and planned.build != "cpu":
        return None  # ROCm, XPU: the tables say too little of those builds to stand in for their files
    version = planned.version
    if version is None and planned.series:
        release = knowledge().release(f"{planned.series}.0")
        version = release.latest if release else None
    if version is None:
        return None
    local = version.partition("+")[2] or None
    torch = replace(snapshot.torch, version=version, installed_version=version, local_tag=local,
                    cuda=f"{cuda[0]}.{cuda[1]}" if cuda else None, arch_list=(), cuda_error=None,
                    cuda_init_warnings=(), cuda_available=None)
    return replace(snapshot, torch=torch)


def project_environment(snapshot: Snapshot) -> Path | None:
    """uv's project environment (`.venv`, or UV_PROJECT_ENVIRONMENT), when the probed interpreter lives in it: syncing
    it changes what was probed."""
    import os

    if not snapshot.project.root or not snapshot.interpreter.path:
        return None
    root = Path(snapshot.project.root)
    named = os.environ.get("UV_PROJECT_ENVIRONMENT")
    environment = (root / named) if named else root / ".venv"
    try:
        Path(snapshot.interpreter.path).absolute().relative_to(environment.absolute())
    except ValueError:
        return None
    return environment


_INSTALL = re.compile(SELECTION_NAMED.pattern + " installs ")


def _said_of(diagnosis: Diagnosis) -> tuple[str, str, str]:
    """What a finding says, beside the words that name a build: a finding about what one selection installs (`uv sync
    --extra cu124` installs …) is the same problem when the fix only changes how the build is named (`torch
    2.5.1+cu124` once its tag is dropped reads `torch 2.5 (cu124)`): not one the fix raised. Others: the message."""
    match = _INSTALL.search(diagnosis.message)
    return (diagnosis.code, diagnosis.severity.value, match.group(0) if match else diagnosis.message)


def _as_project(snapshot: Snapshot, path: Path, text: str, parsed: dict[str, Any] | None = None) -> Snapshot:
    """The snapshot with its project replaced by `text` alone, read in memory: no lock (uv lock redoes it after a
    fix), nothing written anywhere (an interrupted proof leaves nothing behind)."""
    return replace(snapshot, project=replace(project_of_text(text, path, parsed, offline=snapshot.project.offline),
                                             root=snapshot.project.root))


def _dynamic_keys_written(before: dict[str, Any], after: dict[str, Any]) -> Iterable[str]:
    def table(value: Any) -> dict[str, Any]:
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
