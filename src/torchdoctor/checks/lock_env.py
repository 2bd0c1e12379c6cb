"""TD4xx: does uv.lock agree with pyproject.toml, with this machine, and with what is installed?"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from packaging.utils import canonicalize_name

from torchdoctor.checks.builds import companions_through_others, is_cuda_build, requirement_place, use_build_fix
from torchdoctor.checks.common import COMPANION_FAILURE, interpreter_evidence, nvidia_gpu_evidence, places_text, torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, UNSAFE, Finding, rule
from torchdoctor.indexes import environments_allow, marker_applies, parse_index_url
from torchdoctor.edits import MapCompanions
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.requirements import parse_requirement
from torchdoctor.resolution import BUILD_CHECKED, Planned, Resolution, build_conflict, project_model
from torchdoctor.snapshot import Snapshot


def _spec(text: str | None) -> str:
    try:
        return str(SpecifierSet(text or ""))
    except InvalidSpecifier:
        return text or ""


def locked_for_this_machine(snapshot: Snapshot, name: str) -> list[Planned]:
    """What uv.lock installs of `name` on this machine, over every selection (default first)."""
    model = project_model(snapshot)
    if model.basis != "uv.lock":
        return []
    found: dict[str, Planned] = {}
    for resolution in model.machine:
        planned = resolution.get(name)
        if planned is not None and planned.version:
            found.setdefault(planned.version, planned)
    return list(found.values())


def _planned_evidence(snapshot: Snapshot, resolution: Resolution, planned: Planned) -> Evidence:
    where = planned.index or "PyPI"
    build = f"{planned.build} build" if planned.build else "build unknown"
    lock, pyproject = snapshot.project.lock, snapshot.project.pyproject
    locked = resolution.basis == "uv.lock" and lock is not None
    source = lock.path if lock is not None and locked else (pyproject.path if pyproject else "")
    return Evidence(f"{'locked' if locked else 'planned'} {planned.name} ({resolution.selection})",
                    f"{planned.version or planned.specifier or 'any version'} from {where}: {build}"
                    + (f" ({planned.build_basis})" if planned.build_basis else ""), source)


@rule("TD401", "lock-stale", fix=DISPLAY_ONLY, reads="project")
def lock_stale(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock no longer matches what pyproject.toml asks for torch.

    What it detects:
        First what uv itself says: `uv lock --check --offline --no-build`, asked at probe time when uv is
        installed and can answer without running project code (probes/lock_check.py). When uv was not asked or
        could not decide offline, torchdoctor compares the lock's record of the project's requirements with
        pyproject.toml, as uv records them: torch-family requirements by name and range (no range for packages
        from git, URL or path sources: uv records none), and index sources of packages the project requires,
        whose marker can hold on a platform uv resolves for.
    Why it matters:
        `uv sync --locked` fails and `uv run` first re-locks, possibly to other versions; what is installed
        today is not what pyproject.toml says.
    Fix safety:
        Run `uv lock`.
    """
    project = snapshot.project
    pyproject, lock = project.pyproject, project.lock
    if pyproject is None or lock is None:
        return
    freshness = lock.freshness
    if freshness is not None and freshness.fresh is True:
        return
    if freshness is not None and freshness.fresh is False:
        yield Finding(
            Severity.WARNING,
            "uv.lock is out of date with pyproject.toml (uv lock --check)",
            "uv compared the lock with pyproject.toml and would change it. `uv sync --locked` will fail and `uv run` will "
            "re-lock first. Run `uv lock` and review the change.",
            (Evidence("uv lock --check --offline", freshness.detail, lock.path),),
            Fix("Re-lock", Applicability.DISPLAY_ONLY, commands=("uv lock", "uv sync")),
        )
        return
    missing = _differences_from_lock(pyproject, lock)
    if not missing:
        return
    asked = (Evidence("uv lock --check --offline", freshness.detail, lock.path),) if freshness is not None else ()
    yield Finding(
        Severity.WARNING,
        "uv.lock is out of date with pyproject.toml: " + "; ".join(missing),
        "The lock records the requirements it was made from, and these differ from pyproject.toml now. `uv sync --locked` "
        "will fail and `uv run` will re-lock first. Run `uv lock` and review the change."
        + (" (uv itself could not decide offline; this is torchdoctor's comparison.)" if freshness is not None else ""),
        tuple(Evidence("pyproject requirement not in the lock", m, pyproject.path) for m in missing) + asked,
        Fix("Re-lock", Applicability.DISPLAY_ONLY, commands=("uv lock", "uv sync")),
    )


