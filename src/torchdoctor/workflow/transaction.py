"""The fix transaction: write → `uv lock` → `uv sync` → smoke test → a verdict, or everything put back.

One key finishes the job, as `uv add` does (edit, lock, sync). Each step that waits streams its lines to `say` and
stops when `cancel` is set; Ctrl-C and SIGTERM stop it too. Whatever step fails or is interrupted, pyproject.toml and
uv.lock are put back as they were, the environment is synced back to the old lock (uv's cache makes that quick),
and no child is left running: all the old state or all the new.

The environment is synced only where it is uv's project environment (`UV_PROJECT_ENVIRONMENT`, else `.venv`) and
the interpreter probed is in it, with the selection it was synced with (read from which selection's torch is
installed) and `--inexact`, so nothing installed by hand is removed. Elsewhere (conda, a system Python, a recorded
machine) the commands are said instead. Without uv, or offline, the fix stops after the write: the proof has shown
the change cures the finding in pyproject.toml, and `uv lock` applies it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from torchdoctor.fixes import FixError
from torchdoctor.paths import shown
from torchdoctor.probes.runner import CommandResult
from torchdoctor.snapshot import Snapshot
from torchdoctor.workflow.fixing import FixPreview, fix_diagnoses, recheck, reread_project

STEP_TIMEOUT_S = 900.0
Say = Callable[[str, str], None]
"""(step, line): progress for a face to show; step is "write", "lock", "sync", "verify" or "put back"."""


@dataclass(frozen=True)
class Outcome:
    """How a fix ended."""

    verdict: str
    """"cured" (locked, synced and the smoke test passed, or locked where nothing is synced), "written" (cured in
    pyproject.toml; uv lock and sync are left to the user), "put back" (a step failed: all as it was), or
    "not written"."""
    summary: str
    failed_step: str | None = None
    backup: Path | None = None
    next_steps: tuple[str, ...] = ()
    still: tuple[str, ...] = ()
    """Codes the fix meant to cure that the re-check after `uv lock` still reports."""

    @property
    def ok(self) -> bool:
        return self.verdict in ("cured", "written")


@dataclass(frozen=True)
class Steps:
    """How far to go: `lock` and `sync` as `uv add`'s --no-lock / --no-sync turn them off."""

    lock: bool = True
    sync: bool = True
    offline_too: bool = False
    """Lock even when torchdoctor runs offline (`fix --lock` asks for it by name; uv has its own cache)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM during a fix: handled as Ctrl-C is, so that everything is put back before the process ends."""


def carry_out(snapshot: Snapshot, preview: FixPreview, steps: Steps = Steps(), *, say: Say | None = None,
              cancel: threading.Event | None = None) -> Outcome:
    """Write the proven preview and carry it through lock, sync and the smoke test; put everything back on failure."""
    from torchdoctor.fixes.writer import record_lock_written, write_fixed
    from torchdoctor.uvlock import find_uv

    report = say or (lambda step, line: None)
    root = Path(snapshot.project.root)
    lock = root / "uv.lock"
    try:
        lock_before = lock.read_bytes() if lock.is_file() else None
    except OSError as error:
        return Outcome("not written", f"cannot read {lock}: {error.strerror}")
    try:
        backup = write_fixed(preview.path, preview.original, preview.after, lock=lock)
    except FixError as error:
        return Outcome("not written", str(error))
    report("write", f"wrote {shown(preview.path)}")
    meant = [(d.code, d.message) for d in preview.applied]
    cured_codes = tuple(sorted({code for code, _ in meant}))
    uv = find_uv()
    why_not_lock = ("--no-lock" if not steps.lock else "`uv` is not installed" if uv is None
                    else "offline" if os.environ.get("TORCHDOCTOR_OFFLINE") and not steps.offline_too else None)
    if why_not_lock:
        return Outcome("written", f"cured in pyproject.toml ({', '.join(cured_codes)}); run `uv lock` to apply it "
                                  f"(not run: {why_not_lock})", backup=backup, next_steps=("uv lock", "uv sync"))
    assert uv is not None
    environment = _uv_environment(snapshot)
    option = synced_option(snapshot) if environment else None
    synced = False
    with _terminate_as_interrupt():
        try:
            failure = _run(report, "lock", [uv, "lock"], root, cancel)
            if failure:
                return _put_back(snapshot, preview, lock_before, False, uv, report, "lock", failure, backup, option)
            record_lock_written(backup)
            after = reread_project(snapshot)
            said = recheck(meant, fix_diagnoses(snapshot), fix_diagnoses(after))
            if said.still:
                return _put_back(snapshot, preview, lock_before, False, uv, report, "lock",
                                 f"uv lock resolved, and still reported: {', '.join(said.still)}", backup, option,
                                 still=said.still)
            if not steps.sync or environment is None:
                why = "--no-sync" if not steps.sync else _why_not_synced(snapshot)
                command = "uv sync" + (f" {option}" if option else "")
                return Outcome("cured", f"cured in pyproject.toml and uv.lock ({', '.join(cured_codes)}); run "
                                        f"`{command}` to install it ({why})", backup=backup, next_steps=(command,))
            synced = True
            failure = _run(report, "sync", [uv, "sync", "--frozen", "--inexact", *(option.split() if option else [])],
                           root, cancel)
            if failure:
                return _put_back(snapshot, preview, lock_before, True, uv, report, "sync", failure, backup, option)
            verification = _smoke_test(snapshot, environment, report, cancel)
            if not verification.passed:
                return _put_back(snapshot, preview, lock_before, True, uv, report, "verify", verification.summary,
                                 backup, option)
        except BaseException:
            _put_back(snapshot, preview, lock_before, synced, uv, report, "interrupted", "interrupted", backup, option)
            raise
    return Outcome("cured", f"cured ({', '.join(cured_codes)}): {verification.summary}", backup=backup)


