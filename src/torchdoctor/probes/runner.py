"""Run a child process with a hard timeout, and turn every way it can fail into data.

Used for everything torchdoctor runs outside its own process: the torch probe (an `import torch` can
hang on a wedged driver or segfault on a broken install), the NVML probe and `nvcc --version`. The child
gets its own process group, so a timeout kills it together with anything it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torchdoctor.redact import clean, clean_data

# Children still running, so that an interrupted torchdoctor (Ctrl-C, a cancelled TUI worker) can stop
# them all before it exits instead of waiting for their timeouts.
_running: dict[subprocess.Popen, str] = {}
_running_lock = threading.Lock()


_closing = threading.Event()
"""Set when torchdoctor is exiting: a child a probe thread starts after that (the race of a Ctrl-C that arrives as
a thread is between starting a child and registering it) is killed at once, so the exit never waits out its
timeout."""


def stop_all_children(*, for_good: bool = False) -> None:
    """Kill every child process (and its group) that run_command started and that is still running; `for_good`
    (the process is exiting) also kills any child started from now on."""
    if for_good:
        _closing.set()
    with _running_lock:
        children = list(_running.items())
    for process, token in children:
        _kill_group(process, token)


def _register(process: subprocess.Popen, token: str) -> None:
    with _running_lock:
        _running[process] = token
    if _closing.is_set():
        _kill_group(process, token)


# The probe scripts print each JSON record on its own line behind this marker, so that whatever else the
# child prints (a chatty sitecustomize, torch's own messages) is told apart from the probe's answer.
MARKER = "@@torchdoctor@@ "


def marked_records(stdout: str) -> list[dict]:
    """The JSON objects a probe script printed behind MARKER, in order; other output is ignored."""
    records = []
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            try:
                record = json.loads(line[len(MARKER) :])
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(record, dict):
                records.append(clean_data(record))  # what a probe read (paths, warnings, names) is cleaned here
    return records


@dataclass(frozen=True)
class CommandResult:
    """How a child process ended. `error` is set when it could not be started at all."""

    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.error is None

    def describe_failure(self) -> str:
        """A one-line account of why the command did not succeed."""
        if self.error:
            return self.error
        if self.timed_out:
            return f"did not answer within {self.duration_s:.1f} s and was stopped"
        code = self.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with status {code}"


# Run in a child's environment so that everything it starts can be found and stopped, even a process that left
# the child's group (a daemon that called setsid): every descendant inherits this variable.
CHILD_TOKEN = "TORCHDOCTOR_CHILD"

# Prepended to torchdoctor's own scripts: the folder a child runs in (and `-c`'s empty entry) leaves sys.path
# before anything is imported, so a `json.py` in a project is never imported. The child also runs in an empty
# folder of its own. `-I` would do more but also drop PYTHONPATH, which is the user's own setting and how
# cluster module systems (`module load pytorch`) provide torch: the probe would then miss the torch their runs use.
ISOLATION = "import sys as _s\n_s.path[:] = [_p for _p in _s.path if _p not in ('', '.')]\ndel _s\n"


def python_argv(python: str, source: str, *arguments: str) -> list[str]:
    """The command line that runs one of torchdoctor's scripts in `python`: no bytecode written, nothing imported
    from the folder it runs in (see ISOLATION)."""
    return [python, "-B", "-c", ISOLATION + source, *arguments]


def _child_environment(env: Mapping[str, str] | None, token: str) -> dict[str, str]:
    return {**(dict(env) if env is not None else os.environ), CHILD_TOKEN: token}


def _kill_descendants(token: str) -> None:
    """Kill every process that still carries this child's token (Linux: read from /proc; elsewhere the process
    group is all there is)."""
    if not sys.platform.startswith("linux"):
        return
    marker = f"{CHILD_TOKEN}={token}".encode()
    own = os.getpid()
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return
    for pid in pids:
        if pid == own:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            continue


def own_process_group() -> dict:
    """Popen arguments that give the child its own process group, so killing the group stops anything
    the child started too (a torch import spawning compilers, uv spawning builds)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


