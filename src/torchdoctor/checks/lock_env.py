"""TD4xx: does uv.lock agree with pyproject.toml, with this machine, and with what is installed?"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.checks.common import interpreter_evidence, nvidia_gpu_evidence, torch_source
from torchdoctor.checks.gpu_build import use_build_fix
from torchdoctor.indexes import parse_index_url
from torchdoctor.checks.registry import Finding, rule
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import LockedPackage, Snapshot


def _spec(text: str | None) -> str:
    try:
        return str(SpecifierSet(text or ""))
    except InvalidSpecifier:
        return text or ""


def _machine_tag_matches(platform_tag: str, snapshot: Snapshot) -> bool:
    """Whether a wheel's platform tag can install on this machine (by OS and CPU architecture)."""
    os_name = snapshot.system.os_name
    machine = (snapshot.system.architecture or "").lower()
    if os_name == "Linux":
        arch = "aarch64" if machine in ("aarch64", "arm64") else "x86_64"
        return "linux" in platform_tag and platform_tag.endswith(arch)
    if os_name == "Windows":
        return platform_tag.startswith("win") and ("arm64" in platform_tag) == (machine in ("arm64", "aarch64"))
    if os_name == "Darwin":
        return platform_tag.startswith("macosx")
    return False


def locked_for_this_machine(snapshot: Snapshot, name: str) -> list[LockedPackage]:
    lock = snapshot.project.lock
    if lock is None:
        return []
    return [p for p in lock.packages if p.name == name and any(_machine_tag_matches(t, snapshot) for t in p.wheel_platforms)]


def _local(version: str) -> str | None:
    return version.split("+", 1)[1] if "+" in version else None


