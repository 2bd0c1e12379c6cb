"""TD310, TD312, TD313, TD316, TD317, TD319-TD321: what the project's ranges, extras and settings install.

Each rule reads the project's version ranges, Python range, extras and [tool.uv] settings against the knowledge
base and the resolution model: a range no wheel serves, extras that cannot be locked together, a platform left on
CPU, a Python the nightly does not publish, a pin uv cannot resolve, settings without a project.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchdoctor.checks.builds import build_alternatives, is_cuda_build, publishes, selection_fix, use_build_fix
from torchdoctor.checks.common import declared_requirements, pyproject_of, python_marked, sources_for, torch_specifier_for
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, UNSAFE, Finding, rule
from torchdoctor.edits import (
    DeclareExtraConflicts,
    DropLocalTags,
    MarkerToExtra,
    RemoveDependencies,
    SetRequiresPython,
)
from torchdoctor.family import COMPANIONS, VERSIONED_WITH_TORCH
from torchdoctor.indexes import (
    PLATFORM_NAMES,
    environments_allow,
    extra_of_marker,
    marker_applies,
    marker_uses_extra,
    parse_index_url,
)
from torchdoctor.knowledge import cuda_of_variant, knowledge, public_specifier
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.requirements import parse_requirement
from torchdoctor.resolution import PLATFORMS, is_direct, marker_holds, project_model, representative_python
from torchdoctor.snapshot import Snapshot

KNOWLEDGE = "torchdoctor knowledge base"


@rule("TD310", "no-torch-wheels-for-range", fix=(SAFE, UNSAFE), reads="project")
def no_torch_wheels_for_range(snapshot: Snapshot) -> Iterator[Finding]:
    """A selection's torch range has no wheels on its CUDA index, or for a Python it admits.

    What it detects:
        For each selection (plain install, each extra, each group) on its own, never intersected with the ranges
        of conflicting extras: the torch range and the stable CUDA index the resolution model says it resolves
        from. An error only where the knowledge base has evidence that the variant ended before every release in
        the range (cu128 ended with 2.11, cu126 with 2.14, cu124 with 2.6); a variant the tables merely do not list
        for those releases (cu129 after 2.8) is "not in torchdoctor's tables", a note, and nothing when uv.lock holds
        such a build (what a lock proves exists, exists). Each Python is held to the range its requirements' markers
        give it (`torch>=2.8; python_version == '3.9'`). An extra held at the last
        release of a retired variant is a note too, naming the sibling selections that get a newer torch. Separately, a requires-python that admits a Python none of the
        matching releases has wheels for (torch 2.15 dropped Python 3.10, 2.9 dropped 3.9).
    Why it matters:
        `uv lock` fails ("No solution found … torch==X has no wheels with a matching Python ABI tag", or no version
        on the index). uv locks for every Python the project admits, not only the one in use.
    Fix safety:
        For the Python case the fix raises requires-python, which changes what the project promises (unsafe); for
        the variant case it maps torch to the variant this machine needs among the releases the range admits
        (safe, unless it replaces the index torch is mapped to now).
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None or not declared_requirements(pyproject, "torch"):
        return
    kb = knowledge()
    model = project_model(snapshot, from_lock=False)
    seen: set[tuple[str, str]] = set()
    for resolution in model.resolutions:
        torch = resolution.torch
        url = parse_index_url(torch.index) if torch is not None and torch.index and not is_direct(torch.index) else None
        if url is None or url.channel != "stable" or not url.variant or cuda_of_variant(url.variant) is None:
            continue  # no index (a wheel's own URL, a path, git: what it is, it is), or not a stable CUDA one
        specifier = _specifier(torch.specifier) if torch is not None else None
        if specifier is None or (url.variant, str(specifier)) in seen:
            continue
        seen.add((url.variant, str(specifier)))
        yield from _variant_findings(pyproject, resolution, torch, url, specifier, kb, snapshot, model)
    yield from _python_findings(pyproject, model, kb)


def _public_text(text: str | None) -> str:
    """A range's text without build tags (`==2.5.1+cu124` -> `==2.5.1`), as the releases it admits are found; the text as
    it is when it does not parse (the finding about it is another rule's)."""
    specifier = _specifier(text)
    return str(public_specifier(specifier)) if specifier is not None else (text or "")


def _specifier(text: str | None) -> SpecifierSet | None:
    try:
        return SpecifierSet(text or "")
    except InvalidSpecifier:
        return None


def _ahead_of(resolution, last: str, model) -> list[str]:
    """The sibling selections that get a torch newer than `last` on the same platform: "extra cpu (torch 2.15)"."""
    ahead: list[tuple[str, str]] = []
    for other in model.resolutions:
        series = other.torch.series if other.torch is not None else None
        if other.platform != resolution.platform or other.selection == resolution.selection or not series:
            continue
        if Version(series) > Version(last) and other.selection not in (a for a, _ in ahead):
            ahead.append((other.selection, series))
    return [f"{selection} (torch {series})" for selection, series in ahead]


