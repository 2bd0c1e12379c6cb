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
from typing import TYPE_CHECKING

from torchdoctor.fixes import FixError
from torchdoctor.paths import shown
from torchdoctor.probes.runner import CommandResult as CommandResult  # the outcome of `lock`, for the faces
from torchdoctor.snapshot import Snapshot
from torchdoctor.workflow.fixing import FixPreview, fix_diagnoses, recheck, reread_project
from torchdoctor.workflow.proof import cured_once_synced, project_environment

if TYPE_CHECKING:
    from torchdoctor.fixes.verify import Verification

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


class _Failed(Exception):
    """A step failed: the transaction puts everything back and says which step and why."""

    def __init__(self, step: str, reason: str, still: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.step, self.reason, self.still = step, reason, still


def carry_out(snapshot: Snapshot, preview: FixPreview, steps: Steps = Steps(), *, say: Say | None = None,
              cancel: threading.Event | None = None) -> Outcome:
    """Write the proven preview and carry it through lock, sync and the smoke test; put everything back on failure.

    Everything that can be decided is decided before the write (uv, the lock file uv uses, the environment and the
    selection to sync), so that from the write on every path ends in a verdict or in one put-back: a failing step, an
    exception of torchdoctor's own, Ctrl-C and SIGTERM alike. The put-back runs once, with both signals held off."""
    from torchdoctor.fixes.writer import record_lock_written, write_fixed
    from torchdoctor.probes.uv import find_uv

    report = say or (lambda step, line: None)
    root = Path(snapshot.project.root)
    lock = lock_file(root)
    try:
        lock_before = lock.read_bytes() if lock.is_file() else None
    except OSError as error:
        return Outcome("not written", f"cannot read {lock}: {error.strerror}")
    meant = [(d.code, d.message) for d in preview.applied]
    cured_codes = ", ".join(sorted({code for code, _ in meant}))
    uv = find_uv()
    why_not_lock = ("--no-lock" if not steps.lock else "`uv` is not installed" if uv is None
                    else "offline" if snapshot.project.offline and not steps.offline_too else None)
    environment = _uv_environment(snapshot) if not why_not_lock else None
    option, why_not_synced = _selection_to_sync(snapshot) if environment else (None, _why_not_synced(snapshot))
    if environment is not None and why_not_synced:
        environment = None
    backup: Path | None = None
    state = {"synced": False}
    failure: _Failed | None = None
    with _terminate_as_interrupt() as signals:
        try:
            with signals.deferred():  # a signal during the write waits for it to end: then all is put back
                try:
                    backup = write_fixed(preview.path, preview.original, preview.after, lock=lock)
                except FixError as error:
                    return Outcome("not written", str(error))
            report("write", f"wrote {shown(preview.path)}")
            if why_not_lock:
                return Outcome("written", f"cured in pyproject.toml ({cured_codes}); run `uv lock` to apply it "
                                          f"(not run: {why_not_lock})", backup=backup, next_steps=("uv lock", "uv sync"))
            assert uv is not None
            lock_failure = _run(report, "lock", [uv, "lock"], root, cancel)
            if lock_failure:
                raise _Failed("lock", lock_failure)
            record_lock_written(backup, lock)
            relocked = reread_project(snapshot)
            said = recheck(meant, fix_diagnoses(snapshot), fix_diagnoses(relocked))
            # A finding about the installed build is cured by the sync that follows, not by the lock: judged on the
            # machine as that sync leaves it (and then on the GPU by the smoke test).
            still = tuple(code for code in said.still if not cured_once_synced(relocked, code))
            if still:
                raise _Failed("lock", f"uv lock resolved, and still reported: {', '.join(still)}", still)
            if not steps.sync or environment is None:
                why = "--no-sync" if not steps.sync else why_not_synced or _why_not_synced(snapshot)
                command = "uv sync" + (f" {option}" if option else "")
                return Outcome("cured", f"cured in pyproject.toml and uv.lock ({cured_codes}); run `{command}` to "
                                        f"install it ({why})", backup=backup, next_steps=(command,))
            state["synced"] = True
            sync_failure = _run(report, "sync", [uv, "sync", "--frozen", "--inexact", *(option.split() if option else [])],
                                root, cancel)
            if sync_failure:
                raise _Failed("sync", sync_failure)
            verification = _smoke_test(snapshot, environment, report, cancel)
            if not verification.passed:
                raise _Failed("verify", verification.summary)
            return Outcome("cured", f"cured ({cured_codes}): {verification.summary}", backup=backup)
        except _Failed as failed:
            failure = failed
        except Exception as error:  # noqa: BLE001 - a fault of torchdoctor's own mid-way: put back, then say it
            if backup is None:
                raise
            failure = _Failed("torchdoctor", f"{type(error).__name__}: {error}")
        except BaseException:  # Ctrl-C, SIGTERM: put back, then let the interruption end the command
            if backup is not None:
                with signals.held():
                    _put_back(snapshot, preview, lock, lock_before, state["synced"], uv, report, "interrupted",
                              "interrupted", backup, option)
            raise
        assert backup is not None
        with signals.held():
            return _put_back(snapshot, preview, lock, lock_before, state["synced"], uv, report, failure.step,
                             failure.reason, backup, option, failure.still)


def lock_file(root: Path) -> Path:
    """The uv.lock uv writes for the project in `root`: a workspace's, at its root, for a member (uv keeps one lock per
    workspace), else the project's own."""
    try:
        import tomli as tomllib  # the compiled parser (a dependency); the standard library's on 3.11+ otherwise
    except ImportError:  # pragma: no cover
        import tomllib  # type: ignore[no-redef]

    for folder in (root, *root.parents):
        pyproject = folder / "pyproject.toml"
        if folder != root and not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8")) if pyproject.is_file() else {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        tool = data.get("tool") if isinstance(data, dict) else None
        uv = tool.get("uv") if isinstance(tool, dict) else None
        if isinstance(uv, dict) and "workspace" in uv:
            return folder / "uv.lock"
    return root / "uv.lock"


def _run(report: Say, step: str, argv: list[str], root: Path, cancel: threading.Event | None) -> str | None:
    """One uv step, its lines streamed; None when it succeeded, else why not."""
    from torchdoctor.probes.runner import StreamingCommand
    from torchdoctor.redact import clean

    report(step, f"running: {' '.join(['uv', *argv[1:]])} (in {shown(root)}; uv may run the project's build backend)")
    environment = {**os.environ, "NO_COLOR": "1"}
    command = None
    try:
        # A signal while uv starts waits until it has started and is known here: then it is stopped (and waited
        # for) before anything is put back. Taken inside Popen, it left uv running on, unknown, and uv wrote
        # uv.lock after the put-back (6 of 12 runs stopped right after the write; tests/test_fix_transaction.py).
        with _Signals().deferred():
            command = StreamingCommand(argv, on_line=lambda line: report(step, clean(line)), cwd=str(root),
                                       merge_stderr=True, env=environment)
        result = command.wait(STEP_TIMEOUT_S, cancel)
    except BaseException:
        if command is not None:
            command.stop()
        raise
    if result.ok:
        return None
    if cancel is not None and cancel.is_set():
        return "cancelled"
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith("error:")), None)
    return clean(result.error or error or result.describe_failure())


