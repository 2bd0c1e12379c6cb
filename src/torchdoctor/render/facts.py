"""One-line summaries of the snapshot's parts, shared by the text and Markdown renderers."""

from __future__ import annotations

from pathlib import Path

from torchdoctor.knowledge import coverage, decode_cuda_version, knowledge, parse_arch
from torchdoctor.model import Report
from torchdoctor.plans import PLATFORMS, ProjectModel, Resolution
from torchdoctor.snapshot import Snapshot, SystemInfo

GIB = 1024**3


def cuda_version_text(encoded: int | None) -> str | None:
    decoded = decode_cuda_version(encoded)
    return f"{decoded[0]}.{decoded[1]}" if decoded else None


def machine_line(snapshot: Snapshot) -> str:
    return system_line(snapshot.system)


def system_line(system: SystemInfo) -> str:
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
    if (torch.cuda or torch.hip) and not torch.imported:
        bits.append("is_available not checked (read from torch's files, not imported)")
    elif torch.cuda or torch.hip:
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
        torch_req = list(dict.fromkeys(r.requirement for r in pyproject.torch_requirements if r.name == "torch"))
        members = [m for m in project.members if m.pyproject is not None]
        with_torch = [f"{m.pyproject.name or Path(m.root).name}: {', '.join(dict.fromkeys(r.requirement for r in m.pyproject.torch_requirements if r.name == 'torch'))}"
                      for m in members if m.pyproject and any(r.name == "torch" for r in m.pyproject.torch_requirements)]
        if torch_req or not members:
            bits.append(f"{name}: " + (", ".join(torch_req) if torch_req else "no torch requirement"))
        else:
            bits.append(f"{name}: a workspace of {len(members)} member(s)"
                        + (f", torch in {'; '.join(with_torch)}" if with_torch else ", none requires torch"))
        if pyproject.indexes:
            bits.append(f"{len(pyproject.indexes)} uv index(es)")
    unreadable = [e for e in project.errors if e.problem != "pip-incompatible"]
    if pyproject is None and not unreadable:
        bits.append("no pyproject.toml")
    lock = project.lock
    if lock is not None:
        torch_locked = sorted({p.version for p in lock.packages if p.name == "torch"})
        bits.append(f"uv.lock: {lock.package_count} packages" + (f", torch {', '.join(torch_locked)}" if torch_locked else ""))
    if unreadable:
        bits.append(f"{len(unreadable)} unreadable file(s)")
    return " · ".join(bits)


ACCURACY_WORDS = {"ok": "ok", "wrong": "WRONG", "tf32": "as TF32 (NVIDIA_TF32_OVERRIDE)"}


def bench_lines(report: Report) -> list[str]:
    """The GEMM test's results: one line per dtype with its context, then the copies.

    Rates are shown against what cuBLAS reaches on the same GPU model (the number a user can hope for) and the
    datasheet peak (the number on the box, which no library reaches), as the report's assessment judged them.
    """
    snapshot, gemm = report.snapshot, report.gemm
    bench = snapshot.bench
    if bench is None or gemm is None:
        return []
    timing = []
    if bench.import_s is not None:
        timing.append(f"import torch {bench.import_s:.1f} s")
    if bench.cuda_init_s is not None:
        timing.append(f"CUDA init {bench.cuda_init_s:.2f} s")
    if bench.measure_s is not None:
        timing.append(f"measured {bench.measure_s:.2f} s")
    if bench.device_type == "cpu":
        where = f"on the CPU ({bench.device_name}, {bench.cpu_threads} threads): torch has no usable CUDA"
    else:
        where = f"on {bench.device_name or 'the GPU'}" + (f" (cuda:{bench.device_index})" if bench.device_index is not None else "")
    head = where + (" · " + ", ".join(timing) if timing else "")
    lines = [head]
    if bench.status != "ok":
        lines.append(f"{bench.status}: {bench.error}")
    for judged in gemm.rates:
        result = judged.result
        label = result.dtype
        if result.skipped:
            lines.append(f"{label:<5} skipped: {result.skipped}")
            continue
        if result.tflops is None:
            continue
        if bench.device_type == "cpu":
            rate = f"{result.tflops * 1000:7.1f} GFLOP/s"
        else:
            rate = f"{result.tflops:7.1f} TFLOP/s"
        bits = [f"{label:<5} n={result.n if result.n is not None else '?':<5} {rate}"]
        if result.tflops_p10 is not None and result.tflops_p90 is not None and result.tflops:
            spread = (result.tflops_p90 - result.tflops_p10) / result.tflops
            bits.append(f"±{spread / 2:.0%}")
        if result.tflops_sustained is not None and result.tflops_sustained < 0.9 * result.tflops:
            sustained = result.tflops_sustained * (1000 if bench.device_type == "cpu" else 1)
            bits.append(f"only {sustained:.1f} sustained")
        if judged.expected is not None:
            context = f"{result.tflops / judged.expected:.0%} of {judged.expected:.0f}"
            context += " measured on this model" if judged.expected_basis == "measured" else f" expected ({judged.expected_basis})"
            if judged.peak:
                context += f", {result.tflops / judged.peak:.0%} of peak {judged.peak:g}"
            bits.append(context)
        if not result.finite:
            bits.append("result NOT FINITE")
        elif result.relative_error is not None:
            bits.append(f"error {result.relative_error:.1e} {ACCURACY_WORDS[judged.accuracy]}")
        lines.append(" · ".join(bits))
    copies = []
    names = {("h2d", "pinned"): "host→GPU pinned", ("h2d", "pageable"): "host→GPU pageable", ("d2h", "pinned"): "GPU→host pinned"}
    for copy in bench.copies:
        name = names.get((copy.direction, copy.memory), f"{copy.direction} {copy.memory}")
        copies.append(f"{name} {copy.gb_per_s:.1f} GB/s" if copy.gb_per_s is not None else f"{name} failed")
    if copies:
        lines.append("copies " + " · ".join(copies))
    if gemm.model is None and bench.device_type == "cuda":
        lines.append(f"no datasheet figures for this GPU in torchdoctor's tables (as of {gemm.tables_as_of})")
    return lines


