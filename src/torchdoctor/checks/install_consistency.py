"""TD121-TD122: the installed environment against itself, from package metadata, without importing anything.

torch's METADATA names the triton it was built with; the dist-info folders on sys.path say which distributions are
installed and where. Real threads (tests/fixtures/reports/README.md) show what a mismatch does: torch.compile fails
against another triton, and two torch installs, or torch in one folder and its CUDA wheels in another (lib64 and
lib), fail at import with a missing library. A fact the probe could not read (None) keeps a rule silent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from torchdoctor.checks.common import torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import Snapshot

TRITONS = ("triton", "pytorch-triton", "triton-nightly", "pytorch-triton-rocm", "triton-rocm", "pytorch-triton-xpu",
           "triton-xpu", "triton-windows")
"""Distributions that install the `triton` import package: two of them overwrite each other's files."""


def _required_tritons(snapshot: Snapshot) -> list[tuple[str, str, str]]:
    """(name, version, requirement) for each triton torch's METADATA pins with `==` and whose marker holds here."""
    return _pins(snapshot, lambda name: name in TRITONS)


def _pins(snapshot: Snapshot, wanted: Callable[[str], bool]) -> list[tuple[str, str, str]]:
    """(name, version, requirement) for each `==` pin of torch's METADATA whose name is wanted and marker holds here."""
    found = []
    for line in snapshot.torch.torch_requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        name = str(canonicalize_name(requirement.name))
        pins = [s.version for s in requirement.specifier if s.operator == "=="]
        if not wanted(name) or not pins:
            continue
        if requirement.marker is not None and not _marker_holds_here(snapshot, requirement):
            continue
        found.append((name, pins[0], line))
    return found


def _marker_holds_here(snapshot: Snapshot, requirement: Requirement) -> bool:
    """Whether the pin's marker holds for the probed interpreter; False (silent) when its platform or Python is unknown."""
    if not snapshot.torch.python_platform or not snapshot.torch.python_version:
        return False
    platform = snapshot.torch.python_platform.lower()
    system = "Linux" if platform.startswith("linux") else "Windows" if platform.startswith("win") else "Darwin"
    machine = {"x86_64": "x86_64", "amd64": "AMD64", "aarch64": "aarch64", "arm64": "arm64"}.get(
        platform.rsplit("-", 1)[-1], snapshot.system.architecture or "x86_64")
    python = snapshot.torch.python_version
    environment = {"platform_system": system, "sys_platform": {"Linux": "linux", "Windows": "win32"}.get(system, "darwin"),
                   "platform_machine": machine, "python_version": ".".join(python.split(".")[:2]),
                   "python_full_version": python, "extra": ""}
    try:
        return requirement.marker is None or requirement.marker.evaluate(environment)
    except Exception:  # a marker packaging cannot evaluate: unknown, so the rule stays silent
        return False


@rule("TD121", "triton-does-not-match-torch", fix=DISPLAY_ONLY)
def triton_does_not_match_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """The installed triton is not the one torch was built with, or two triton distributions are installed.

    What it detects:
        torch's METADATA pins its triton (`triton==3.5.0; platform_system == "Linux"`, `pytorch-triton==…` for a
        nightly): the installed version of that distribution against the pin; and several distributions that all
        install the `triton` package (triton with pytorch-triton or triton-nightly), which overwrite each other.
    Why it matters:
        torch.compile and every inductor kernel go through triton: against another version they fail to compile
        ("ImportError: cannot import name … from triton", "triton … has no attribute"), often only at the first
        compiled call. Eager mode is not affected, so a warning.
    Fix safety:
        Installing packages is the user's to do; the commands are shown, never run.
    """
    torch = snapshot.torch
    if torch.status != "ok" or torch.torch_requires is None:
        return
    installed = {name: torch.packages[name] for name in TRITONS if name in torch.packages}
    source = torch_source(snapshot)
    for name, version, line in _required_tritons(snapshot):
        have = installed.get(name)
        if have is not None and have.split("+")[0] != version.split("+")[0]:
            yield Finding(
                Severity.WARNING,
                f"{name} {have} is installed, but torch {torch.version} was built with {name} {version}",
                "torch pins the triton its compiler (inductor) generates code for; another version breaks torch.compile "
                "and compiled kernels at their first call, while eager code keeps working.",
                (Evidence("torch requires", line, "torch's METADATA"), Evidence(f"{name} installed", have, source)),
                Fix(f"Install the {name} torch was built with", Applicability.DISPLAY_ONLY,
                    commands=(f"uv pip install '{name}=={version}'   # or: uv sync, where uv.lock holds torch's own pin",)),
            )
    if len(installed) > 1:
        listed = ", ".join(f"{n} {v}" for n, v in installed.items())
        wanted = next((n for n, _, _ in _required_tritons(snapshot)), None)
        extra = [n for n in installed if n != wanted] if wanted else list(installed)[1:]
        yield Finding(
            Severity.WARNING,
            f"{len(installed)} triton distributions are installed ({listed}): they overwrite each other's files",
            "Each of them installs the same `triton` package; whichever was installed last owns some files and not "
            "others, so triton imports a mix of versions. Keep only the one torch requires"
            + (f" ({wanted})." if wanted else "."),
            tuple(Evidence(f"{n} installed", v, source) for n, v in installed.items()),
            Fix("Keep one triton", Applicability.DISPLAY_ONLY,
                commands=(f"uv pip uninstall {' '.join(extra)}",) + ((f"uv pip install --reinstall '{wanted}'",) if wanted else ())),
        )


