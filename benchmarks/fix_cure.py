"""Do the fixes the report offers work? Every fix (and each alternative, as printed) of every finding, on copies of
the real projects of the field corpus × the recorded machines, taken as a user takes it. Prints one table of counts.

Columns (issue 26): offered (a fix line shown), writes nothing (`fix CODE` would answer "nothing to change"),
refused (nothing proven), companion left (where the fix moves torch, torchvision or torchaudio is then on another
line than torch on some platform × selection, including one installed only through another package), still an error (the finding is an error and is still
reported once the fix is written and the project re-read with its lock removed), and curable (warnings and errors
with a way to cure: a proven fix, or commands to run). Goal: 0 in the four defect columns, no fewer curable.
Then the cured share (issue 26's last goal, at least 90%): of the warnings and errors named ("named"), those the
remedy shown first cures ("cured"): its fix written, the finding gone when the project is read again without its lock
(or left only about the torch installed now, which the sync after the fix replaces), or commands that cure it. A
finding read from the lock alone (TD403) cannot be seen again without one: its cure is held by the proof (the
companion, now the project's requirement, must be predicted on torch's line, or TD309 is raised and the fix refused)
and by a real `uv lock` against the local index (tests/test_fix_cure.py).

    python benchmarks/fix_cure.py [--field ../shared/field] [--show 5]

The run is offline with caches of its own, in process, on the recordings of tests/fixtures/snapshots.

Runs on the development machine (2 cores), 2026-12-06, 38 projects (about 20 s):
- before issue 26's changes: offered 72, writes nothing 17, refused 7, companion left 3 (SkyRL's torchaudio, counted
  then by index rather than by line), still an error 0, curable 44;
- after: offered 55, writes nothing 0, refused 0, companion left 0, still an error 0, curable 71 (the fix lines that
  wrote nothing became the commands that cure: the project's own extra, or the driver update).
- then TD271 stopped calling extensions installed from prebuilt wheels "built without torch" (a false alarm, issue
  28): offered 45, curable 61, every defect column 0 (the 10 are those false alarms and their fixes).
- then the report proves every fix it offers, TD319 drops a build tag no index has (or one retired, or one macOS cannot
  install) where a source chooses the build, and TD404 shows its two cures as commands: offered 59, curable 90, every
  defect column 0.
- judged on 21 real projects that are not in this repository (gathered 2026-12-06, `--field` pointed at them): before
  those three changes offered 48, curable 71; after, offered 60, curable 90; every defect column 0 both times.
- then findings that differ only in the selection they name became one (issue 31: ten extras installing the same
  torch gave ten warnings): curable counts findings as the report shows them, 73 on the field and 78 outside; the
  same run with the merging switched off gives 90 and 90, so no finding lost its cure.
- session four (2026-12-06): the cured share measured for the first time: field 78 of 99 (79%), outside 72 of 102
  (71%); most uncured were TD403, a lock pairing torch with another build of a companion, which had no fix. TD403 now
  maps the companion like torch and, where uv.lock installs it only through other packages, makes it the project's
  requirement there: field 86 of 99 (87%), outside 78 of 102 (76%), every defect column 0. Left uncured outside: a
  workspace member's TD403 (7 per machine; its torch comes through the root's extras, which select the member's), TD222
  for opt-in extras whose pinned torch has no build for Blackwell, TD319 tags whose removal raises TD310, TD303.
- then a member read alone is read inside its workspace (its root's uv.lock, as uv does), so the member's printed
  `torchdoctor fix CODE --project MEMBER` finds its finding; members' fixes are proven before the command is shown
  (two LTX-2 member commands had been shown that `fix` would have refused), a root finding with no cure of its own
  points at the member's fix of the same thing, extras are compared by their normalised names (`cu130_torch29` is
  `cu130-torch29`), and fixes that fail alone are proven with their siblings (one rule's markers for torch and for
  torchaudio on two indexes). This script now runs a member's command as printed, and `fix CODE` with every finding
  of that rule, as the CLI does. Outside 92 of 102 (90%); field 86 of 99 (87%); every defect column 0.
- then two false warnings of the field gone (severity is evidence): TD318 for an index root that serves macOS alone
  (macOS wheels are one build), TD316 for a CPU source whose marker holds on Windows alone (written for Windows: a
  note). Field 86 of 95 (91%); outside unchanged, 92 of 102 (90%).
- then TD310 reads an exact pin with a build tag (`torch==2.5.1+cu124`) as the range it is (a missed error: `uv lock`
  of ekg/grufinity fails on Python 3.8), and the proof no longer takes a finding that only names a build in other
  words after a fix (`torch 2.5.1+cu124` -> `torch 2.5 (cu124)`) for one the fix raised: TD319's tag drop is offered
  there. Outside 97 of 104 (93%); field 86 of 95 (91%); every defect column 0.
- session five (2026-12-06): new true findings with no edit that provably cures them lower the share, by design:
  TD408 (what uv.lock pins has no wheel for a platform or Python the project admits; the cure is the project's choice
  of platforms, or a re-lock uv must be asked for) is 12 of the field's 21 uncured. Field 90 of 111 (81%); without
  TD408, 90 of 99 (91%, as before). A third set of 21 real projects outside the repository (gathered 2026-12-06):
  43 of 61 (70%), without TD408 43 of 49 (88%). Every defect column 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SNAPSHOTS = ROOT / "tests" / "fixtures" / "snapshots"
MACHINES = {
    "H100": SNAPSHOTS / "h100-pypi.json",
    "WSL2 Blackwell": SNAPSHOTS / "wsl2-rtx5060ti-nightly.json",
}
COLUMNS = ("offered", "writes nothing", "refused", "companion left", "still an error", "curable", "named", "cured")


def field_projects(field: Path) -> dict[str, dict[str, str]]:
    """Each project's files by the name they take in its folder: pyproject.toml, uv.lock, members' pyproject.toml."""
    projects: dict[str, dict[str, str]] = {}
    for path in sorted(field.glob("*__pyproject.toml")):
        name = path.name.removesuffix("__pyproject.toml")
        if "__member__" in name:
            owner, member = name.split("__member__")
            projects.setdefault(owner, {})[member.replace("--", "/") + "/pyproject.toml"] = path.read_text(encoding="utf-8")
            continue
        files = projects.setdefault(name, {})
        files["pyproject.toml"] = path.read_text(encoding="utf-8")
        lock = field / f"{name}__uv.lock"
        if lock.is_file():
            files["uv.lock"] = lock.read_text(encoding="utf-8")
    return {name: files for name, files in projects.items() if "pyproject.toml" in files}


def materialise(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


def measure(machine, files: dict[str, str], scratch: Path, examples: dict[str, list[str]], label: str) -> Counter:
    from torchdoctor.model import Applicability, Severity
    from torchdoctor.probes.collect import with_project
    from torchdoctor.resolution import build_model
    from torchdoctor.workflow import diagnose, fix_diagnoses, preview_fixes

    counts: Counter = Counter()
    project = materialise(scratch / "project", files)
    snapshot = with_project(machine, project)
    report = diagnose(snapshot)
    locked = build_model(snapshot, from_lock=True) if snapshot.project.lock is not None else None
    predicted = build_model(snapshot, from_lock=False)
    for diagnosis in report.diagnoses:
        fixes = [f for f in (diagnosis.fix, *diagnosis.alternatives) if f is not None]
        if diagnosis.severity >= Severity.WARNING:
            counts["named"] += 1
            if any(f.edit is not None or f.commands for f in fixes):
                counts["curable"] += 1
            cured = cured_by_what_it_offers(machine, project, project, snapshot, diagnosis, scratch)
            counts["cured"] += cured
            if not cured:
                examples["not cured"].append(f"{label} {diagnosis.code}: {diagnosis.message[:110]}")
        for number, fix in enumerate(fixes):
            if fix.edit is None:
                continue
            counts["offered"] += 1
            taken = replace(diagnosis, fix=fix)
            where = f"{label} {diagnosis.code}" + (f" alt {number}" if number else "")
            preview = preview_fixes(snapshot, [taken], follow=True, codes={diagnosis.code},
                                    unsafe=fix.applicability is Applicability.UNSAFE)
            if not preview.changes:
                column = "refused" if preview.refused else "writes nothing"
                counts[column] += 1
                examples[column].append(where + (f": {preview.refusal}" if preview.refused else ""))
                continue
            fixed_folder = materialise(scratch / f"fixed-{diagnosis.code}-{number}",
                                       {**{k: v for k, v in files.items() if k != "uv.lock"}, "pyproject.toml": preview.after})
            fixed = with_project(machine, fixed_folder)
            left = companions_left(build_model(fixed, from_lock=False), locked, predicted)
            if left:
                counts["companion left"] += 1
                examples["companion left"].append(f"{where}: {left[0]}")
            if diagnosis.severity is Severity.ERROR and any(d.code == diagnosis.code for d in fix_diagnoses(fixed)):
                counts["still an error"] += 1
                examples["still an error"].append(where)
            shutil.rmtree(fixed_folder)
    return counts


def cured_by_what_it_offers(machine, tree: Path, folder: Path, snapshot, diagnosis, scratch: Path) -> bool:
    """Whether the remedy the report shows first on a warning or error cures the problem it names, taken as printed:
    a fix is written (followed by the fixes it brings along, as `fix CODE` does) and the project, read again without
    its lock (which `uv lock` rewrites), no longer gives the finding, or gives it only about the torch installed now,
    which the `uv sync` after the fix replaces; commands (a driver update, the project's own extra) cure it when
    run, and the finding says exactly them; `torchdoctor fix CODE --project MEMBER` (a workspace member's fix) is run
    as printed: the member's own finding, judged there. A finding with none of these is a problem left uncured.
    `tree` is the project's folder as materialised, `folder` the project (or member) the finding is about."""
    from torchdoctor.model import Applicability
    from torchdoctor.probes.collect import with_project
    from torchdoctor.workflow import diagnose, fix_diagnoses, preview_fixes
    from torchdoctor.workflow.proof import cured_once_synced

    fix = diagnosis.fix
    if fix is None:
        return False
    member = MEMBER_FIX.fullmatch(fix.commands[0]) if fix.edit is None and fix.commands else None
    if member is not None and member.group(1) == diagnosis.code:
        member_folder = (Path(snapshot.project.root) / member.group(2)).resolve()
        at_member = with_project(machine, member_folder)
        subject = diagnosis.message.partition("): ")[2].partition(" for ")[0] or diagnosis.message.partition(" for ")[0]
        there = next((d for d in diagnose(at_member).diagnoses
                      if d.code == diagnosis.code and d.message.partition(" for ")[0] == subject), None)
        return there is not None and there.fix is not None and there.fix.edit is not None and \
            cured_by_what_it_offers(machine, tree, member_folder, at_member, there, scratch)
    if fix.edit is None:
        return bool(fix.commands)
    # `torchdoctor fix CODE`, as printed, takes every finding of that rule: the others come along.
    same_rule = [d for d in fix_diagnoses(snapshot) if d.code == diagnosis.code and d.message != diagnosis.message
                 and d.fix is not None and d.fix.edit is not None]
    preview = preview_fixes(snapshot, [diagnosis, *same_rule], follow=True, codes={diagnosis.code},
                            unsafe=fix.applicability is Applicability.UNSAFE)
    if not preview.changes:
        return False
    copy = scratch / f"cured-{diagnosis.code}"
    shutil.copytree(tree, copy)
    try:
        (copy / "uv.lock").unlink(missing_ok=True)
        fixed_folder = copy / folder.resolve().relative_to(tree.resolve())
        (fixed_folder / "pyproject.toml").write_text(preview.after, encoding="utf-8")
        (fixed_folder / "uv.lock").unlink(missing_ok=True)
        fixed = with_project(machine, fixed_folder)
        still = any((d.code, d.message) == (diagnosis.code, diagnosis.message) for d in fix_diagnoses(fixed))
        return not still or cured_once_synced(fixed, diagnosis.code)
    finally:
        shutil.rmtree(copy)


MEMBER_FIX = re.compile(r"torchdoctor fix (TD\d{3})(?: --unsafe)? --project (\S+)")


COMPANIONS = ("torchvision", "torchaudio")
"""The companions built per CUDA line, whose index must be torch's. triton is held to torch by the exact version torch
requires (the same wheel on PyPI and PyTorch's stable indexes), and pytorch-triton lives only on PyTorch's nightly
index, which torch's own pin reaches: neither is counted."""


def companions_left(model, locked=None, predicted_before=None) -> list[str]:
    """Where the fix moved torch and a companion is then installed from another line than torch's: predicted from
    the fixed pyproject.toml, or, for a companion the lock installs only through another package (which the
    prediction cannot see), the one it was locked from, since no source of the project names it."""
    left = []
    locked_by_key = {(r.platform, r.selection): r for r in (locked.resolutions if locked else ())}
    was_by_key = {(r.platform, r.selection): r for r in (predicted_before.resolutions if predicted_before else ())}
    for resolution in model.resolutions:
        torch = resolution.torch
        if torch is None or not torch.decided:
            continue
        was = was_by_key.get((resolution.platform, resolution.selection))
        if was is not None and was.torch is not None and was.torch.index == torch.index:
            continue  # the fix did not move torch here
        before = locked_by_key.get((resolution.platform, resolution.selection))
        for package in COMPANIONS:
            build = resolution.get(package)
            if build is None and before is not None and before.get(package) is not None and before.torch is not None:
                build = before.get(package)
                if build.index == before.torch.index and before.torch.index == torch.index:
                    continue  # unchanged, on torch's index
            if build is None or not build.decided:
                continue
            same_line = build.build == torch.build if build.build and torch.build else build.index == torch.index
            if not same_line:
                left.append(f"{package} from {build.index or 'PyPI'} beside torch from {torch.index or 'PyPI'} on "
                            f"{resolution.platform_label}"
                            + (f" with `{resolution.option}`" if resolution.option else ""))
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", type=Path, default=ROOT.parent / "shared" / "field")
    parser.add_argument("--show", type=int, default=5, help="examples shown per defect column")
    args = parser.parse_args()
    from torchdoctor.snapshot import Snapshot

    with tempfile.TemporaryDirectory(prefix="torchdoctor-cure-") as home:
        os.environ.update(TORCHDOCTOR_OFFLINE="1", TORCHDOCTOR_CACHE_DIR=str(Path(home) / "cache"),
                          UV_CACHE_DIR=str(Path(home) / "uv"), UV_PYTHON_DOWNLOADS="never")
        projects = field_projects(args.field)
        totals = {name: Counter() for name in MACHINES}
        examples: dict[str, list[str]] = {column: [] for column in (*COLUMNS, "not cured")}
        for machine_name, path in MACHINES.items():
            machine = Snapshot.from_json(path.read_text(encoding="utf-8"))
            for number, (name, files) in enumerate(projects.items()):
                scratch = Path(home) / f"{number}"
                scratch.mkdir()
                try:
                    totals[machine_name] += measure(machine, files, scratch, examples, f"{machine_name} · {name}")
                finally:
                    shutil.rmtree(scratch)
    width = max(len(m) for m in MACHINES) + 2
    print(f"{len(projects)} projects of {args.field}")
    print(f"{'machine':<{width}}" + "".join(f"{c:>{len(c) + 2}}" for c in COLUMNS))
    for machine_name in MACHINES:
        print(f"{machine_name:<{width}}" + "".join(f"{totals[machine_name][c]:>{len(c) + 2}}" for c in COLUMNS))
    total = sum(totals.values(), Counter())
    print(f"{'all':<{width}}" + "".join(f"{total[c]:>{len(c) + 2}}" for c in COLUMNS))
    print(f"cured share: {total['cured']} of {total['named']} warnings and errors "
          f"({100 * total['cured'] / max(1, total['named']):.0f}%; goal at least 90%)")
    for column in (*COLUMNS[1:5], "not cured"):
        for line in examples[column][:args.show]:
            print(f"  {column}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
