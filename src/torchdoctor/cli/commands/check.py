"""`torchdoctor check`: the report on this machine (or a recording) and the project; `--demo` outside a terminal."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import (
    codes,
    load_snapshot,
    offline_requested,
    project_directory,
    use_color,
    with_bench,
    write_atomically,
)
from torchdoctor.cli.parser import build_parser
from torchdoctor.render import render_report
from torchdoctor.render.text import render_quiet


def run(args: argparse.Namespace) -> int:
    if args.no_machine:
        if args.snapshot or args.bench or args.python:
            raise UsageError("--no-machine checks the project files only; it takes no --snapshot, --bench or --python")
        snapshot = workflow.project_only(project_directory(args), offline=offline_requested(args))
    else:
        snapshot = load_snapshot(args, project_directory(args))
    if args.bench:
        if args.snapshot:
            raise UsageError("--bench runs on this machine; it cannot be combined with --snapshot")
        snapshot = with_bench(snapshot, args.seconds)
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")

    report = workflow.diagnose(snapshot, workflow.selection_for(snapshot, codes(args.select), codes(args.ignore)))
    if args.symptom:
        report = workflow.with_symptom(report, read_text(args.symptom))
    if args.quiet and args.format == "text":
        sys.stdout.write(render_quiet(report, color=use_color(args.color)))
    else:
        sys.stdout.write(render_report(report, args.format, use_color(args.color), verbose=args.verbose))
    sys.stdout.flush()
    if any(d.code == "TD001" and "[tool.torchdoctor]" in d.message for d in report.diagnoses):
        # A setting torchdoctor cannot use (an unknown key, a selector that is no code, fail-on = "warnings"): as ruff
        # does for its configuration, the run is not a pass, whatever was found.
        print("torchdoctor: [tool.torchdoctor] has a setting it cannot use (TD001 above)", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.FINDINGS if report.fails(workflow.fail_on(snapshot, args.fail_on)) else ExitCode.CLEAN


def read_text(source: str, limit: int = 4 << 20) -> str:
    """A file's text, or standard input's for "-", at most `limit` bytes; UsageError when it cannot be read."""
    try:
        if source == "-":
            return sys.stdin.buffer.read(limit).decode("utf-8", "replace")
        with open(source, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError as error:
        raise UsageError(f"cannot read {source}: {error.strerror or error}") from None


def run_demo(argv: list[str]) -> int:
    """`torchdoctor --demo` outside a terminal: the demo's report, with check's --format and --fail-on."""
    args = build_parser().parse_args(["check", *argv])
    if args.project or args.snapshot or args.python or args.no_machine or args.bench:
        raise UsageError("--demo opens its own example; it takes no --project, --python, --snapshot, --no-machine or --bench")
    with tempfile.TemporaryDirectory(prefix="torchdoctor-demo-") as scratch:
        snapshot, _ = workflow.demo(Path(scratch), offline=offline_requested(args))
        report = workflow.diagnose(snapshot)
        sys.stdout.write(render_report(report, args.format, use_color(args.color), verbose=args.verbose))
    return ExitCode.FINDINGS if report.fails(workflow.fail_on(snapshot, args.fail_on)) else ExitCode.CLEAN
