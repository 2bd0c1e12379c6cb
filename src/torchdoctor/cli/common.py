"""What the commands share: where the project is, the snapshot to work on, the progress lines a person watches, the
report in each format, and a file the user asked for, written safely. Face-side only: what decides is the workflow's."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from torchdoctor import workflow
from torchdoctor.cli import UsageError

if TYPE_CHECKING:
    from torchdoctor.snapshot import Snapshot


def project_directory(args: argparse.Namespace) -> Path:
    project_dir = Path(args.project).expanduser() if args.project else Path.cwd()
    if args.project and project_dir.is_file():
        if project_dir.name == "pyproject.toml":
            return project_dir.parent  # a project named by its file, as uv's --project takes it too
        raise UsageError(f"--project {args.project}: a file; give the folder that holds pyproject.toml")
    if args.project and not project_dir.is_dir():
        raise UsageError(f"--project {args.project}: no such folder")
    return project_dir


def offline_requested(args: argparse.Namespace | None = None) -> bool:
    """No package index is to be asked: `--offline`, or TORCHDOCTOR_OFFLINE set (a CI job without network). Read here,
    in the face, and carried down to the probes as an option."""
    return bool(getattr(args, "offline", False)) or bool(os.environ.get("TORCHDOCTOR_OFFLINE"))


def load_snapshot(args: argparse.Namespace, project_dir: Path) -> Snapshot:
    """The snapshot a command works on: recorded (--snapshot, with the project read here when --project names one)
    or probed now."""
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if args.snapshot:
        if args.python:
            raise UsageError("--python cannot be combined with --snapshot (the recorded interpreter is used)")
        snapshot = read_snapshot_file(args.snapshot)
        if args.project:
            snapshot = workflow.with_project(snapshot, project_dir, offline=offline_requested(args))
        return snapshot
    progress = Progress() if sys.stderr.isatty() else None
    try:
        return workflow.probe(project_dir, args.python, timeout_s=args.timeout, fresh=args.fresh,
                              offline=offline_requested(args),
                              on_part=progress.part if progress else None, quick=getattr(args, "quick", False))
    except workflow.CannotProbe as error:
        raise UsageError(str(error)) from None
    finally:
        if progress is not None:
            progress.stop()


class Progress:
    """One self-rewriting line on stderr while the probes run, shown once the wait passes half a second: what is
    still awaited and for how long (`import torch` can take a minute cold)."""

    DELAY_S = 0.5
    PARTS = {"project": "project files", "system": "system", "nvml": "NVML", "torch": "import torch"}

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done: set[str] = set()
        self.python = ""
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def part(self, name: str, value: object) -> None:
        if name == "interpreter":
            self.python = getattr(value, "path", "")
        self.done.add(name)

    def _run(self) -> None:
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        if self._stop.wait(self.DELAY_S):
            return
        while not self._stop.is_set():
            waiting = [label for name, label in self.PARTS.items() if name not in self.done]
            elapsed = time.monotonic() - self.started
            what = ", ".join(waiting) + (f" in {self.python}" if "torch" not in self.done and self.python else "")
            status = f"{frames[int(elapsed * 10) % len(frames)]} torchdoctor: waiting for {what} ({elapsed:.1f} s)"
            sys.stderr.write(f"\r\x1b[K{fit(status)}")
            sys.stderr.flush()
            self._shown = True
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def read_snapshot_file(name: str) -> Snapshot:
    """A recorded snapshot named on the command line; anything unusable is a one-line usage error."""
    try:
        return workflow.read_recording(Path(name))
    except workflow.CannotProbe as error:
        raise UsageError(str(error)) from None


def check_bench_seconds(seconds: float) -> None:
    if not 0.2 <= seconds <= 60:
        raise UsageError("--seconds must be between 0.2 and 60")


def with_bench(snapshot: Snapshot, seconds: float, device: int = 0) -> Snapshot:
    """The snapshot with the GEMM test's results; progress goes to stderr when a person watches it."""
    check_bench_seconds(seconds)
    if device < 0:
        raise UsageError("--device must be 0 or more")
    progress = BenchProgress() if sys.stderr.isatty() else None
    try:
        return workflow.with_bench(snapshot, seconds, device, on_step=progress.update if progress else None)
    finally:
        if progress:
            progress.finish()


class BenchProgress:
    """One self-rewriting status line on stderr while the GEMM test runs."""

    def update(self, step: workflow.BenchStep) -> None:
        sys.stderr.write(f"\r\x1b[K{fit(f'torchdoctor: GEMM test: {step.said}')}")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def terminal_columns() -> int:
    """COLUMNS when set, else the terminal's width, else 100 (output that is piped)."""
    try:
        return max(20, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        pass
    return shutil.get_terminal_size((100, 24)).columns if sys.stderr.isatty() or sys.stdout.isatty() else 100


def fit(status: str) -> str:
    """A status line cut to the terminal's width: a line wider than the terminal wraps, and "\r" then returns only to
    the start of its last part, leaving one line per tick."""
    width = terminal_columns() - 1
    return status if len(status) <= width else status[: max(0, width - 1)] + "…"


def codes(values: list[str]) -> list[str]:
    """--select TD3,TD401 --select TD5 -> [TD3, TD401, TD5]; anything that cannot be a code is a usage error."""
    codes = [code.strip().upper() for value in values for code in value.split(",") if code.strip()]
    wrong = [code for code in codes if not re.match(r"^TD\d{0,3}$", code)]
    if wrong:
        raise UsageError(f"{', '.join(wrong)} is not a code or prefix (TD, TD3, TD301; `torchdoctor rules` lists them)")
    known = workflow.rule_codes()
    matching_none = [code for code in codes if not any(rule.startswith(code) for rule in known)]
    if matching_none:  # as ruff does for a selector that selects nothing: a typo must not pass green
        raise UsageError(f"{', '.join(matching_none)} matches no rule (`torchdoctor rules` lists them)")
    return codes


def use_color(choice: str, stream: TextIO | None = None) -> bool:
    """--color always/never; else NO_COLOR turns colour off, FORCE_COLOR on (as uv and ruff read them), else a
    terminal gets colour."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return (stream or sys.stdout).isatty() and os.environ.get("TERM") != "dumb"


def write_atomically(path: Path, text: str) -> None:
    """Save a file the user asked for (a snapshot) safely; failures become one-line usage errors."""
    try:
        workflow.save_text(path, text)
    except workflow.CannotSave as error:
        raise UsageError(str(error)) from None


