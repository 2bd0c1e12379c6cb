"""`torchdoctor undo`: pyproject.toml (and the uv.lock the fix's lock replaced) as they were before the last fix."""

from __future__ import annotations

import argparse
import sys

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import project_directory


def run(args: argparse.Namespace) -> int:
    try:
        path, backup = workflow.undo(project_directory(args))
    except workflow.CannotFix as error:
        raise UsageError(str(error)) from None
    print(f"restored {path} from {backup}", file=sys.stderr)
    return ExitCode.CLEAN
