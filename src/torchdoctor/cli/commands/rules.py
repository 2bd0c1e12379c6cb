"""`torchdoctor rules`: every check, from the registry (docs/rules.md is this command's markdown)."""

from __future__ import annotations

import argparse
import json
import sys

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.render.rules import render_rule_text, render_rules_markdown, render_rules_text, rules_plain


def run(args: argparse.Namespace) -> int:
    """Every rule, or the ones named (`rules TD301 TD4`: a code or a prefix), as text, Markdown or JSON."""
    everything = workflow.rules()
    chosen = everything
    if args.codes:
        wanted = [code.upper() for code in args.codes]
        chosen = {code: rule for code, rule in everything.items() if any(code.startswith(w) for w in wanted)}
        unknown = [w for w in wanted if not any(code.startswith(w) for code in everything)]
        if unknown:
            raise UsageError(f"{', '.join(unknown)} matches no rule (`torchdoctor rules` lists them)")
    if args.format == "json":
        sys.stdout.write(json.dumps(rules_plain(chosen), indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_rules_markdown(chosen))
    elif args.codes:
        sys.stdout.write("\n".join(render_rule_text(chosen[code]) for code in sorted(chosen)))
    else:
        sys.stdout.write(render_rules_text(chosen))
    return ExitCode.CLEAN