MAX_STDOUT_CHARS = 16 << 20
"""What is kept of a child's stdout: its first 16 Mi characters (a probe says a few kilobytes; a sitecustomize that
prints for ever would otherwise fill the memory: 96 MB of output held 1.4 GB)."""
MAX_STDERR_CHARS = 1 << 20
"""What is kept of its stderr: the last 1 Mi characters, where a traceback ends."""


class _Drain(threading.Thread):
    """Reads one of a child's pipes to its end, keeping at most `limit` characters: the first, or the last."""

    def __init__(self, stream, limit: int, keep_last: bool) -> None:
        super().__init__(daemon=True)
        self.stream, self.limit, self.keep_last = stream, limit, keep_last
        self.parts: list[str] = []
        self.kept = self.dropped = 0

    def run(self) -> None:
        try:
            while chunk := self.stream.read(1 << 16):
                self._keep(chunk)
        except (OSError, ValueError):  # the pipe closed under it: a descendant held it and was stopped
            pass

    def _keep(self, chunk: str) -> None:
        if not self.keep_last:
            room = max(0, self.limit - self.kept)
            self.parts.append(chunk[:room])
            self.kept += min(room, len(chunk))
            self.dropped += max(0, len(chunk) - room)
            return
        self.parts.append(chunk)
        self.kept += len(chunk)
        while self.kept - len(self.parts[0]) >= self.limit:
            self.kept -= len(first := self.parts.pop(0))
            self.dropped += len(first)

    def text(self) -> str:
        kept = "".join(self.parts)
        if not self.dropped:
            return kept
        note = f"[torchdoctor: {self.dropped} characters of this output were not kept]"
        return f"{note}\n{kept}" if self.keep_last else f"{kept}\n{note}\n"


def run_command(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin_text: str | None = None,
) -> CommandResult:
    """Run `argv`, wait at most `timeout_s` seconds, and never raise for the child's failures. Its output is read as it
    comes, bounded (MAX_STDOUT_CHARS, MAX_STDERR_CHARS), and the child's end is its own exit: a process it started
    that keeps the pipes open (a compiler daemon `import torch` left behind) does not make a finished probe look like
    one that hung."""
    started = time.monotonic()
    kwargs = own_process_group()
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="torchdoctor-child-") as neutral:
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_child_environment(env, token),
                cwd=cwd or neutral,
                text=True,
                encoding="utf-8",
                errors="replace",
                **kwargs,
            )
        except OSError as error:
            return CommandResult(None, "", "", time.monotonic() - started,
                                 error=f"could not start {argv[0]}: {error.strerror or error}")
        _register(process, token)
        out = _Drain(process.stdout, MAX_STDOUT_CHARS, keep_last=False)
        err = _Drain(process.stderr, MAX_STDERR_CHARS, keep_last=True)
        out.start()
        err.start()
        timed_out = False
        try:
            if stdin_text is not None and process.stdin is not None:
                try:
                    process.stdin.write(stdin_text)
                    process.stdin.close()
                except (BrokenPipeError, OSError):
                    pass  # the child did not read it: its exit says why
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process, token)
                process.wait(timeout=5)
            for drain in (out, err):  # what is in the pipes now; a descendant holding them gets half a second
                drain.join(timeout=0.5)
            if out.is_alive() or err.is_alive():
                _kill_descendants(token)  # its end of the pipes closes with it, and the readers see the end
                for drain in (out, err):
                    drain.join(timeout=0.5)
            # A reader still waiting (a process that shed the token holds a pipe) is left to end with the pipe: closing
            # a file another thread reads may block. What was read so far is the answer.
            return CommandResult(process.returncode, out.text(), err.text(), time.monotonic() - started,
                                 timed_out=timed_out)
        except BaseException:
            _kill_group(process, token)  # Ctrl-C or a cancelled worker must not leave the child behind
            raise
        finally:
            _kill_descendants(token)  # nothing a probe started outlives it
            with _running_lock:
                _running.pop(process, None)


