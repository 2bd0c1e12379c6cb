"""TD26x-TD27x: the system CUDA around torch: libraries on the loader path, nvcc for extension builds."""

from __future__ import annotations

import re

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from torchdoctor.checks.common import torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, Finding, rule
from torchdoctor.edits import AddExtraBuildDependencies
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import Snapshot


@rule("TD260", "library-path-shadows-wheel-cuda", fix=DISPLAY_ONLY)
def library_path_shadows_wheel_cuda(snapshot: Snapshot) -> Iterator[Finding]:
    """LD_LIBRARY_PATH puts a system CUDA's libraries ahead of the ones inside the torch wheels.

    What it detects:
        A CUDA build of torch that uses the nvidia-* wheels, while a folder on LD_LIBRARY_PATH holds CUDA toolkit
        libraries (cuDNN, cuBLAS, nvJitLink, cuSPARSE ...), typically /usr/local/cuda/lib64 from a CUDA install
        guide or a base image. For a wheel that carries cuDNN in torch/lib (torch 1.x), a folder outside the
        interpreter's own prefix that holds a cuDNN (a cluster's module, pytorch/pytorch#80637).
    Why it matters:
        The loader takes the first copy it finds, so torch runs against a cuDNN or cuBLAS it was not built
        with: "undefined symbol: __nvJitLinkComplete_12_4", "libcudnn_cnn … version mismatch", or slower kernels.
    Fix safety:
        Remove the folder from LD_LIBRARY_PATH for this project (the wheels carry their own CUDA).
    """
    torch = snapshot.torch
    if torch.status not in ("ok", "import-failed") or not (torch.cuda or torch.status == "import-failed"):
        return
    wheels = sorted(p for p in torch.packages if p.startswith("nvidia-"))
    shadowing = snapshot.system.library_path_cuda
    if not wheels:
        # Older wheels carry cuDNN and the rest inside torch/lib; a folder of the interpreter's own prefix (a conda
        # environment's lib, where conda's torch finds its CUDA) is where that torch means to load them from.
        local = (torch.version or "").partition("+")[2]
        if not torch.cudnn_version or not torch.python_prefix or not re.fullmatch(r"cu\d{3}", local):
            return  # a PyTorch wheel (+cuXYZ) carries its cuDNN; a source or distribution build links what it was built with
        own = {f"{p.rstrip('/')}/lib" for p in (torch.python_prefix, snapshot.system.environment.get("CONDA_PREFIX")) if p}
        shadowing = {folder: libs for folder, libs in shadowing.items() if folder.rstrip("/") not in own and "libcudnn" in libs}
    if not shadowing:
        return
    yield Finding(
        Severity.WARNING,
        f"LD_LIBRARY_PATH puts system CUDA libraries ahead of torch's own: {', '.join(shadowing)}",
        ("torch from PyPI or the PyTorch index brings its CUDA libraries as nvidia-* wheels. " if wheels else
         "This torch wheel carries its own cuDNN and CUDA libraries in torch/lib. ")
        + "Folders on LD_LIBRARY_PATH are searched first, so these system copies are loaded instead; when their versions "
        "differ, torch fails with undefined symbols (nvJitLink), \"cuDNN version incompatibility: PyTorch was compiled "
        "against … but linked against …\", or runs with libraries it was not tested with. Remove them from "
        "LD_LIBRARY_PATH in this project's shell.",
        (
            Evidence("LD_LIBRARY_PATH", snapshot.system.environment.get("LD_LIBRARY_PATH", ""), "environment"),
            *(Evidence(f"CUDA libraries in {folder}", " ".join(libs), folder) for folder, libs in shadowing.items()),
            Evidence("CUDA wheels beside torch", ", ".join(wheels), torch_source(snapshot)) if wheels else
            Evidence("cuDNN torch was built with", str(torch.cudnn_version), torch_source(snapshot)),
        ),
        Fix("Take the system CUDA folders off LD_LIBRARY_PATH", Applicability.DISPLAY_ONLY, commands=(
            "export LD_LIBRARY_PATH=" + ":".join(
                p for p in snapshot.system.environment.get("LD_LIBRARY_PATH", "").split(":") if p and p not in shadowing),
        )),
    )


def _major(version: str | None) -> int | None:
    try:
        return Version(version).major if version else None
    except InvalidVersion:
        return None


