"""The text of the fact panels and of a diagnosis, as Rich renderables. No widgets, no state: the
same Report the CLI prints, laid out for the screen."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from torchdoctor.family import VERSIONED_WITH_TORCH
from torchdoctor.model import Diagnosis, Report, Severity
from torchdoctor.paths import shown
from torchdoctor.render.facts import (
    GIB,
    arch_list_covers,
    arch_runs_on,
    architecture_name,
    bench_lines,
    build_rows,
    cuda_version_text,
    system_line,
)
from torchdoctor.render.text import ICONS
from torchdoctor.plans import ProjectModel
from torchdoctor.snapshot import Snapshot
from torchdoctor.tui.texts import BENCH_HINT, WAITING

STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def add_row(table: Table, *cells: Any) -> None:
    """A table row whose plain strings are shown as written: paths, URLs and names from a project or a machine
    (`exp[/v2]`, an index URL with `[/red]` in it) are never read as Rich markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


def facts_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def machine_panel(snapshot: Snapshot | None, parts: dict) -> Table | Text:
    system = snapshot.system if snapshot else parts.get("system")
    nvml = snapshot.nvml if snapshot else parts.get("nvml")
    if system is None and nvml is None:
        return WAITING
    table = facts_table()
    if system is not None:
        add_row(table, "system", system_line(system))
        if system.wsl_details is not None:
            details = system.wsl_details
            files = ", ".join(sorted(details.lib_files)) if details.lib_files is not None else "missing"
            add_row(table, "WSL GPU", f"/dev/dxg {'present' if details.dxg else 'MISSING'} · /usr/lib/wsl/lib: {files}")
        if system.container:
            add_row(table, "container", f"{system.container} ({system.container_evidence})")
        if system.memory_total:
            add_row(table, "memory", f"{system.memory_total / GIB:.1f} GiB")
    if nvml is None:
        add_row(table, "driver", WAITING)
    elif nvml.status != "ok":
        add_row(table, "driver", Text(f"NVML {nvml.status}: {nvml.error}", style="red"))
    else:
        cuda = cuda_version_text(nvml.cuda_driver_version)
        add_row(table, "driver", f"{nvml.driver_version}" + (f" · supports CUDA ≤ {cuda}" if cuda else ""))
        for gpu in nvml.gpus:
            bits = [gpu.name or "unknown GPU"]
            if gpu.compute_capability:
                major, minor = gpu.compute_capability
                architecture = architecture_name((major, minor))
                bits.append(f"sm_{major}{minor}" + (f" ({architecture})" if architecture else ""))
            if gpu.memory_total:
                bits.append(f"{gpu.memory_total / GIB:.0f} GiB")
            if gpu.mig_enabled:
                bits.append("MIG on")
            add_row(table, f"GPU {gpu.index}", " · ".join(bits))
        if not nvml.gpus:
            add_row(table, "GPU", "none")
    return table


def torch_panel(snapshot: Snapshot | None, parts: dict) -> Table | Text:
    torch = snapshot.torch if snapshot else parts.get("torch")
    interpreter = snapshot.interpreter if snapshot else parts.get("interpreter")
    table = facts_table()
    if interpreter is not None:
        add_row(table, "python", f"{interpreter.path}\n{interpreter.reason}")
    if torch is None:
        add_row(table, "torch", WAITING)
        return table
    if torch.status != "ok":
        installed = f"{torch.installed_version} installed · " if torch.installed_version else ""
        add_row(table, "torch", Text(f"{installed}{torch.status}: {torch.error}", style="red"))
        return table
    add_row(table, "torch", torch.version or "?")
    add_row(table, "build", f"CUDA {torch.cuda}" if torch.cuda else f"ROCm {torch.hip}" if torch.hip else "CPU only")
    if torch.cuda or torch.hip:
        add_row(table, "is_available", Text(str(torch.cuda_available), style="green" if torch.cuda_available else "bold red"))
    if torch.arch_list:
        add_row(table, "archs", arch_text(snapshot, torch))
    if torch.cudnn_version:
        v = torch.cudnn_version
        add_row(table, "cuDNN", f"{v // 10000}.{(v // 100) % 100}.{v % 100}" if v >= 10000 else str(v))
    if torch.nccl_version:
        add_row(table, "NCCL", torch.nccl_version)
    for device in torch.devices:
        add_row(table, f"cuda:{device.index}", f"{device.name} · sm_{device.capability[0]}{device.capability[1]} · "
                                              f"{device.total_memory / GIB:.0f} GiB")
    return table


def arch_text(snapshot: Snapshot | None, torch) -> Text:
    """The build's arch list, with the entries that run on this machine's GPU in green."""
    gpus = []
    if snapshot is not None:
        gpus = [g.compute_capability for g in snapshot.nvml.gpus if g.compute_capability]
    gpus = gpus or [d.capability for d in torch.devices]
    text = Text()
    for entry in torch.arch_list:
        runs = any(arch_runs_on(entry, (gpu[0], gpu[1])) for gpu in gpus)
        text.append(entry, style="bold green" if runs else "dim")
        text.append(" ")
    for gpu in gpus:
        covered = arch_list_covers((gpu[0], gpu[1]), torch.arch_list)
        text.append(f"\nsm_{gpu[0]}{gpu[1]}: ", style="bold")
        text.append("covered" if covered else "NOT covered (no kernel image)", style="green" if covered else "bold red")
    return text


