"""Command line: argv to the TUI or a headless command, each a thin face over the workflow (cli/commands/).

stdout carries only the report, so `torchdoctor check --format json | jq` always works; everything
meant for a person (errors, notes) goes to stderr. Exit codes: 0 healthy, 1 findings, 2 could not run, 130 Ctrl-C.
Every failure, a user's or torchdoctor's own, is caught in `run_guarded` and becomes one line on stderr and
exit code 2, never a traceback (`--debug` shows it).

This module is imported before the app's first paint: it imports only the standard library, and each command its
own module when it runs.
"""

from __future__ import annotations

import enum
import importlib
import signal
import sys
import threading
import traceback
import types
from typing import Any
from collections.abc import Callable

from torchdoctor import workflow
from torchdoctor.cli.parser import build_parser, build_tui_parser


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


COMMANDS = {name: f"torchdoctor.cli.commands.{name}" for name in ("check", "bench", "fix", "undo", "fleet", "archs", "rules", "triage",
                                                                      "completion")}
"""Each subcommand's module, which has `run(args) -> int`."""

DEBUG = False
REPORT_BUGS = "please report it with the output of the same command and --debug"


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
            return run_guarded(lambda: _command("tui").run(tui_args), terminate_as_interrupt=False)
        if tui_args.demo:
            rest = [a for a in argv if a != "--demo"]
            return run_guarded(lambda: _command("check").run_demo(rest))
        argv = ["check", *argv]
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _command(args.command).run(args), terminate_as_interrupt=args.command != "tui")


def _command(name: str) -> types.ModuleType:
    return importlib.import_module(COMMANDS.get(name, f"torchdoctor.cli.commands.{name}"))


def run_guarded(command: Callable[[], int], *, terminate_as_interrupt: bool = True) -> int:
    """Run a command; a user's mistake is one line and exit 2, Ctrl-C is 130, never a traceback. A bug of
    torchdoctor's own is one line too (exit 2: it could not run), with the traceback under --debug. The workflow
    (which imports the rules) is imported only when a child may need stopping: the app's first paint comes first.

    A headless command takes SIGTERM as it takes Ctrl-C (`kill`, a CI job's timeout, a container's stop): children
    stopped, temporary folders removed, a fix put back, exit 130; the default would end it at once with all of that
    left behind. (The app keeps Textual's own handling: it must give the terminal back first.)"""
    if terminate_as_interrupt:
        previous = _sigterm_as_interrupt()
        try:
            return run_guarded(command, terminate_as_interrupt=False)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def stop_all_children(for_good: bool) -> None:
        try:
            workflow.stop_all_children(for_good=for_good)
        except ImportError:  # torchdoctor's own install is broken (below): no child was started through it
            return

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
        if isinstance(error, ModuleNotFoundError) and error.name and not error.name.startswith("torchdoctor"):
            # A dependency missing from torchdoctor's own environment (seen: PYTHONPATH=src without tomlkit).
            print(f"torchdoctor: its dependency {error.name} is not installed in {sys.prefix}; reinstall torchdoctor",
                  file=sys.stderr)
            return ExitCode.USAGE
        if DEBUG:
            traceback.print_exc()
        summary = f"{type(error).__name__}: {error}".splitlines()[0][:300] if str(error) else type(error).__name__
        print(f"torchdoctor: internal error ({summary}); this is a bug in torchdoctor, {REPORT_BUGS}",
              file=sys.stderr)
        return ExitCode.USAGE
    except BrokenPipeError:
        # `torchdoctor check | head`: the reader left; stay quiet like other Unix tools.
        sys.stderr.close()
        return ExitCode.CLEAN


def _sigterm_as_interrupt() -> Any:
    """SIGTERM raises KeyboardInterrupt from here on (main thread only); returns the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt()

    return signal.signal(signal.SIGTERM, interrupted)