def _run(report: Say, step: str, argv: list[str], root: Path, cancel: threading.Event | None) -> str | None:
    """One uv step, its lines streamed; None when it succeeded, else why not."""
    from torchdoctor.probes.runner import StreamingCommand
    from torchdoctor.redact import clean

    report(step, f"running: {' '.join(['uv', *argv[1:]])} (in {root}; uv may run the project's build backend)")
    environment = {**os.environ, "NO_COLOR": "1"}
    command = StreamingCommand(argv, on_line=lambda line: report(step, clean(line)), cwd=str(root), merge_stderr=True,
                               env=environment)
    result = command.wait(STEP_TIMEOUT_S, cancel)
    if result.ok:
        return None
    if cancel is not None and cancel.is_set():
        return "cancelled"
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith("error:")), None)
    return clean(result.error or error or result.describe_failure())


def _put_back(snapshot: Snapshot, preview: FixPreview, lock_before: bytes | None, synced: bool, uv: str | None,
              report: Say, step: str, reason: str, backup: Path, option: str | None,
              still: tuple[str, ...] = ()) -> Outcome:
    """pyproject.toml and uv.lock as they were, and the environment synced back to the old lock."""
    from torchdoctor.files import atomic_write
    from torchdoctor.fixes.writer import undo_last

    root = Path(snapshot.project.root)
    lock = root / "uv.lock"
    problems = []
    try:
        if lock_before is None:
            lock.unlink(missing_ok=True)
        elif not lock.is_file() or lock.read_bytes() != lock_before:
            atomic_write(lock, lock_before)
    except OSError as error:
        problems.append(f"uv.lock could not be put back ({error.strerror}); the old one is in {backup}")
    try:
        undo_last(preview.path)
    except FixError as error:
        problems.append(str(error))
    if synced and uv is not None and not problems:
        report("put back", "syncing the environment back to the old uv.lock")
        again = _run(report, "put back", [uv, "sync", "--frozen", "--inexact", *(option.split() if option else [])],
                     root, None)
        if again:
            problems.append(f"syncing back failed ({again}): run `uv sync` yourself")
    where = "pyproject.toml and uv.lock are back as they were" + (", and the environment too" if synced else "")
    summary = f"{step} failed: {reason}; {where}" if step != "interrupted" else f"interrupted; {where}"
    if problems:
        summary = f"{step} failed: {reason}; " + "; ".join(problems)
    report("put back", summary)
    return Outcome("put back", summary, failed_step=step, still=still)


def _uv_environment(snapshot: Snapshot) -> Path | None:
    """uv's project environment when the probed interpreter lives in it (so syncing it changes what was probed)."""
    root = Path(snapshot.project.root)
    named = os.environ.get("UV_PROJECT_ENVIRONMENT")
    environment = (root / named) if named else root / ".venv"
    interpreter = snapshot.interpreter.path
    if not interpreter or not snapshot.interpreter.exists or not Path(interpreter).exists():
        return None
    try:
        Path(interpreter).absolute().relative_to(environment.absolute())
    except ValueError:
        return None
    return environment if environment.is_dir() else None


def _why_not_synced(snapshot: Snapshot) -> str:
    if not snapshot.interpreter.path or not Path(snapshot.interpreter.path).exists():
        return "the machine was not probed here"
    return f"the interpreter checked, {snapshot.interpreter.path}, is not uv's project environment"


def synced_option(snapshot: Snapshot) -> str | None:
    """The extra or group the environment was synced with: the selection whose locked torch is the one installed
    (a plain `uv sync` when it is, or when none matches)."""
    from torchdoctor.resolution import build_model

    installed = snapshot.torch.installed_version or snapshot.torch.version
    if not installed or snapshot.project.lock is None:
        return None
    matching = [r for r in build_model(snapshot).machine if r.torch is not None and r.torch.version == installed]
    if not matching or any(r.option is None for r in matching):
        return None
    return matching[0].option


def _smoke_test(snapshot: Snapshot, environment: Path, report: Say, cancel: threading.Event | None):
    from torchdoctor.fixes.verify import smoke_test

    interpreter = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    report("verify", "smoke test: import torch, a matmul checked against the CPU, a torchvision operator")
    return smoke_test(snapshot, interpreter, on_line=lambda line: report("verify", line), cancel=cancel)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises Interrupted while the transaction runs (in the main thread only: signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    raised: list[int] = []

    def interrupted(signum, frame):
        if not raised:  # once: a second SIGTERM must not break off the putting back the first one started
            raised.append(signum)
            raise Interrupted()

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def verify_in_scratch(snapshot: Snapshot, fixed_text: str, on_line: Callable[[str], None] | None = None):
    """`fix --verify`: lock and sync the fixed project in a scratch folder and run the smoke test there, before anything
    of the user's is written (fixes/verify.py)."""
    from torchdoctor.fixes.verify import verify_fix

    return verify_fix(snapshot, fixed_text, on_line=on_line)


def lock(root: Path, on_line: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> CommandResult:
    """`uv lock` alone (the app's `l`): its lines streamed, `cancel` stops it, and uv leaves uv.lock as it was."""
    from torchdoctor.uvlock import run_uv_lock

    return run_uv_lock(root, on_line=on_line, cancel=cancel)