def _put_back(snapshot: Snapshot, preview: FixPreview, lock: Path, lock_before: bytes | None, synced: bool,
              uv: str | None, report: Say, step: str, reason: str, backup: Path, option: str | None,
              still: tuple[str, ...] = ()) -> Outcome:
    """pyproject.toml and uv.lock as they were (this fix's backup, never an older one), and the environment synced
    back to the old lock when there was one."""
    from torchdoctor.files import atomic_write
    from torchdoctor.fixes.writer import undo_backup

    root = Path(snapshot.project.root)
    problems = []
    try:
        if lock_before is None:
            lock.unlink(missing_ok=True)
        elif not lock.is_file() or lock.read_bytes() != lock_before:
            atomic_write(lock, lock_before)
    except OSError as error:
        problems.append(f"uv.lock could not be put back ({error.strerror}); the old one is in {backup}")
    try:
        undo_backup(preview.path, backup)
    except FixError as error:
        problems.append(str(error))
    resynced = False
    if synced and uv is not None and lock_before is not None and not problems:
        report("put back", "syncing the environment back to the old uv.lock")
        again = _run(report, "put back", [uv, "sync", "--frozen", "--inexact", *(option.split() if option else [])],
                     root, None)
        if again:
            problems.append(f"syncing back failed ({again}): run `uv sync` yourself")
        resynced = not again
    where = "pyproject.toml and uv.lock are back as they were"
    if resynced:
        where += ", and the environment is synced back to the old uv.lock (packages the fix added stay installed)"
    elif synced and lock_before is None:
        where += "; there was no uv.lock to sync the environment back to: run `uv sync` once the project locks"
    summary = f"{step} failed: {reason}; {where}" if step != "interrupted" else f"interrupted; {where}"
    if problems:
        summary = (f"{step} failed: {reason}; " if step != "interrupted" else "interrupted; ") + "; ".join(problems)
    if step == "interrupted":
        report("put back", summary)  # the interruption goes on up: no verdict reaches a face to say it
    return Outcome("put back", summary, failed_step=step, still=still)  # the faces say it, as the verdict


