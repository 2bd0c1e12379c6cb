"""Run `uv lock` for a project: the last step of a fix, shared by the CLI (`fix --lock`) and the TUI."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from torchdoctor.probes.runner import CommandResult, StreamingCommand

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
    command = StreamingCommand([uv, "lock"], on_line=on_line, cwd=str(root), merge_stderr=True)
    return command.wait(LOCK_TIMEOUT_S, cancel)
