"""Probing: the snapshot a command works on, live, recorded or of the project's files alone, and the GEMM test on it.

The faces call these and never the probes: what can go wrong that is the user's to correct (an unusable `--python`,
a fleet results file that cannot be read) comes back as CannotProbe, one line for the face to print.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torchdoctor.snapshot import BenchInfo, Snapshot


class CannotProbe(Exception):
    """What to probe cannot be probed as asked: said in one line."""


def probe(project_dir: Path, python: str | None, *, timeout_s: float, fresh: bool = False, quick: bool = False,
          on_part: Callable[[str, Any], None] | None = None, first_verdict: bool = False,
          offline: bool = True) -> Snapshot:
    """This machine and the project, probed now (probes/collect.py); `on_part` hears each part as it is ready, and with
    `first_verdict` a provisional snapshot read from torch's files while `import torch` still runs. `offline`: no
    package index is asked, now or when the project is read again for a fix (it is the project's `offline`)."""
    from torchdoctor.probes.collect import take_snapshot
    from torchdoctor.probes.interpreter import InterpreterNotFound

    def heard(name: str, value: Any) -> None:
        if name == "project":
            _warm_fix_parse(value)
        if on_part is not None:
            on_part(name, value)

    try:
        return take_snapshot(project_dir, python, torch_timeout_s=timeout_s, fresh=fresh, on_part=heard, quick=quick,
                             first_verdict=first_verdict, offline=offline)
    except InterpreterNotFound as error:
        raise CannotProbe(str(error)) from None


def _warm_fix_parse(project: Any) -> None:
    """The report proves every fix it offers (workflow/proof.py), which needs pyproject.toml parsed by tomlkit: tens of
    milliseconds for a large file. Begun here, in its own thread, as soon as the project is read, it overlaps the torch
    probe's subprocess (a second or more), or uv's check of the lock where the machine is not probed, instead of adding
    to the report's time."""
    pyproject = getattr(project, "pyproject", None)
    if pyproject is None:
        return

    def parse() -> None:
        try:  # a warm-up only: the proof parses the file itself if this did not (tomlkit missing included)
            from torchdoctor.fixes.transforms import warm
            from torchdoctor.probes.reading import read_regular_file

            warm(read_regular_file(Path(pyproject.path), 16 << 20).decode("utf-8"))
        except Exception:
            pass

    threading.Thread(target=parse, name="torchdoctor-warm-fixes", daemon=True).start()


def recording_text(path: Path, limit: int = 64 << 20) -> str:
    """A recorded snapshot's text: a regular file of at most `limit` bytes (`--snapshot /dev/zero` read until memory
    ran out, issue 25 item 8), as UTF-8. Raises CannotProbe with the reason."""
    from torchdoctor.probes.reading import FileProblem, read_regular_file

    try:
        return read_regular_file(path, limit).decode("utf-8")
    except FileProblem as problem:
        raise CannotProbe(problem.error.message.removeprefix("cannot read it: ")) from None
    except UnicodeDecodeError as error:
        raise CannotProbe(f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def read_recording(path: Path) -> Snapshot:
    """A recorded snapshot named by the user (`--snapshot FILE`). Raises CannotProbe with the whole reason in one
    line: "cannot read snapshot F: …" when the file cannot be read, "cannot use snapshot F: …" when it is no snapshot."""
    from torchdoctor.snapshot import SnapshotError

    try:
        text = recording_text(path.expanduser())
    except CannotProbe as error:
        raise CannotProbe(f"cannot read snapshot {path}: {error}") from None
    try:
        return Snapshot.from_json(text)
    except SnapshotError as error:
        raise CannotProbe(f"cannot use snapshot {path}: {error}") from None


def with_project(snapshot: Snapshot, project_dir: Path, offline: bool = True) -> Snapshot:
    """A recorded machine with the project's files read anew from `project_dir` (never a path the recording names)."""
    from torchdoctor.probes.collect import with_project as read_with

    return read_with(snapshot, project_dir, on_read=_warm_fix_parse, offline=offline)


def project_only(project_dir: Path, offline: bool = True) -> Snapshot:
    """`check --no-machine`: the project's files, nothing of the machine probed."""
    from torchdoctor.probes.collect import project_only_snapshot

    return project_only_snapshot(project_dir, on_read=_warm_fix_parse, offline=offline)


def demo(scratch: Path, offline: bool = True) -> tuple[Snapshot, Path]:
    """The bundled demo: its recorded machine and its project, copied into `scratch` (every key may be pressed)."""
    from torchdoctor.demo import demo_snapshot, prepare_demo_project

    project_dir = prepare_demo_project(scratch)
    return with_project(demo_snapshot(), project_dir, offline), project_dir


@dataclass(frozen=True)
class BenchStep:
    """One thing the running GEMM test said, typed once here for every face (the probe streams JSON records)."""

    kind: str
    """"start", "ready" (CUDA is up, measuring begins), "progress" (a dtype's phase), "result" (a dtype measured),
    "done", or what else the probe said."""
    dtype: str = ""
    phase: str = ""
    """"warm-up", "measure", "copy"."""
    tflops: float | None = None
    """A result's median TFLOP/s."""

    PHASES = {"start": "CUDA starting", "ready": "measuring", "done": "done"}

    @classmethod
    def of(cls, record: dict[str, Any]) -> BenchStep | None:
        """The step a record says, or None for one that is not about progress (a failure ends the test itself)."""
        event = record.get("event")
        dtype = record.get("dtype")
        dtype = dtype if isinstance(dtype, str) else ""
        if event == "progress":
            phase = record.get("phase")
            return cls("progress", dtype, phase if isinstance(phase, str) else "")
        if event == "gemm":
            median = record.get("median")
            return cls("result", dtype, tflops=float(median)) if isinstance(median, (int, float)) else None
        if isinstance(event, str) and event != "failed":
            return cls(event)
        return None

    @property
    def said(self) -> str:
        """The step in a few words: "bf16 measure", "bf16 612.3 TFLOP/s", "measuring"."""
        if self.kind == "progress":
            return f"{self.dtype} {self.phase}".strip()
        if self.kind == "result" and self.tflops is not None:
            return f"{self.dtype:<5} {self.tflops:.1f} TFLOP/s"
        return self.PHASES.get(self.kind, self.kind)


def with_bench(snapshot: Snapshot, seconds: float, device: int = 0,
               on_step: Callable[[BenchStep], None] | None = None) -> Snapshot:
    """The snapshot with the GEMM test's results, measured in the snapshot's interpreter."""
    return replace(snapshot, bench=bench(snapshot.interpreter.path, seconds, device, on_step))


BENCH_SECONDS = 1.5
"""The GEMM test's default measurement time (probes/gemm.py's DEFAULT_SECONDS, held to it by a test)."""


def bench(python: str, seconds: float = BENCH_SECONDS, device: int = 0,
          on_step: Callable[[BenchStep], None] | None = None, cancel: threading.Event | None = None) -> BenchInfo:
    """The GEMM test in `python`, its steps streamed to `on_step` (from a reader thread); `cancel` stops it."""
    from torchdoctor.probes.gemm import run_bench

    def said(record: dict[str, Any]) -> None:
        step = BenchStep.of(record)
        if step is not None and on_step is not None:
            on_step(step)

    return run_bench(python, seconds=seconds, device=device, on_event=said if on_step else None, cancel=cancel)
