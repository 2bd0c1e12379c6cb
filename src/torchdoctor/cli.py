"""Command line: argv to the TUI or a headless report. Exit codes live in one IntEnum.

stdout carries only the report, so `torchdoctor check --format json | jq` always works; everything
meant for a person (errors, notes) goes to stderr. Exit codes: 0 healthy, 1 findings, 2 could not run.
Every failure, a user's or torchdoctor's own, is caught in `main` and becomes one line on stderr and
exit code 2, never a traceback (`--debug` shows it).
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from torchdoctor import __version__

if TYPE_CHECKING:
    from torchdoctor.model import Report


class ExitCode(enum.IntEnum):
    CLEAN = 0
    """Nothing at or above --fail-on."""
    FINDINGS = 1
    """At least one diagnosis at or above --fail-on."""
    USAGE = 2
    """Could not run: bad arguments, an input named on the command line that cannot be used, or an internal error."""
    INTERRUPTED = 130


class UsageError(Exception):
    """A problem with what the user asked for; the message is printed as one line."""


def _version() -> str:
    """`torchdoctor 0.1.0 (Python 3.12.3, /path/to/torchdoctor)`: what a bug report needs to know of the tool."""
    import platform

    return f"torchdoctor {__version__} (Python {platform.python_version()}, {Path(__file__).resolve().parent})"


class _Parser(argparse.ArgumentParser):
    """Subcommands take no abbreviated options either (`--fail` is not `--fail-on`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchdoctor", allow_abbrev=False,
        description="A doctor for PyTorch environments: checks the driver, CUDA, the torch build and your uv project.",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser("check", help="probe this machine and the project, and report what is wrong")
    check.add_argument("--project", metavar="DIR", help="the project directory (default: the current one)")
    check.add_argument("--python", metavar="PATH", help="the project's interpreter, or its environment folder")
    check.add_argument("--format", choices=("text", "json", "markdown", "github", "sarif"), default="text",
                       help="text (default), json, markdown (for a bug report), github (workflow annotations), sarif")
    check.add_argument(
        "--fail-on", choices=("info", "warning", "error"), default=None,
        help="exit 1 if a finding is at least this severe (default: [tool.torchdoctor] fail-on, else error)",
    )
    check.add_argument("--select", metavar="CODES", action="append", default=[],
                       help="report only these codes or prefixes, comma-separated (TD3,TD401); replaces the project's select")
    check.add_argument("--ignore", metavar="CODES", action="append", default=[],
                       help="never report these codes or prefixes, comma-separated; adds to the project's ignore")
    verbosity = check.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="text: one line per finding and the summary, without the facts and the evidence")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="text: the evidence under each finding (the facts it rests on, and where each was read)")
    check.add_argument("--no-machine", action="store_true",
                       help="check the project files only (pyproject.toml, uv.lock, requirements, Dockerfiles): "
                            "probe nothing, as a lint step in CI or pre-commit")
    check.add_argument("--quick", action="store_true",
                       help="read torch's build from its files instead of importing it: a verdict in a fraction of a "
                            "second, without CUDA availability, devices or import warnings")
    check.add_argument("--save-snapshot", metavar="FILE", help="also write the probed facts to FILE (JSON)")
    check.add_argument("--snapshot", metavar="FILE", help="diagnose a recorded snapshot instead of this machine")
    check.add_argument(
        "--timeout", metavar="SECONDS", type=float, default=60.0,
        help="how long `import torch` and CUDA initialisation may take (default: 60)",
    )
    check.add_argument(
        "--fresh", action="store_true",
        help="import torch again even if nothing changed since the last check (ignore the probe cache)",
    )
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text report")
    check.add_argument("--bench", action="store_true", help="also run the GEMM throughput test (about 1.5 s after CUDA starts)")
    check.add_argument(
        "--offline", action="store_true",
        help="read no package index over the network (a nightly index's Python support then comes from the cache)",
    )
    check.add_argument("--seconds", type=float, default=1.5, help=argparse.SUPPRESS)

    bench = commands.add_parser(
        "bench", help="measure the GPU's matrix-multiply rate and host copies, and explain a slow or wrong result",
    )
    bench.add_argument("--project", metavar="DIR", help="the project directory (default: the current one)")
    bench.add_argument("--python", metavar="PATH", help="the project's interpreter, or its environment folder")
    bench.add_argument(
        "--seconds", metavar="S", type=float, default=1.5,
        help="measurement time after CUDA is initialised, all dtypes and copies together (default: 1.5)",
    )
    bench.add_argument("--device", metavar="N", type=int, default=0, help="the CUDA device to test (default: 0)")
    bench.add_argument("--format", choices=("text", "json"), default="text")
    bench.add_argument(
        "--fail-on", choices=("info", "warning", "error"), default=None,
        help="exit 1 if a finding is at least this severe (default: error)",
    )
    bench.add_argument("--save-snapshot", metavar="FILE", help="also write the facts and the results to FILE (JSON)")
    bench.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    bench.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    bench.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)

    fleet = commands.add_parser(
        "fleet", help="run one process per GPU under torchrun and compare the ranks: builds, drivers, variables, "
                      "GEMM rate, collectives",
    )
    fleet.add_argument("--project", metavar="DIR", help="the project directory (default: the current one)")
    fleet.add_argument("--python", metavar="PATH", help="the project's interpreter, or its environment folder")
    fleet.add_argument("--nproc-per-node", metavar="N", type=int,
                       help="ranks on this machine (default: one per NVIDIA GPU; on a CPU-only machine give N for gloo)")
    fleet.add_argument("--nnodes", metavar="N", type=int, default=1,
                       help="with more than 1: print the torchrun command to run on each node, run nothing")
    fleet.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="the rendezvous address for --nnodes (a node's address)")
    fleet.add_argument("--results", metavar="FILE", help="report on the results file a multi-node run wrote")
    fleet.add_argument("--snapshot", metavar="FILE", help="report on a recorded fleet snapshot (--save-snapshot)")
    fleet.add_argument("--timeout", metavar="S", type=float, default=120.0,
                       help="how long each phase waits for a rank before it is reported missing (default: 120)")
    fleet.add_argument("--gemm-seconds", metavar="S", type=float, default=2.0, help="GEMM test time per rank (default: 2)")
    fleet.add_argument("--max-bytes", metavar="B", type=int,
                       help="largest collective size (default: 1 GiB on GPUs, 16 MiB on the CPU)")
    fleet.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    fleet.add_argument("-v", "--verbose", action="store_true", help="the evidence under each finding, and the P2P matrices")
    fleet.add_argument("--fail-on", choices=("info", "warning", "error"), default=None,
                       help="exit 1 if a finding is at least this severe (default: error)")
    fleet.add_argument("--save-snapshot", metavar="FILE", help="also write the results to FILE (JSON, replays with --snapshot)")
    fleet.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    fix = commands.add_parser("fix", help="apply the fixes the report offers to pyproject.toml (shows the diff first)")
    fix.add_argument("codes", nargs="*", metavar="CODE", help="only the fixes of these diagnoses (e.g. TD304)")
    fix.add_argument("--all", action="store_true", help="every safe fix the report offers")
    fix.add_argument("--project", metavar="DIR")
    fix.add_argument("--python", metavar="PATH")
    fix.add_argument("--snapshot", metavar="FILE", help="choose fixes for a recorded machine (the project is read from --project)")
    fix.add_argument("--dry-run", action="store_true", help="print the unified diff and write nothing")
    fix.add_argument("--yes", action="store_true", help="write without asking")
    fix.add_argument("--unsafe", action="store_true", help="include fixes that change what the project promises")
    fix.add_argument("--lock", action="store_true", help="(the default when uv is installed) run `uv lock` after writing")
    fix.add_argument("--no-lock", action="store_true", help="write pyproject.toml only: no `uv lock`, no `uv sync`")
    fix.add_argument("--no-sync", action="store_true", help="write and run `uv lock`, but not `uv sync`")
    fix.add_argument("--verify", action="store_true",
                     help="before writing, lock and sync the fixed project in a scratch folder and run a torch smoke test "
                          "there (downloads the wheels); write only if it passes")
    fix.add_argument("--alternative", type=int, metavar="N", help="apply the diagnosis' alternative fix N instead of its main fix")
    fix.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    fix.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)

    undo = commands.add_parser("undo", help="restore pyproject.toml as it was before torchdoctor's last fix")
    undo.add_argument("--project", metavar="DIR")

    archs = commands.add_parser("archs", help="list the GPU architectures (SASS and PTX) compiled into libraries")
    archs.add_argument("targets", nargs="*", metavar="PATH|PACKAGE",
                       help="a library, a folder, or an installed package (default: torch and every package that builds "
                            "against it, in the project's environment)")
    archs.add_argument("--project", metavar="DIR")
    archs.add_argument("--python", metavar="PATH", help="the environment to look in (as for check)")
    archs.add_argument("--format", choices=("text", "json"), default="text")

    rules = commands.add_parser("rules", help="list every check torchdoctor runs")
    rules.add_argument("--format", choices=("text", "markdown"), default="text")
    return parser