def _variant_findings(pyproject, resolution, torch, url, specifier, kb, snapshot, model) -> Iterator[Finding]:
    variant, where = url.variant, f"index {torch.index_name or url.text}"
    selection = "" if resolution.option is None else f" ({resolution.selection})"
    admitted = kb.releases_in("torch", specifier)
    with_variant = [r for r in admitted if variant in r.variants]
    built = [r.series for r in kb.releases if variant in r.variants]
    retired = kb.retired.get(variant)
    range_evidence = Evidence(f"torch range{selection}", str(specifier) or "any", pyproject.path)
    beyond = kb.admits_beyond_tables(specifier)
    if with_variant:
        if retired and (beyond or any(Version(r.series) > Version(retired.last) for r in admitted)):
            ahead = _ahead_of(resolution, retired.last, model)
            yield Finding(
                Severity.INFO,
                f"{variant} ends at torch {retired.last}: torch {specifier or '(any)'}{selection} stays at {retired.last} on {where}"
                + (f", behind {', '.join(ahead[:2])}" + (f" and {len(ahead) - 2} more" if len(ahead) > 2 else "")
                   if ahead else ""),
                f"PyPI's newer releases have no {variant} build, so uv locks the newest release that has one. That works, "
                f"but this selection will not move past torch {retired.last}; a newer CUDA variant would"
                + (", as the project's other selections have" if ahead else "") + ".",
                (range_evidence, Evidence(f"last torch with {variant}", retired.last, f"{KNOWLEDGE}: {retired.source}"))
                + tuple(Evidence("torch of another selection", text, pyproject.path) for text in ahead),
            )
        return
    if retired and admitted and all(Version(r.series) > Version(retired.last) for r in admitted):
        yield Finding(
            Severity.ERROR,
            f"no torch release matching {specifier} is built for {variant} ({where}{selection}): {variant} ended with torch "
            f"{retired.last}",
            f"uv can only lock a torch that the {variant} index has, and PyTorch stopped building {variant} after "
            f"{retired.last}. Either allow torch {retired.last} or older, or map torch to a variant that the wanted releases have.",
            (range_evidence, Evidence(f"last torch with {variant}", retired.last, f"{KNOWLEDGE}: {retired.source}")),
            use_build_fix(snapshot),  # the variant this machine needs among the releases the range admits
        )
        return
    proven = _locked_with_variant(snapshot, variant, specifier)
    if proven:
        return  # what uv.lock holds exists: a gap in the tables is no finding (`torch 2.9.1+cu129` is locked)
    listed = f"list {variant} for torch {', '.join(built)} only" if built else f"do not list {variant} at all"
    yield Finding(
        Severity.INFO,
        f"torch {specifier or '(any)'} on {variant} ({where}{selection}) is beyond torchdoctor's tables: they {listed}",
        f"torchdoctor's release tables (as of {kb.as_of}) do not show a torch release matching {specifier or 'any version'} "
        f"built for {variant}. That is a gap in the tables, not proof: PyTorch publishes some variants off its support "
        f"matrix. `uv lock` tells for certain.",
        (range_evidence, Evidence(f"releases with {variant} in the tables", ", ".join(built) or "none",
                                  f"{KNOWLEDGE}: torch_releases.toml")),
    )


def _locked_with_variant(snapshot, variant: str, specifier) -> str | None:
    """A torch version uv.lock holds with this variant's tag inside the range: proof the build exists, whatever the
    tables say."""
    lock = snapshot.project.lock
    for package in (lock.packages if lock is not None else ()):
        if package.name != "torch" or not package.version.endswith(f"+{variant}"):
            continue
        try:
            if specifier.contains(Version(package.version.split("+", 1)[0]), prereleases=True):
                return package.version
        except InvalidVersion:
            continue
    return None


