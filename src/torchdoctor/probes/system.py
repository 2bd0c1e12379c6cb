"""Probe the operating system: its kind of host (WSL, container), memory, CPU, CUDA toolkits, variables.

Everything is read through `root` (normally "/") and an injected environment and command runner, so
tests lay out a fake filesystem (a WSL2 box, a container) instead of mocking this module's logic.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from torchdoctor.probes.runner import CommandResult, run_command
from torchdoctor.redact import redact_variable
from torchdoctor.snapshot import CudaToolkit, SystemInfo

# Variables that change which GPU, CUDA libraries, torch build or index a process gets.
EXACT_VARIABLES = (
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_LAUNCH_BLOCKING", "CUDA_MODULE_LOADING",
    "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDNN_HOME",
    "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_REQUIRE_CUDA", "CUDA_VERSION",
    "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "PATH",
    "TORCH_CUDA_ARCH_LIST", "TRITON_LIBCUDA_PATH",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_PRE",
    "WSL_DISTRO_NAME", "KUBERNETES_SERVICE_HOST", "container",
)
VARIABLE_PREFIXES = ("PYTORCH_", "TORCH_", "UV_", "NCCL_")

CommandRunner = Callable[..., CommandResult]


def probe_system(
    root: str | Path = "/",
    environ: Mapping[str, str] | None = None,
    run: CommandRunner = run_command,
    which: Callable[[str], str | None] = shutil.which,
) -> SystemInfo:
    root = Path(root)
    environ = os.environ if environ is None else environ
    kernel = _read(root / "proc/sys/kernel/osrelease") or platform.release() or None
    container, container_evidence = detect_container(root, environ)
    nvcc_path, nvcc_version = _nvcc(root, environ, run, which)
    return SystemInfo(
        os_name=platform.system() or "unknown",
        os_release=_os_release(root),
        kernel_release=kernel.strip() if kernel else None,
        architecture=platform.machine() or None,
        libc=_libc(),
        wsl=detect_wsl(kernel, environ),
        container=container,
        container_evidence=container_evidence,
        cpu_model=_cpu_model(root),
        cpu_count=os.cpu_count(),
        memory_total=_memory_total(),
        environment=relevant_environment(environ),
        nvidia_kernel_driver=_kernel_driver(root),
        library_path_cuda=_library_path_cuda(root, environ.get("LD_LIBRARY_PATH", "")),
        gpu_device_nodes=_device_nodes(root),
        nvcc_path=nvcc_path,
        nvcc_version=nvcc_version,
        cuda_toolkits=_toolkits(root),
    )


def relevant_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that matter to CUDA, torch and uv, sorted, with secrets redacted."""
    chosen = {
        name: redact_variable(name, value)
        for name, value in environ.items()
        if name in EXACT_VARIABLES or name.startswith(VARIABLE_PREFIXES)
    }
    return dict(sorted(chosen.items()))


def detect_wsl(kernel_release: str | None, environ: Mapping[str, str]) -> str | None:
    """WSL2 kernels say "microsoft-standard-WSL2"; WSL1 reports a fake "4.4.0-NNNNN-Microsoft"."""
    release = (kernel_release or "").lower()
    if "microsoft" in release or "wsl" in release:
        return "wsl2" if ("wsl2" in release or "microsoft-standard" in release) else "wsl1"
    if environ.get("WSL_DISTRO_NAME") or environ.get("WSL_INTEROP"):
        return "wsl2" if environ.get("WSL_INTEROP") else "wsl1"
    return None