def build_tui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="torchdoctor", add_help=False)
    parser.add_argument("--project", metavar="DIR")
    parser.add_argument("--python", metavar="PATH")
    parser.add_argument("--snapshot", metavar="FILE")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before a command's own guard (reading the line, importing what it needs)
        print("torchdoctor: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    global DEBUG
    DEBUG = "--debug" in argv  # anywhere on the line: shows the traceback of an internal error
    argv = [a for a in argv if a != "--debug"]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        # A bare `torchdoctor [--project DIR] [--python PATH] [--snapshot FILE] [--demo]` opens the TUI in a
        # terminal; anywhere else (a pipe, CI), or with options only `check` knows, it is `torchdoctor check`.
        tui_args, unknown = build_tui_parser().parse_known_args(argv)
        if not unknown and sys.stdout.isatty() and sys.stdin.isatty():
            return run_guarded(lambda: command_tui(tui_args))
        if tui_args.demo:
            argv = [a for a in argv if a != "--demo"]
            return run_guarded(lambda: command_demo_report(argv))
        argv = ["check", *argv]
    args = build_parser().parse_args(argv)

    def dispatch() -> int:
        if args.command == "rules":
            return command_rules(args)
        if args.command == "fix":
            return command_fix(args)
        if args.command == "undo":
            return command_undo(args)
        if args.command == "bench":
            return command_bench(args)
        if args.command == "archs":
            return command_archs(args)
        if args.command == "fleet":
            return command_fleet(args)
        return command_check(args)

    return run_guarded(dispatch)


DEBUG = False
REPORT_BUGS = "please report it with the output of the same command and --debug"


def run_guarded(command) -> int:
    """Run a command; a user's mistake is one line and exit 2, Ctrl-C is 130, never a traceback. A bug of
    torchdoctor's own is one line too (exit 2: it could not run), with the traceback under --debug."""
    from torchdoctor.probes.runner import stop_all_children

    try:
        return command()
    except UsageError as error:
        print(f"torchdoctor: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        stop_all_children(for_good=True)
        print("torchdoctor: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except MemoryError:
        stop_all_children(for_good=True)
        print("torchdoctor: ran out of memory; " + REPORT_BUGS, file=sys.stderr)
        return ExitCode.USAGE
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        stop_all_children(for_good=True)
        if DEBUG:
            import traceback

            traceback.print_exc()
        summary = f"{type(error).__name__}: {error}".splitlines()[0][:300] if str(error) else type(error).__name__
        print(f"torchdoctor: internal error ({summary}); this is a bug in torchdoctor, {REPORT_BUGS}",
              file=sys.stderr)
        return ExitCode.USAGE
    except BrokenPipeError:
        # `torchdoctor check | head`: the reader left; stay quiet like other Unix tools.
        sys.stderr.close()
        return ExitCode.CLEAN


def command_tui(args: argparse.Namespace) -> int:
    """The Textual app. Imported here: Textual costs ~0.2 s to import and the headless commands never need it."""
    import tempfile

    recorded = None
    label = None
    if args.demo:
        from torchdoctor.demo import demo_snapshot, prepare_demo_project

        if args.project or args.snapshot or args.python:
            raise UsageError("--demo opens its own example; it takes no --project, --python or --snapshot")
        workdir = Path(tempfile.mkdtemp(prefix="torchdoctor-demo-"))
        project_dir = prepare_demo_project(workdir)
        recorded = demo_snapshot()
        label = f"demo: RTX 5060 Ti under WSL2, the nightly project (a copy in {project_dir})"
    else:
        project_dir = project_directory(args)
        if args.snapshot:
            if args.python:
                raise UsageError("--python cannot be combined with --snapshot (the recorded interpreter is used)")
            recorded = read_snapshot_file(args.snapshot)
            label = f"{project_dir} on the machine recorded in {args.snapshot}"
    from torchdoctor.tui.app import TorchDoctorApp

    app = TorchDoctorApp(project_dir, python=args.python, recorded=recorded, label=label, torch_timeout_s=args.timeout)
    try:
        app.run()
    finally:
        if args.demo:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)  # the demo's scratch copy goes with the app
    return ExitCode.CLEAN


def command_demo_report(argv: list[str]) -> int:
    """`torchdoctor --demo` outside a terminal: the demo's report, with check's --format and --fail-on."""
    import tempfile

    from torchdoctor.demo import demo_snapshot, prepare_demo_project
    from torchdoctor.probes.collect import with_project
    from torchdoctor.workflow import diagnose, fail_on

    args = build_parser().parse_args(["check", *argv])
    if args.project or args.snapshot or args.python or args.no_machine or args.bench:
        raise UsageError("--demo opens its own example; it takes no --project, --python, --snapshot, --no-machine or --bench")
    with tempfile.TemporaryDirectory(prefix="torchdoctor-demo-") as scratch:
        snapshot = with_project(demo_snapshot(), prepare_demo_project(Path(scratch)))
        report = diagnose(snapshot)
        sys.stdout.write(render(report, args.format, use_color(args.color), verbose=args.verbose))
    threshold = fail_on(snapshot, args.fail_on)
    return ExitCode.FINDINGS if any(d.severity >= threshold for d in report.diagnoses) else ExitCode.CLEAN


def project_directory(args: argparse.Namespace) -> Path:
    project_dir = Path(args.project).expanduser() if args.project else Path.cwd()
    if args.project and project_dir.is_file():
        if project_dir.name == "pyproject.toml":
            return project_dir.parent  # a project named by its file, as uv's --project takes it too
        raise UsageError(f"--project {args.project}: a file; give the folder that holds pyproject.toml")
    if args.project and not project_dir.is_dir():
        raise UsageError(f"--project {args.project}: no such folder")
    return project_dir


def load_snapshot(args: argparse.Namespace, project_dir: Path):
    """The snapshot a command works on: recorded (--snapshot) or probed now."""
    from torchdoctor.probes.collect import take_snapshot, with_project
    from torchdoctor.probes.interpreter import InterpreterNotFound

    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")

    if args.snapshot:
        if args.python:
            raise UsageError("--python cannot be combined with --snapshot (the recorded interpreter is used)")
        snapshot = read_snapshot_file(args.snapshot)
        if args.project:
            snapshot = with_project(snapshot, project_dir)
        return snapshot
    progress = Progress() if sys.stderr.isatty() else None
    try:
        return take_snapshot(project_dir, args.python, torch_timeout_s=args.timeout, fresh=args.fresh,
                             on_part=progress.part if progress else None, quick=getattr(args, "quick", False))
    except InterpreterNotFound as error:
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
        import threading
        import time

        self.started = time.monotonic()
        self.done: set[str] = set()
        self.python = ""
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def part(self, name: str, value) -> None:
        if name == "interpreter":
            self.python = getattr(value, "path", "")
        self.done.add(name)

    def _run(self) -> None:
        import time

        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        if self._stop.wait(self.DELAY_S):
            return
        while not self._stop.is_set():
            waiting = [label for name, label in self.PARTS.items() if name not in self.done]
            elapsed = time.monotonic() - self.started
            what = ", ".join(waiting) + (f" in {self.python}" if "torch" not in self.done and self.python else "")
            sys.stderr.write(f"\r\x1b[K{frames[int(elapsed * 10) % len(frames)]} torchdoctor: waiting for {what} "
                             f"({elapsed:.1f} s)")
            sys.stderr.flush()
            self._shown = True
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def read_snapshot_file(name: str):
    """A recorded snapshot named on the command line; anything unusable is a one-line usage error."""
    from torchdoctor.snapshot import Snapshot, SnapshotError

    try:
        text = Path(name).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"cannot read snapshot {name}: {reason}") from None
    try:
        return Snapshot.from_json(text)
    except SnapshotError as error:
        raise UsageError(f"cannot use snapshot {name}: {error}") from None


def check_bench_seconds(seconds: float) -> None:
    if not 0.2 <= seconds <= 60:
        raise UsageError("--seconds must be between 0.2 and 60")


def command_check(args: argparse.Namespace) -> int:

    from torchdoctor.workflow import diagnose, fail_on, selection_for

    if args.offline:
        os.environ["TORCHDOCTOR_OFFLINE"] = "1"
    if args.no_machine:
        if args.snapshot or args.bench or args.python:
            raise UsageError("--no-machine checks the project files only; it takes no --snapshot, --bench or --python")
        from torchdoctor.probes.collect import project_only_snapshot

        snapshot = project_only_snapshot(project_directory(args))
    else:
        snapshot = load_snapshot(args, project_directory(args))
    if args.bench:
        if args.snapshot:
            raise UsageError("--bench runs on this machine; it cannot be combined with --snapshot")
        snapshot = with_bench(snapshot, args.seconds)
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")

    report = diagnose(snapshot, selection_for(snapshot, _codes(args.select), _codes(args.ignore)))
    if args.quiet and args.format == "text":
        from torchdoctor.render.text import render_quiet

        sys.stdout.write(render_quiet(report, color=use_color(args.color)))
    else:
        sys.stdout.write(render(report, args.format, use_color(args.color), verbose=args.verbose))
    sys.stdout.flush()
    threshold = fail_on(snapshot, args.fail_on)
    failing = any(d.severity >= threshold for d in report.diagnoses)
    return ExitCode.FINDINGS if failing else ExitCode.CLEAN


def _codes(values: list[str]) -> list[str]:
    """--select TD3,TD401 --select TD5 -> [TD3, TD401, TD5]; anything that cannot be a code is a usage error."""
    import re

    codes = [code.strip().upper() for value in values for code in value.split(",") if code.strip()]
    wrong = [code for code in codes if not re.match(r"^TD\d{0,3}$", code)]
    if wrong:
        raise UsageError(f"{', '.join(wrong)} is not a code or prefix (TD, TD3, TD301; `torchdoctor rules` lists them)")
    return codes


def with_bench(snapshot, seconds: float, device: int = 0):
    """The snapshot with the GEMM test's results; progress goes to stderr when a person watches it."""
    from dataclasses import replace

    from torchdoctor.probes.gemm import run_bench

    check_bench_seconds(seconds)
    if device < 0:
        raise UsageError("--device must be 0 or more")
    progress = BenchProgress() if sys.stderr.isatty() else None
    info = run_bench(
        snapshot.interpreter.path, seconds=seconds, device=device,
        on_event=progress.update if progress else None,
    )
    if progress:
        progress.finish()
    return replace(snapshot, bench=info)


class BenchProgress:
    """One self-rewriting status line on stderr while the GEMM test runs."""

    PHASES = {"start": "CUDA starting", "ready": "measuring", "done": "done"}

    def update(self, record: dict) -> None:
        event = record.get("event")
        if event == "progress":
            text = f"{record.get('dtype') or ''} {record.get('phase')}".strip()
        elif event == "gemm" and record.get("median") is not None:
            text = f"{record['dtype']} {record['median']:.1f} TFLOP/s"
        else:
            text = self.PHASES.get(str(event), str(event))
        sys.stderr.write(f"\r\x1b[Ktorchdoctor: GEMM test: {text}")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def command_bench(args: argparse.Namespace) -> int:
    """`torchdoctor bench`: the GEMM test, its results in context, and the findings it supports."""
    from torchdoctor.probes.collect import take_snapshot
    from torchdoctor.probes.interpreter import InterpreterNotFound
    from torchdoctor.workflow import diagnose, fail_on

    check_bench_seconds(args.seconds)  # before probing: a typo should not cost an `import torch`
    try:
        snapshot = take_snapshot(project_directory(args), args.python, torch_timeout_s=args.timeout, fresh=args.fresh)
    except InterpreterNotFound as error:
        raise UsageError(str(error)) from None
    if snapshot.torch.status == "not-installed":
        raise UsageError(f"torch is not installed in {snapshot.interpreter.path}; there is nothing to measure")
    snapshot = with_bench(snapshot, args.seconds, args.device)
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")
    report = diagnose(snapshot)
    if args.format == "json":
        sys.stdout.write(render(report, "json"))
    else:
        from torchdoctor.render.bench import render_bench

        sys.stdout.write(render_bench(report, color=use_color(args.color)))
    sys.stdout.flush()
    threshold = fail_on(snapshot, args.fail_on)
    failing = any(d.severity >= threshold for d in report.diagnoses if d.code.startswith("TD6"))
    return ExitCode.FINDINGS if failing else ExitCode.CLEAN


def render(report: Report, fmt: str, color: bool = False, verbose: bool = False) -> str:
    if fmt in ("github", "sarif"):
        from torchdoctor.render.ci import render_github, render_sarif

        return render_github(report) if fmt == "github" else render_sarif(report)
    if fmt == "json":
        from torchdoctor.render.json_report import render_json

        return render_json(report)
    if fmt == "markdown":
        from torchdoctor.render.markdown import render_markdown

        return render_markdown(report)
    from torchdoctor.render.text import render_text

    return render_text(report, color=color, verbose=verbose)


def use_color(choice: str, stream=None) -> bool:
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
    from torchdoctor.files import atomic_write

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def command_fix(args: argparse.Namespace) -> int:
    """`torchdoctor fix`: the workflow's choose, preview (proof), write and re-check steps, said on stderr; the diff
    on stdout."""
    from torchdoctor.checks import RULES
    from torchdoctor.fixes import FixError
    from torchdoctor.probes.collect import with_project
    from torchdoctor.workflow import CannotFix, choose_fixes, fix_diagnoses, preview_fixes

    if not args.codes and not args.all:
        raise UsageError("name the diagnoses to fix (e.g. `torchdoctor fix TD304`) or pass --all")
    codes = {c.upper() for c in args.codes}
    unknown = sorted(codes - set(RULES))
    if unknown:
        raise UsageError(f"no such diagnosis: {', '.join(unknown)} (`torchdoctor rules` lists them)")
    if args.alternative is not None and len(codes) != 1:
        raise UsageError("--alternative needs exactly one diagnosis code")
    project_dir = project_directory(args)
    snapshot = load_snapshot(args, project_dir)
    if args.snapshot and not args.project:
        # A recorded snapshot names the project it was taken in; a fix edits only the project here (the current
        # directory or --project), never a path read from a file someone handed over.
        snapshot = with_project(snapshot, project_dir)
    if snapshot.project.pyproject is None:
        raise UsageError(f"no usable pyproject.toml in {snapshot.project.root}")
    diagnoses = fix_diagnoses(snapshot)
    if args.alternative is not None:
        diagnoses = tuple(choose_alternative(diagnoses, codes, args.alternative))
    choice = choose_fixes(diagnoses, codes, unsafe=args.unsafe)
    for diagnosis in choice.needs_unsafe:
        print(f"skipped (unsafe, pass --unsafe): {diagnosis.code} {fix_title(diagnosis)}", file=sys.stderr)
    said: set[tuple[str, tuple[str, ...]]] = set()
    for diagnosis in choice.outside:
        commands = diagnosis.fix.commands if diagnosis.fix else ()
        if (diagnosis.code, commands) in said:
            continue  # one finding per extra, one cure: said once
        said.add((diagnosis.code, commands))
        print(f"{diagnosis.code} is fixed outside pyproject.toml; run it yourself:", file=sys.stderr)
        for command in commands:
            print(f"    {command}", file=sys.stderr)
    if not choice.chosen:
        # A fix was asked for and none can be written: say which findings stay, and exit 1 while they do.
        named = [d for d in diagnoses if d.code in codes] if codes else list(choice.needs_unsafe)
        if codes and not named:
            print(f"torchdoctor: {', '.join(sorted(codes))} not reported here: nothing to fix", file=sys.stderr)
            return ExitCode.CLEAN
        print("torchdoctor: no pyproject.toml fix to apply" + (
            f"; still reported: {', '.join(sorted({d.code for d in named}))}" if named else ""), file=sys.stderr)
        return ExitCode.FINDINGS if named else ExitCode.CLEAN
    try:
        preview = preview_fixes(snapshot, choice.chosen, follow=True, codes=codes, unsafe=args.unsafe)
    except CannotFix as error:
        raise UsageError(str(error)) from None
    for diagnosis in preview.applied:
        print(f"{diagnosis.code}: {fix_title(diagnosis)}", file=sys.stderr)
    for diagnosis, proof in preview.refused:
        print(f"not applied, not proven: {diagnosis.code} {fix_title(diagnosis)}", file=sys.stderr)
        for problem in proof.problems:
            print(f"    {problem}", file=sys.stderr)
    diff = preview.diff
    sys.stdout.write(_paint_diff(diff) if use_color("auto") else diff)
    sys.stdout.flush()
    if not diff:
        print("torchdoctor: nothing written: no fix could be proven" if preview.refused else "torchdoctor: nothing to change",
              file=sys.stderr)
        return ExitCode.FINDINGS if preview.refused else ExitCode.CLEAN
    if args.dry_run:
        return ExitCode.FINDINGS if preview.refused else ExitCode.CLEAN
    if args.verify:
        from torchdoctor.fixes.verify import verify_fix

        verification = verify_fix(snapshot, preview.after, on_line=lambda line: print(f"    {line}", file=sys.stderr))
        if not verification.passed:
            print(f"torchdoctor: nothing written: {verification.summary}", file=sys.stderr)
            return ExitCode.FINDINGS
        print(f"verified in a scratch environment: {verification.summary}", file=sys.stderr)
    from torchdoctor.workflow.transaction import Steps, carry_out

    steps = Steps(lock=not args.no_lock, sync=not args.no_sync, offline_too=args.lock)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("nothing written: pass --yes to write without a confirmation")
        then = (" and run `uv lock`" + (" and `uv sync`" if steps.sync else "") + " (uv may run the project's build "
                "backend)") if steps.lock else ""
        answer = input(f"Write these changes to {preview.path}{then}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("torchdoctor: nothing written", file=sys.stderr)
            return ExitCode.CLEAN
    outcome = carry_out(snapshot, preview, steps, say=lambda step, line: print(
        line if step == "write" else f"    {line}" if not line.startswith("running:") else line, file=sys.stderr))
    if outcome.verdict == "not written":
        raise UsageError(outcome.summary)
    if outcome.backup is not None:
        print(f"undo with `torchdoctor undo` (backup in {outcome.backup})", file=sys.stderr)
    print(f"{outcome.verdict}: {outcome.summary}" if outcome.verdict != "put back" else f"torchdoctor: {outcome.summary}",
          file=sys.stderr)
    left = [d.code for d, _ in preview.refused]
    return ExitCode.CLEAN if outcome.ok and not left else ExitCode.FINDINGS


def fix_title(diagnosis) -> str:
    return diagnosis.fix.title if diagnosis.fix is not None else "(no fix)"


def _paint_diff(diff: str) -> str:
    """A unified diff as git colours it: removed lines red, added green, hunk headers cyan."""
    painted = []
    for line in diff.splitlines(keepends=True):
        code = "1" if line.startswith(("+++", "---")) else "31" if line.startswith("-") else "32" if line.startswith("+") \
            else "36" if line.startswith("@@") else None
        painted.append(f"\x1b[{code}m{line.rstrip(chr(10))}\x1b[0m\n" if code else line)
    return "".join(painted)


def choose_alternative(diagnoses, codes: set[str], number: int):
    """The diagnoses with the named one's alternative fix N put in place of its main fix."""
    from dataclasses import replace

    found = False
    for diagnosis in diagnoses:
        if diagnosis.code in codes and diagnosis.alternatives:
            if not 1 <= number <= len(diagnosis.alternatives):
                raise UsageError(f"{diagnosis.code} has {len(diagnosis.alternatives)} alternative fix(es)")
            found = True
            yield replace(diagnosis, fix=diagnosis.alternatives[number - 1])
        else:
            yield diagnosis
    if not found:
        raise UsageError(f"{', '.join(sorted(codes))} offers no alternative fix here")


def command_undo(args: argparse.Namespace) -> int:
    from torchdoctor.fixes import FixError
    from torchdoctor.probes.project import find_project_root
    from torchdoctor.workflow import undo_fix

    root, _ = find_project_root(project_directory(args))
    try:
        backup = undo_fix(root)
    except FixError as error:
        raise UsageError(str(error)) from None
    print(f"restored {root / 'pyproject.toml'} from {backup}", file=sys.stderr)
    return ExitCode.CLEAN


def command_fleet(args: argparse.Namespace) -> int:
    """`torchdoctor fleet`: the ranks of a torchrun job compared with each other (see probes/fleet.py)."""
    from dataclasses import replace

    from torchdoctor.probes.collect import fleet_snapshot
    from torchdoctor.probes.fleet import FleetOptions, FleetResultsError, read_results
    from torchdoctor.workflow import diagnose, fail_on

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
    if args.snapshot:
        snapshot = read_snapshot_file(args.snapshot)
        if snapshot.fleet is None:
            raise UsageError(f"{args.snapshot}: a snapshot without fleet results (save one with `fleet --save-snapshot`)")
    else:
        project_dir = project_directory(args)
        if args.results:
            try:
                fleet = read_results(args.results)
            except FleetResultsError as error:
                raise UsageError(str(error)) from None
            snapshot = fleet_snapshot(project_dir, None, fleet)
        else:
            if args.nnodes > 1 and args.nproc_per_node is None:
                raise UsageError("--nnodes needs --nproc-per-node: the ranks of each node (this machine's GPUs may not "
                                 "be theirs)")
            python = _fleet_interpreter(project_dir, args.python)
            options = FleetOptions(nproc_per_node=args.nproc_per_node or _gpu_count(), timeout_s=args.timeout,
                                   gemm_seconds=args.gemm_seconds, max_bytes=args.max_bytes)
            if args.nnodes > 1:
                return _print_multi_node(python.path, options, args)
            snapshot = fleet_snapshot(project_dir, python, _run_fleet_with_progress(python.path, options))
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")
    report = diagnose(snapshot)
    report = replace(report, diagnoses=tuple(d for d in report.diagnoses if d.code.startswith("TD7")))
    if args.format == "text":
        from torchdoctor.render.fleet import render_fleet

        sys.stdout.write(render_fleet(report, color=use_color(args.color), verbose=args.verbose))
    else:
        sys.stdout.write(render(report, args.format))
    sys.stdout.flush()
    threshold = fail_on(snapshot, args.fail_on)
    return ExitCode.FINDINGS if any(d.severity >= threshold for d in report.diagnoses) else ExitCode.CLEAN


def _fleet_interpreter(project_dir: Path, python: str | None):
    from torchdoctor.probes.interpreter import InterpreterNotFound, choose_interpreter
    from torchdoctor.probes.project import find_project_root

    root, _ = find_project_root(project_dir)
    try:
        return choose_interpreter(root, python)
    except InterpreterNotFound as error:
        raise UsageError(str(error)) from None


def _gpu_count() -> int:
    from torchdoctor.probes.nvml import probe_nvml

    nvml = probe_nvml()
    if nvml.status != "ok" or not nvml.gpus:
        raise UsageError("no NVIDIA GPU found (NVML: " + (nvml.error or nvml.status) + "); give --nproc-per-node N to run "
                         "N ranks on the CPU with gloo")
    return len(nvml.gpus)


def _print_multi_node(python: str, options, args: argparse.Namespace) -> int:
    from importlib import resources

    from torchdoctor.probes.fleet import SCRIPT_NAME, multi_node_instructions

    if not args.rdzv_endpoint:
        raise UsageError("--nnodes needs --rdzv-endpoint HOST:PORT: the address of one node, reachable from the others")
    script = str(resources.files("torchdoctor.probes").joinpath(SCRIPT_NAME))
    sys.stdout.write(multi_node_instructions(python, options, args.nnodes, args.rdzv_endpoint, script, "fleet.json"))
    return ExitCode.CLEAN


def _run_fleet_with_progress(python: str, options):
    """Run the job; on a terminal, one line on stderr says how long it has run."""
    import threading
    import time

    from torchdoctor.probes.fleet import run_fleet

    stop = threading.Event()
    started = time.monotonic()

    def show() -> None:
        while not stop.wait(0.5):
            sys.stderr.write(f"\r\x1b[Ktorchdoctor: fleet: {options.nproc_per_node} rank(s) under torchrun, "
                             f"{time.monotonic() - started:.0f} s")
            sys.stderr.flush()

    shower = threading.Thread(target=show, daemon=True) if sys.stderr.isatty() else None
    if shower:
        shower.start()
    try:
        return run_fleet(python, options)
    finally:
        stop.set()
        if shower:
            shower.join()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def command_archs(args: argparse.Namespace) -> int:
    """`torchdoctor archs`: the SASS and PTX architectures in libraries, read from their fat binary headers."""
    import json
    import zipfile

    from torchdoctor.probes.fatbin import (
        NotABinary,
        environment_gpu_code,
        is_library,
        read_gpu_code,
        read_many,
        wheel_gpu_code,
    )
    from torchdoctor.probes.interpreter import InterpreterNotFound, choose_interpreter
    from torchdoctor.probes.project import find_project_root
    from torchdoctor.snapshot import LibraryCode

    found: list[LibraryCode] = []
    site = None
    if not args.targets or any(not Path(t).exists() for t in args.targets):
        root, _ = find_project_root(project_directory(args))
        try:
            interpreter = choose_interpreter(root, args.python)
        except InterpreterNotFound as error:
            raise UsageError(str(error)) from None
        site = _site_packages(interpreter.path)
        if site is None:
            raise UsageError(f"no site-packages found for {interpreter.path} ({interpreter.reason}); name a library or folder")
    if not args.targets and site is not None:
        found = list(environment_gpu_code(site))
    for target in args.targets:
        path = Path(target)
        if path.is_file() and path.suffix == ".whl":
            try:
                found += [LibraryCode(path.name, member, code.sass, code.ptx, ptx_isa=code.ptx_isa)
                          for member, code in wheel_gpu_code(path)]
            except (OSError, zipfile.BadZipFile) as error:
                raise UsageError(f"{target}: not a readable wheel ({error})") from None
        elif path.is_file():
            try:
                code = read_gpu_code(path)
            except (OSError, NotABinary) as error:
                raise UsageError(f"{target}: {error}") from None
            found.append(LibraryCode(path.name, str(path), code.sass, code.ptx, ptx_isa=code.ptx_isa))
        elif path.is_dir():
            libraries = sorted(p for p in path.rglob("*") if is_library(p.name))
            found += [LibraryCode(path.name, str(code.path), code.sass, code.ptx, ptx_isa=code.ptx_isa)
                      for code in read_many(libraries[:5000])]
        else:
            name = target.lower().replace("_", "-")
            if site is None:
                raise UsageError(f"{target}: not a file, a folder, or an installed package")
            matched = [c for c in environment_gpu_code(site) if c.package == name]
            if not matched:
                from torchdoctor.probes.fatbin import _libraries

                infos = [i for i in site.glob("*.dist-info") if i.name.lower().replace("_", "-").startswith(name + "-")]
                for info in infos:
                    for relative in _libraries(info):
                        try:
                            code = read_gpu_code(site / relative)
                        except (OSError, NotABinary):
                            continue
                        if code.entries:
                            matched.append(LibraryCode(name, relative, code.sass, code.ptx, ptx_isa=code.ptx_isa))
                if not infos:
                    raise UsageError(f"{target}: not a file, a folder, or a package installed in {site}")
            found += matched
    if args.format == "json":
        sys.stdout.write(json.dumps([{"package": c.package, "path": c.path, "sass": list(c.sass), "ptx": list(c.ptx), "ptx_isa": c.ptx_isa}
                                     for c in found], indent=2) + "\n")
    else:
        for library in found:
            isa = f" (PTX ISA {library.ptx_isa})" if library.ptx_isa else ""
            print(f"{library.package}  {library.path}\n    SASS {' '.join(library.sass) or '-'}\n"
                  f"    PTX  {' '.join(library.ptx) or '-'}{isa}")
        if not found:
            print("no GPU code found" + (f" in {site}" if site else ""))
    return ExitCode.CLEAN


def _site_packages(python: str) -> Path | None:
    """The interpreter's own site-packages, as it reports them (run isolated, like every probe)."""
    import json

    from torchdoctor.probes.runner import python_argv, run_command

    result = run_command(python_argv(python, "import json, site\nprint(json.dumps(site.getsitepackages()))"), timeout_s=30)
    try:
        folders = [Path(p) for p in json.loads(result.stdout.strip().splitlines()[-1]) if Path(p).is_dir()]
    except (ValueError, IndexError, TypeError):
        return None
    return next((f for f in folders if f.name == "site-packages"), folders[0] if folders else None)


def command_rules(args: argparse.Namespace) -> int:
    from torchdoctor.checks import RULES
    from torchdoctor.render.rules import render_rules_markdown, render_rules_text

    text = render_rules_markdown(RULES) if args.format == "markdown" else render_rules_text(RULES)
    sys.stdout.write(text)
    return ExitCode.CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