def _python_findings(pyproject, model, kb) -> Iterator[Finding]:
    if not pyproject.requires_python:
        return
    try:
        python_range = SpecifierSet(pyproject.requires_python)
    except InvalidSpecifier:
        return
    known_pythons = sorted({p for r in kb.releases for p in r.python}, key=Version)
    # Predicted installs only (a lock shows uv resolved): an exact pin with a build tag (`==2.5.1+cu124`) is predicted
    # with its version, and is a range like any other here (it was skipped, so requires-python below its Pythons went
    # unsaid until the tag was dropped).
    predicted = [r for r in model.resolutions if r.torch is not None and (r.basis != "uv.lock" or not r.torch.version)]
    ranges = dict.fromkeys(_public_text(r.torch.specifier) for r in predicted)  # the tag names a build, not a release
    marked = python_marked(pyproject)
    if marked:
        # Per-Python floors (`torch>=2.13; python_version>='3.10'`, `torch>=2.8; python_version=='3.9'`): the plain
        # install holds each admitted Python to the range that applies to it, never to another Python's (the empty
        # key below); the ranges of extras and groups, which the model gives, are checked as before.
        base = {_public_text(r.torch.specifier) for r in predicted if r.option is None}
        ranges = {"": None, **{text: None for text in ranges if text not in base}}
    for text in ranges:
        specifier = _specifier(text)
        if specifier is None:
            continue
        for python in known_pythons:
            if not python_range.contains(python + ".0") and not python_range.contains(python):
                continue
            if marked and text == "":
                specifier = torch_specifier_for(pyproject, python)
                if specifier is None:
                    continue  # no torch requirement for this Python
            releases = list(kb.releases_in("torch", specifier))
            if not releases:
                continue
            if any(python in r.python for r in releases):
                continue
            if Version(python) > Version(max((p for r in releases for p in r.python), key=Version)):
                continue  # newer than any release's Pythons: future releases may add it
            yield Finding(
                Severity.ERROR,
                f"requires-python {pyproject.requires_python} admits Python {python}, but no torch matching {specifier} has wheels for it",
                f"uv locks for every Python the project admits. torch {', '.join(r.series for r in releases)} "
                f"publish{'es' if len(releases) == 1 else ''} no wheels for Python {python}, so `uv lock` fails. Raise requires-python "
                f"above {python}, or allow a torch release that supports it.",
                (Evidence("requires-python", pyproject.requires_python, pyproject.path),
                 Evidence("torch range", str(specifier), pyproject.path),
                 Evidence(f"Python versions of torch {releases[0].series}", ", ".join(releases[0].python), KNOWLEDGE)),
                _narrow_python_fix(python_range, releases),
            )
            break