def _marker_of(requirement_text: str) -> str | None:
    requirement = parse_requirement(requirement_text)[0]
    return str(requirement.marker) if requirement is not None and requirement.marker is not None else None


def _differences_from_lock(pyproject, lock) -> list[str]:
    """torchdoctor's approximation of `uv lock --check` for the torch family, as uv records requirements."""
    if not isinstance(lock.root_requires_dist, dict):
        return []
    locked = [e for e in lock.root_requires_dist.get("requires-dist") or [] if isinstance(e, dict)]
    dev = lock.root_requires_dist.get("requires-dev") or {}
    for entries in (dev.values() if isinstance(dev, dict) else ()):
        locked += [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    locked_pairs = {(str(e.get("name", "")).lower(), _spec(e.get("specifier"))) for e in locked}
    locked_names = {name for name, _ in locked_pairs}
    locked_indexes = {(str(e.get("name", "")).lower(), str(e.get("index") or "").rstrip("/")) for e in locked if e.get("index")}
    unversioned = {s.package for s in pyproject.sources if s.kind in ("git", "url", "path", "workspace")}
    missing = []
    declared = {d.name for d in pyproject.torch_requirements}
    for requirement_text, name in ((d.requirement, d.name) for d in pyproject.torch_requirements):
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            continue
        if name in unversioned or requirement.url:
            if name not in locked_names:
                missing.append(requirement_text)
        elif (name, _spec(str(requirement.specifier))) not in locked_pairs:
            missing.append(requirement_text)
    urls = {i.name: i.url for i in pyproject.indexes}
    for source in pyproject.sources:
        url = urls.get(source.target or "")
        if source.kind != "index" or not url or source.package not in declared or not locked_indexes:
            continue
        requirements = [d.requirement for d in pyproject.torch_requirements if d.name == source.package]
        if not any(marker_applies(source.marker, platform) is not False
                   and any(marker_applies(_marker_of(r), platform) is not False for r in requirements)
                   for platform in ("linux", "win32", "darwin") if environments_allow(pyproject.uv.environments, platform)):
            continue  # a source that never applies together with a requirement of its package is not recorded
        cleaned = (parse_index_url(url).cleaned or url).rstrip("/")
        if (source.package, cleaned) not in locked_indexes:
            missing.append(f"{source.package} from index {source.target}")
    return list(dict.fromkeys(missing))


@rule("TD402", "lock-gives-cpu-build", fix=(SAFE, UNSAFE))
def lock_gives_cpu_build(snapshot: Snapshot) -> Iterator[Finding]:
    """The project installs a CPU-only torch on this machine, which has an NVIDIA GPU.

    What it detects:
        What a plain `uv sync` installs here, by the resolution model (uv.lock's walk for this machine's platform,
        else pyproject.toml's prediction): a `+cpu` build, one from a CPU index, or PyPI's Windows wheel (CPU-only),
        while NVML or the device files show an NVIDIA GPU.
    Why it matters:
        Every `uv sync` (and `uv run`) installs that build: the GPU stays unused however often torch is
        reinstalled by hand. An error when uv.lock pins it and nothing in the project gives this platform a GPU
        build; a note when an extra or group gives it one (`uv sync --extra cu128`), or when the project maps
        torch to the CPU index on purpose (said with or without a lock). Without a lock, a platform that falls
        back to PyPI's CPU build is TD316's. An opt-in selection named for the GPU (`--extra gpu`, `--group cu128`)
        that gets the CPU build here is a warning, with or without a lock: its name and its build disagree.
    Fix safety:
        In pyproject.toml, then `uv lock`: the use-the-right-build fix maps the torch family to the recommended PyTorch index; it is unsafe when it
        replaces the index torch is mapped to now, and its alternatives (this machine's newest line, the extras
        pattern) are unsafe.
    """
    gpu = nvidia_gpu_evidence(snapshot)
    model = project_model(snapshot)
    default = model.machine_default
    if not gpu or snapshot.system.os_name not in ("Linux", "Windows"):
        return
    yield from _gpu_named_selections_with_cpu(snapshot, model, gpu)
    if default is None:
        return
    torch = default.torch
    if torch is None:
        yield from _opt_in_selections_all_cpu(snapshot, model, gpu)
        return
    if torch.build != "cpu":
        return
    what = f"torch {torch.version}" if torch.version else f"a CPU torch ({torch.build_basis})"
    lockfile = "uv.lock" if default.basis == "uv.lock" else "pyproject.toml"
    with_gpu = [r for r in model.machine if r.option and is_cuda_build(r.torch)]
    evidence = (_planned_evidence(snapshot, default, torch), *gpu)
    if with_gpu:
        options = ", ".join(f"`uv sync {r.option}`" for r in with_gpu)
        yield Finding(
            Severity.INFO,
            f"a plain `uv sync` installs {what}, a CPU build, on this machine; {options} installs a GPU build",
            "The project lets each user choose the build with an extra or a group. This machine has an NVIDIA GPU, so "
            f"install with {options}.",
            evidence + tuple(_planned_evidence(snapshot, r, r.torch) for r in with_gpu if r.torch is not None),
        )
        return
    if default.basis != "uv.lock" and not _cpu_on_purpose(snapshot, model):
        return  # without a lock, TD316 speaks of a platform that falls back to a CPU torch
    if _cpu_on_purpose(snapshot, model):
        yield Finding(
            Severity.INFO,
            f"the project maps torch to the CPU index, so {lockfile} installs {what} and the GPU here stays unused",
            "Every torch source of the project points at the PyTorch CPU index, so this is a choice, not an accident: the "
            "CPU build is smaller and runs everywhere. To use the GPU here, map torch to a CUDA index for this platform.",
            evidence,
        )
        return
    yield Finding(
        Severity.ERROR,
        f"{lockfile} installs {what} from {torch.index or 'PyPI'} on this machine: a CPU-only build",
        "This machine has an NVIDIA GPU, but the build the lock pins for this platform has no CUDA "
        f"({torch.build_basis}), so every `uv sync` installs a torch that cannot use it. Map torch to a CUDA index for "
        "this platform and re-lock.",
        evidence,
        use_build_fix(snapshot),
    )


GPU_NAMED = re.compile(r"(?<![a-z])(?<!no-)(?<!non-)(?<!without-)(?<!no_)(?<!non_)(?<!without_)"
                       r"(gpu|cuda|cu\d{2,3})(?![a-z])", re.IGNORECASE)
"""An extra or group whose name promises an NVIDIA GPU build: `gpu`, `cuda`, `cu128`."""


def _gpu_named_selections_with_cpu(snapshot: Snapshot, model, gpu) -> Iterator[Finding]:
    """An opt-in selection named for the GPU that installs a CPU torch here: its name and its build disagree, with or
    without a lock (a CPU index mapped without a marker or an extra reaches every selection)."""
    pyproject = snapshot.project.pyproject
    for resolution in model.machine:
        torch = resolution.torch
        if not resolution.option or torch is None or torch.build != "cpu" or not GPU_NAMED.search(resolution.option):
            continue
        cpu_sources = [s for s in (pyproject.sources if pyproject else ()) if s.package == "torch" and s.kind == "index"
                       and not s.extra and not s.group]
        yield Finding(
            Severity.WARNING,
            f"`uv sync {resolution.option}` installs {torch.label}, a CPU build, on this machine with an NVIDIA GPU: the "
            "selection's name promises a GPU build",
            f"By the project's {resolution.basis}, the {resolution.selection} selection gets torch's CPU build "
            f"({torch.build_basis}). A source that names no extra or group applies to every selection, a CPU index "
            "included: give the GPU selection its own source (`extra = …` or `group = …`) on a CUDA index.",
            (_planned_evidence(snapshot, resolution, torch), *gpu,
             *(Evidence("[tool.uv.sources] torch", f"index = {s.target!r}, marker = {s.marker!r}",
                        pyproject.path if pyproject else "pyproject.toml") for s in cpu_sources)),
        )


def _opt_in_selections_all_cpu(snapshot: Snapshot, model, gpu) -> Iterator[Finding]:
    """torch only behind extras or groups, and every one of them installs a CPU build here (a CPU index mapped
    without a marker or an extra reaches them all), said with or without a lock: a note, since the project may mean
    it; one named for the GPU is the warning above."""
    with_torch = [r for r in model.machine if r.option and r.torch is not None]
    if not with_torch or any(r.torch.build != "cpu" for r in with_torch):
        return
    if any(GPU_NAMED.search(r.option or "") for r in with_torch):
        return  # the selection named for the GPU is the warning above, which says it all
    plain = [r for r in with_torch if "cpu" not in (r.option or "").lower()]  # one named for the CPU means it
    if not plain:
        return
    options = ", ".join(f"`uv sync {r.option}`" for r in plain)
    yield Finding(
        Severity.INFO,
        f"every selection that installs torch installs a CPU build on this machine with an NVIDIA GPU: {options}",
        "torch is only in extras or groups, and each of them gets torch's CPU build here "
        f"({plain[0].torch.build_basis}). A source that names no extra or group (a CPU index mapped for torch) applies "
        "to every selection. To use the GPU here, give a selection its own source on a CUDA index (`extra = …` or "
        "`group = …`), with a marker for the platforms that have one.",
        (*(_planned_evidence(snapshot, r, r.torch) for r in plain), *gpu),
    )


def _cpu_on_purpose(snapshot: Snapshot, model) -> bool:
    """True when every index source of torch is a CPU index and no platform or selection gets a GPU build."""
    pyproject = snapshot.project.pyproject
    if pyproject is None:
        return False
    urls = {i.name: i.url for i in pyproject.indexes if i.name and i.url}
    targets = [urls.get(s.target or "") for s in pyproject.sources if s.package == "torch" and s.kind == "index"]
    if not targets or any(t is None or parse_index_url(t).variant != "cpu" for t in targets):
        return False
    return not any(r.torch is not None and r.torch.accelerated for r in model.resolutions)


@rule("TD403", "lock-mixes-variants", fix=(SAFE, UNSAFE, DISPLAY_ONLY), reads="project")
def lock_mixes_variants(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock pairs torch with a torchvision/torchaudio/torchcodec of another build.

    What it detects:
        For each platform and selection, by the resolution model's walk of uv.lock: torch of one build (`+cu128`)
        with a companion of another (`+cu126`, `+cpu`, or PyPI's wheel when that is a different build). A PyPI
        wheel without a local version is the build PyPI ships: on Linux the CUDA variant the tables name for that
        release (torchvision 0.23.0 is cu128, like torch 2.8.0), on Windows a CPU build. Builds the tables do not
        know are not compared.
    Why it matters:
        The pair fails at import or first use ("operator torchvision::nms does not exist"). An error for a plain
        `uv sync` on this machine; a warning for another platform or an opt-in extra.
    Fix safety:
        The companion gets torch's source entries for the selections named (the index uv.lock took torch from, with
        the entry's extra and marker), then `uv lock`. Safe where the project requires the companion itself. Where
        uv.lock installs it only through another package, uv applies no source to it (uv applies sources to the
        project's own requirements), so the fix also makes it a requirement where that selection asks for it:
        unsafe, since it changes what the project promises; a project that publishes gets it in its `dev` group,
        never in its base dependencies; where `dynamic` lists the dependencies the steps are said, not written. No
        fix where torch itself comes from no source of the project for one of those selections.
    """
    model = project_model(snapshot)
    if model.basis != "uv.lock":
        return
    pairs: dict[tuple[str, str, str], list[tuple[Resolution, Planned, Planned]]] = {}
    for resolution in (*model.machine, *model.others()):
        torch = resolution.torch
        if torch is None:
            continue
        for name in BUILD_CHECKED:
            companion = resolution.get(name)
            if companion is not None and build_conflict(torch.build, companion.build) is not None:
                key = (name, f"{torch.version} {torch.build}", f"{companion.version} {companion.build}")
                pairs.setdefault(key, []).append((resolution, torch, companion))
    for (name, _, _), places in pairs.items():
        resolution, torch, companion = places[0]
        here = any(r.platform == "this-machine" and r.option is None for r, _, _ in places)
        where = places_text(r for r, _, _ in places)
        yield Finding(
            Severity.ERROR if here else Severity.WARNING,
            f"uv.lock pins torch {torch.version} ({torch.build}) with {name} {companion.version} ({companion.build}) "
            f"for {where}: different builds",
            f"{name}'s compiled operators must match torch's build ({build_conflict(torch.build, companion.build)} here): "
            f"{COMPANION_FAILURE}.",
            (_planned_evidence(snapshot, resolution, torch), _planned_evidence(snapshot, resolution, companion)),
            _follow_torch_fix(snapshot, model, name, [r for r, _, _ in places]),
        )


def _follow_torch_fix(snapshot: Snapshot, model, package: str, places: list[Resolution]) -> Fix | None:
    """The companion mapped like torch where uv.lock took torch from one of the project's index sources, and required
    by the project where uv.lock installs it only through another package (see the rule's Fix safety)."""
    pyproject = snapshot.project.pyproject
    if pyproject is None or not pyproject.has_project_table:
        return None
    urls = {i.name: i.url for i in pyproject.indexes if i.name and i.url}
    selections = {s.label: s for s in model.selections}
    torch_entries = [s for s in pyproject.sources if s.package == "torch" and s.kind == "index" and s.target in urls]
    targets: set[tuple[str, str | None]] = set()
    for place in places:
        selection = selections.get(place.selection)
        torch = place.torch
        if selection is None or torch is None or torch.index is None:
            return None
        extras = {canonicalize_name(e) for e in selection.extras}  # `cu130_torch29` is the extra `cu130-torch29`
        groups = {canonicalize_name(g) for g in selection.groups}
        chosen = [s for s in torch_entries if urls[s.target or ""].rstrip("/") == torch.index.rstrip("/")
                  and (s.extra is None or canonicalize_name(s.extra) in extras)
                  and (s.group is None or canonicalize_name(s.group) in groups)]
        if not chosen:
            return None  # torch there comes from no source of the project: nothing to copy
        targets.update((s.target or "", s.extra) for s in chosen)
    have = {(s.target, s.extra) for s in pyproject.sources if s.package == package and s.kind == "index"}
    missing = tuple(sorted(targets - have, key=str))
    wheres = {requirement_place(selections.get(p.selection), pyproject) for p in places}
    required = tuple(r for r in companions_through_others(snapshot) if r[0] == package and r[1] in wheres)
    if not missing and not required:
        return None
    if required and ("dependencies" in pyproject.dynamic or "optional-dependencies" in pyproject.dynamic):
        return Fix(f"Map {package} like torch and require it where it is installed (the build backend owns the "
                   "requirements here)", Applicability.DISPLAY_ONLY,
                   commands=(f"# [tool.uv.sources] {package}: the entries torch has for "
                             + ", ".join(f"index {t}" + (f" (extra {e})" if e else "") for t, e in sorted(targets, key=str)),
                             *(f"# and in the requirements your build backend reads ({w}): {package}" + (f" ; {m}" if m else "")
                               for _, w, m in required),
                             "uv lock"))
    places_named = ", ".join(sorted({w.replace("optional:", "extra ").replace("group:", "group ") for _, w, _ in required}))
    if not required:
        title = f"Map {package} like torch (to the index uv.lock takes torch from)"
    elif not missing:
        title = (f"Make {package} a requirement of the project ({places_named}): uv.lock installs it only through "
                 "other packages, and uv applies its source only to the project's own requirements")
    else:
        title = (f"Map {package} like torch and make it a requirement of the project ({places_named}), so that the "
                 "source applies: uv.lock installs it only through other packages")
    return Fix(title, Applicability.UNSAFE if required else Applicability.SAFE,
               MapCompanions(package=package, targets=missing, require=required))


@rule("TD404", "installed-differs-from-lock", fix=DISPLAY_ONLY)
def installed_differs_from_lock(snapshot: Snapshot) -> Iterator[Finding]:
    """The torch installed in the project environment is not one uv.lock installs here.

    What it detects:
        `torch.__version__` in the project's interpreter differs from the torch uv.lock installs on this machine
        for every selection (plain `uv sync` and each extra or group), typically after a manual
        `uv pip install torch --index-url …`.
    Why it matters:
        The next `uv run` or `uv sync` puts the locked build back ("uv run reinstalls torch to a version without
        cuda"), so the working setup disappears.
    Fix safety:
        Two cures, both the user's to choose, so both are shown as commands: put the locked build back
        (`uv sync --inexact`, which keeps what else was installed by hand), or declare in pyproject.toml the index the
        manual install used and re-lock; which index that was is not in the files torchdoctor reads.
    """
    torch = snapshot.torch
    locked = locked_for_this_machine(snapshot, "torch")
    if torch.status != "ok" or not torch.version or not locked or snapshot.interpreter.source not in (".venv", "UV_PROJECT_ENVIRONMENT"):
        return
    try:
        installed = Version(torch.version)
        if any(p.version and Version(p.version) == installed for p in locked):
            return
    except InvalidVersion:
        return
    lock_path = snapshot.project.lock.path if snapshot.project.lock else "uv.lock"
    yield Finding(
        Severity.WARNING,
        f"the environment has torch {torch.version}, but uv.lock pins {', '.join(p.version or '?' for p in locked)}: "
        "`uv run` and `uv sync` will replace it",
        "uv keeps the project environment equal to the lock. A torch installed by hand (`uv pip install`, pip) is "
        "replaced on the next `uv run` or `uv sync`. Put the index it came from into pyproject.toml and re-lock.",
        (Evidence("installed torch", torch.version, torch_source(snapshot)),
         Evidence("locked torch", ", ".join(f"{p.version} ({p.index or 'PyPI'})" for p in locked), lock_path)),
        Fix("Install the build uv.lock pins, or keep yours by declaring its index and re-locking",
            Applicability.DISPLAY_ONLY,
            commands=("uv sync --inexact   # the locked torch; what else you installed by hand stays",
                      "# or: map torch to the index your install came from in [tool.uv.sources], then",
                      "uv lock && uv sync --inexact")),
    )


@rule("TD405", "path-python-is-another-environment", fix=DISPLAY_ONLY)
def path_python_is_another_environment(snapshot: Snapshot) -> Iterator[Finding]:
    """The `python` first on PATH belongs to another environment than the project's.

    What it detects:
        The project has its own environment (.venv or UV_PROJECT_ENVIRONMENT), but `python` on PATH resolves
        into a different one (conda's base, a system Python, another venv).
    Why it matters:
        `python train.py` and `uv run train.py` then use different interpreters with different torch builds:
        "it works in one terminal but not in the other". A warning when another environment is active (a conda
        environment, another venv); a note when PATH just has the system Python, as in uv workflows that never
        activate the project environment.
    Fix safety:
        Use `uv run`, or activate the project's environment.
    """
    interpreter = snapshot.interpreter
    if interpreter.source not in (".venv", "UV_PROJECT_ENVIRONMENT") or not interpreter.path_python:
        return
    if interpreter.path_python_environment == interpreter.environment:
        return
    other = interpreter.path_python_environment or "no virtual environment (a system Python)"
    yield Finding(
        Severity.WARNING if interpreter.path_python_environment else Severity.INFO,
        f"`python` on PATH is {interpreter.path_python}, not the project's environment",
        f"`python` resolves to {interpreter.path_python} ({other}), while `uv run` uses {interpreter.path}. The two have "
        "different packages, so `python train.py` may see another torch (or none). Use `uv run python …` or activate "
        f"{interpreter.environment}.",
        (interpreter_evidence(snapshot), Evidence("python on PATH", interpreter.path_python, "PATH")),
        Fix("Run through the project's environment", Applicability.DISPLAY_ONLY,
            commands=("uv run python train.py   # instead of python train.py", f"source {interpreter.environment}/bin/activate")),
    )


@rule("TD406", "nightly-in-lock", reads="project")
def nightly_in_lock(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock pins a nightly (development) build of torch.

    What it detects:
        A locked torch version that is a development release (`2.10.0.dev20251010+cu128`).
    Why it matters:
        The PyTorch index deletes nightlies after a while, so the lock stops being installable: a fresh clone or
        CI fails with "no version of torch==…dev…". Stable releases stay.
    Fix safety:
        The stable line with the same GPU support is usually the better pin.
    """
    lock = snapshot.project.lock
    if lock is None:
        return
    nightlies = []
    for package in lock.packages:
        try:
            if package.name == "torch" and Version(package.version).is_devrelease:
                nightlies.append(package.version)
        except InvalidVersion:
            continue
    if nightlies:
        yield Finding(
            Severity.WARNING,
            f"uv.lock pins nightly torch {', '.join(nightlies)}, which the index will delete",
            "Nightly builds are removed from download.pytorch.org after some weeks, so this lock will stop installing on new "
            "machines and in CI. Prefer a stable release once one supports your GPU.",
            tuple(Evidence("locked torch", v, lock.path) for v in nightlies),
        )


@rule("TD407", "lock-installs-builds-over-each-other", reads="project")
def lock_installs_builds_over_each_other(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock makes `uv sync` install several builds of torch (or a companion) into one environment.

    What it detects:
        For each platform and selection, the resolution model's walk of uv.lock reaches more than one version of
        the same package: the project's edges to `torch`, `torch+cpu` and `torch+cu124` carry no marker that
        chooses (a lock that an older uv wrote for extras declared conflicting, before it recorded conflict
        markers). The real uv does the same: `uv export --frozen` and `uv sync --frozen --dry-run` list all of them.
    Why it matters:
        uv installs them one over the other into the same site-packages: which build's files end up there is the
        order of installation, and every one leaves its dist-info behind (two torch installs, TD122). An error for a
        plain `uv sync` on this machine, a warning elsewhere.
    Fix safety:
        No fix offered: `uv lock` keeps a lock it still accepts. Re-locking from scratch with a current uv (remove
        uv.lock, then `uv lock`) writes the conflict markers that choose.
    """
    model = project_model(snapshot)
    if model.basis != "uv.lock" or snapshot.project.lock is None:
        return
    seen: dict[tuple[str, tuple[str, ...]], list[Resolution]] = {}
    for resolution in (*model.machine, *model.others()):
        for planned in resolution.packages:
            if len(planned.together) > 1:
                seen.setdefault((planned.name, planned.together), []).append(resolution)
    for (name, versions), places in seen.items():
        here = any(r.platform == "this-machine" and r.option is None for r in places)
        yield Finding(
            Severity.ERROR if here else Severity.WARNING,
            f"uv.lock installs {name} {', '.join(versions)} over each other for {places_text(places)}",
            f"The lock's edges to {name} carry no marker that chooses one build, so `uv sync` installs every one of them "
            "into the same environment, each over the last: which build's files remain is the order of installation, and "
            "each leaves its metadata behind. An older uv wrote such locks for conflicting extras; re-locking from scratch "
            "with a current uv (remove uv.lock, then `uv lock`) writes the markers that choose.",
            (Evidence(f"locked {name} for one install", ", ".join(versions), snapshot.project.lock.path),),
        )
