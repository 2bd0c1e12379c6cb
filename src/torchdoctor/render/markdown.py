"""The Markdown report: pasted into a GitHub issue, it shows the facts, the findings and the snapshot."""

from __future__ import annotations

from torchdoctor.model import Report
from torchdoctor.render.facts import bench_lines, build_rows, gpu_lines, machine_line, project_line, python_line, torch_line
from torchdoctor.render.text import ICONS, summary_line


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render_markdown(report: Report) -> str:
    snapshot = report.snapshot
    out = [f"## torchdoctor {snapshot.torchdoctor_version} report", "", f"**{summary_line(report)}**", ""]
    out += ["| | |", "|---|---|"]
    out.append(f"| machine | {_cell(machine_line(snapshot))} |")
    out.append(f"| gpu | {_cell('<br>'.join(gpu_lines(snapshot)))} |")
    out.append(f"| python | {_cell(python_line(snapshot))} |")
    out.append(f"| torch | {_cell(torch_line(snapshot))} |")
    out.append(f"| project | {_cell(project_line(snapshot))} |")
    if snapshot.bench is not None:
        out.append(f"| gemm | {_cell('<br>'.join(bench_lines(snapshot)))} |")
    out.append("")
    title, labels, rows = build_rows(snapshot)
    if rows:
        out += [f"What each platform gets, {title}:", "", "| torch | " + " | ".join(labels) + " |",
                "|---|" + "---|" * len(labels)]
        out += [f"| `{_cell(name)}` | " + " | ".join(_cell(c) for c in cells) + " |" for name, cells in rows]
        out.append("")
    for diagnosis in report.diagnoses:
        out.append(f"### {ICONS[diagnosis.severity]} {diagnosis.severity.value}: `{diagnosis.code}` {diagnosis.slug}")
        out += ["", f"**{diagnosis.message}**", "", diagnosis.explanation, ""]
        for item in diagnosis.evidence:
            value = item.value if "\n" not in item.value else item.value.replace("\n", " ⏎ ")
            out.append(f"- `{item.fact}`: `{value}` — {item.source}")
        fix = diagnosis.fix
        if fix is not None:
            out.append("")
            if fix.action:
                out.append(f"**Fix ({fix.applicability.value}):** {fix.title} — `torchdoctor fix {diagnosis.code}`")
            else:
                out += [f"**Fix:** {fix.title}", "", "```sh", *fix.commands, "```"]
        for number, alternative in enumerate(diagnosis.alternatives, start=1):
            out += ["", f"**Or ({alternative.applicability.value}):** {alternative.title} — "
                        f"`torchdoctor fix {diagnosis.code} --alternative {number}`"]
        out.append("")
    out += ["<details><summary>snapshot (JSON)</summary>", "", "```json", snapshot.to_json(), "```", "", "</details>", ""]
    return "\n".join(out)