class StreamingCommand:
    """A child whose output is read line by line while it runs: the GEMM test (whose progress the TUI
    shows live) and the NVML sampler that watches the GPU meanwhile.

    `on_line` is called from a reader thread for every stdout line. `wait` returns when the child ends,
    its time is up or `cancel` is set; in the last two cases the child's whole process group is killed,
    so cancelling a GEMM run in the TUI leaves nothing behind.
    """

    def __init__(self, argv: Sequence[str], *, on_line=None, env: Mapping[str, str] | None = None, cwd: str | None = None,
                 merge_stderr: bool = False):
        self.started = time.monotonic()
        self.error: str | None = None
        self._lines: list[str] = []
        self._stderr: list[str] = []
        self._on_line = on_line
        self.token = uuid.uuid4().hex
        self._neutral = tempfile.TemporaryDirectory(prefix="torchdoctor-child-") if cwd is None else None
        kwargs = own_process_group()
        try:
            self.process: subprocess.Popen | None = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                env=_child_environment(env, self.token), cwd=cwd if cwd is not None else self._neutral.name if self._neutral else None, text=True, encoding="utf-8",
                errors="replace", **kwargs,
            )
        except OSError as error:
            self.process = None
            self.error = f"could not start {argv[0]}: {error.strerror or error}"
            self._cleanup()
            return
        _register(self.process, self.token)
        self._readers = [threading.Thread(target=self._read, args=(self.process.stdout, self._lines, True), daemon=True)]
        if not merge_stderr:
            self._readers.append(threading.Thread(target=self._read, args=(self.process.stderr, self._stderr, False), daemon=True))
        for reader in self._readers:
            reader.start()

    def _read(self, stream, sink: list[str], is_stdout: bool) -> None:
        for line in stream:
            sink.append(line)
            if is_stdout and self._on_line is not None:
                self._on_line(line.rstrip("\n"))

    def wait(self, timeout_s: float, cancel: threading.Event | None = None) -> CommandResult:
        """Wait for the child to end; kill it when `timeout_s` passes or `cancel` is set."""
        if self.process is None:
            return CommandResult(None, "", "", 0.0, error=self.error)
        deadline = self.started + timeout_s
        timed_out = False
        try:
            while self.process.poll() is None:
                if cancel is not None and cancel.is_set():
                    self.stop()
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    self.stop()
                    break
                try:
                    self.process.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            self.stop()
            raise
        return self._result(timed_out)

    def stop(self) -> CommandResult:
        """Kill the child (and its group) now, and return what it printed so far."""
        if self.process is None:
            return CommandResult(None, "", "", 0.0, error=self.error)
        if self.process.poll() is None:
            _kill_group(self.process, self.token)
        return self._result(False)

    def _cleanup(self) -> None:
        if self._neutral is not None:
            self._neutral.cleanup()
            self._neutral = None

    def _result(self, timed_out: bool) -> CommandResult:
        assert self.process is not None
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stuck in the kernel even after SIGKILL
            pass
        _kill_descendants(self.token)  # nothing it started outlives it
        for reader in self._readers:
            reader.join(timeout=2)
        if any(reader.is_alive() for reader in self._readers):
            _close_pipes(self.process)  # a descendant that escaped still holds the pipe: stop reading it
        with _running_lock:
            _running.pop(self.process, None)
        self._cleanup()
        return CommandResult(
            self.process.returncode, "".join(self._lines), "".join(self._stderr),
            time.monotonic() - self.started, timed_out=timed_out,
        )


def _kill_group(process: subprocess.Popen, token: str | None = None) -> None:
    try:
        if sys.platform == "win32":
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    if token is not None:
        _kill_descendants(token)


def _close_pipes(process: subprocess.Popen) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass


def tail(text: str, lines: int = 20, chars: int = 4000) -> str:
    """The last few lines of a child's output: where tracebacks and fatal errors are."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    return clean(kept[-chars:])