@rule("TD122", "torch-installed-twice", fix=DISPLAY_ONLY)
def torch_installed_twice(snapshot: Snapshot) -> Iterator[Finding]:
    """Two torch installs on the interpreter's path, or torch and its CUDA wheels in different folders.

    What it detects:
        More than one `torch-<version>.dist-info` on sys.path (pip over conda, the user site over an environment, a
        source build beside a wheel); or the nvidia-* wheels torch loads its CUDA libraries from in another sys.path
        folder than torch (lib64 beside lib on Fedora and RHEL).
    Why it matters:
        Python imports the first torch; its files, the other install's, and pip's records no longer agree ("undefined
        symbol", a version that is not the one installed last). torch looks for its CUDA libraries beside itself
        first: wheels in the other folder are not found ("libcudnn.so.9: cannot open shared object file").
    Fix safety:
        Uninstalling is the user's to do; the commands are shown, never run.
    """
    torch = snapshot.torch
    source = torch_source(snapshot)
    installs = torch.torch_installs or ()
    if len(installs) > 1:
        yield Finding(
            Severity.WARNING,
            f"torch is installed {len(installs)} times on this interpreter's path; Python imports {installs[0]}",
            "Two installs of torch mix: Python imports the first, while pip and uv update whichever their records "
            "point to, so the torch you installed last may not be the one you run, and its libraries and Python files "
            "can come from different installs.",
            tuple(Evidence("torch install", entry, source) for entry in installs[:4]),
            Fix("Remove all but one", Applicability.DISPLAY_ONLY, commands=(
                "python -m pip uninstall -y torch   # repeat until `pip show torch` finds none, then install once",
                "# a conda environment: install torch with conda or with pip, not both")),
        )
    folders = torch.package_folders or {}
    home = folders.get("torch")
    apart = sorted({folder for name, folder in folders.items() if name.startswith("nvidia-") and folder != home})
    if home and apart and torch.cuda:
        yield Finding(
            Severity.WARNING,
            f"torch is in {home} but its CUDA wheels are in {', '.join(apart)}",
            "torch loads its CUDA libraries (cuDNN, cuBLAS, NCCL) from the nvidia-* wheels, looking beside its own "
            "folder first; with the wheels in another site-packages (lib and lib64 on Fedora or RHEL) loading can fail "
            "(\"libcudnn.so.9: cannot open shared object file\") or pick up other copies.",
            (Evidence("torch", home, source), *(Evidence("nvidia-* wheels", f, source) for f in apart[:3])),
            Fix("Install torch and its CUDA wheels into one folder", Applicability.DISPLAY_ONLY, commands=(
                "python -m venv .venv && .venv/bin/python -m pip install torch   # a fresh environment: one folder for both",
                f"# or, for this one: export LD_LIBRARY_PATH=\"$(ls -d {apart[0]}/nvidia/*/lib | paste -sd:):$LD_LIBRARY_PATH\"")),
        )


