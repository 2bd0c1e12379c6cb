"""The Textual app. Imported here: Textual costs ~0.2 s to import and the headless commands never need it."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import offline_requested, project_directory, read_snapshot_file
from torchdoctor.tui.app import TorchDoctorApp


def run(args: argparse.Namespace) -> int:
    """The app on this machine, a recording (--snapshot), or the bundled demo in a scratch copy."""
    recorded = None
    label = None
    if args.demo:
        if args.project or args.snapshot or args.python:
            raise UsageError("--demo opens its own example; it takes no --project, --python or --snapshot")
        workdir = Path(tempfile.mkdtemp(prefix="torchdoctor-demo-"))
        recorded, project_dir = workflow.demo(workdir, offline=offline_requested())
        label = f"demo: RTX 5060 Ti under WSL2, the nightly project (a copy in {project_dir})"
    else:
        project_dir = project_directory(args)
        if args.snapshot:
            if args.python:
                raise UsageError("--python cannot be combined with --snapshot (the recorded interpreter is used)")
            recorded = read_snapshot_file(args.snapshot)
            # One rule for --snapshot: with --project, that project on the recorded machine; without, a replay of
            # the project recorded in it, which no key edits (as `check` replays it and `fix` refuses it).
            label = (f"{project_dir} on the machine recorded in {args.snapshot}" if args.project
                     else f"a replay of {args.snapshot} (its project as recorded; --project to fix one here)")
    app = TorchDoctorApp(project_dir, python=args.python, recorded=recorded, label=label, torch_timeout_s=args.timeout,
                         replay=bool(args.snapshot and not args.project and not args.demo), offline=offline_requested())
    try:
        app.run()
    finally:
        if args.demo:
            shutil.rmtree(workdir, ignore_errors=True)  # the demo's scratch copy goes with the app
    return ExitCode.CLEAN


