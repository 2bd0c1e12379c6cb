"""The command line's grammar: one parser per subcommand, the options several share declared once (parents)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
import platform
from pathlib import Path

from torchdoctor import __version__


class _Parser(argparse.ArgumentParser):
    """Subcommands take no abbreviated options either (`--fail` is not `--fail-on`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def _options(*adders: Callable[[argparse.ArgumentParser], None]) -> _Parser:
    parent = _Parser(add_help=False)
    for add in adders:
        add(parent)
    return parent


def _project(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", help="the project directory (default: the current one)")


def _python(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python", metavar="PATH", help="the project's interpreter, or its environment folder")


def _fail_on(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fail-on", choices=("info", "warning", "error"), default=None,
                   help="exit 1 if a finding is at least this severe (default: [tool.torchdoctor] fail-on, else error)")


def _color(p: argparse.ArgumentParser) -> None:
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text report")


def _save_snapshot(p: argparse.ArgumentParser) -> None:
    p.add_argument("--save-snapshot", metavar="FILE", help="also write the facts (and results) to FILE (JSON)")


def _probe_timing(p: argparse.ArgumentParser, shown: bool = False) -> None:
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=60.0,
                   help="how long `import torch` and CUDA initialisation may take (default: 60)" if shown else argparse.SUPPRESS)
    p.add_argument("--fresh", action="store_true",
                   help="import torch again even if nothing changed since the last check (ignore the probe cache)"
                   if shown else argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchdoctor", allow_abbrev=False,
        description="A doctor for PyTorch environments: checks the driver, CUDA, the torch build and your uv project.",
        epilog="Without a command, in a terminal, torchdoctor opens the app: `torchdoctor [--project DIR] [--python PATH] "
               "[--snapshot FILE]`; `torchdoctor --demo` opens it on a recorded Blackwell machine and a copy of a real "
               "project, where every key may be pressed. Anywhere else (a pipe, CI) the same line is `torchdoctor check`.",
    )
    parser.add_argument("--version", action="version", version=version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    where = _options(_project, _python)

    check = commands.add_parser("check", parents=[where, _options(_fail_on)],
                                help="probe this machine and the project, and report what is wrong")
    check.add_argument("--format", choices=("text", "json", "markdown", "github", "sarif"), default="text",
                       help="text (default), json, markdown (for a bug report), github (workflow annotations), sarif")
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
    _save_snapshot(check)
    check.add_argument("--snapshot", metavar="FILE", help="diagnose a recorded snapshot instead of this machine")
    check.add_argument("--symptom", metavar="FILE|-",
                       help="an error you saw (a file, or - for standard input): the finding that explains it comes first")
    _probe_timing(check, shown=True)
    _color(check)
    check.add_argument("--bench", action="store_true", help="also run the GEMM throughput test (about 1.5 s after CUDA starts)")
    check.add_argument(
        "--offline", action="store_true",
        help="read no package index over the network (a nightly index's Python support then comes from the cache)",
    )
    check.add_argument("--seconds", type=float, default=1.5, help=argparse.SUPPRESS)

    bench = commands.add_parser(
        "bench", parents=[where, _options(_fail_on)],
        help="measure the GPU's matrix-multiply rate and host copies, and explain a slow or wrong result",
    )
    bench.add_argument(
        "--seconds", metavar="S", type=float, default=1.5,
        help="measurement time after CUDA is initialised, all dtypes and copies together (default: 1.5)",
    )
    bench.add_argument("--device", metavar="N", type=int, default=0, help="the CUDA device to test (default: 0)")
    bench.add_argument("--format", choices=("text", "json"), default="text",
                       help="text (default), or json: the results and the findings on them")
    _save_snapshot(bench)
    _color(bench)
    _probe_timing(bench)

    fleet = commands.add_parser(
        "fleet", parents=[where, _options(_fail_on)],
        help="run one process per GPU under torchrun and compare the ranks: builds, drivers, variables, GEMM rate, "
             "collectives",
    )
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
    fleet.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                       help="text (default), json (every rank's facts and results), markdown (for a bug report)")
    fleet.add_argument("-v", "--verbose", action="store_true", help="the evidence under each finding, and the P2P matrices")
    _save_snapshot(fleet)
    _color(fleet)

    fix = commands.add_parser("fix", parents=[where],
                              help="apply the fixes the report offers to pyproject.toml (shows the diff first)")
    fix.add_argument("codes", nargs="*", metavar="CODE", help="only the fixes of these diagnoses (e.g. TD304)")
    fix.add_argument("--all", action="store_true", help="every safe fix the report offers")
    fix.add_argument("--snapshot", metavar="FILE", help="choose fixes for a recorded machine (the project is read from --project)")
    fix.add_argument("--dry-run", action="store_true", help="print the unified diff and write nothing")
    fix.add_argument("--yes", action="store_true", help="write without asking")
    fix.add_argument("--unsafe", action="store_true", help="include fixes that change what the project promises")
    locking = fix.add_mutually_exclusive_group()
    locking.add_argument("--lock", action="store_true",
                         help="(the default when uv is installed) run `uv lock` after writing, offline too")
    locking.add_argument("--no-lock", action="store_true", help="write pyproject.toml only: no `uv lock`, no `uv sync`")
    fix.add_argument("--no-sync", action="store_true", help="write and run `uv lock`, but not `uv sync`")
    fix.add_argument("--verify", action="store_true",
                     help="before writing, lock and sync the fixed project in a scratch folder and run a torch smoke test "
                          "there (downloads the wheels); write only if it passes")
    fix.add_argument("--alternative", type=int, metavar="N", help="apply the diagnosis' alternative fix N instead of its main fix")
    _probe_timing(fix)

    commands.add_parser("undo", parents=[_options(_project)],
                        help="restore pyproject.toml (and uv.lock) as they were before torchdoctor's last fix")

    archs = commands.add_parser("archs", parents=[where],
                                help="list the GPU architectures (SASS and PTX) compiled into libraries")
    archs.add_argument("targets", nargs="*", metavar="PATH|PACKAGE",
                       help="a library, a folder, or an installed package (default: torch and every package that builds "
                            "against it, in the project's environment)")
    archs.add_argument("--format", choices=("text", "json"), default="text",
                       help="text (default), or json: each library's SASS and PTX architectures")

    triage = commands.add_parser(
        "triage", help="name the cause from pasted text: an error, collect_env, nvidia-smi, pip list (nothing is probed)")
    triage.add_argument("file", nargs="?", metavar="FILE|-", help="the text (default: standard input)")
    triage.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="text (default), json (the facts read, each with its line, and the findings), markdown")

    completion = commands.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"),
                            help="the shell; e.g. `torchdoctor completion bash > ~/.local/share/bash-completion/completions/torchdoctor`")
    rules = commands.add_parser("rules", help="list every check torchdoctor runs, or explain the ones named")
    rules.add_argument("codes", nargs="*", metavar="CODE", help="a rule (TD301) or a prefix (TD3): show it in full")
    rules.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                       help="text (default), markdown (docs/rules.md is this), json (every field of each rule)")
    return parser


def build_tui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="torchdoctor", add_help=False)
    parser.add_argument("--project", metavar="DIR")
    parser.add_argument("--python", metavar="PATH")
    parser.add_argument("--snapshot", metavar="FILE")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    return parser


def version() -> str:
    """`torchdoctor 0.1.0 (Python 3.12.3, /path/to/torchdoctor)`: what a bug report needs to know of the tool."""
    return f"torchdoctor {__version__} (Python {platform.python_version()}, {Path(__file__).resolve().parent.parent})"
