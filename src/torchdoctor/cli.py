"""Command line: argv to the TUI or a headless report. Exit codes live in one IntEnum.

stdout carries only the report, so `torchdoctor check --format json | jq` always works; everything
meant for a person (errors, notes) goes to stderr. Every failure a user can cause is caught in
`main` and becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
from pathlib import Path

from torchdoctor import __version__
from torchdoctor.model import Report, Severity


class ExitCode(enum.IntEnum):
    CLEAN = 0
    """Nothing at or above --fail-on."""
    FINDINGS = 1
    """At least one diagnosis at or above --fail-on."""
    USAGE = 2
    """Bad arguments, or an input named on the command line that cannot be used."""
    INTERRUPTED = 130


class UsageError(Exception):
    """A problem with what the user asked for; the message is printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchdoctor",
        description="A doctor for PyTorch environments: checks the driver, CUDA, the torch build and your uv project.",
    )
    parser.add_argument("--version", action="version", version=f"torchdoctor {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="probe this machine and the project, and report what is wrong")
    check.add_argument("--project", metavar="DIR", help="the project directory (default: the current one)")
    check.add_argument("--python", metavar="PATH", help="the project's interpreter, or its environment folder")
    check.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    check.add_argument(
        "--fail-on", choices=("info", "warning", "error"), default="error",
        help="exit 1 if a finding is at least this severe (default: error)",
    )
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
        "--fail-on", choices=("info", "warning", "error"), default="error",
        help="exit 1 if a finding is at least this severe (default: error)",
    )
    bench.add_argument("--save-snapshot", metavar="FILE", help="also write the facts and the results to FILE (JSON)")
    bench.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    bench.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    bench.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)

    fix = commands.add_parser("fix", help="apply the fixes the report offers to pyproject.toml (shows the diff first)")
    fix.add_argument("codes", nargs="*", metavar="CODE", help="only the fixes of these diagnoses (e.g. TD304)")
    fix.add_argument("--all", action="store_true", help="every safe fix the report offers")
    fix.add_argument("--project", metavar="DIR")
    fix.add_argument("--python", metavar="PATH")
    fix.add_argument("--snapshot", metavar="FILE", help="choose fixes for a recorded machine (the project is read from --project)")
    fix.add_argument("--dry-run", action="store_true", help="print the unified diff and write nothing")
    fix.add_argument("--yes", action="store_true", help="write without asking")
    fix.add_argument("--unsafe", action="store_true", help="include fixes that change what the project promises")
    fix.add_argument("--lock", action="store_true", help="run `uv lock` after writing")
    fix.add_argument("--alternative", type=int, metavar="N", help="apply the diagnosis' alternative fix N instead of its main fix")
    fix.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    fix.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)

    undo = commands.add_parser("undo", help="restore pyproject.toml as it was before torchdoctor's last fix")
    undo.add_argument("--project", metavar="DIR")

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
    argv = list(sys.argv[1:] if argv is None else argv)
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
        return command_check(args)

    return run_guarded(dispatch)