@rule("TD401", "lock-stale")
def lock_stale(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock no longer matches what pyproject.toml asks for torch.

    What it detects:
        A torch-family requirement of pyproject.toml (name and version range) that the lock's record of the
        project's requirements does not have, or a source index that the lock did not use.
    Why it matters:
        `uv sync --locked` fails and `uv run` first re-locks, possibly to other versions; what is installed
        today is not what pyproject.toml says.
    Fix safety:
        Display only: run `uv lock`.
    """
    project = snapshot.project
    pyproject, lock = project.pyproject, project.lock
    if pyproject is None or lock is None or not isinstance(lock.root_requires_dist, dict):
        return
    locked = lock.root_requires_dist.get("requires-dist") or []
    locked_pairs = {(str(e.get("name", "")).lower(), _spec(e.get("specifier"))) for e in locked if isinstance(e, dict)}
    locked_indexes = {(str(e.get("name", "")).lower(), e.get("index")) for e in locked if isinstance(e, dict) and e.get("index")}
    missing = []
    for declared in pyproject.torch_requirements:
        if declared.group.startswith("group:"):
            continue  # dependency groups are recorded under requires-dev
        try:
            requirement = Requirement(declared.requirement)
        except InvalidRequirement:
            continue
        if (declared.name, _spec(str(requirement.specifier))) not in locked_pairs:
            missing.append(declared.requirement)
    urls = {i.name: i.url for i in pyproject.indexes}
    for source in pyproject.sources:
        url = urls.get(source.target or "")
        if source.kind != "index" or not url or source.extra:
            continue
        cleaned = parse_index_url(url).cleaned or url
        if locked_indexes and (source.package, cleaned.rstrip("/")) not in {(n, (u or "").rstrip("/")) for n, u in locked_indexes}:
            missing.append(f"{source.package} from index {source.target}")
    if not missing:
        return
    yield Finding(
        Severity.WARNING,
        "uv.lock is out of date with pyproject.toml: " + "; ".join(dict.fromkeys(missing)),
        "The lock records the requirements it was made from, and these differ from pyproject.toml now. `uv sync --locked` "
        "will fail and `uv run` will re-lock first. Run `uv lock` and review the change.",
        tuple(Evidence("pyproject requirement not in the lock", m, pyproject.path) for m in dict.fromkeys(missing))
        + (Evidence("locked requirements", ", ".join(f"{n} {s}".strip() for n, s in sorted(locked_pairs)) or "none", lock.path),),
        Fix("Re-lock", Applicability.DISPLAY_ONLY, commands=("uv lock", "uv sync")),
    )


@rule("TD402", "lock-gives-cpu-build")
def lock_gives_cpu_build(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock installs a CPU-only torch on this machine, which has an NVIDIA GPU.

    What it detects:
        The locked torch whose wheels fit this machine is a `+cpu` build, comes from a CPU index, or is PyPI's
        Windows wheel (CPU-only), while NVML or the device files show an NVIDIA GPU.
    Why it matters:
        Every `uv sync` (and `uv run`) installs that build: the GPU stays unused however often torch is
        reinstalled by hand.
    Fix safety:
        Fixed in pyproject.toml by mapping torch to a CUDA index for this platform, then `uv lock`.
    """
    gpu = nvidia_gpu_evidence(snapshot)
    if not gpu or snapshot.system.os_name not in ("Linux", "Windows"):
        return
    for package in locked_for_this_machine(snapshot, "torch"):
        source = package.source or ""
        url = parse_index_url(source) if source else None
        cpu = _local(package.version) == "cpu" or (url is not None and url.variant == "cpu")
        if snapshot.system.os_name == "Windows" and url is not None and not url.serves_torch:
            cpu = True  # PyPI's Windows wheels are CPU-only
        if not cpu:
            continue
        yield Finding(
            Severity.ERROR,
            f"uv.lock installs torch {package.version} from {source or 'an unknown source'} on this machine: a CPU-only build",
            "This machine has an NVIDIA GPU, but the build the lock pins for this platform has no CUDA, so every `uv sync` "
            "installs a torch that cannot use it. Map torch to a CUDA index for this platform and re-lock.",
            (Evidence("locked torch", f"{package.version} ({source})", snapshot.project.lock.path), *gpu),
            use_build_fix(snapshot),
        )


@rule("TD403", "lock-mixes-variants")
def lock_mixes_variants(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock pins torch and torchvision/torchaudio from different CUDA variants for this machine.

    What it detects:
        For this machine's platform, the locked torch has one local tag (`+cu128`) and a companion another
        (`+cu126`, `+cpu`, or none from PyPI while torch has one).
    Why it matters:
        The pair fails at import or first use ("operator torchvision::nms does not exist").
    Fix safety:
        Fixed in pyproject.toml by mapping the companions to torch's index, then `uv lock`.
    """
    torches = locked_for_this_machine(snapshot, "torch")
    if len(torches) != 1:
        return
    torch_tag = _local(torches[0].version)
    for name in ("torchvision", "torchaudio"):
        for companion in locked_for_this_machine(snapshot, name):
            tag = _local(companion.version)
            if tag == torch_tag or (torch_tag is None and tag is None):
                continue
            yield Finding(
                Severity.ERROR,
                f"uv.lock pins torch {torches[0].version} with {name} {companion.version} for this machine: different builds",
                f"{name}'s compiled operators must be built for the same torch variant; from different indexes they fail "
                "(\"operator torchvision::nms does not exist\").",
                (Evidence("locked torch", f"{torches[0].version} ({torches[0].source})", snapshot.project.lock.path),
                 Evidence(f"locked {name}", f"{companion.version} ({companion.source})", snapshot.project.lock.path)),
            )


@rule("TD404", "installed-differs-from-lock")
def installed_differs_from_lock(snapshot: Snapshot) -> Iterator[Finding]:
    """The torch installed in the project environment is not the one uv.lock pins.

    What it detects:
        `torch.__version__` in the project's interpreter differs from every torch version uv.lock pins for this
        machine, typically after a manual `uv pip install torch --index-url …`.
    Why it matters:
        The next `uv run` or `uv sync` puts the locked build back ("uv run reinstalls torch to a version without
        cuda"), so the working setup disappears.
    Fix safety:
        Fixed in pyproject.toml by declaring the index the manual install used, then `uv lock` and `uv sync`.
    """
    torch = snapshot.torch
    locked = locked_for_this_machine(snapshot, "torch")
    if torch.status != "ok" or not torch.version or not locked or snapshot.interpreter.source not in (".venv", "UV_PROJECT_ENVIRONMENT"):
        return
    try:
        installed = Version(torch.version)
        if any(Version(p.version) == installed for p in locked):
            return
    except InvalidVersion:
        return
    yield Finding(
        Severity.WARNING,
        f"the environment has torch {torch.version}, but uv.lock pins {', '.join(p.version for p in locked)}: "
        "`uv run` and `uv sync` will replace it",
        "uv keeps the project environment equal to the lock. A torch installed by hand (`uv pip install`, pip) is "
        "replaced on the next `uv run` or `uv sync`. Put the index it came from into pyproject.toml and re-lock.",
        (Evidence("installed torch", torch.version, torch_source(snapshot)),
         Evidence("locked torch", ", ".join(f"{p.version} ({p.source})" for p in locked), snapshot.project.lock.path)),
    )


@rule("TD405", "path-python-is-another-environment")
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
        Display only: use `uv run`, or activate the project's environment.
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


@rule("TD406", "nightly-in-lock")
def nightly_in_lock(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock pins a nightly (development) build of torch.

    What it detects:
        A locked torch version that is a development release (`2.10.0.dev20251010+cu128`).
    Why it matters:
        The PyTorch index deletes nightlies after a while, so the lock stops being installable: a fresh clone or
        CI fails with "no version of torch==…dev…". Stable releases stay.
    Fix safety:
        Display only; the stable line with the same GPU support is usually the better pin.
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