@rule("TD270", "nvcc-differs-from-torch-cuda")
def nvcc_differs_from_torch_cuda(snapshot: Snapshot) -> Iterator[Finding]:
    """The project builds CUDA extensions, and the system's nvcc has another CUDA major than torch.

    What it detects:
        The project depends on a package that compiles CUDA code against torch when no wheel fits (flash-attn,
        deepspeed, apex, mamba-ssm …), and `nvcc --version` (PATH or CUDA_HOME) differs in major version from
        `torch.version.cuda`.
    Why it matters:
        torch's extension builder refuses the mismatch ("The detected CUDA version (12.4) mismatches the version
        that was used to compile PyTorch (13.0)"), so installing those packages from source fails.
    Fix safety:
        Point CUDA_HOME at a toolkit of torch's CUDA major, or choose a torch variant that matches.
    """
    pyproject = snapshot.project.pyproject
    torch = snapshot.torch
    if pyproject is None or not pyproject.extension_requirements or not torch.cuda or not snapshot.system.nvcc_version:
        return
    if _major(snapshot.system.nvcc_version) == _major(torch.cuda):
        return
    packages = ", ".join(dict.fromkeys(r.name for r in pyproject.extension_requirements))
    yield Finding(
        Severity.WARNING,
        f"nvcc is CUDA {snapshot.system.nvcc_version} but torch is built with CUDA {torch.cuda}, and {packages} may compile against it",
        "Packages that build CUDA extensions use torch's extension builder, which requires nvcc of the same CUDA major as "
        "torch. Set CUDA_HOME to a matching toolkit before installing them, or use prebuilt wheels for this torch.",
        (
            Evidence("nvcc", f"{snapshot.system.nvcc_version} ({snapshot.system.nvcc_path})", "nvcc --version"),
            Evidence("torch.version.cuda", torch.cuda, torch_source(snapshot)),
            Evidence("extension packages", packages, pyproject.path),
        ),
    )


def _never_built(snapshot: Snapshot) -> set[str]:
    """Packages delivered only as built wheels, which uv installs without building anything: named by a requirement's
    direct URL to a `.whl` (`flash-attn @ https://…/flash_attn-…whl`), or by `[tool.uv.sources]` entries that are all
    wheel URLs, or pinned by uv.lock only to versions without a source distribution (prebuilt wheels from a URL or an
    index) or with a wheel for every platform (`py3-none-any`)."""
    found: set[str] = set()
    pyproject = snapshot.project.pyproject
    if pyproject is not None:
        for requirement in pyproject.extension_requirements:
            _, _, url = requirement.requirement.partition("@")
            if url.split(";")[0].strip().lower().split("?")[0].endswith(".whl"):
                found.add(requirement.name)
        by_package: dict[str, list[bool]] = {}
        for source in pyproject.sources:
            by_package.setdefault(source.package, []).append(
                source.kind == "url" and (source.target or "").lower().split("?")[0].endswith(".whl"))
        found |= {name for name, wheels in by_package.items() if all(wheels)}
    lock = snapshot.project.lock
    if lock is None:
        return found
    entries: dict[str, list[bool]] = {}
    for package in lock.packages:
        prebuilt = "any" in package.wheel_platforms or (bool(package.wheel_platforms) and not package.has_sdist)
        entries.setdefault(package.name, []).append(prebuilt)
    return found | {name for name, prebuilt in entries.items() if all(prebuilt)}


@rule("TD271", "extension-build-isolated-from-torch", fix=SAFE)
def extension_build_isolated_from_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """A package that builds against torch is built in isolation, where torch is not installed.

    What it detects:
        flash-attn, deepspeed, apex, mamba-ssm … declared without `[tool.uv] extra-build-dependencies` for it,
        without `no-build-isolation-package` naming it, and without `no-build-isolation = true`, unless it is only
        ever installed from built wheels: a requirement or source that is a wheel URL, or uv.lock pins with wheels and
        no source distribution, or a `py3-none-any` wheel (nothing is built then).
    Why it matters:
        uv builds source distributions in an isolated environment. Their setup.py imports torch, so the build fails
        with "ModuleNotFoundError: No module named 'torch'", or builds against a different torch than the project's.
    Fix safety:
        Adds `extra-build-dependencies = { <package> = ["torch"] }`. (`match-runtime = true`, which pins
        the build's torch to the locked one, also needs the package's metadata declared by hand; uv refuses it
        otherwise.)
    """
    pyproject = snapshot.project.pyproject
    if pyproject is None or not pyproject.extension_requirements or pyproject.uv.no_build_isolation:
        return
    extra = pyproject.uv.extra_build_dependencies if isinstance(pyproject.uv.extra_build_dependencies, dict) else {}
    covered = set(pyproject.uv.no_build_isolation_package) | set(extra) | _never_built(snapshot)
    missing = [r for r in pyproject.extension_requirements if r.name not in covered]
    for name in dict.fromkeys(r.name for r in missing):
        yield Finding(
            Severity.WARNING,
            f"{name} is built without torch in its build environment",
            f"When uv has to build {name} from source it does so in an isolated environment without torch, and its build "
            "imports torch. Give the build the project's torch with extra-build-dependencies (match-runtime = true) or "
            "list it in no-build-isolation-package.",
            tuple(Evidence(f"{r.name} requirement ({r.group})", r.requirement, pyproject.path) for r in missing if r.name == name)
            + (Evidence("[tool.uv] extra-build-dependencies", str(sorted(extra)) if extra else "missing", pyproject.path),),
            Fix(f"Give {name}'s build torch ([tool.uv] extra-build-dependencies)", Applicability.SAFE,
                AddExtraBuildDependencies(package=name)),
        )
