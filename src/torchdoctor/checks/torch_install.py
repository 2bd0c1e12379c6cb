"""TD1xx: is there a working torch in the project's interpreter at all?"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from torchdoctor.checks.common import declared_torch_groups, interpreter_evidence, torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.knowledge import knowledge, series_of
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import Snapshot


@rule("TD101", "interpreter-unusable", fix=DISPLAY_ONLY)
def interpreter_unusable(snapshot: Snapshot) -> Iterator[Finding]:
    """The project's Python interpreter does not exist or does not run.

    What it detects:
        The interpreter torchdoctor chose for the project (its .venv, UV_PROJECT_ENVIRONMENT, or the
        active environment) is missing, not executable, or exits before it can report anything.
    Why it matters:
        A .venv whose base Python was removed or upgraded (pyenv, Homebrew, conda) is broken for
        `uv run` and `python` alike; nothing installed in it can be used.
    Fix safety:
        Recreate the environment with `uv sync` (it rebuilds a broken .venv).
    """
    interpreter = snapshot.interpreter
    torch = snapshot.torch
    if interpreter.exists and torch.status != "interpreter-failed":
        return
    detail = torch.error or "the file does not exist"
    yield Finding(
        Severity.ERROR,
        f"the project's Python interpreter cannot run: {detail}",
        "torchdoctor looks for torch where `uv run` would: "
        f"{interpreter.reason}. That interpreter is missing or broken, which usually means the "
        "environment was created from a Python that has since been removed or upgraded. "
        "Run `uv sync` to recreate it.",
        (interpreter_evidence(snapshot), Evidence("probe result", detail, torch_source(snapshot))),
        Fix("Recreate the project environment", Applicability.DISPLAY_ONLY, commands=("uv sync",)),
    )


@rule("TD102", "torch-not-installed", fix=DISPLAY_ONLY)
def torch_not_installed(snapshot: Snapshot) -> Iterator[Finding]:
    """torch is not installed in the project's interpreter.

    What it detects:
        `import torch` would fail with ModuleNotFoundError in the interpreter the project uses.
    Why it matters:
        If the project depends on torch, its environment is not synced (or `python` is a different
        interpreter than the project's). If it does not, there is nothing to diagnose about torch,
        and the report says so instead of guessing.
    Fix safety:
        `uv sync` installs what the project declares.
    """
    if snapshot.torch.status != "not-installed":
        return
    groups = declared_torch_groups(snapshot)
    evidence = [interpreter_evidence(snapshot), Evidence("import torch", "ModuleNotFoundError", torch_source(snapshot))]
    pyproject = snapshot.project.pyproject
    if pyproject is not None:
        declared = "; ".join(r.requirement for r in pyproject.torch_requirements if r.name == "torch")
        evidence.append(Evidence("torch requirements", declared or "none", pyproject.path))
    if "dependencies" in groups:
        yield Finding(
            Severity.ERROR,
            "the project depends on torch, but torch is not installed in its environment",
            "pyproject.toml lists torch as a dependency, yet the project's interpreter cannot import it: "
            "the environment was never synced, or was synced before torch was added. Run `uv sync`.",
            tuple(evidence),
            Fix("Install what the project declares", Applicability.DISPLAY_ONLY, commands=("uv sync",)),
        )
    elif groups:
        yield Finding(
            Severity.WARNING,
            f"torch is declared only in {', '.join(groups)}, and is not installed",
            "The project asks for torch through an extra or a dependency group, which `uv sync` installs only "
            "when asked (`uv sync --extra NAME` or `--group NAME`). Sync with the one you need.",
            tuple(evidence),
            Fix("Sync with the extra or group that has torch", Applicability.DISPLAY_ONLY, commands=tuple(
                f"uv sync --{'extra' if g.startswith('optional:') else 'group'} {g.split(':', 1)[1]}" for g in groups)),
        )
    else:
        yield Finding(
            Severity.INFO,
            "torch is not installed, and the project does not ask for it",
            "There is no torch in the project's interpreter and pyproject.toml does not declare it, so there "
            "is no torch build to check. The machine facts below still apply.",
            tuple(evidence),
        )


THIRTY_TWO_BIT = re.compile(r"^(?:win32|linux-(?:i[3-6]86|armv[67]l))$")
"""sysconfig.get_platform() of a 32-bit interpreter: 64-bit Windows says win-amd64, 64-bit Linux linux-x86_64."""


def _pinned_without_wheels(snapshot: Snapshot, python: str):
    """(the requirements line, the version, its release) where a requirements file pins an exact torch whose
    release the tables know, and that release has no wheel for `python`; None otherwise (unknown is no finding)."""
    kb = knowledge()
    for line in snapshot.project.requirement_lines:
        try:
            requirement = Requirement(line.requirement)
        except InvalidRequirement:
            continue
        if requirement.name.lower() != "torch":
            continue
        pins = [s.version.split("+")[0] for s in requirement.specifier if s.operator in ("==", "===") and "*" not in s.version]
        release = kb.release_of("torch", pins[0]) if len(pins) == 1 else None
        if release is not None and release.python and python not in release.python:
            return line, pins[0], release
    return None


@rule("TD104", "no-torch-wheel-for-this-python", fix=DISPLAY_ONLY)
def no_torch_wheel_for_this_python(snapshot: Snapshot) -> Iterator[Finding]:
    """torch is not installed, and no torch release publishes a wheel for this interpreter.

    What it detects:
        torch is not installed and the interpreter is 32-bit (`sysconfig.get_platform()` says win32 or
        linux-i686: PyTorch has never published 32-bit wheels), a requirements file pins an exact torch whose release
        has no wheel for the interpreter's Python (torch 2.2 and Python 3.13), or its Python is newer than every
        Python the release tables list wheels for.
    Why it matters:
        `pip install torch` answers "Could not find a version that satisfies the requirement torch (from
        versions: none)", uv "doesn't have a source distribution or wheel for the current platform": no index
        option or version pin helps. Real threads: pytorch/pytorch#41005 and #27815 (32-bit Python on Windows).
        An error for 32-bit; a warning for a Python past the tables (a release newer than them may have wheels).
    Fix safety:
        A 64-bit interpreter, or a Python torch publishes wheels for; nothing in the project changes that.
    """
    torch = snapshot.torch
    platform = (torch.python_platform or "").lower()
    parts = (torch.python_version or "").split(".")
    if torch.status != "not-installed" or not platform or len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return
    python = f"{parts[0]}.{parts[1]}"
    evidence = (interpreter_evidence(snapshot),
                Evidence("interpreter", f"Python {torch.python_version} ({platform})", torch_source(snapshot)))
    if THIRTY_TWO_BIT.match(platform):
        yield Finding(
            Severity.ERROR,
            f"this Python is 32-bit ({platform}): PyTorch publishes no torch wheel for it",
            "Every torch wheel is built for 64-bit Python (win_amd64, x86_64, aarch64, arm64), so pip finds no version at "
            "all (\"from versions: none\") and no index or pin changes that. Install a 64-bit Python and create the "
            "environment with it.",
            evidence,
            Fix("Use a 64-bit Python", Applicability.DISPLAY_ONLY,
                commands=("python -c \"import struct; print(struct.calcsize('P') * 8, 'bit')\"  # says 32 now",
                          "uv venv --python 3.12  # uv installs a 64-bit CPython when none is there")),
        )
        return
    kb = knowledge()
    pinned = _pinned_without_wheels(snapshot, python)
    if pinned is not None:
        line, version, release = pinned
        yield Finding(
            Severity.ERROR,
            f"{line.path}:{line.line} pins torch {version}, which has no wheel for this Python {python} (it has "
            f"{', '.join(release.python)})",
            f"`pip install -r {line.path}` asks for torch {version}, and PyPI and the PyTorch index publish it only for "
            f"Python {', '.join(release.python)}: pip answers \"Could not find a version that satisfies the requirement "
            "torch\" for this interpreter. Use one of those Pythons, or a torch that has wheels for this one.",
            evidence + (Evidence(f"{line.path}:{line.line}", line.requirement, line.path),
                        Evidence(f"Pythons of torch {release.series}", ", ".join(release.python), "torchdoctor knowledge base")),
            Fix(f"Create the environment with Python {release.python[-1]}", Applicability.DISPLAY_ONLY,
                commands=(f"uv venv --python {release.python[-1]}",)),
        )
        return
    supported = {py for release in kb.releases for py in release.python}
    newest = max(supported, key=lambda v: tuple(int(x) for x in v.split(".")))
    if tuple(int(x) for x in python.split(".")) > tuple(int(x) for x in newest.split(".")):
        latest = next(r for r in reversed(kb.releases) if newest in r.python)
        yield Finding(
            Severity.WARNING,
            f"no torch release torchdoctor knows has wheels for Python {python} (the newest it knows, torch "
            f"{latest.series}, stops at {newest})",
            f"torch publishes wheels for a new Python some months after its release; until then `pip install torch` finds "
            f"no version (\"from versions: none\"). torchdoctor's tables (as of {kb.as_of}) list none for {python}: a "
            "release newer than them may have them. Use a Python the tables list, or check the release notes.",
            evidence + (Evidence(f"Pythons of torch {latest.series}", ", ".join(latest.python), "torchdoctor knowledge base"),),
            Fix(f"Create the environment with Python {newest}", Applicability.DISPLAY_ONLY,
                commands=(f"uv venv --python {newest}",)),
        )


@rule("TD103", "torch-import-fails", fix=DISPLAY_ONLY)
def torch_import_fails(snapshot: Snapshot) -> Iterator[Finding]:
    """`import torch` fails, crashes or hangs in the project's interpreter.

    What it detects:
        The import raised (a missing shared library, an undefined symbol, a NumPy ABI clash), killed
        the process (segmentation fault, abort), or did not finish within the probe's timeout.
    Why it matters:
        Nothing that uses torch can run. The exception text and the last lines of stderr usually name
        the library at fault.
    Fix safety:
        The cure depends on the cause named in the evidence; reinstalling with
        `uv sync --reinstall-package torch` cures a damaged install.
    """
    torch = snapshot.torch
    if torch.status not in ("import-failed", "crashed", "timed-out"):
        return
    what = {
        "import-failed": "`import torch` fails",
        "crashed": "`import torch` crashes the interpreter",
        "timed-out": "torch did not finish loading in time",
    }[torch.status]
    evidence = [interpreter_evidence(snapshot), Evidence("failure", torch.error or "unknown", torch_source(snapshot))]
    if torch.installed_version:
        evidence.append(Evidence("installed torch (metadata)", torch.installed_version, torch_source(snapshot)))
    if torch.stderr_tail:
        evidence.append(Evidence("stderr (last lines)", torch.stderr_tail, torch_source(snapshot)))
    if torch.status == "timed-out":
        why = (
            "The probe stopped waiting. A hang while loading torch or initialising CUDA usually means the "
            "driver is wedged (check `nvidia-smi`), a network file system is stalling, or the GPU fell off "
            "the bus; a reboot or driver reload clears most of these."
        )
    else:
        why = (
            "torch is installed but cannot be loaded, so nothing that uses it can run. The error below names "
            "what is missing or broken; a damaged install is cured by `uv sync --reinstall-package torch`."
        )
    yield Finding(
        Severity.ERROR, f"{what}: {torch.error}", why, tuple(evidence),
        Fix("Reinstall torch in the project environment", Applicability.DISPLAY_ONLY,
            commands=("nvidia-smi", "uv sync --reinstall-package torch")),
    )


@rule("TD110", "torch-newer-than-knowledge")
def torch_newer_than_knowledge(snapshot: Snapshot) -> Iterator[Finding]:
    """The installed or locked torch is newer than every release torchdoctor's tables know.

    What it detects:
        A torch version whose minor series is past the newest release in the knowledge base (its as-of
        date is shown), installed in the project interpreter or pinned in uv.lock.
    Why it matters:
        Checks that depend on per-release facts (arch lists, CUDA variants, companion versions) fall back to
        what the probe read from the installed torch itself, such as its arch list, and skip what cannot be
        known; the report says so instead of giving a verdict from stale tables.
    Fix safety:
        Update torchdoctor for newer tables.
    """
    kb = knowledge()
    versions: dict[str, str] = {}
    if snapshot.torch.version:
        versions[snapshot.torch.version] = torch_source(snapshot)
    lock = snapshot.project.lock
    if lock is not None:
        for package in lock.packages:
            if package.name == "torch":
                versions.setdefault(package.version, lock.path)
    newer = {v: s for v, s in versions.items() if kb.is_newer_than_known(v)}
    if not newer:
        return
    listed = ", ".join(sorted(newer))
    yield Finding(
        Severity.INFO,
        f"torch {listed} is newer than torchdoctor's tables (they know torch up to {kb.newest_release.latest}, as of {kb.as_of})",
        "Verdicts about this torch rest on what the probe read from it (its arch list, CUDA version and driver), "
        "not on release tables; checks that need per-release facts are skipped for it.",
        tuple(Evidence("torch version", v, s) for v, s in sorted(newer.items()))
        + (Evidence("newest known release", f"{kb.newest_release.latest} ({kb.newest_release.date})", "torchdoctor knowledge base"),),
    )


def _variant_tag(version: str | None) -> str | None:
    return version.split("+", 1)[1] if version and "+" in version else None


@rule("TD120", "companion-build-mismatch")
def companion_build_mismatch(snapshot: Snapshot) -> Iterator[Finding]:
    """torchvision or torchaudio was built for a different torch version or CUDA variant than torch.

    What it detects:
        The installed torchvision/torchaudio version series does not belong to the installed torch's
        release (torchvision 0.20 goes with torch 2.5, 0.24 with 2.9), or its local tag names another variant
        (`+cu126` beside torch `+cu128`, `+cpu` beside a CUDA torch).
    Why it matters:
        Their compiled operators are linked against one torch build: with another they fail at import or first
        use, typically "operator torchvision::nms does not exist" or "Could not run 'torchvision::nms' with
        arguments from the 'CUDA' backend".
    Fix safety:
        The cure is in pyproject.toml, mapping torchvision/torchaudio to the same index as torch and relocking:
        TD309 offers that edit when the project's files show the gap.
    """
    torch = snapshot.torch
    if torch.status != "ok" or not torch.version:
        return
    release = knowledge().release(torch.version)
    torch_tag = _variant_tag(torch.version)
    for name, expected in (("torchvision", release.torchvision if release else None), ("torchaudio", release.torchaudio if release else None)):
        installed = torch.packages.get(name)
        if not installed:
            continue
        problems = []
        series = series_of(installed)
        if release and expected and series and Version(series) != Version(expected):
            problems.append(f"{name} {installed} belongs to another torch release (torch {release.series} goes with {name} {expected})")
        tag = _variant_tag(installed)
        if tag and torch_tag and tag != torch_tag:
            problems.append(f"{name} is a {tag} build but torch is a {torch_tag} build")
        elif tag and not torch_tag and tag.startswith("cu") != bool(torch.cuda):
            problems.append(f"{name} is a {tag} build but torch is a {'CUDA' if torch.cuda else 'CPU'} build from PyPI")
        if not problems:
            continue
        yield Finding(
            Severity.ERROR,
            f"{name} {installed} does not match torch {torch.version}: " + "; ".join(problems),
            f"{name}'s compiled operators only work with the torch build they were compiled against; with this pair they "
            "fail at import or at first use (\"operator torchvision::nms does not exist\"). Install them from the same index "
            "and release line as torch.",
            (
                Evidence("torch.__version__", torch.version, torch_source(snapshot)),
                Evidence(f"{name} (metadata)", installed, torch_source(snapshot)),
            )
            + ((Evidence(f"{name} for torch {release.series}", expected, f"torchdoctor knowledge base: {release.source}"),)
               if release and expected else ()),
        )


@rule("TD130", "numpy-2-with-torch-built-for-numpy-1", fix=DISPLAY_ONLY)
def numpy_2_with_old_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """NumPy 2 beside a torch built against NumPy 1.

    What it detects:
        NumPy 2.x installed in the project's interpreter (or, before anything is installed, every NumPy that
        uv.lock pins) together with a torch whose wheels were built against NumPy 1.x: torch before 2.3, and
        2.4.0 on Windows. The knowledge base cites where that boundary comes from.
    Why it matters:
        `import torch` prints "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x as it may
        crash", and `tensor.numpy()` / `torch.from_numpy()` fail. An error installed, or when every locked NumPy is
        2.x; a warning when only some platforms or Pythons get NumPy 2 from the lock.
    Fix safety:
        Pin `numpy<2` in the project, or move to torch 2.3 or newer.
    """
    kb = knowledge()
    windows = snapshot.system.os_name == "Windows"
    torch_version = snapshot.torch.version or snapshot.torch.installed_version
    numpy = snapshot.torch.packages.get("numpy")
    source = kb.numpy2.windows_source if windows and torch_version and Version(torch_version).public in kb.numpy2.windows_broken else kb.numpy2.source
    fix = Fix("Keep NumPy 1 for this torch, or move to torch 2.3+", Applicability.DISPLAY_ONLY,
              commands=('uv add "numpy<2"   # or raise the torch requirement to >=2.3',))
    if torch_version and numpy and _is_numpy_2(numpy):
        if kb.numpy2.works_with(torch_version, windows) is False:
            yield Finding(
                Severity.ERROR,
                f"NumPy {numpy} is installed beside torch {torch_version}, which was built against NumPy 1.x",
                "torch's wheels before 2.3 were compiled against NumPy 1's C interface, which NumPy 2 changed: "
                "`import torch` warns \"A module that was compiled using NumPy 1.x cannot be run in NumPy 2\" and "
                "`.numpy()` / `from_numpy()` fail.",
                (Evidence("installed numpy", numpy, torch_source(snapshot)),
                 Evidence("installed torch", torch_version, torch_source(snapshot)),
                 Evidence("first torch built for NumPy 2", kb.numpy2.first_series, f"torchdoctor knowledge base: {source}")),
                fix,
            )
        return
    if snapshot.torch.status == "ok" and torch_version:
        return  # torch is installed: the installed NumPy (or its absence) is the fact that counts
    from torchdoctor.resolution import project_model

    lock = snapshot.project.lock
    default = project_model(snapshot).machine_default
    torch = default.torch if default is not None and default.basis == "uv.lock" else None
    numpys = [p.version for p in lock.packages if p.name == "numpy"] if lock else []
    if lock is None or torch is None or not torch.version or not numpys or kb.numpy2.works_with(torch.version, windows) is not False:
        return
    twos = [v for v in numpys if _is_numpy_2(v)]
    if not twos:
        return
    yield Finding(
        Severity.ERROR if len(twos) == len(numpys) else Severity.WARNING,
        f"uv.lock pins NumPy {', '.join(twos)} beside torch {torch.version}, which was built against NumPy 1.x",
        "torch's wheels before 2.3 were compiled against NumPy 1's C interface: with NumPy 2 `import torch` warns and "
        "`.numpy()` / `from_numpy()` fail."
        + ("" if len(twos) == len(numpys) else " Only some platforms or Pythons get NumPy 2 from this lock."),
        (Evidence("locked numpy", ", ".join(numpys), lock.path), Evidence("locked torch (this machine)", torch.version, lock.path),
         Evidence("first torch built for NumPy 2", kb.numpy2.first_series, f"torchdoctor knowledge base: {source}")),
        fix,
    )


def _is_numpy_2(version: str) -> bool:
    try:
        return Version(version).major >= 2
    except Exception:
        return False


WARNING_LINE = re.compile(r"(?:^|\s)(?:[A-Z]\w*Warning|UserWarning|warning)\s*:", re.I)


@rule("TD140", "import-torch-warned", fix=DISPLAY_ONLY)
def import_torch_warned(snapshot: Snapshot) -> Iterator[Finding]:
    """`import torch` printed warnings.

    What it detects:
        Warning lines on stderr while the project's interpreter imported torch and initialised CUDA, such as
        "Failed to initialize NumPy: No module named 'numpy'" or "CUDA initialization: …".
    Why it matters:
        These are torch telling its user something is missing or mismatched; they scroll past at every start and
        are easy to ignore. "Failed to initialize NumPy" means `tensor.numpy()` and `torch.from_numpy()` raise.
        A warning when NumPy failed to initialise; otherwise a note that shows the lines.
    Fix safety:
        The remedy depends on the warning (install NumPy, or the pairing the message names).
    """
    torch = snapshot.torch
    if torch.status != "ok" or not torch.stderr_tail:
        return
    lines = [line.strip() for line in torch.stderr_tail.splitlines() if WARNING_LINE.search(line)]
    if not lines:
        return
    numpy = any("Failed to initialize NumPy" in line for line in lines)
    shown = list(dict.fromkeys(lines))[:5]
    yield Finding(
        Severity.WARNING if numpy else Severity.INFO,
        "`import torch` failed to initialise NumPy: tensor.numpy() and torch.from_numpy() will raise" if numpy
        else f"`import torch` printed {len(shown)} warning(s)",
        "torch printed these while it was imported in the project's interpreter; they are printed on every start."
        + (" NumPy is missing or broken in this environment: install it (`uv add numpy`)." if numpy else ""),
        tuple(Evidence("stderr of import torch", line, torch_source(snapshot)) for line in shown),
        Fix("Install NumPy in the project", Applicability.DISPLAY_ONLY, commands=("uv add numpy",)) if numpy else None,
    )