def _uv_environment(snapshot: Snapshot) -> Path | None:
    """uv's project environment when the probed interpreter lives in it and exists here (so syncing it changes what
    was probed)."""

    interpreter = snapshot.interpreter.path
    if not interpreter or not snapshot.interpreter.exists or not Path(interpreter).exists():
        return None
    environment = project_environment(snapshot)
    return environment if environment is not None and environment.is_dir() else None


def _why_not_synced(snapshot: Snapshot) -> str:
    if not snapshot.interpreter.path or not Path(snapshot.interpreter.path).exists():
        return "the machine was not probed here"
    return f"the interpreter checked, {snapshot.interpreter.path}, is not uv's project environment"


def _selection_to_sync(snapshot: Snapshot) -> tuple[str | None, str | None]:
    """The option (`--extra cu128`) the environment was synced with, and why it cannot be synced when that is not
    known: the selection whose locked torch is the one installed. A torch no selection locks (installed by hand), or
    several selections that lock it alike, leave the choice to the user: syncing the wrong one would replace it."""
    from torchdoctor.resolution import build_model

    installed = snapshot.torch.installed_version or snapshot.torch.version
    if snapshot.project.lock is None:
        return None, None
    if not installed:
        return None, None  # no torch installed yet: the plain `uv sync` installs it
    matching = [r for r in build_model(snapshot).machine if r.torch is not None and r.torch.version == installed]
    if not matching:
        return None, f"torch {installed} is installed, which no selection of the old uv.lock locks (installed by hand?)"
    if any(r.option is None for r in matching):
        return None, None
    options = sorted({r.option for r in matching if r.option})
    if len(options) > 1:
        return None, f"the installed torch {installed} is what {', '.join(options)} each lock: say which one to sync"
    return options[0], None


def synced_option(snapshot: Snapshot) -> str | None:
    """The extra or group the environment was synced with, when that is known (see _selection_to_sync)."""
    return _selection_to_sync(snapshot)[0]


def _smoke_test(snapshot: Snapshot, environment: Path, report: Say, cancel: threading.Event | None) -> Verification:
    from torchdoctor.fixes.verify import smoke_test

    interpreter = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    report("verify", "smoke test: import torch, a matmul checked against the CPU, a torchvision operator")
    return smoke_test(snapshot, interpreter, on_line=lambda line: report("verify", line), cancel=cancel)


class _Signals:
    """SIGTERM raises Interrupted while the transaction runs; `held()` keeps SIGINT and SIGTERM off while it puts
    things back, so a second signal cannot break off the put-back the first one started (main thread only: signals
    are delivered there; a worker thread is stopped through its cancel event instead)."""

    def __init__(self) -> None:
        self.main = threading.current_thread() is threading.main_thread()
        self.previous: dict[int, object] = {}

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """SIGINT and SIGTERM wait for the block to end, then interrupt: a step that must not be cut in half (the
        write and its backup) ends whole, and the interruption is then handled as anywhere else."""
        if not self.main or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            yield  # a worker thread (signals go to the main one), or inside `held()`: the put-back is not cut short
            return
        arrived: list[int] = []
        before = {number: signal.signal(number, lambda signum, frame: arrived.append(signum))
                  for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in before.items():
                signal.signal(number, handler)
        if arrived:
            raise Interrupted()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if not self.main:
            yield
            return
        before = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in before.items():
                signal.signal(number, handler)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[_Signals]:
    """SIGTERM raises Interrupted while the transaction runs (in the main thread only)."""
    signals = _Signals()
    if not signals.main:
        yield signals
        return

    def interrupted(signum: int, frame: object) -> None:
        raise Interrupted()

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield signals
    finally:
        signal.signal(signal.SIGTERM, previous)


def verify_in_scratch(snapshot: Snapshot, fixed_text: str, on_line: Callable[[str], None] | None = None) -> Verification:
    """`fix --verify`: lock and sync the fixed project in a scratch folder and run the smoke test there, before anything
    of the user's is written (fixes/verify.py)."""
    from torchdoctor.fixes.verify import verify_fix

    return verify_fix(snapshot, fixed_text, on_line=on_line)


def lock(root: Path, on_line: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> CommandResult:
    """`uv lock` alone (the app's `l`): its lines streamed, `cancel` stops it, and uv leaves uv.lock as it was."""
    from torchdoctor.probes.uv import run_uv_lock

    return run_uv_lock(root, on_line=on_line, cancel=cancel)