@rule("TD312", "accelerator-extras-misconfigured", fix=(SAFE, DISPLAY_ONLY), reads="project")
def accelerator_extras_misconfigured(snapshot: Snapshot) -> Iterator[Finding]:
    """Accelerator extras (cpu / cu128 …) map torch to different indexes without `[tool.uv] conflicts`.

    What it detects:
        torch sources chosen by `extra = …` that point at different indexes while the extras are not declared
        as conflicting (an error); and sources that use `marker = "extra == '…'"` instead of the `extra` key (a
        warning each).
    Why it matters:
        uv resolves all extras together, so without `conflicts` it must find one torch for both indexes and
        fails ("Requirements contain conflicting indexes for package `torch`"). A marker on `extra` is not how
        uv selects sources: `uv lock` succeeds and locks one torch, from one of the indexes, for every extra
        (checked with the real uv against the local index: tests/test_uv_lock.py), so the extras do not get the
        builds they are named for.
    Fix safety:
        Adds the conflicts table (uv's guide pattern) or moves the marker to the `extra` key. Where the project
        declares some pairs already, the groups to add are shown, not written (one group of all would forbid
        combining extras that share an index).
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    by_extra, keyed = {}, False
    for source in sources_for(pyproject, "torch"):
        extra = source.extra or (extra_of_marker(source.marker, pyproject.extras) if source.marker else None)
        if extra and source.kind == "index":
            by_extra[extra] = source.target
            keyed = keyed or bool(source.extra)
    # uv lock fails without conflicts once a source is chosen by the `extra` key; sources chosen only by markers on
    # `extra` lock one torch for all instead (the warnings below say so): no lock fails, no error.
    if keyed and len(set(by_extra.values())) > 1:
        declared = set()
        for group in pyproject.uv.conflict_groups:
            if isinstance(group, list):
                extras = frozenset(item.get("extra") for item in group if isinstance(item, dict) and item.get("extra"))
                declared.add(extras)
        # uv needs every two extras that map torch to different indexes declared conflicting, in any group (a
        # project may declare them pair by pair, and extras on one index may be combined; real locks show it).
        apart = sorted((a, b) for a in by_extra for b in by_extra if a < b and by_extra[a] != by_extra[b]
                       and not any({a, b} <= group for group in declared))
        if apart:
            if declared:  # some pairs declared: name the ones left out, and the groups to add (one group of all
                # would forbid combining extras that share an index)
                named = f"{', '.join(f'{a} and {b}' for a, b in apart[:4])}{' …' if len(apart) > 4 else ''}"
                fix = Fix(f"Declare the extras {', '.join(sorted({e for pair in apart for e in pair}))} as conflicting",
                          Applicability.DISPLAY_ONLY, commands=tuple(
                              f'# add to [tool.uv] conflicts: [{{ extra = "{a}" }}, {{ extra = "{b}" }}]' for a, b in apart[:8]))
            else:  # none declared: uv's guide pattern, one group
                named = ", ".join(sorted(by_extra))
                fix = Fix(f"Declare the extras {named} as conflicting", Applicability.SAFE,
                          DeclareExtraConflicts(extras=tuple(sorted(by_extra))))
            yield Finding(
                Severity.ERROR,
                f"the extras {named} map torch to different indexes but are not declared as conflicting",
                "uv locks all extras together; two torch builds from two indexes can only coexist in the lock when those "
                "extras are declared mutually exclusive in [tool.uv] conflicts (each such pair, in any group).",
                (Evidence("[tool.uv.sources] torch", ", ".join(f"extra {e} → {t}" for e, t in sorted(by_extra.items())),
                          pyproject.path),
                 Evidence("[tool.uv] conflicts", str(pyproject.uv.conflicts or "missing"), pyproject.path)),
                fix,
            )
    for source in pyproject.sources:
        if source.marker and marker_uses_extra(source.marker, pyproject.extras):
            extra = extra_of_marker(source.marker, pyproject.extras)
            yield Finding(
                Severity.WARNING,
                f"the source of {source.package} selects an extra through its marker ({source.marker}) instead of the extra key",
                "uv chooses sources for extras with `extra = \"name\"`; a marker on `extra` does not select the source: "
                "`uv lock` locks one build for every extra, from one of the indexes, whichever extra is asked for.",
                (Evidence(f"[tool.uv.sources] {source.package}", f"marker = {source.marker!r}", pyproject.path),),
                Fix(f"Use extra = \"{extra}\" instead of the marker", Applicability.SAFE,
                    MarkerToExtra(markers=((source.marker, extra),))) if extra else None,
            )


@rule("TD313", "torch-in-base-and-extras", fix=(UNSAFE, DISPLAY_ONLY), reads="project")
def torch_in_base_and_extras(snapshot: Snapshot) -> Iterator[Finding]:
    """torch is a base dependency while its CUDA index applies only through an extra.

    What it detects:
        torch in `[project] dependencies` and every torch source gated by `extra = …`.
    Why it matters:
        A plain `uv sync` (no extra) installs the base torch from PyPI, a CPU build on Windows and macOS, and
        silently ignores the CUDA mapping.
    Fix safety:
        Offered as an edit only for applications: the fix removes torch from the base dependencies (it stays in
        the extras), so a plain `uv sync` no longer installs it. A project that publishes (a `[build-system]`,
        `package = true`, or an index with a `publish-url`) keeps torch there, since the people who install it need
        it; its developers choose the extra (uv cannot map the plain requirement beside `extra =` sources).
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    sources = sources_for(pyproject, "torch")
    if not sources or not all(s.extra for s in sources):
        return
    if not any(r.group == "dependencies" for r in declared_requirements(pyproject, "torch")):
        return
    yield Finding(
        Severity.WARNING,
        "torch is a base dependency, but its index mapping only applies with an extra",
        "Without the extra (a plain `uv sync`) torch comes from PyPI, which is a CPU build on Windows and macOS. Either "
        "move torch into the extras only, or map the base dependency too.",
        (Evidence("torch requirements", "; ".join(f"{r.group}: {r.requirement}" for r in declared_requirements(pyproject, "torch")), pyproject.path),),
        Fix("Remove torch (and companions chosen by the same extras) from the base dependencies", Applicability.UNSAFE,
            RemoveDependencies(packages=tuple(sorted(
                p for p in ("torch", *COMPANIONS)
                if any(r.group == "dependencies" for r in declared_requirements(pyproject, p))
                and any(s.extra for s in sources_for(pyproject, p))
            )))) if not publishes(pyproject) else
        Fix("Keep torch in the published dependencies; develop with the extra that selects its build",
            Applicability.DISPLAY_ONLY,
            commands=tuple(f"uv sync --extra {extra}" for extra in sorted({s.extra for s in sources if s.extra}))),
    )


