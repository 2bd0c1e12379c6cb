"""`torchdoctor bench`: the GEMM test, its results in context, and the findings it supports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import (
    check_bench_seconds,
    offline_requested,
    project_directory,
    use_color,
    with_bench,
    write_atomically,
)
from torchdoctor.model import Area
from torchdoctor.render import render_report
from torchdoctor.render.bench import render_bench


def run(args: argparse.Namespace) -> int:
    check_bench_seconds(args.seconds)  # before probing: a typo should not cost an `import torch`
    try:
        snapshot = workflow.probe(project_directory(args), args.python, timeout_s=args.timeout, fresh=args.fresh,
                                  offline=offline_requested())
    except workflow.CannotProbe as error:
        raise UsageError(str(error)) from None
    if snapshot.torch.status == "not-installed":
        raise UsageError(f"torch is not installed in {snapshot.interpreter.path}; there is nothing to measure")
    snapshot = with_bench(snapshot, args.seconds, args.device)
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")
    report = workflow.diagnose(snapshot)
    if args.format == "json":
        sys.stdout.write(render_report(report, "json"))
    else:
        sys.stdout.write(render_bench(report, color=use_color(args.color)))
    sys.stdout.flush()
    return ExitCode.FINDINGS if report.fails(workflow.fail_on(snapshot, args.fail_on), area=Area.PERFORMANCE) else ExitCode.CLEAN
