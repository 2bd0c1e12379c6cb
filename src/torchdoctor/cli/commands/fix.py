"""`torchdoctor fix`: the workflow's choice, proof and transaction (write, lock, sync, smoke test, or all put back),
said on stderr; the diff on stdout."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace

from torchdoctor import workflow
from torchdoctor.cli import ExitCode, UsageError
from torchdoctor.cli.common import load_snapshot, project_directory, use_color
from torchdoctor.model import Diagnosis


def run(args: argparse.Namespace) -> int:
    """`torchdoctor fix`: the workflow's choose, preview (proof), write and re-check steps, said on stderr; the diff
    on stdout."""
    if not args.codes and not args.all:
        raise UsageError("name the diagnoses to fix (e.g. `torchdoctor fix TD304`) or pass --all")
    codes = {c.upper() for c in args.codes}
    unknown = sorted(codes - workflow.rule_codes())
    if unknown:
        raise UsageError(f"no such diagnosis: {', '.join(unknown)} (`torchdoctor rules` lists them)")
    if args.alternative is not None and len(codes) != 1:
        raise UsageError("--alternative needs exactly one diagnosis code")
    if args.snapshot and not args.project:
        # One rule for --snapshot in every command: without --project it replays the project recorded in it (as
        # `check --snapshot` reports it), which is no project on this disk to edit; with --project, that project on
        # the recorded machine. A fix never edits a path read from a file someone handed over.
        raise UsageError(f"{args.snapshot} is a recording, replayed as it was: to fix a project on the recorded machine, "
                         "name it with --project (`--project .` for this folder)")
    project_dir = project_directory(args)
    snapshot = load_snapshot(args, project_dir)
    if snapshot.project.pyproject is None:
        raise UsageError(f"no usable pyproject.toml in {snapshot.project.root}")
    diagnoses = workflow.fix_diagnoses(snapshot)
    if args.alternative is not None:
        diagnoses = tuple(choose_alternative(diagnoses, codes, args.alternative))
    choice = workflow.choose_fixes(diagnoses, codes, unsafe=args.unsafe)
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
        named = ([d for d in diagnoses if d.code in codes] if codes
                 else [*choice.needs_unsafe, *(d for d in diagnoses if d.no_fix)])
        if codes and not named:
            print(f"torchdoctor: {', '.join(sorted(codes))} not reported here: nothing to fix", file=sys.stderr)
            return ExitCode.CLEAN
        for diagnosis in named:
            if diagnosis.no_fix:
                print(f"{diagnosis.code} has no automatic fix: {diagnosis.no_fix}", file=sys.stderr)
        print("torchdoctor: no pyproject.toml fix to apply" + (
            f"; still reported: {', '.join(sorted({d.code for d in named}))}" if named else ""), file=sys.stderr)
        return ExitCode.FINDINGS if named else ExitCode.CLEAN
    try:
        preview = workflow.preview_fixes(snapshot, choice.chosen, follow=True, codes=codes, unsafe=args.unsafe)
    except workflow.CannotFix as error:
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
        verification = workflow.verify_in_scratch(snapshot, preview.after, on_line=lambda line: print(f"    {line}", file=sys.stderr))
        if not verification.passed:
            print(f"torchdoctor: nothing written: {verification.summary}", file=sys.stderr)
            return ExitCode.FINDINGS
        print(f"verified in a scratch environment: {verification.summary}", file=sys.stderr)
    steps = workflow.Steps(lock=not args.no_lock, sync=not args.no_sync, offline_too=args.lock)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("nothing written: pass --yes to write without a confirmation")
        then = (" and run `uv lock`" + (" and `uv sync`" if steps.sync else "") + " (uv may run the project's build "
                "backend)") if steps.lock else ""
        answer = input(f"Write these changes to {preview.path}{then}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("torchdoctor: nothing written", file=sys.stderr)
            return ExitCode.CLEAN
    outcome = workflow.carry_out(snapshot, preview, steps, say=lambda step, line: print(
        line if step == "write" else f"    {line}" if not line.startswith("running:") else line, file=sys.stderr))
    if outcome.verdict == "not written":
        raise UsageError(outcome.summary)
    if outcome.backup is not None:
        print(f"undo with `torchdoctor undo` (backup in {outcome.backup})", file=sys.stderr)
    print(f"{outcome.verdict}: {outcome.summary}" if outcome.verdict != "put back" else f"torchdoctor: {outcome.summary}",
          file=sys.stderr)
    left = [d.code for d, _ in preview.refused]
    return ExitCode.CLEAN if outcome.ok and not left else ExitCode.FINDINGS


def fix_title(diagnosis: Diagnosis) -> str:
    return diagnosis.fix.title if diagnosis.fix is not None else "(no fix)"


def _paint_diff(diff: str) -> str:
    """A unified diff as git colours it: removed lines red, added green, hunk headers cyan."""
    painted = []
    for line in diff.splitlines(keepends=True):
        code = "1" if line.startswith(("+++", "---")) else "31" if line.startswith("-") else "32" if line.startswith("+") \
            else "36" if line.startswith("@@") else None
        painted.append(f"\x1b[{code}m{line.rstrip(chr(10))}\x1b[0m\n" if code else line)
    return "".join(painted)


def choose_alternative(diagnoses: Iterable[Diagnosis], codes: set[str], number: int) -> Iterator[Diagnosis]:
    """The diagnoses with the named one's alternative fix N put in place of its main fix."""
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