@rule("TD316", "windows-gets-cpu-torch", fix=(SAFE, UNSAFE, DISPLAY_ONLY), reads="project")
def windows_gets_cpu_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """Windows installs of the project get a CPU-only torch while Linux gets a GPU build.

    What it detects:
        By the resolution model (uv.lock, else pyproject.toml): a selection in which Windows x86_64 gets a CPU
        torch while Linux x86_64 gets a CUDA, ROCm or XPU build. Either torch comes from PyPI on Windows (no source
        applies there), or a source sends Windows to the CPU index, often by accident: `platform_machine ==
        'x86_64'` is false on Windows (which says AMD64), and `sys_platform != 'linux'` includes it.
    Why it matters:
        A Windows user with an NVIDIA GPU silently gets a CPU build, the most common PyTorch installation problem.
        A warning when a source routes Windows to the CPU index by a marker meant for another platform (it looks
        deliberate and is usually not), or on a Windows machine; a note elsewhere when Windows simply falls back to
        PyPI, or when the CPU source's marker holds on Windows alone (written for Windows: the team's choice).
    Fix safety:
        Maps torch and its companions to a CUDA index for Linux and Windows, keeping macOS on PyPI. Where each user
        picks the build with an extra or group, no source can reach the plain install (uv refuses sources that
        overlap): the command of the project's own selection that gives Windows a GPU build is shown instead.
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    model = project_model(snapshot)
    for selection in model.selections:
        windows = next((r for r in model.for_platform("windows-amd64") if r.selection == selection.label), None)
        linux = next((r for r in model.for_platform("linux-x86_64") if r.selection == selection.label), None)
        if windows is None or linux is None or windows.torch is None or linux.torch is None:
            continue
        if windows.torch.build != "cpu" or not linux.torch.accelerated:
            continue
        routed = windows.torch.index is not None and parse_index_url(windows.torch.index).variant == "cpu"
        on_windows = snapshot.system.os_name == "Windows"
        how = "" if selection.option is None else f" with `{selection.option}`"
        sources = [s for s in sources_for(pyproject, "torch") if s.kind == "index" and marker_applies(s.marker, "win32") is not False]
        # A CPU source whose marker holds on Windows alone was written for Windows: the team's choice, said as a note.
        # The accident the warning is for reaches Windows by a marker meant for another platform.
        chosen_for_windows = routed and any(
            s.marker and marker_applies(s.marker, "linux") is False and marker_applies(s.marker, "darwin") is False
            for s in sources if s.target in {i.name for i in pyproject.indexes if i.url and
                                             parse_index_url(i.url).variant == "cpu"})
        where = snapshot.project.lock.path if windows.basis == "uv.lock" and snapshot.project.lock else pyproject.path
        yield Finding(
            Severity.WARNING if (routed and not chosen_for_windows) or on_windows else Severity.INFO,
            f"on Windows this project installs a CPU-only torch{how}"
            + (f" from the CPU index ({windows.torch.index_name or windows.torch.index})" if routed else " from PyPI")
            + f", while Linux gets {linux.torch.build}",
            ("A [tool.uv.sources] entry sends Windows to the PyTorch CPU index. Check its marker: `platform_machine == "
             "'x86_64'` is false on Windows (it says AMD64) and `sys_platform != 'linux'` includes Windows. "
             if routed else
             f"No [tool.uv.sources] entry maps torch for {PLATFORM_NAMES['win32']}, so it comes from PyPI, whose Windows "
             "wheels have no CUDA. ")
            + "A Windows user with an NVIDIA GPU gets torch without CUDA; Linux users get a GPU build.",
            (Evidence(f"torch on Windows ({windows.selection})", f"{windows.torch.label}: {windows.torch.build_basis}", where),
             Evidence(f"torch on Linux x86_64 ({linux.selection})", f"{linux.torch.label}: {linux.torch.build_basis}", where))
            + tuple(Evidence("[tool.uv.sources] torch", f"index = {s.target!r}, marker = {s.marker!r}", pyproject.path) for s in sources),
            (use_build_fix(snapshot) or selection_fix(snapshot, "windows-amd64", lambda r: is_cuda_build(r.torch)))
            if selection.option is None else None,
            build_alternatives(snapshot) if selection.option is None else (),
        )
        return


def _narrow_python_fix(python_range: SpecifierSet, releases: list) -> Fix | None:
    """requires-python raised to the oldest Python every matching release has wheels for."""
    common = set.intersection(*(set(r.python) for r in releases))
    if not common:
        return None
    lowest = min(common, key=Version)
    kept = [str(s) for s in python_range if s.operator in ("<", "<=", "!=")]
    value = ",".join([f">={lowest}", *kept])
    return Fix(f"Raise requires-python to {value}", Applicability.UNSAFE, SetRequiresPython(value=value))


@rule("TD317", "requires-python-beyond-nightly", fix=UNSAFE, reads="project")
def requires_python_beyond_nightly(snapshot: Snapshot) -> Iterator[Finding]:
    """requires-python admits Pythons that the nightly index publishes no torch for.

    What it detects:
        torch comes from a nightly PyTorch index, and the project's requires-python admits a released
        Python for which the newest nightly on that index has no wheels, as read from the index's page
        (wheel tags and data-requires-python; cached for a day, so it also works offline afterwards).
    Why it matters:
        uv locks for every Python the project admits. Below the nightly's oldest Python `uv lock` fails
        ("the requested Python version ... does not satisfy Python>=3.10"); above its newest, installs on
        that Python fail. Nightly Python support moves faster than any release table.
    Fix safety:
        Narrowing requires-python changes what the project promises.
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None or not pyproject.requires_python:
        return
    try:
        python_range = SpecifierSet(pyproject.requires_python)
    except InvalidSpecifier:
        return
    torch_indexes = {s.target for s in sources_for(pyproject, "torch") if s.kind == "index"}
    released = sorted({p for r in knowledge().releases for p in r.python}, key=Version)
    for published in snapshot.project.index_pythons:
        if not published.pythons or published.index not in torch_indexes:
            continue
        admitted = [p for p in released if python_range.contains(p + ".0") or python_range.contains(p)]
        missing = [p for p in admitted if p not in published.pythons]
        if not missing:
            continue
        oldest = min(published.pythons, key=Version)
        lock_fails = any(Version(p) < Version(oldest) for p in missing)
        kept = [p for p in admitted if p in published.pythons]
        fix = None
        if kept:
            upper = Version(kept[-1])
            value = f">={kept[0]},<{upper.major}.{upper.minor + 1}"
            fix = Fix(f"Narrow requires-python to {value}, the Pythons the nightly publishes", Applicability.UNSAFE,
                      SetRequiresPython(value=value))
        when = f"read {published.read_at}" + (" (cached)" if published.from_cache else "")
        yield Finding(
            Severity.ERROR if lock_fails else Severity.WARNING,
            f"requires-python {pyproject.requires_python} admits Python {', '.join(missing)}, but the nightly on "
            f"{published.index} publishes torch only for {', '.join(published.pythons)}",
            "uv locks for every Python the project admits; "
            + ("below the nightly's oldest Python the lock fails. " if lock_fails else "installs on the others fail. ")
            + "Narrow requires-python to the Pythons the nightly is built for.",
            (Evidence("requires-python", pyproject.requires_python, pyproject.path),
             Evidence(f"newest torch on {published.index}", f"{published.newest}: wheels for {', '.join(published.pythons)}"
                      + (f"; requires-python {published.requires_python}" if published.requires_python else ""),
                      f"{published.url} ({when})")),
            fix,
        )


