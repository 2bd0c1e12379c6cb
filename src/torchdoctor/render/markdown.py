"""The Markdown report: pasted into a GitHub issue, it shows the facts, the findings and the snapshot."""

from __future__ import annotations

import html
import re

from torchdoctor.model import Report
from torchdoctor.snapshot import FleetInfo, Snapshot
from torchdoctor.render.facts import bench_lines, build_rows, gpu_lines, machine_line, project_line, python_line, torch_line
from torchdoctor.render.text import ICONS, summary_line


def _safe(text: str) -> str:
    """Text read from a project or a machine, made inert in Markdown and HTML: the report is pasted into PR comments and
    job summaries, where an index named `![t](https://…) <img onerror=…>` or a value with a newline and `# Heading`
    must show as text, not as an image, a tag or a heading. Code spans the rules write (`uv sync`) are kept."""
    text = html.escape(text, quote=False).replace("[", "\\[").replace("]", "\\]")
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


def _code(text: str) -> str:
    """`text` as an inline code span that no backtick inside it can close early."""
    text = " ⏎ ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return "<br>".join(_safe(line) for line in text.split("<br>")).replace("|", "\\|").replace("\n", "<br>")


def render_markdown(report: Report) -> str:
    snapshot = report.snapshot
    out = [f"## torchdoctor {snapshot.torchdoctor_version} report", "", f"**{_safe(summary_line(report))}**", ""]
    out += ["| | |", "|---|---|"]
    if snapshot.fleet is None:  # a fleet's machines are its ranks, below
        out.append(f"| machine | {_cell(machine_line(snapshot))} |")
        out.append(f"| gpu | {_cell('<br>'.join(gpu_lines(snapshot)))} |")
    out.append(f"| python | {_cell(python_line(snapshot))} |")
    if snapshot.fleet is None:
        out.append(f"| torch | {_cell(torch_line(snapshot))} |")
    out.append(f"| project | {_cell(project_line(snapshot))} |")
    if snapshot.bench is not None:
        out.append(f"| gemm | {_cell('<br>'.join(bench_lines(report)))} |")
    out.append("")
    if snapshot.fleet is not None:
        out += _fleet(snapshot.fleet)
    out += _environment(snapshot)
    title, labels, rows = build_rows(report.model)
    if rows:
        out += [f"What each platform gets, {title}:", "", "| torch | " + " | ".join(labels) + " |",
                "|---|" + "---|" * len(labels)]
        out += [f"| {_code(name).replace('|', chr(92) + '|')} | " + " | ".join(_cell(c) for c in cells) + " |" for name, cells in rows]
        out.append("")
    for diagnosis in report.diagnoses:
        out.append(f"### {ICONS[diagnosis.severity]} {diagnosis.severity.value}: `{diagnosis.code}` {diagnosis.slug}")
        out += ["", f"**{_safe(diagnosis.message)}**", "", _safe(diagnosis.explanation), ""]
        for item in diagnosis.evidence:
            out.append(f"- {_code(item.fact)}: {_code(item.value)} — {_safe(item.source)}")
        fix = diagnosis.fix
        if fix is not None:
            out.append("")
            if fix.action:
                out.append(f"**Fix ({fix.applicability.value}):** {_safe(fix.title)} — `torchdoctor fix {diagnosis.code}`")
            else:
                fence = "`" * max(3, 1 + max((len(r) for c in fix.commands for r in re.findall("`+", c)), default=0))
                out += [f"**Fix:** {_safe(fix.title)}", "", f"{fence}sh", *(" ".join(c.splitlines()) for c in fix.commands),
                        fence]
        if diagnosis.no_fix:
            out += ["", f"**No automatic fix:** {_safe(diagnosis.no_fix)}"]
        for number, alternative in enumerate(diagnosis.alternatives, start=1):
            out += ["", f"**Or ({alternative.applicability.value}):** {_safe(alternative.title)} — "
                        f"`torchdoctor fix {diagnosis.code} --alternative {number}`"]
        out.append("")
    out += ["<details><summary>snapshot (JSON)</summary>", "", "```json", snapshot.to_json(), "```", "", "</details>", ""]
    return "\n".join(out)


def _environment(snapshot: Snapshot) -> list[str]:
    """What `python -m torch.utils.collect_env` reports and maintainers ask for, from facts already probed: the
    report can replace it in a bug report."""
    torch, system = snapshot.torch, snapshot.system
    rows = [
        ("OS", " ".join(filter(None, [system.os_name, system.os_release, system.architecture]))),
        ("kernel / libc", " · ".join(filter(None, [system.kernel_release, system.libc]))),
        ("CPU", f"{system.cpu_model or '?'} ({system.cpu_count or '?'} logical CPUs)" if system.cpu_model or system.cpu_count else ""),
        ("Python", " ".join(filter(None, [torch.python_version, torch.python_executable]))),
        ("Python build", " · ".join(filter(None, [torch.python_build, torch.python_platform]))),
        ("torch build", " · ".join(filter(None, [
            torch.version and f"torch {torch.version}", torch.cuda and f"CUDA {torch.cuda}", torch.hip and f"ROCm {torch.hip}",
            # On a ROCm build torch's cuDNN version is MIOpen's.
            f"{'MIOpen' if torch.hip else 'cuDNN'} {torch.cudnn_version}" if torch.cudnn_version else None,
            torch.nccl_version and f"NCCL {torch.nccl_version}", torch.git_version and f"git {torch.git_version}",
            None if torch.debug is None else f"debug build: {'yes' if torch.debug else 'no'}"]))),
        ("XPU / XNNPACK", " · ".join(filter(None, [_yes_no("XPU available", torch.xpu_available),
                                                    _yes_no("XNNPACK", torch.xnnpack)]))),
        ("compilers", " · ".join(system.compilers.values()) if system.compilers is not None else ""),
        ("CPU ISA", " ".join(system.cpu_flags) if system.cpu_flags is not None else ""),
        ("conda packages", "<br>".join(system.conda_packages or ())),
        ("arch list", " ".join(torch.arch_list)),
        ("packages", "<br>".join(f"{name} {version}" for name, version in sorted(torch.packages.items()))),
        ("nvcc", " ".join(filter(None, [system.nvcc_version, system.nvcc_path and f"({system.nvcc_path})"]))),
        ("CUDA toolkits", "<br>".join(f"{t.version or '?'} {t.path}" for t in system.cuda_toolkits)),
        ("variables", "<br>".join(f"{name}={value}" for name, value in sorted(system.environment.items()))),
        ("import torch stderr", torch.stderr_tail),
    ]
    shown = [(label, value) for label, value in rows if value]
    if not shown:
        return []
    lines = ["<details><summary>environment (what collect_env reports)</summary>", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {_cell(str(value))} |" for label, value in shown]
    return lines + ["", "</details>", ""]


def _yes_no(label: str, value: bool | None) -> str | None:
    return None if value is None else f"{label}: {'yes' if value else 'no'}"


def _fleet(fleet: FleetInfo) -> list[str]:
    """`torchdoctor fleet`: the ranks and the collectives as tables."""
    from torchdoctor.render.fleet import collective_rows, link_line, rank_rows

    lines = [f"Fleet: {fleet.world_size} rank(s), {_safe(str(fleet.backend or '?'))}, "
             f"{'finished' if fleet.done else 'did not finish'}" + (f" — {_code(fleet.command)}" if fleet.command else ""), ""]
    for headers, rows in (rank_rows(fleet), collective_rows(fleet)):
        if rows:
            lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows] + [""]
    return lines + [f"Link: {_safe(link_line(fleet))}", ""]
