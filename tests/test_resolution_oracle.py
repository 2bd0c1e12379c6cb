"""The resolution model against uv itself, on real public projects (tests/fixtures/field).

For every project with a lock, every selection uv exported, every platform and every Python the lock
admits, the model's lock walk must install exactly what `uv export --frozen` printed for that platform
(uv's markers evaluated by packaging). The lock-less prediction, made from pyproject.toml alone, must never
contradict the lock: each torch build it names is the one uv locked, or it says it does not know.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from field_oracle import FIELD, expected_on, export_runs, field_projects, python_versions, selection_of, strip_header
from packaging.utils import canonicalize_name

from torchdoctor.probes.project import probe_project
from torchdoctor.resolution import PLATFORMS, resolve

COMPARED = ("torch", "torchvision", "torchaudio")  # and every triton-*: what the corpus kept of each export


def compared(name: str) -> bool:
    return name in COMPARED or name.startswith(("triton", "pytorch-triton"))


def load(name: str, folder: Path, with_lock: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(strip_header((FIELD / f"{name}__pyproject.toml").read_text(encoding="utf-8")),
                                           encoding="utf-8")
    if with_lock:
        (folder / "uv.lock").write_text(strip_header((FIELD / f"{name}__uv.lock").read_text(encoding="utf-8")), encoding="utf-8")
    return probe_project(folder)


def selections_for(project, run):
    pyproject = project.pyproject
    extras = [canonicalize_name(e) for e in pyproject.extras]
    groups = [canonicalize_name(g) for g in pyproject.dependency_groups]
    if any(r.group == "group:dev" for r in pyproject.torch_requirements) and "dev" not in groups:
        groups.append("dev")
    return selection_of(run.arguments, extras, groups, pyproject)


@pytest.mark.parametrize("name", field_projects())
def test_lock_walk_installs_what_uv_export_prints(tmp_path, name):
    project = load(name, tmp_path)
    assert project.lock is not None and project.lock.root, "the lock's own entry was not found"
    mismatches = []
    for run in export_runs(FIELD / f"{name}__export.txt"):
        selection = selections_for(project, run)
        for platform in PLATFORMS:
            for python in python_versions(project.lock.requires_python):
                expected = expected_on(run, dict(platform.environment(python)))
                answer = resolve(project, platform, python, selection)
                got = {(p.name, p.version) for p in answer.packages if compared(p.name)}
                if got != expected:
                    mismatches.append(f"uv export {run.arguments or '(default)'} on {platform.key} Python {python}: "
                                      f"uv {sorted(expected)}, model {sorted(got)}")
    assert not mismatches, "\n".join(mismatches[:10])


def test_the_oracle_covers_the_whole_corpus():
    """Every saved lock has its export, every export run was read, and none is empty by mistake."""
    locks = {p.name.removesuffix("__uv.lock") for p in FIELD.glob("*__uv.lock")}
    assert locks == set(field_projects()) and len(locks) >= 29
    runs = [run for name in field_projects() for run in export_runs(FIELD / f"{name}__export.txt")]
    assert len(runs) >= 90
    assert sum(1 for run in runs if run.lines) >= 80


@pytest.mark.parametrize("name", field_projects())
def test_prediction_without_the_lock_never_contradicts_it(tmp_path, name):
    locked = load(name, tmp_path / "locked")
    predicted_project = load(name, tmp_path / "bare", with_lock=False)
    contradictions = []
    for run in export_runs(FIELD / f"{name}__export.txt"):
        selection = selections_for(locked, run)
        for platform in PLATFORMS:
            python = python_versions(locked.lock.requires_python)[-1]
            exact = resolve(locked, platform, python, selection)
            predicted = resolve(predicted_project, platform, python, selection)
            for package in ("torch", "torchvision", "torchaudio"):
                guess, truth = predicted.get(package), exact.get(package)
                if guess is None or guess.build is None or truth is None or truth.build is None:
                    continue
                if guess.build == truth.build or (guess.build == "cuda" and truth.build.startswith("cu")):
                    continue
                if True:
                    contradictions.append(f"{run.arguments or '(default)'} {platform.key} {package}: predicted {guess.build} "
                                          f"({guess.build_basis}), uv locked {truth.version} ({truth.build})")
    assert not contradictions, "\n".join(contradictions[:10])


def test_field_copy_matches_shared():
    shared = Path(__file__).resolve().parents[2] / "shared" / "field"
    if not shared.is_dir():
        pytest.skip("the shared folder is not beside this checkout")
    assert {p.name: p.read_bytes() for p in shared.iterdir()} == {p.name: p.read_bytes() for p in FIELD.iterdir()}


def _project_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "pyproject.toml").write_text(strip_header((FIELD / f"{name}__pyproject.toml").read_text(encoding="utf-8")),
                                           encoding="utf-8")
    lock = FIELD / f"{name}__uv.lock"
    if lock.exists():
        (folder / "uv.lock").write_text(strip_header(lock.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


FIELD_PROJECTS = sorted(p.name.removesuffix("__pyproject.toml") for p in FIELD.glob("*__pyproject.toml") if "__member__" not in p.name)


@pytest.mark.parametrize("machine_name", ["healthy H100", "CPU-only container"])
def test_real_projects_get_no_false_error(tmp_path, machine_name):
    """The 38 field projects on a healthy recorded H100, and in a CPU-only container (no device files, no NVIDIA
    variables, no NVML, torch's CPU build): the project and lock rules raise no error. Before the resolution model,
    26 of them got at least one (49 errors), nearly all false. A new error here must first be confirmed with uv on
    that project (uv export / uv lock) before this expectation changes."""
    from conftest import SNAPSHOTS
    from torchdoctor.checks import run_checks
    from torchdoctor.model import Severity
    from torchdoctor.snapshot import Snapshot

    h100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    machine = h100 if machine_name == "healthy H100" else replace(
        h100, nvml=replace(h100.nvml, status="library-not-found", gpus=(), driver_version=None, cuda_driver_version=None),
        torch=replace(h100.torch, version="2.11.0+cpu", cuda=None, devices=(), device_count=0, cuda_available=False,
                      arch_list=(), cuda_driver=None),
        system=replace(h100.system, gpu_device_nodes=(), nvidia_kernel_driver=None, environment={}, loader_cache={}))
    errors = []
    for name in FIELD_PROJECTS:
        snapshot = replace(machine, project=probe_project(_project_folder(tmp_path, name)))
        errors += [f"{name}: {d.code} {d.message}" for d in run_checks(snapshot)
                   if d.severity is Severity.ERROR and d.code[2] in "02345"]
    assert errors == [], "\n".join(errors)
    assert len(FIELD_PROJECTS) == 38
