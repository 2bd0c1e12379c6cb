"""`torchdoctor rules`: every check, from the registry (docs/rules.md is this command's markdown)."""

from __future__ import annotations

import argparse
import sys

from torchdoctor.cli import ExitCode


def run(args: argparse.Namespace) -> int:
    from torchdoctor.render.rules import render_rules_markdown, render_rules_text
    from torchdoctor.workflow import rules

    sys.stdout.write(render_rules_markdown(rules()) if args.format == "markdown" else render_rules_text(rules()))
    return ExitCode.CLEAN