# ---------------------------------------------------------------------------------------------
# What each platform gets (the resolution model)

BUILDS_COLUMN = 19
MAX_BUILD_ROWS = 8


def build_cell(resolution: Resolution, limit: int | None = BUILDS_COLUMN) -> str:
    """One platform's torch for one selection, short: "2.8.0+cu128", "2.11 (cu130)", "none", "not resolved"."""
    if resolution.note and not resolution.packages:
        return "not resolved"
    torch = resolution.torch
    if torch is None:
        return "no torch"
    if len(torch.together) > 1:
        text = f"{len(torch.together)} builds at once"
    elif torch.version:
        text = torch.version if "+" in torch.version or not torch.build else f"{torch.version} ({torch.build})"
    else:
        newest = torch.series if torch.releases or not torch.series else f"≥{torch.series}"  # past the tables
        text = f"{newest or torch.specifier or 'any'} ({torch.build or '?'})"
    return text if limit is None or len(text) < limit else text[: limit - 2] + "…"


def build_rows(model: ProjectModel | None, limit: int | None = BUILDS_COLUMN) -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    """(title, platform labels, rows of (selection, cells)) for the table of what each platform gets: the
    plain install, then each extra or group whose torch differs from it somewhere (at most MAX_BUILD_ROWS)."""
    if model is None or model.basis is None:
        return "", [], []
    title = "from uv.lock (exact)" if model.basis == "uv.lock" else "from pyproject.toml (predicted)"
    labels = [p.label for p in PLATFORMS]
    rows: list[tuple[str, list[str]]] = []
    default_cells = None
    for selection in model.selections:
        cells = [build_cell(next(r for r in model.for_platform(p.key) if r.selection == selection.label), limit)
                 for p in PLATFORMS]
        if selection.option is None:
            default_cells = cells
        elif cells == default_cells:
            continue
        rows.append(("uv sync" if selection.option is None else selection.option, cells))
    return title, labels, rows[:MAX_BUILD_ROWS]


def build_lines(model: ProjectModel | None, width: int = 120) -> list[str]:
    """The table as text lines no wider than `width`, every cell whole (the CUDA variant is what the table is for):
    columns as wide as their longest cell where they fit, else one line per platform under each selection."""
    title, labels, rows = build_rows(model, limit=None)
    if not rows:
        return []
    first = max(len(title), *(len(name) for name, _ in rows)) + 2
    column = max(len(text) for text in [*labels, *(cell for _, cells in rows for cell in cells)]) + 2
    if first + column * len(labels) <= width:
        lines = [title.ljust(first) + "".join(label.ljust(column) for label in labels).rstrip()]
        return lines + [name.ljust(first) + "".join(cell.ljust(column) for cell in cells).rstrip() for name, cells in rows]
    label_width = max(len(label) for label in labels) + 2
    lines = [title]
    for name, cells in rows:
        lines.append(f"{name}:")
        lines += [f"  {label.ljust(label_width)}{cell}" for label, cell in zip(labels, cells)]
    return lines


def architecture_name(capability: tuple[int, int]) -> str | None:
    """"Hopper" for (9, 0): the knowledge base's name of a GPU architecture, None where its tables end."""
    return knowledge().architecture(capability)


def arch_runs_on(entry: str, capability: tuple[int, int]) -> bool:
    """Whether an arch-list entry (sm_90, compute_90) runs on a GPU of this capability, by CUDA's rules."""
    target = parse_arch(entry)
    return target is not None and target.runs_on(capability)


def arch_list_covers(capability: tuple[int, int], arch_list: tuple[str, ...] | list[str]) -> bool:
    """Whether a build with this arch list has code for a GPU of this capability (SASS or PTX it can JIT)."""
    return coverage(capability, arch_list).supported
