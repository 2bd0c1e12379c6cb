"""`torchdoctor triage [FILE|-]`: the cause from pasted text (an error, collect_env, nvidia-smi, pip list …)."""

from __future__ import annotations

import argparse
import sys

from torchdoctor import workflow
from torchdoctor.cli import ExitCode
from torchdoctor.cli.commands.check import read_text
from torchdoctor.render.triage import render_triage_json, render_triage_markdown, render_triage_text


def run(args: argparse.Namespace) -> int:
    source = args.file or "-"
    if source == "-" and sys.stdin.isatty():
        print("paste the text, then Ctrl-D (Ctrl-Z, Enter on Windows):", file=sys.stderr)
    result = workflow.triage.triage(read_text(source))
    render = {"json": render_triage_json, "markdown": render_triage_markdown}.get(args.format, render_triage_text)
    sys.stdout.write(render(result))
    return ExitCode.FINDINGS if result.fails else ExitCode.CLEAN
