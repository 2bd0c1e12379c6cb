"""`triage`'s report: what was read from the pasted text (with its line), what stays unknown, the cause, the fix, and
what to paste to decide. Text for a terminal, Markdown for an issue comment, JSON for a bot."""

from __future__ import annotations

import json
import textwrap

from typing import Protocol

from torchdoctor.model import Diagnosis
from torchdoctor.probes.pasted import Fact, PastedFacts
from torchdoctor.redact import clean
from torchdoctor.render.markdown import _code, _safe
from torchdoctor.render.text import ICONS


class Triage(Protocol):
    """What the renderers read of workflow.triage's Triage (a renderer imports nothing above it)."""

    @property
    def facts(self) -> PastedFacts: ...

    @property
    def findings(self) -> tuple[Diagnosis, ...]: ...

    @property
    def symptoms(self) -> tuple[tuple[int, str, tuple[str, ...]], ...]: ...

    @property
    def explained(self) -> bool: ...

    @property
    def fails(self) -> bool: ...

ASK = {
    "GPU": "`nvidia-smi -L`",
    "driver": "`nvidia-smi` (its header line)",
    "torch build": "`python -m torch.utils.collect_env`",
    "packages": "`pip list` (or `uv pip list`)",
}


def facts_read(facts: PastedFacts) -> list[tuple[str, Fact]]:
    rows: list[tuple[str, Fact]] = [(f"GPU {i}", f) for i, f in enumerate(facts.gpus)]
    for label, fact in (("GPU compute capability", facts.gpu_sm), ("driver", facts.driver_version),
                        ("newest CUDA the driver supports", facts.driver_cuda), ("kernel module", facts.kernel_module),
                        ("NVML library", facts.nvml_library), ("torch", facts.torch_version),
                        ("CUDA torch was built with", facts.torch_cuda), ("CUDA available", facts.cuda_available),
                        ("archs the build supports", facts.arch_list), ("Python", facts.python_version), ("OS", facts.os),
                        ("WSL", facts.wsl), ("container", facts.container), ("NVML said", facts.nvml_error),
                        ("CUDA error", facts.cuda_error)):
        if fact is not None:
            rows.append((label, fact))
    rows += [(name, fact) for name, fact in sorted(facts.packages.items())]
    return rows


def unknown(facts: PastedFacts) -> list[str]:
    """What was not in the text, with the command that prints it."""
    missing = []
    if not facts.gpus and facts.gpu_sm is None:
        missing.append(f"GPU: {ASK['GPU']}")
    if facts.driver_version is None and facts.driver_cuda is None:
        missing.append(f"driver: {ASK['driver']}")
    if facts.torch_version is None and "torch" not in facts.packages:
        missing.append(f"torch build: {ASK['torch build']}")
    if not facts.packages:
        missing.append(f"packages: {ASK['packages']}")
    return missing


def render_triage_text(result: Triage) -> str:
    out = ["torchdoctor triage — from the pasted text", ""]
    if result.facts.truncated:
        out += ["(the text was longer than 1 MiB: only its first MiB was read)", ""]
    out.append("read:")
    out += [f"  {label}: {clean(fact.value)}   (line {fact.line}, {fact.kind})" for label, fact in facts_read(result.facts)] or ["  nothing torchdoctor knows"]
    missing = unknown(result.facts)
    if missing:
        out += ["unknown (not in the text; paste it to decide more):", *(f"  {m}" for m in missing)]
    out.append("")
    if result.symptoms:
        number, line, _ = result.symptoms[0]
        out += [f"the error you pasted (line {number}): {clean(line.strip())[:200]}"]
        likely = bool(result.findings) and result.findings[0].code == "TD800"
        out += ["  is explained by the first finding below" if result.explained else
                "  points to the likely causes below: the pasted facts do not confirm one" if likely else
                "  no known cause fits it", ""]
    for diagnosis in result.findings:
        out += _diagnosis_text(diagnosis)
    if not result.findings:
        out += ["no known cause fits what was pasted" if result.symptoms else "no problem found in what was pasted"]
    return "\n".join(out) + "\n"


def _diagnosis_text(diagnosis: Diagnosis) -> list[str]:
    lines = [f"{ICONS[diagnosis.severity]} {diagnosis.severity.value:<7} {diagnosis.code} {diagnosis.slug}"]
    lines += textwrap.wrap(clean(diagnosis.message), 100, initial_indent="  ", subsequent_indent="  ")
    lines += textwrap.wrap(clean(diagnosis.explanation), 100, initial_indent="  why: ", subsequent_indent="       ")
    for item in diagnosis.evidence:
        lines.append(f"    {clean(item.fact)}: {clean(item.value)}   ({clean(item.source)})")
    if diagnosis.fix is not None:
        lines.append(f"  fix: {clean(diagnosis.fix.title)}")
        lines += [f"      $ {clean(c)}" for c in diagnosis.fix.commands]
    return lines + [""]


def render_triage_markdown(result: Triage) -> str:
    out = ["### torchdoctor triage", ""]
    if result.findings:
        first = result.findings[0]
        lead = "The error you pasted is explained by:" if result.explained and result.symptoms else "Most likely:"
        out += [f"**{lead}** {_safe(first.message)} (`{first.code}`)", "", _safe(first.explanation), ""]
        if first.fix is not None:
            out += [f"**Fix:** {_safe(first.fix.title)}", ""]
            if first.fix.commands:
                fence = "````"
                out += [f"{fence}sh", *(" ".join(c.splitlines()) for c in first.fix.commands), fence, ""]
    else:
        out += ["No known cause fits what was pasted." if result.symptoms else "No problem found in what was pasted.", ""]
    out += ["<details><summary>what was read</summary>", ""]
    out += [f"- {_safe(label)}: {_code(fact.value)} (line {fact.line})" for label, fact in facts_read(result.facts)]
    out += ["", "</details>", ""]
    missing = unknown(result.facts)
    if missing:
        out += ["**Not in the text** (paste these to decide more):", *(f"- {_safe(m)}" for m in missing), ""]
    for diagnosis in result.findings[1:]:
        out.append(f"- `{diagnosis.code}` {diagnosis.severity.value}: {_safe(diagnosis.message)}")
    return "\n".join(out).rstrip() + "\n"


def render_triage_json(result: Triage) -> str:
    from torchdoctor.render.json_report import _diagnosis_plain

    return json.dumps({
        "read": [{"fact": label, "value": fact.value, "line": fact.line, "kind": fact.kind} for label, fact in facts_read(result.facts)],
        "unknown": unknown(result.facts),
        "symptoms": [{"line": n, "text": clean(line.strip())[:500], "causes": list(causes)} for n, line, causes in result.symptoms],
        "explained": result.explained,
        "findings": [_diagnosis_plain(d) for d in result.findings],
        "truncated": result.facts.truncated,
    }, indent=2) + "\n"