LOCAL_TAG = re.compile(r"^(cpu|cu\d{3}|xpu|rocm\d+(\.\d+)+)$")


@rule("TD319", "local-version-pin", fix=UNSAFE, reads="project")
def local_version_pin(snapshot: Snapshot) -> Iterator[Finding]:
    """torch, torchvision or torchaudio is pinned to a local version (`torch==2.5.1+cu124`).

    What it detects:
        An `==` requirement with a build tag. A tag that is no PyTorch build (`+rocm` without a version,
        `+cuda`) names nothing any index has: an error. A CUDA tag the tables show ended before that release is
        an error too; one the tables merely do not list for it is a note. A real build pinned where macOS resolves
        (no marker keeps macOS away, `environments` allows it) is a warning for a plain install and a note for an
        opt-in extra or group: no index has macOS wheels with that tag.
    Why it matters:
        A local pin fixes the build for every platform and only the PyTorch index has it: `uv lock` fails for a tag
        that does not exist, and macOS users cannot install a CUDA tag at all. The index in `[tool.uv.sources]`
        chooses the build without fixing it in the requirement.
    Fix safety:
        Unsafe: the pin is what the project promises. Where [tool.uv.sources] maps the package to an index, the fix
        keeps the version and drops the tag (`torch==2.5.1`), so that index chooses the build; offered only when
        proven (no platform moves from a GPU build to CPU, nothing new is raised).
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    from torchdoctor.resolution import default_groups

    def untagged(package: str, version: str, tag: str) -> Fix | None:
        """The tag dropped from every torch-family pin that carries it (torch and its companions move together)."""
        if not sources_for(pyproject, package):
            return None  # no index chooses the build: without the tag PyPI's would come
        tagged = tuple(dict.fromkeys(r.name for r in pyproject.torch_requirements
                                     if r.name in VERSIONED_WITH_TORCH and f"+{tag}" in r.requirement))
        named = ", ".join(tagged) if len(tagged) > 1 else f"{package}=={version}"
        return Fix(f"Require {named} without build tags, wherever the project pins them: the indexes "
                   "[tool.uv.sources] names choose the builds", Applicability.UNSAFE, DropLocalTags(packages=tagged or (package,)))

    kb = knowledge()
    defaults = default_groups(pyproject, pyproject.dependency_groups)
    reported = set()
    for declared in (*pyproject.torch_requirements, *pyproject.extension_requirements):
        if declared.name not in VERSIONED_WITH_TORCH or declared.requirement in reported:
            continue
        requirement = parse_requirement(declared.requirement)[0]
        pins = [s.version for s in requirement.specifier if s.operator == "==" and "+" in s.version] if requirement else []
        if not pins or requirement is None:
            continue
        reported.add(declared.requirement)
        version, tag = pins[0].split("+", 1)
        evidence = (Evidence(f"{declared.name} requirement ({declared.group})", declared.requirement, pyproject.path),)
        release = kb.release_of(declared.name, version)
        if not LOCAL_TAG.match(tag):
            yield Finding(
                Severity.ERROR,
                f"{declared.requirement!r} pins a build that does not exist: +{tag} is no PyTorch build tag",
                "PyTorch's builds are tagged +cpu, +cuXYZ (+cu128), +rocmX.Y (+rocm6.4) or +xpu; no index has "
                f"{declared.name} {version}+{tag}, so `uv lock` fails.",
                evidence,
                untagged(declared.name, version, tag),
            )
            continue
        retired = kb.retired.get(tag)
        if release is not None and tag.startswith("cu") and tag not in release.variants:
            ended = retired is not None and Version(release.series) > Version(retired.last)
            last = retired.last if retired is not None else ""
            yield Finding(
                Severity.ERROR if ended else Severity.INFO,
                f"{declared.requirement!r}: torch {release.series} " + (f"has no {tag} build ({tag} ended with torch {last})"
                                                                        if ended else f"with {tag} is beyond torchdoctor's tables"),
                ("No index has that build, so `uv lock` fails." if ended else
                 f"torchdoctor's tables (as of {kb.as_of}) list {', '.join(release.variants)} for torch {release.series}; "
                 "a missing row is a gap in the tables, not proof. `uv lock` tells for certain."),
                evidence + ((Evidence(f"last torch with {tag}", last, f"{KNOWLEDGE}: {retired.source}"),)
                            if ended and retired is not None else ()),
                untagged(declared.name, version, tag) if ended else None,
            )
            continue
        on_macos = environments_allow(pyproject.uv.environments, "darwin") and marker_applies(
            str(requirement.marker) if requirement.marker else None, "darwin") is not False
        plain = declared.group == "dependencies" or declared.group.removeprefix("group:") in defaults
        if on_macos:
            yield Finding(
                Severity.WARNING if plain else Severity.INFO,  # an opt-in extra is one macOS users would not pick
                f"{declared.requirement!r} pins the +{tag} build on every platform, macOS included, where no index has it",
                "A local version in the requirement fixes the build everywhere, and no index publishes macOS wheels with a "
                f"+{tag} tag, so macOS users cannot install the project. Require {declared.name}=={version} and choose the "
                "build with [tool.uv.sources] (an index per platform), or add a marker that keeps macOS away.",
                evidence,
                untagged(declared.name, version, tag),
            )


@rule("TD320", "environments-exclude-this-machine")
def environments_exclude_this_machine(snapshot: Snapshot) -> Iterator[Finding]:
    """`[tool.uv] environments` leaves out this machine.

    What it detects:
        The resolution environments in pyproject.toml (or the lock's `supported-markers`) checked against this
        machine's platform and Python. The platforms it leaves out in general are TD323's note: which platforms a
        project supports is its choice.
    Why it matters:
        uv resolves only for those environments; here `uv sync` stops with "The current Python platform is not
        compatible with the lockfile's supported environments".
    Fix safety:
        Which platforms the project supports is its choice.
    """
    from torchdoctor.resolution import machine_platform, marker_holds, representative_python

    pyproject = pyproject_of(snapshot)
    lock = snapshot.project.lock
    markers = (lock.supported_markers if lock and lock.supported_markers else ()) or (pyproject.uv.environments if pyproject else ())
    platform = machine_platform(snapshot.system)
    if not markers or platform is None:
        return
    where = lock.path if lock and lock.supported_markers else pyproject.path if pyproject else "pyproject.toml"
    python = snapshot.torch.python_version or representative_python(pyproject.requires_python if pyproject else None)
    if any(marker_holds(m, platform.environment(python)) for m in markers):
        return
    yield Finding(
        Severity.WARNING,
        f"this machine ({platform.label}, Python {python}) is outside the project's environments: `uv sync` refuses to "
        "install here",
        "uv resolves the project only for the environments listed, and refuses to install it anywhere else.",
        (Evidence("environments", "; ".join(markers), where),),
    )


@rule("TD323", "environments-leave-out-platforms", reads="project")
def environments_leave_out_platforms(snapshot: Snapshot) -> Iterator[Finding]:
    """`[tool.uv] environments` leaves out platforms torch has wheels for.

    What it detects:
        The resolution environments in pyproject.toml checked against Linux x86_64, Linux aarch64, Windows and
        macOS (for the Python the project admits): those none of them admits. Said once, as a note on intent: which
        platforms the project supports is its choice; this machine's own case is TD320's.
    Why it matters:
        uv resolves the project only for those environments: a teammate or a user on a platform left out gets
        "The current Python platform is not compatible with the lockfile's supported environments" from `uv sync`,
        often without knowing the project chose it (an aarch64 server, a Windows laptop).
    Fix safety:
        No fix offered: the platforms a project supports are its choice; add an environment to support one more.
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None or not pyproject.uv.environments or not declared_requirements(pyproject, "torch"):
        return
    python = representative_python(pyproject.requires_python)
    left_out = [p.label for p in PLATFORMS
                if not any(marker_holds(m, p.environment(python)) for m in pyproject.uv.environments)]
    if not left_out or len(left_out) == len(PLATFORMS):
        return  # none left out, or a marker this reading does not understand (TD320 and uv speak of it)
    yield Finding(
        Severity.INFO,
        f"the project resolves only for its [tool.uv] environments: `uv sync` refuses to install on {', '.join(left_out)}",
        "uv locks the project for the environments listed and refuses to install it anywhere else (\"The current Python "
        "platform is not compatible with the lockfile's supported environments\"). If that is the intent, it is said "
        "once here for whoever meets it; to support a platform, add an environment that admits it.",
        (Evidence("[tool.uv] environments", "; ".join(pyproject.uv.environments), pyproject.path),),
    )


@rule("TD321", "uv-settings-without-project", reads="project")
def uv_settings_without_project(snapshot: Snapshot) -> Iterator[Finding]:
    """`[tool.uv.sources]` or `[[tool.uv.index]]` in a pyproject.toml that is neither a project nor a workspace root.

    What it detects:
        Sources or indexes in a file without a `[project]` table and without `[tool.uv.workspace]`.
    Why it matters:
        uv applies sources and indexes to the project a file defines, or to a workspace's members. Here there is
        neither, so uv never reads them: whatever they say about torch does not happen.
    Fix safety:
        Add the `[project]` table the settings were meant for.
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None or pyproject.has_project_table or pyproject.workspace:
        return
    if not pyproject.sources and not pyproject.indexes:
        return
    yield Finding(
        Severity.WARNING,
        "[tool.uv.sources] and [[tool.uv.index]] here have no project to apply to: uv never uses them",
        "The file has no [project] table and is no workspace root ([tool.uv.workspace]), so uv does not treat it as a "
        "project and ignores its sources and indexes.",
        (Evidence("[project]", "missing", pyproject.path), Evidence("[tool.uv.workspace]", "missing", pyproject.path)),
    )


@rule("TD322", "wheel-url-for-some-platforms", reads="project")
def wheel_url_for_some_platforms(snapshot: Snapshot) -> Iterator[Finding]:
    """A package comes from one wheel's URL that installs on only some of the platforms the project resolves for.

    What it detects:
        A `[tool.uv.sources]` entry `{ url = "….whl" }`, or a requirement of torch's family or of a package built
        against it (flash-attn …) written `name @ https://….whl`,
        whose wheel's platform tags (read from its file name) fit none of the platforms its marker and the project's
        `[tool.uv] environments` admit among Linux x86_64, Linux aarch64, Windows and macOS: a `manylinux_x86_64`
        torch without a `platform_machine` marker reaches Linux aarch64 (GH200, GB200), Windows and macOS.
    Why it matters:
        uv locks the URL for every platform, and `uv sync` there fails: the package "doesn't have a source
        distribution or wheel for the current platform". A note: the project may only ever run on the wheel's
        platform, which `environments` (or a marker on the source) would then say.
    Fix safety:
        No fix offered: give the source the marker of the platforms its wheel serves (`marker = "sys_platform ==
        'linux' and platform_machine == 'x86_64'"`) and the other platforms a source of their own (an index), or
        restrict `[tool.uv] environments`.
    """
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    python = representative_python(pyproject.requires_python)
    delivered = [(s.package, s.target, s.marker, "[tool.uv.sources]") for s in pyproject.sources
                 if s.kind == "url" and s.target and not s.extra and not s.group]
    for declared in (*pyproject.torch_requirements, *pyproject.extension_requirements):
        requirement, _ = parse_requirement(declared.requirement)
        if requirement is not None and requirement.url:
            delivered.append((declared.name, requirement.url, str(requirement.marker) if requirement.marker else None,
                              f"[project] {declared.group}"))
    for package, url, marker, where in delivered:
        filename = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1].replace("%2B", "+").replace("%2b", "+")
        if not filename.endswith(".whl"):
            continue
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        platforms = {tag.platform for tag in tags}
        if "any" in platforms:
            continue
        missing = []
        for platform in PLATFORMS:
            environment = platform.environment(python)
            if marker and marker_holds(marker, environment) is False:
                continue
            if pyproject.uv.environments and not any(marker_holds(m, environment) for m in pyproject.uv.environments):
                continue
            if not any(_tag_fits(tag, platform.key) for tag in platforms):
                missing.append(platform.label)
        if missing:
            yield Finding(
                Severity.INFO,
                f"{package} comes from one wheel ({filename}) that `uv sync` cannot install on {', '.join(missing)}",
                f"The wheel's platform tags ({', '.join(sorted(platforms))}) fit only some of the platforms uv resolves "
                "the project for, and the source has no marker that keeps it to those: on the others `uv sync` fails "
                "(\"doesn't have a source distribution or wheel for the current platform\"). Mark the source for the "
                "platforms its wheel serves and give the others their own source, or restrict `[tool.uv] environments`.",
                (Evidence(f"{where} {package}", url + (f" ; {marker}" if marker else ""), pyproject.path),),
            )


def _tag_fits(tag: str, platform: str) -> bool:
    """Whether a wheel's platform tag installs on one of the model's platforms (linux-x86_64, linux-aarch64,
    windows-amd64, macos-arm64)."""
    if platform.startswith("linux-"):
        machine = platform.removeprefix("linux-")
        return tag.startswith(("manylinux", "musllinux", "linux")) and tag.endswith(f"_{machine}")
    if platform == "windows-amd64":
        return tag == "win_amd64"
    if platform == "macos-arm64":
        return tag.startswith("macosx") and (tag.endswith(("_arm64", "_universal2")))
    return False