def detect_container(root: Path, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    if (root / ".dockerenv").exists():
        return "docker", "/.dockerenv exists"
    if (root / "run/.containerenv").exists():
        return "podman", "/run/.containerenv exists"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes", "KUBERNETES_SERVICE_HOST is set"
    kind = environ.get("container")
    if kind:
        return kind, f"container={kind} is set"
    cgroup = _read(root / "proc/1/cgroup") or ""
    for marker, name in (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"), ("lxc", "lxc")):
        if marker in cgroup:
            return name, f"/proc/1/cgroup mentions {marker}"
    return None, None


def _read(path: Path, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return None


def _os_release(root: Path) -> str | None:
    system = platform.system()
    if system == "Darwin":
        version = platform.mac_ver()[0]
        return f"macOS {version}" if version else "macOS"
    if system == "Windows":
        return f"Windows {platform.release()} ({platform.version()})"
    text = _read(root / "etc/os-release") or _read(root / "usr/lib/os-release")
    if not text:
        return None
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields.get("PRETTY_NAME") or fields.get("NAME")


def _libc() -> str | None:
    name, version = platform.libc_ver()
    return f"{name} {version}".strip() or None


def _cpu_model(root: Path) -> str | None:
    text = _read(root / "proc/cpuinfo")
    if text:
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    return platform.processor() or None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # psutil missing or unsupported platform: memory stays unknown
        return None


def _kernel_driver(root: Path) -> str | None:
    text = _read(root / "proc/driver/nvidia/version")
    if text:
        match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
        if match:
            return match.group(1)
    version = _read(root / "sys/module/nvidia/version")
    return version.strip() if version else None


def _device_nodes(root: Path) -> tuple[str, ...]:
    dev = root / "dev"
    try:
        names = sorted(n for n in os.listdir(dev) if n.startswith("nvidia") or n == "dxg" or n == "kfd")
    except OSError:
        return ()
    return tuple(f"/dev/{n}" for n in names)


# Toolkit libraries that torch wheels also ship (in nvidia/*/lib); driver libraries (libcuda, libnvidia-ml)
# are deliberately absent: finding those on the path is normal.
TOOLKIT_LIBRARIES = (
    "libcudart", "libcublas", "libcublasLt", "libcudnn", "libcufft", "libcurand", "libcusolver", "libcusparse",
    "libnccl", "libnvJitLink", "libnvrtc",
)


def _library_path_cuda(root: Path, library_path: str) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for folder in dict.fromkeys(p for p in library_path.split(os.pathsep) if p):
        try:
            names = os.listdir(root / folder.lstrip("/"))
        except OSError:
            continue
        libraries = sorted({n.split(".so")[0] for n in names if ".so" in n and n.split(".so")[0] in TOOLKIT_LIBRARIES})
        if libraries:
            found[folder] = tuple(libraries)
    return found


def _nvcc(root: Path, environ: Mapping[str, str], run: CommandRunner, which) -> tuple[str | None, str | None]:
    """The nvcc that torch's extension builder uses: CUDA_HOME's (or CUDA_PATH's) first, then the one on PATH."""
    path = None
    for variable in ("CUDA_HOME", "CUDA_PATH"):
        home = environ.get(variable)
        if home and (Path(home) / "bin" / "nvcc").exists():
            path = str(Path(home) / "bin" / "nvcc")
            break
    path = path or which("nvcc")
    if path is None:
        return None, None
    result = run([path, "--version"], timeout_s=10)
    match = re.search(r"release (\d+\.\d+)", result.stdout)
    return path, match.group(1) if match else None


def _toolkits(root: Path) -> tuple[CudaToolkit, ...]:
    base = root / "usr/local"
    try:
        names = sorted(n for n in os.listdir(base) if n == "cuda" or n.startswith("cuda-"))
    except OSError:
        return ()
    found = []
    for name in names:
        folder = base / name
        version = None
        manifest = _read(folder / "version.json")
        if manifest:
            try:
                version = json.loads(manifest)["cuda"]["version"]
            except (ValueError, KeyError, TypeError):
                version = None
        if version is None:
            legacy = _read(folder / "version.txt") or ""
            match = re.search(r"(\d+\.\d+(?:\.\d+)?)", legacy)
            version = match.group(1) if match else None
        target = os.path.realpath(folder) if folder.is_symlink() else None
        found.append(CudaToolkit(path=f"/usr/local/{name}" + (f" -> {target}" if target else ""), version=version))
    return tuple(found)
