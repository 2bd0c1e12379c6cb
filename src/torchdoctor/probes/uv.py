"""uv, found and run: `uv lock` for a project (a step of the fix transaction, shared by the CLI and the TUI) and where
the uv binary is. A probe like the others: it runs a program and reports what it said (issue 27 moved it here from the
package root, where it was the one module outside probes/ that ran one)."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from torchdoctor.probes.runner import CommandResult, StreamingCommand
from torchdoctor.redact import clean

LOCK_TIMEOUT_S = 600.0


def find_uv() -> str | None:
    """uv on PATH, else the one installed beside torchdoctor's interpreter (`pip install uv` puts it there)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / ("uv.exe" if sys.platform == "win32" else "uv")
    return str(beside) if beside.exists() else None


def run_uv_lock(root: Path, on_line: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> CommandResult:
    """`uv lock` in `root`, its output (uv writes to stderr) streamed line by line to `on_line`."""
    uv = find_uv()
    if uv is None:
        return CommandResult(None, "", "", 0.0, error="`uv` is not installed (pip install uv, or see docs.astral.sh/uv)")
    # uv's lines are shown as they come: cleaned like everything read from outside (a URL's credentials, escapes).
    shown = (lambda line: on_line(clean(line))) if on_line is not None else None
    command = StreamingCommand([uv, "lock"], on_line=shown, cwd=str(root), merge_stderr=True,
                               env={**os.environ, "NO_COLOR": "1"})
    return command.wait(LOCK_TIMEOUT_S, cancel)
