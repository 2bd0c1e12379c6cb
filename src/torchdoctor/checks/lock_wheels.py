"""TD408: what uv.lock pins has no wheel for a platform or Python the project admits.

uv locks one version of torch for every platform and Python the project admits and records the wheels the index had
for it; it does not ask that each of them has one. Where none fits, `uv sync` there stops with "can't be installed
because it doesn't have a source distribution or wheel for the current platform": a Python newer than the locked
torch (torch 2.6 has no cp314 wheels), or Linux aarch64 sent to an index whose build has x86_64 wheels only.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from torchdoctor.checks.common import pyproject_of
from torchdoctor.checks.registry import Finding, rule
from torchdoctor.model import Evidence, Severity
from torchdoctor.plans import MACOS_ARM64, Platform
from torchdoctor.resolution import MODEL_PACKAGES, PLATFORMS, PYTHONS, marker_holds, project_model, resolve
from torchdoctor.snapshot import LockedPackage, Snapshot


def _platform_fits(tag_platform: str, platform: Platform) -> bool:
    if tag_platform == "any":
        return True
    if platform.sys_platform == "linux":
        return tag_platform.startswith(("manylinux", "linux_")) and tag_platform.endswith(f"_{platform.platform_machine}")
    if platform.sys_platform == "win32":
        return tag_platform == "win_amd64"
    return tag_platform.startswith("macosx_") and tag_platform.endswith(("_arm64", "_universal2"))


def _python_fits(interpreter: str, abi: str, python: str) -> bool:
    """Whether a wheel's interpreter and ABI tags run on CPython `python` ("3.14"): cp314-cp314, cp39-abi3 (3.9 and
    later), cp312-none (one CPython), py3-none; a free-threaded ABI (cp313t) is another interpreter."""
    major, minor = python.split(".")
    if interpreter.startswith("py"):
        return interpreter in ("py3", f"py{major}{minor}") and abi in ("none", "abi3")
    if not interpreter.startswith("cp") or not interpreter[2:].isdigit():
        return False
    wanted = int(f"{major}{minor:0>2}")
    version = int(interpreter[2] + interpreter[3:].rjust(2, "0"))
    if abi == "abi3":
        return version <= wanted
    return version == wanted and abi in (interpreter, "none")


def fits(package: LockedPackage, platform: Platform, python: str) -> bool | None:
    """Whether one of the locked wheels installs there; None when the lock's wheel tags were not read."""
    if not package.wheel_tags:
        return None
    for tag in package.wheel_tags:
        interpreter, abi, tag_platform = tag.split("-", 2)
        if _platform_fits(tag_platform, platform) and _python_fits(interpreter, abi, python):
            return True
    return False


def _admitted_pythons(snapshot: Snapshot) -> list[str]:
    pyproject = pyproject_of(snapshot)
    lock = snapshot.project.lock
    text = (pyproject.requires_python if pyproject else None) or (lock.requires_python if lock else None)
    try:
        specifier = SpecifierSet(text or "")
    except InvalidSpecifier:
        return []
    # A minor version is admitted when any of its releases is: ">=3.13.4" admits 3.13.
    return [p for p in PYTHONS if any(specifier.contains(f"{p}.{patch}", prereleases=True) for patch in (0, 99))]


