"""`torchdoctor fleet`: the ranks of a torchrun job compared with each other (workflow/fleet.py, probes/fleet.py)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import project_directory, read_snapshot_file, use_color, write_atomically
from torchdoctor.model import Area
from torchdoctor.render import render_report
from torchdoctor.render.fleet import render_fleet


def run(args: argparse.Namespace) -> int:
    fleets = workflow.fleet
    for name in ("timeout", "gemm_seconds"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number of seconds")
    if args.max_bytes is not None and args.max_bytes < 1 << 20:
        raise UsageError("--max-bytes must be at least 1048576 (the smallest size measured is 1 MB)")
    if args.nnodes < 1 or (args.nproc_per_node is not None and args.nproc_per_node < 1):
        raise UsageError("--nnodes and --nproc-per-node must be 1 or more")
    sources = [name for name in ("results", "snapshot") if getattr(args, name)]
    if len(sources) > 1 or (sources and args.nnodes > 1):
        raise UsageError("give one of --results, --snapshot and --nnodes")
    try:
        if args.snapshot:
            snapshot = read_snapshot_file(args.snapshot)
            if snapshot.fleet is None:
                raise UsageError(f"{args.snapshot}: a snapshot without fleet results (save one with `fleet --save-snapshot`)")
        elif args.results:
            snapshot = fleets.from_results(project_directory(args), args.results)
        else:
            if args.nnodes > 1 and args.nproc_per_node is None:
                raise UsageError("--nnodes needs --nproc-per-node: the ranks of each node (this machine's GPUs may not "
                                 "be theirs)")
            project_dir = project_directory(args)
            python = fleets.interpreter(project_dir, args.python)
            options = fleets.FleetOptions(nproc_per_node=args.nproc_per_node or fleets.gpu_count(),
                                          timeout_s=args.timeout, gemm_seconds=args.gemm_seconds, max_bytes=args.max_bytes)
            if args.nnodes > 1:
                if not args.rdzv_endpoint:
                    raise UsageError("--nnodes needs --rdzv-endpoint HOST:PORT: the address of one node, reachable from "
                                     "the others")
                sys.stdout.write(fleets.multi_node_command(python.path, options, args.nnodes, args.rdzv_endpoint))
                return ExitCode.CLEAN
            with _elapsed(f"{options.nproc_per_node} rank(s) under torchrun"):
                snapshot = fleets.run_job(project_dir, python, options)
    except workflow.CannotProbe as error:
        raise UsageError(str(error)) from None
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")
    report = workflow.diagnose(snapshot).of(Area.FLEET)
    if args.format == "text":
        sys.stdout.write(render_fleet(report, color=use_color(args.color), verbose=args.verbose))
    else:
        sys.stdout.write(render_report(report, args.format))
    sys.stdout.flush()
    return ExitCode.FINDINGS if report.fails(workflow.fail_on(snapshot, args.fail_on)) else ExitCode.CLEAN


class _elapsed:
    """On a terminal, one line on stderr says how long the job has run."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.stop = threading.Event()
        self.shower = threading.Thread(target=self._show, daemon=True) if sys.stderr.isatty() else None

    def _show(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(0.5):
            sys.stderr.write(f"\r\x1b[Ktorchdoctor: fleet: {self.what}, {time.monotonic() - started:.0f} s")
            sys.stderr.flush()

    def __enter__(self) -> _elapsed:
        if self.shower:
            self.shower.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.shower:
            self.shower.join()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