LIBRARY_OF_WHEEL = {"cudnn": "libcudnn", "nvjitlink": "libnvJitLink", "cublas": "libcublas", "cusparse": "libcusparse",
                    "cusparselt": "libcusparseLt", "nccl": "libnccl", "cufft": "libcufft", "curand": "libcurand",
                    "cusolver": "libcusolver", "cuda-runtime": "libcudart", "cuda-nvrtc": "libnvrtc",
                    "cuda-cupti": "libcupti", "nvshmem": "libnvshmem", "cufile": "libcufile"}
"""The library each nvidia-* wheel carries, by the wheel's name without `nvidia-` and its `-cuXX` suffix."""


def _library_of(name: str) -> str | None:
    return LIBRARY_OF_WHEEL.get(re.sub(r"-cu\d+$", "", name.removeprefix("nvidia-")))


def _fails_on(library: str | None, failure: str) -> bool:
    """Whether the import error names this library's file: libcusparse.so, never libcusparseLt.so."""
    return bool(library and failure and re.search(re.escape(library) + r"\.so", failure, re.IGNORECASE))


SONAME_WITHOUT_CUDA_MAJOR = {"nccl", "cusparselt", "nvshmem"}
"""Libraries whose file name does not change with the CUDA line (libnccl.so.2, libcusparseLt.so.0): their wheels for
two CUDA lines write the same file. cuDNN's carries its own major (libcudnn.so.9), the same for two lines of one major;
the toolkit libraries carry the CUDA major (libcublas.so.12 beside libcublas.so.11: two files)."""


@rule("TD123", "cuda-wheels-do-not-match-torch", fix=DISPLAY_ONLY)
def cuda_wheels_do_not_match_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """An nvidia-* wheel torch pins is missing or at another version, or two CUDA lines' wheels of one library are installed.

    What it detects:
        torch's METADATA pins its CUDA libraries' wheels exactly (`nvidia-cudnn-cu12==9.1.0.70; platform_system ==
        "Linux"`); each one whose marker holds here is compared with the version installed. An older cuDNN than
        torch's (by major and minor), or a missing or other wheel while `import torch` fails naming its library: an
        error; an older minor (or another major) otherwise: a warning; a newer minor of the same major, which keeps the
        library's ABI, or a patch apart: nothing. And one library's wheels for two CUDA lines that write the same
        file (nvidia-nccl-cu12 beside nvidia-nccl-cu13: libnccl.so.2; pytorch/pytorch#186591).
    Why it matters:
        Installing TensorFlow, JAX, onnxruntime-gpu or a requirements file beside torch moves these wheels to the
        versions they want, and torch then loads libraries it was not built with: "cuDNN version incompatibility:
        PyTorch was compiled against (9, 1, 0) but found runtime version (8, 9, 7)", "libcudnn.so.9: cannot open
        shared object file", "undefined symbol: __nvJitLinkComplete_12_4".
    Fix safety:
        Installing is the user's to do (it may break what moved the wheel): the commands are shown, never run.
    """
    torch = snapshot.torch
    if torch.status not in ("ok", "import-failed"):
        return
    failure = " ".join(filter(None, (torch.error, torch.stderr_tail))) if torch.status == "import-failed" else ""
    yield from _two_cuda_lines(snapshot, failure)
    if torch.torch_requires is None:
        return
    for name, version, line in _pins(snapshot, lambda n: n.startswith("nvidia-")):
        have = torch.packages.get(name)
        if have is not None and have == version:
            continue
        library = _library_of(name)
        named = _fails_on(library, failure)
        refused_cudnn = name.startswith("nvidia-cudnn") and have is not None and _refused_by_torch(have, version)
        if have is not None and not named and not refused_cudnn and not _older_minor(have, version):
            continue  # the same minor, or a newer one of the same major: the libraries keep their ABI within a major
        severity = Severity.ERROR if named or refused_cudnn else Severity.WARNING
        what = f"{name} {have} is installed" if have else f"{name} is not installed"
        yield Finding(
            severity,
            f"{what}, but torch {torch.version} was built with {name} {version}"
            + (f": `import torch` fails on {library}" if named else
               ": torch refuses a cuDNN of another major or an older minor" if refused_cudnn else ""),
            "torch from PyPI or the PyTorch index loads its CUDA libraries from the nvidia-* wheels it pins exactly. "
            "Another install (TensorFlow, JAX, onnxruntime-gpu, a requirements file) moved this one, so torch loads a "
            "library it was not built with: \"cuDNN version incompatibility\", \"cannot open shared object file\" or an "
            "\"undefined symbol\" in a CUDA library. Reinstall the pinned version (and keep the other framework in its own "
            "environment if it needs another).",
            (Evidence("torch requires", line, "torch's METADATA"),
             Evidence(f"{name} installed", have or "not installed", torch_source(snapshot)))
            + ((Evidence("import torch", failure[:300], torch_source(snapshot)),) if named else ()),
            Fix(f"Install the {name} torch pins", Applicability.DISPLAY_ONLY, commands=(
                f"uv pip install '{name}=={version}'   # a uv project: uv sync restores what uv.lock holds",)),
        )