def project_panel(snapshot: Snapshot | None, parts: dict, model: ProjectModel | None = None) -> Table | Text:
    project = snapshot.project if snapshot else parts.get("project")
    if project is None:
        return WAITING
    table = facts_table()
    add_row(table, "folder", f"{shown(project.root)}\n{project.found_by}")
    pyproject = project.pyproject
    if pyproject is None:
        add_row(table, "pyproject", "none")
    else:
        torch_req = [r.requirement for r in pyproject.torch_requirements]
        add_row(table, "requires", "\n".join(torch_req) or "no torch requirement")
        for index in pyproject.indexes:
            flags = " explicit" if index.explicit else ""
            add_row(table, f"index {index.position}", f"{index.name or '(unnamed)'}: {index.url}{flags}")
        for source in pyproject.sources:
            marker = f" if {source.marker}" if source.marker else ""
            extra = f" [extra {source.extra}]" if source.extra else ""
            add_row(table, f"source {source.package}", f"{source.kind} {source.target or '?'}{marker}{extra}")
    lock = project.lock
    if lock is None:
        add_row(table, "uv.lock", "none")
    else:
        for package in lock.packages:
            if package.name in VERSIONED_WITH_TORCH:
                platforms = ", ".join(sorted({_family(p) for p in package.wheel_platforms})) or "source"
                add_row(table, f"locked {package.name}", f"{package.version} ({platforms})")
    for path in project.dockerfiles:
        add_row(table, "Dockerfile", path)
    if snapshot is not None:
        title, labels, rows = build_rows(model)
        if rows:
            add_row(table, "builds", title)
            for name, cells in rows:
                add_row(table, f"  {name}", "\n".join(f"{label}: {cell}" for label, cell in zip(labels, cells, strict=True)))
    return table


def _family(platform: str) -> str:
    return "linux" if "linux" in platform else "windows" if platform.startswith("win") else "macos" if "macos" in platform else platform


def diagnosis_view(diagnosis: Diagnosis, diff: str | None, unsafe_reason: str | None = None) -> Group:
    parts: list = [
        Text(f"{ICONS[diagnosis.severity]} {diagnosis.code} {diagnosis.slug}", style=STYLES[diagnosis.severity]),
        Text(diagnosis.message, style="bold"),
        Text(""),
        Text(diagnosis.explanation),
    ]
    fix = diagnosis.fix
    if fix is not None:
        parts += [Text(""), Text(f"fix ({fix.applicability.value}): {fix.title}", style="bold green")]
        if unsafe_reason:
            parts.append(Text(unsafe_reason, style="yellow"))
        if fix.commands:
            parts.append(Text("run it yourself:", style="dim"))
            parts += [Text(f"  $ {command}") for command in fix.commands]
        elif diff:
            parts.append(Text("press f to apply (you confirm the diff first)", style="dim"))
            parts.append(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
        elif fix.action:
            parts.append(Text("(no change to pyproject.toml is needed any more)", style="dim"))
    if diagnosis.no_fix:
        parts += [Text(""), Text(f"no automatic fix: {diagnosis.no_fix}", style="yellow")]
    if diagnosis.evidence:
        parts += [Text(""), Text("evidence", style="bold underline")]
        for item in diagnosis.evidence:
            line = Text(f"• {item.fact}: ", style="bold")
            line.append(item.value, style="")
            line.append(f"  ({item.source})", style="dim")
            parts.append(line)
    return Group(*parts)


def bench_view(report: Report | None, progress: str | None) -> Group:
    """The GEMM results as bars against the datasheet peak, with the same lines the CLI prints; yellow where the
    report's assessment (TD602's line) calls a rate slow."""
    if report is None or report.snapshot.bench is None or report.gemm is None:
        return Group(BENCH_HINT if progress is None else Text(progress, style="bold"))
    bench = report.snapshot.bench
    lines = bench_lines(report)
    parts: list = [Text(lines[0], style="bold")]
    for judged in report.gemm.rates:
        result = judged.result
        if result.tflops is None:
            continue
        line = Text(f"{result.dtype:<5}")
        if judged.peak:
            # The bar is what the user got: the sustained rate when something else shared the GPU.
            rate = judged.delivered or 0.0
            share = max(0.0, min(1.0, rate / judged.peak))
            filled = int(round(share * 30))
            line.append("█" * filled, style="yellow" if judged.slow else "green")
            line.append("░" * (30 - filled), style="dim")
            line.append(f" {rate:7.1f} TFLOP/s · {share:.0%} of peak {judged.peak:g}")
            if rate < result.tflops:
                line.append(f" (single products {result.tflops:.0f})", style="dim")
        else:
            unit = "GFLOP/s" if bench.device_type == "cpu" else "TFLOP/s"
            value = result.tflops * (1000 if bench.device_type == "cpu" else 1)
            line.append(f" {value:7.1f} {unit}")
        parts.append(line)
    parts += [Text(line) for line in lines[1:] if line.startswith("copies")]
    if progress:
        parts.append(Text(progress, style="dim"))
    return Group(*parts)


def fleet_panel(snapshot: Snapshot | None) -> Text:
    """The ranks of a `torchdoctor fleet` run, the collectives' bus bandwidth and the link they are judged against."""
    from torchdoctor.render.fleet import collective_rows, link_line, rank_rows, table

    fleet = snapshot.fleet if snapshot else None
    if fleet is None:
        return Text("No fleet run in this snapshot.")
    text = Text()
    text.append(f"{fleet.world_size} rank(s), {fleet.backend or '?'}, {'finished' if fleet.done else 'did not finish'}\n",
                style="bold")
    if fleet.command:
        text.append(fleet.command + "\n", style="dim")
    for headers, rows in (rank_rows(fleet), collective_rows(fleet)):
        if rows:
            first, *rest = table(headers, rows, indent="")
            text.append("\n" + first + "\n", style="bold")
            text.append("\n".join(rest) + "\n")
    text.append("\n" + link_line(fleet) + "\n")
    return text