def run_guarded(command) -> int:
    """Run a command; a user's mistake is one line and exit 2, Ctrl-C is 130, never a traceback."""
    try:
        return command()
    except UsageError as error:
        print(f"torchdoctor: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("torchdoctor: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
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
    app.run()
    return ExitCode.CLEAN


def command_demo_report(argv: list[str]) -> int:
    """`torchdoctor --demo` outside a terminal: the demo's text report."""
    import tempfile

    from torchdoctor.checks import run_checks
    from torchdoctor.demo import demo_snapshot, prepare_demo_project
    from torchdoctor.probes.collect import with_project

    with tempfile.TemporaryDirectory(prefix="torchdoctor-demo-") as scratch:
        snapshot = with_project(demo_snapshot(), prepare_demo_project(Path(scratch)))
        report = Report(snapshot=snapshot, diagnoses=run_checks(snapshot))
    sys.stdout.write(render(report, "text"))
    return ExitCode.CLEAN


def project_directory(args: argparse.Namespace) -> Path:
    project_dir = Path(args.project).expanduser() if args.project else Path.cwd()
    if args.project and not project_dir.is_dir():
        raise UsageError(f"--project {args.project}: no such directory")
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
    try:
        return take_snapshot(project_dir, args.python, torch_timeout_s=args.timeout, fresh=args.fresh)
    except InterpreterNotFound as error:
        raise UsageError(str(error)) from None


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
    from torchdoctor.checks import run_checks

    if args.offline:
        os.environ["TORCHDOCTOR_OFFLINE"] = "1"
    snapshot = load_snapshot(args, project_directory(args))
    if args.bench:
        if args.snapshot:
            raise UsageError("--bench runs on this machine; it cannot be combined with --snapshot")
        snapshot = with_bench(snapshot, args.seconds)
    if args.save_snapshot:
        write_atomically(Path(args.save_snapshot).expanduser(), snapshot.to_json() + "\n")

    report = Report(snapshot=snapshot, diagnoses=run_checks(snapshot))
    sys.stdout.write(render(report, args.format, use_color(args.color)))
    sys.stdout.flush()
    threshold = Severity(args.fail_on)
    failing = any(d.severity >= threshold for d in report.diagnoses)
    return ExitCode.FINDINGS if failing else ExitCode.CLEAN


def with_bench(snapshot, seconds: float, device: int = 0):
    """The snapshot with the GEMM test's results; progress goes to stderr when a person watches it."""
    from dataclasses import replace

    from torchdoctor.probes.gemm import run_bench

    check_bench_seconds(seconds)
    if device < 0:
        raise UsageError("--device must be 0 or more")
    progress = BenchProgress() if sys.stderr.isatty() else None
    info = run_bench(
        snapshot.interpreter.path, cwd=snapshot.project.root, seconds=seconds, device=device,
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
    from torchdoctor.checks import run_checks
    from torchdoctor.probes.collect import take_snapshot
    from torchdoctor.probes.interpreter import InterpreterNotFound

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
    report = Report(snapshot=snapshot, diagnoses=run_checks(snapshot))
    if args.format == "json":
        sys.stdout.write(render(report, "json"))
    else:
        from torchdoctor.render.bench import render_bench

        sys.stdout.write(render_bench(report, color=use_color(args.color)))
    sys.stdout.flush()
    threshold = Severity(args.fail_on)
    failing = any(d.severity >= threshold for d in report.diagnoses if d.code.startswith("TD6"))
    return ExitCode.FINDINGS if failing else ExitCode.CLEAN


def render(report: Report, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        from torchdoctor.render.json_report import render_json

        return render_json(report)
    if fmt == "markdown":
        from torchdoctor.render.markdown import render_markdown

        return render_markdown(report)
    from torchdoctor.render.text import render_text

    return render_text(report, color=color)


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


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
    from torchdoctor.checks import run_checks
    from torchdoctor.fixes import FixError, fixable, unified_diff
    from torchdoctor.fixes.proof import plan_fixes
    from torchdoctor.fixes.writer import write_fixed
    from torchdoctor.probes.collect import with_project

    if not args.codes and not args.all:
        raise UsageError("name the diagnoses to fix (e.g. `torchdoctor fix TD304`) or pass --all")
    project_dir = project_directory(args)
    snapshot = load_snapshot(args, project_dir)
    if args.snapshot and not args.project:
        # A recorded snapshot names the project it was taken in; a fix edits only the project here (the current
        # directory or --project), never a path read from a file someone handed over.
        snapshot = with_project(snapshot, project_dir)
    pyproject = snapshot.project.pyproject
    if pyproject is None:
        raise UsageError(f"no usable pyproject.toml in {snapshot.project.root}")
    path = Path(pyproject.path)
    diagnoses = run_checks(snapshot)
    codes = {c.upper() for c in args.codes}
    if args.alternative is not None:
        if len(codes) != 1:
            raise UsageError("--alternative needs exactly one diagnosis code")
        diagnoses = tuple(choose_alternative(diagnoses, codes, args.alternative))
    chosen = fixable(diagnoses, codes or None, unsafe=args.unsafe)
    skipped = [d for d in fixable(diagnoses, codes or None, unsafe=True) if d not in chosen]
    for diagnosis in skipped:
        print(f"skipped (unsafe, pass --unsafe): {diagnosis.code} {diagnosis.fix.title}", file=sys.stderr)
    for diagnosis in diagnoses:
        if diagnosis.fix is not None and diagnosis.fix.commands and (not codes or diagnosis.code in codes):
            print(f"{diagnosis.code} is fixed outside pyproject.toml; run it yourself:", file=sys.stderr)
            for command in diagnosis.fix.commands:
                print(f"    {command}", file=sys.stderr)
    if not chosen:
        print("torchdoctor: no pyproject.toml fix to apply", file=sys.stderr)
        return ExitCode.CLEAN
    try:
        original = path.read_bytes()
        before = original.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot fix {path}: {error}") from None
    plan = plan_fixes(snapshot, before, chosen,
                      lambda fixed: fixable(run_checks(fixed), codes or None, unsafe=args.unsafe))
    for diagnosis in plan.applied:
        print(f"{diagnosis.code}: {diagnosis.fix.title}", file=sys.stderr)
    for diagnosis, proof in plan.refused:
        print(f"not applied, not proven: {diagnosis.code} {diagnosis.fix.title}", file=sys.stderr)
        for problem in proof.problems:
            print(f"    {problem}", file=sys.stderr)
    after = plan.after
    diff = unified_diff(before, after)
    sys.stdout.write(diff)
    sys.stdout.flush()
    if not diff:
        print("torchdoctor: nothing written: no fix could be proven" if plan.refused else "torchdoctor: nothing to change",
              file=sys.stderr)
        return ExitCode.FINDINGS if plan.refused else ExitCode.CLEAN
    if args.dry_run:
        return ExitCode.FINDINGS if plan.refused else ExitCode.CLEAN
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("nothing written: pass --yes to write without a confirmation")
        answer = input(f"Write these changes to {path}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("torchdoctor: nothing written", file=sys.stderr)
            return ExitCode.CLEAN
    try:
        backup = write_fixed(path, original, after)
    except FixError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {path} (undo with `torchdoctor undo`; backup in {backup})", file=sys.stderr)
    rechecked = run_checks(with_project(snapshot, Path(snapshot.project.root)))
    remaining = sorted({d.code for d in rechecked} & {d.code for d in (*plan.applied, *(d for d, _ in plan.refused))})
    cured = sorted({d.code for d in plan.applied} - set(remaining))
    if cured:
        print(f"re-check: {', '.join(cured)} no longer reported", file=sys.stderr)
    if remaining:
        print(f"re-check: still reported: {', '.join(remaining)}", file=sys.stderr)
    if args.lock:
        return lock_or_put_back(Path(snapshot.project.root), path)
    print("next: `uv lock`, then `uv sync`", file=sys.stderr)
    return ExitCode.FINDINGS if remaining else ExitCode.CLEAN


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


def lock_or_put_back(root: Path, pyproject: Path) -> int:
    """`fix --lock` as one transaction: when `uv lock` fails, pyproject.toml and uv.lock are put back as they
    were, and the report says so."""
    from torchdoctor.files import atomic_write
    from torchdoctor.fixes import FixError
    from torchdoctor.fixes.writer import undo_last

    lock = root / "uv.lock"
    try:
        lock_before = lock.read_bytes() if lock.exists() else None
    except OSError as error:
        raise UsageError(f"cannot read {lock}: {error.strerror}") from None
    result = run_uv_lock(root)
    if result == ExitCode.CLEAN:
        return result
    try:
        undo_last(pyproject)
        if lock_before is None:
            lock.unlink(missing_ok=True)
        else:
            atomic_write(lock, lock_before)
    except (FixError, OSError) as error:
        raise UsageError(f"uv lock failed, and putting the files back failed too: {error}") from None
    print("uv lock failed: pyproject.toml and uv.lock are back as they were", file=sys.stderr)
    return result


def run_uv_lock(root: Path) -> int:
    from torchdoctor.uvlock import find_uv
    from torchdoctor.uvlock import run_uv_lock as lock

    if find_uv() is None:
        raise UsageError("`uv` is not installed; run `uv lock` yourself once it is")
    print(f"running: uv lock (in {root})", file=sys.stderr)
    result = lock(root, on_line=lambda line: print(line, file=sys.stderr))
    return ExitCode.CLEAN if result.ok else ExitCode.FINDINGS


def command_undo(args: argparse.Namespace) -> int:
    from torchdoctor.fixes import FixError
    from torchdoctor.fixes.writer import undo_last
    from torchdoctor.probes.project import find_project_root

    root, _ = find_project_root(project_directory(args))
    path = root / "pyproject.toml"
    try:
        backup = undo_last(path)
    except FixError as error:
        raise UsageError(str(error)) from None
    print(f"restored {path} from {backup}", file=sys.stderr)
    return ExitCode.CLEAN


def command_rules(args: argparse.Namespace) -> int:
    from torchdoctor.checks import RULES
    from torchdoctor.render.rules import render_rules_markdown, render_rules_text

    text = render_rules_markdown(RULES) if args.format == "markdown" else render_rules_text(RULES)
    sys.stdout.write(text)
    return ExitCode.CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