@rule("TD408", "lock-has-no-wheel-here", reads="project")
def lock_has_no_wheel_here(snapshot: Snapshot) -> Iterator[Finding]:
    """uv.lock pins a torch (or companion) with no wheel for a platform or Python the project admits.

    What it detects:
        For each platform (Linux x86_64 and aarch64, Windows, macOS) and each released Python that requires-python
        admits (within the lock's environments), the torch-family versions a plain `uv sync` and each extra or
        group install by uv.lock, against the wheels the lock records for them (their interpreter, ABI and
        platform tags): none fits, and the entry has no source distribution. A +cuXXX or +cpu build sent to macOS
        is left to TD307 and TD319, which name the source or the pin that sends it there.
    Why it matters:
        uv locked the version without asking that every platform and Python has a wheel; `uv sync` there stops with
        "can't be installed because it doesn't have a source distribution or wheel for the current platform". An
        error where it is this machine's plain `uv sync`; a warning for the plain install elsewhere, a note for an
        opt-in extra or group. Real reports: triton 3.3.0 on Linux aarch64 (Motphys/UniLab#632), torchaudio
        2.6.0+cpu on aarch64 (ByteDance-Seed/VeOmni#147), triton 2.1.0 on Windows (astral-sh/uv#12460).
    Fix safety:
        No fix offered: cap requires-python below the first Python without wheels, keep that platform away with a
        marker or `environments`, or allow a torch that has those wheels and re-lock; which one is the project's
        choice.
    """
    model = project_model(snapshot)
    lock = snapshot.project.lock
    if model.basis != "uv.lock" or lock is None or not any(p.wheel_tags for p in lock.packages):
        return
    entries: dict[tuple[str, str], list[LockedPackage]] = {}
    for package in lock.packages:
        if package.name in MODEL_PACKAGES:
            entries.setdefault((package.name, package.version), []).append(package)
    machine_python = snapshot.torch.python_version and ".".join(snapshot.torch.python_version.split(".")[:2])
    missing: dict[tuple[str, str, LockedPackage], list[tuple[Platform, str, str | None, str]]] = {}
    admitted = _admitted_pythons(snapshot)
    # What each platform installs in any selection, at the model's own Python: a Python's markers seldom change which
    # torch a platform gets, so a version no selection reaches there needs no walk at each Python.
    reached: dict[str, set[tuple[str, str | None]]] = {}
    for resolution in model.resolutions:
        reached.setdefault(resolution.platform, set()).update((p.name, p.version) for p in resolution.packages)
    for platform in PLATFORMS:
        for python in admitted:
            if lock.supported_markers and not any(marker_holds(m, platform.environment(python)) for m in lock.supported_markers):
                continue
            failing = {(e.name, e.version) for group in entries.values() for e in group
                       if not e.has_sdist and fits(e, platform, python) is False}
            if not failing & reached.get(platform.key, set()):
                continue  # nothing the platform installs lacks a wheel here: no walks (they are most of this rule's time)
            for selection in model.selections:
                for planned in resolve(snapshot.project, platform, python, selection).packages:
                    entry = _entry(entries.get((planned.name, planned.version or ""), []), planned.index)
                    if entry is None or entry.has_sdist or fits(entry, platform, python) is not False:
                        continue
                    missing.setdefault((entry.name, entry.version, entry), []).append((platform, python, selection.option,
                                                                                       selection.label))
    labels = {p.key: p for p in PLATFORMS}
    # Two kinds of gap, said apart: a platform with no wheel for any Python the project admits (nobody there can
    # install it) and single Pythons without wheels (those users fail; a .python-version or another Python avoids it).
    grouped: dict[tuple[bool, bool, tuple[str, ...]], list[tuple[str, tuple[str, ...], str, LockedPackage]]] = {}
    for (name, version, entry), places in missing.items():
        plain = [(p.key, py) for p, py, option, _ in places if option is None]
        chosen = plain or [(p.key, py) for p, py, _, _ in places]
        selections = () if plain else tuple(sorted({label for _, _, option, label in places if option is not None}))
        for key in dict.fromkeys(k for k, _ in chosen):
            gap = {py for k, py in chosen if k == key}
            whole = set(admitted) <= gap
            if not whole and not plain:
                continue  # a Python without wheels under an opt-in selection: said for the plain install only
            if whole and key == MACOS_ARM64.key and "+" in version:
                continue  # a +cuXXX/+cpu build sent to macOS: TD307 and TD319 name the source or pin that sends it
            grouped.setdefault((whole, bool(plain), selections), []).append(
                (f"{name} {version}", tuple(sorted(gap)), key, entry))
    findings = []
    for (whole, for_plain, selections), rows in grouped.items():
        packages = list(dict.fromkeys(text for text, _, _, _ in rows))
        spots = sorted({(key, py) for _, gap_pythons, key, _ in rows for py in gap_pythons})
        here = for_plain and any(key == model.machine_platform and py == machine_python for key, py in spots)
        severity = Severity.ERROR if here else Severity.WARNING if whole and for_plain else Severity.INFO
        where = _places([(labels[key], py) for key, py in spots], admitted)
        have = "has" if len(packages) == 1 else "have"
        findings.append(Finding(
            severity,
            f"uv.lock's {', '.join(packages)} {have} no wheel for {where}: `uv sync` there fails"
            + (f" ({', '.join(selections)})" if selections else ""),
            f"uv locked {', '.join(packages)} for every platform and Python the project admits, but the index has no wheel "
            f"for {where}, and no source distribution: `uv sync` there stops with \"doesn't have a source distribution or "
            "wheel for the current platform\". "
            + ("To support it, list it in [tool.uv] required-environments (uv then locks a version with wheels there, or "
               "says none exists) or route it to an index that has wheels for it, and re-lock; else keep it away with "
               "[tool.uv] environments." if whole else
               "Users of another Python are not affected (a .python-version file chooses which one uv takes unasked); "
               "cap requires-python below it, or allow a version that has those wheels and re-lock."),
            tuple(Evidence(f"locked {text} wheels", _tags_text(rows_entry), lock.path)
                  for text, rows_entry in list(dict.fromkeys((t, e) for t, _, _, e in rows))[:3])
            + ((Evidence("requires-python", pyproject.requires_python, pyproject.path),)
               if (pyproject := pyproject_of(snapshot)) and pyproject.requires_python else ()),
        ))
    yield from sorted(findings, key=lambda f: list(Severity).index(f.severity), reverse=True)


def _entry(candidates: list[LockedPackage], index: str | None) -> LockedPackage | None:
    """The lock entry a planned package is: by its source where one version comes from two indexes (torchvision 0.22.1
    from the cu128 index for aarch64 and from PyPI for macOS)."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for entry in candidates:
        pypi = entry.source is not None and "pypi.org" in entry.source
        if entry.source == index or (index is None and pypi):
            return entry
    return None  # not told apart: unknown, no finding


def _places(places: list[tuple[Platform, str]], admitted: list[str]) -> str:
    """"Python 3.14 on Linux x86_64 and Windows x86_64; every Python it admits on Linux aarch64"."""
    pythons_of: dict[str, list[str]] = {}
    labels = {p.key: p.label for p, _ in places}
    for platform, python in places:
        pythons_of.setdefault(platform.key, []).append(python)
    by_pythons: dict[tuple[str, ...], list[str]] = {}
    order = [p.key for p in PLATFORMS]
    for key, listed in sorted(pythons_of.items(), key=lambda item: order.index(item[0])):
        by_pythons.setdefault(tuple(sorted(set(listed), key=lambda v: int(v.split(".")[1]))), []).append(labels[key])
    parts = []
    for group, platforms in by_pythons.items():
        names = "every platform" if len(platforms) == len(PLATFORMS) else " and ".join(platforms)
        every = len(group) > 1 and set(group) == set(admitted)
        parts.append(f"any Python it admits on {names}" if every else f"Python {', '.join(group)} on {names}")
    return "; ".join(parts)


def _tags_text(entry: LockedPackage) -> str:
    shown = ", ".join(entry.wheel_tags[:6])
    return shown + (f" … ({len(entry.wheel_tags)} in all)" if len(entry.wheel_tags) > 6 else "")
