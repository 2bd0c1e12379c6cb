"""One-line summaries of the snapshot's parts, shared by the text and Markdown renderers."""

from __future__ import annotations

from torchdoctor.knowledge import decode_cuda_version
from torchdoctor.snapshot import Snapshot

GIB = 1024**3


def cuda_version_text(encoded: int | None) -> str | None:
    decoded = decode_cuda_version(encoded)
    return f"{decoded[0]}.{decoded[1]}" if decoded else None


def machine_line(snapshot: Snapshot) -> str:
    system = snapshot.system
    parts = [" ".join(p for p in (system.os_name, system.architecture) if p)]
    if system.os_release:
        parts.append(system.os_release)
    if system.wsl:
        parts.append(system.wsl.upper())
    if system.container:
        parts.append(f"in a {system.container} container")
    return " · ".join(parts)


def gpu_lines(snapshot: Snapshot) -> list[str]:
    nvml = snapshot.nvml
    lines = []
    if nvml.status == "ok":
        cuda = cuda_version_text(nvml.cuda_driver_version)
        driver = f"driver {nvml.driver_version}" + (f" (supports CUDA ≤ {cuda})" if cuda else "")
        if not nvml.gpus:
            lines.append(f"no GPU · {driver}")
        for gpu in nvml.gpus:
            bits = [f"{gpu.index}: {gpu.name or 'unknown GPU'}"]
            if gpu.compute_capability:
                major, minor = gpu.compute_capability
                bits.append(f"sm_{major}{minor}")
            if gpu.memory_total:
                bits.append(f"{gpu.memory_total / GIB:.0f} GiB")
            if gpu.mig_enabled:
                bits.append("MIG on")
            lines.append(" · ".join(bits) + f" · {driver}")
    elif snapshot.torch.devices:
        for device in snapshot.torch.devices:
            major, minor = device.capability
            lines.append(f"{device.index}: {device.name} · sm_{major}{minor} · {device.total_memory / GIB:.0f} GiB (from torch)")
    else:
        lines.append(f"no NVIDIA GPU found (NVML: {nvml.status})")
    return lines


def python_line(snapshot: Snapshot) -> str:
    interpreter = snapshot.interpreter
    version = snapshot.torch.python_version
    return f"{interpreter.path}" + (f" ({version})" if version else "") + f" — {interpreter.reason}"


def torch_line(snapshot: Snapshot) -> str:
    torch = snapshot.torch
    if torch.status == "not-installed":
        return "not installed"
    if torch.status != "ok":
        installed = f"{torch.installed_version} installed, " if torch.installed_version else ""
        return f"{installed}{torch.status}: {torch.error}"
    if torch.cuda:
        build = f"CUDA {torch.cuda}"
    elif torch.hip:
        build = f"ROCm (HIP {torch.hip})"
    else:
        build = "CPU-only build"
    bits = [str(torch.version), build]
    if torch.cudnn_version:
        v = torch.cudnn_version
        bits.append(f"cuDNN {v // 10000}.{(v // 100) % 100}.{v % 100}" if v >= 10000 else f"cuDNN {v}")
    if torch.cuda or torch.hip:
        bits.append(f"is_available {torch.cuda_available}")
    if torch.arch_list:
        bits.append("archs " + " ".join(torch.arch_list))
    if torch.mps_available:
        bits.append("MPS available")
    line = " · ".join(bits)
    if torch.cached_at:
        line += f" (probed {torch.cached_at}; files unchanged, CUDA driver re-checked now)"
    return line


def project_line(snapshot: Snapshot) -> str:
    project = snapshot.project
    bits = []
    pyproject = project.pyproject
    if pyproject is not None:
        name = pyproject.name or "unnamed"
        torch_req = [r.requirement for r in pyproject.torch_requirements if r.name == "torch"]
        bits.append(f"{name}: " + (", ".join(torch_req) if torch_req else "no torch requirement"))
        if pyproject.indexes:
            bits.append(f"{len(pyproject.indexes)} uv index(es)")
    elif not project.errors:
        bits.append("no pyproject.toml")
    lock = project.lock
    if lock is not None:
        torch_locked = sorted({p.version for p in lock.packages if p.name == "torch"})
        bits.append(f"uv.lock: {lock.package_count} packages" + (f", torch {', '.join(torch_locked)}" if torch_locked else ""))
    if project.errors:
        bits.append(f"{len(project.errors)} unreadable file(s)")
    return " · ".join(bits)