def _two_cuda_lines(snapshot: Snapshot, failure: str) -> Iterator[Finding]:
    """nvidia-nccl-cu12 beside nvidia-nccl-cu13: the wheels of one library for two CUDA lines write the same files
    (site-packages/nvidia/nccl/lib/libnccl.so.2), so torch loads whichever was installed last."""
    torch = snapshot.torch
    lines: dict[str, list[tuple[str, str]]] = {}
    for name, version in torch.packages.items():
        match = re.fullmatch(r"nvidia-(.+)-cu(\d+)", name)
        if match:
            lines.setdefault(match.group(1), []).append((name, version))
    wanted = {n for n, _, _ in _pins(snapshot, lambda n: n.startswith("nvidia-"))}
    for library, wheels in sorted(lines.items()):
        if len(wheels) < 2 or not _same_file(library, [version for _, version in wheels]):
            continue
        keep = next((n for n, _ in wheels if n in wanted), None)
        stray = [n for n, _ in wheels if n != keep] if keep else []
        so = LIBRARY_OF_WHEEL.get(library)
        named = _fails_on(so, failure) or (library == "nccl" and "nccl" in failure.lower())
        listed = " and ".join(f"{n} {v}" for n, v in sorted(wheels))
        yield Finding(
            Severity.ERROR if named else Severity.WARNING,
            f"{listed} are both installed: they write the same {so or library} files, and torch loads whichever came last"
            + (": `import torch` fails on it" if named else ""),
            "The nvidia-* wheels of one library for two CUDA lines install into the same folder (site-packages/nvidia/"
            f"{library}/lib), so one overwrites the other's files and torch may load a library of the other line: "
            "\"undefined symbol: ncclCommResume\" and the like."
            + (f" torch {torch.version} requires {keep}: uninstall the other, then reinstall {keep} (its files were "
               "overwritten)." if keep else " Keep the one of torch's own CUDA line (its +cuXYZ tag) and reinstall it."),
            tuple(Evidence(f"{n} installed", v, torch_source(snapshot)) for n, v in sorted(wheels))
            + ((Evidence("import torch", failure[:300], torch_source(snapshot)),) if named else ()),
            Fix("Keep the wheel of torch's CUDA line", Applicability.DISPLAY_ONLY, commands=(
                f"uv pip uninstall {' '.join(stray)}" if stray else
                f"uv pip uninstall <the {library} wheel whose -cuXX is not torch's +cuXYZ line>",
                f"uv pip install --reinstall {keep}" if keep else "uv pip install --reinstall <the one left>")),
        )


def _same_file(library: str, versions: list[str]) -> bool:
    """Whether the wheels of two CUDA lines write one file: always for NCCL, cuSPARSELt, NVSHMEM; for cuDNN when both
    are of one cuDNN major."""
    if library in SONAME_WITHOUT_CUDA_MAJOR:
        return True
    majors = {release[0] for release in map(_release, versions) if release}
    return library == "cudnn" and len(majors) == 1


def _release(version: str) -> tuple[int, ...] | None:
    try:
        return Version(version).release
    except InvalidVersion:
        return None


def _older_minor(have: str, want: str) -> bool:
    """Another major, or an older minor of the same one, than the pin: what a library's ABI does not promise."""
    a, b = _release(have), _release(want)
    return a is not None and b is not None and (a[0] != b[0] or a[:2] < b[:2])


def _refused_by_torch(have: str, want: str) -> bool:
    """torch's own cuDNN check (torch/backends/cudnn): a runtime of another major, or an older minor, is refused."""
    return _older_minor(have, want)
