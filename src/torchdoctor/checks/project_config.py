"""TD3xx: does pyproject.toml make uv fetch the right torch, for every platform the project resolves for?"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import replace

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from torchdoctor.checks.common import COMPANION_FAILURE, places_text
from torchdoctor.checks.common import torch_specifier as torch_range
from torchdoctor.checks.gpu_build import build_alternatives, use_build_fix
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, UNSAFE, Finding, rule
from torchdoctor.edits import (
    LINUX_OR_WINDOWS,
    AddPlatformMarker,
    DeclareExtraConflicts,
    MakeIndexExplicit,
    MapCompanions,
    MapNightlyTriton,
    MarkerToExtra,
    RemoveDependencies,
    RemoveIndex,
    RepairIndexUrl,
    ReplaceLegacyIndex,
    ReplaceTorchBackend,
    RetargetSources,
    SetRequiresPython,
    UsePytorchIndex,
)
from torchdoctor.family import BUILD_PACKAGES, COMPANIONS, VERSIONED_WITH_TORCH
from torchdoctor.indexes import (
    PLATFORM_NAMES,
    IndexUrl,
    environments_allow,
    extra_of_marker,
    marker_applies,
    marker_uses_extra,
    parse_index_url,
)
from torchdoctor.knowledge import cuda_of_variant, knowledge
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.requirements import parse_requirement
from torchdoctor.resolution import BUILD_CHECKED, build_conflict, project_model
from torchdoctor.snapshot import PyprojectInfo, Snapshot, UvIndex, UvSource

KNOWLEDGE = "torchdoctor knowledge base"


def _pyproject(snapshot: Snapshot) -> PyprojectInfo | None:
    return snapshot.project.pyproject


def _index_label(index: UvIndex) -> str:
    return f"[[tool.uv.index]] #{index.position}" + (f" ({index.name})" if index.name else "")


def _indexes(pyproject: PyprojectInfo) -> list[tuple[UvIndex, IndexUrl]]:
    return [(i, parse_index_url(i.url)) for i in pyproject.indexes if i.url]


def _sources_for(pyproject: PyprojectInfo, package: str) -> list[UvSource]:
    return [s for s in pyproject.sources if s.package == package]


def _declared(pyproject: PyprojectInfo, package: str) -> list:
    return [r for r in pyproject.torch_requirements if r.name == package]


@rule("TD301", "pytorch-index-not-explicit", fix=(SAFE, UNSAFE))
def pytorch_index_not_explicit(snapshot: Snapshot) -> Iterator[Finding]:
    """A PyTorch index is declared without `explicit = true`.

    What it detects:
        A `[[tool.uv.index]]` whose URL is download.pytorch.org/whl/... (or a mirror of it) without
        `explicit = true`, which is what `uv add --index` writes.
    Why it matters:
        The PyTorch index also carries old or partial copies of common packages (markupsafe, jinja2, numpy,
        pillow, requests). uv's default index strategy takes each package from the first index that has it,
        so those packages come from the PyTorch index instead of PyPI, at the wrong versions or without
        wheels for your Python ("markupsafe==3.0.2 @ registry+https://download.pytorch.org/whl/cpu can't be
        installed"). As `default = true` it replaces PyPI for every package.
    Fix safety:
        Adding `explicit = true` limits the index to the packages mapped to it in [tool.uv.sources]; the
        triton a nightly, ROCm or XPU torch pins is mapped to it too (Linux), since the index stops serving it unasked.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    for index, url in _indexes(pyproject):
        if not url.serves_torch or index.explicit:
            continue
        as_default = index.default
        mapped = any(s.kind == "index" and s.target == index.name for s in pyproject.sources)
        # Map the family to it only when torch has no source yet: companions follow torch (TD309), never another index.
        unmapped = index.name and not mapped and not _sources_for(pyproject, "torch")
        family = [p for p in ("torch", *COMPANIONS) if _declared(pyproject, p) and not _sources_for(pyproject, p)] if unmapped else []
        if _ended_before_range(pyproject, url.variant):
            family = []  # torch has no release in its range there: mapping it would make `uv lock` fail
        # Once explicit, the index stops serving the triton its torch pins (nightly, ROCm, XPU): map that too, or
        # the fix would make the project unlockable (TD308). Where a build backend owns the dependencies, the proof
        # refuses the fix and says why.
        torch_here = "torch" in family or any(s.target == index.name for s in _sources_for(pyproject, "torch"))
        tritons = _triton_for(url) if torch_here and environments_allow(pyproject.uv.environments, "linux") else None
        triton = tritons[0] if tritons and not any(s.package in tritons and s.target == index.name
                                                    for s in pyproject.sources) else None
        yield Finding(
            Severity.ERROR if as_default else Severity.WARNING,
            f"the PyTorch index {index.name or url.text} is not explicit"
            + (" and is the default index: every package would come from it" if as_default else ": it shadows PyPI"),
            "Without `explicit = true` uv may take any package from this index, and the PyTorch index carries old copies "
            "of common packages (markupsafe, numpy, jinja2, pillow, requests). Mark it explicit and map only the torch "
            "packages to it in [tool.uv.sources].",
            (Evidence(_index_label(index), f"url = {index.url}, explicit = {str(index.explicit).lower()}", pyproject.path),),
            Fix(
                f"Mark the index {index.name or index.position} explicit" + (" and stop using it as the default" if as_default else "")
                + (f", and map {triton} to it on Linux" if triton else ""),
                Applicability.UNSAFE if as_default else Applicability.SAFE,
                MakeIndexExplicit(position=index.position, name=index.name, drop_default=as_default,
                                  map_packages=tuple(family), marker=LINUX_OR_WINDOWS if url.accelerated else None,
                                  triton=triton),
            ),
        )


@rule("TD302", "legacy-pytorch-index-setting", fix=UNSAFE)
def legacy_pytorch_index_setting(snapshot: Snapshot) -> Iterator[Finding]:
    """The PyTorch index is set through `index-url`, `extra-index-url` or `find-links`.

    What it detects:
        `[tool.uv] index-url`, `extra-index-url` or `find-links` pointing at download.pytorch.org (or a
        mirror of it): the pre-0.4.23 way of getting CUDA builds, or pip habits carried over.
    Why it matters:
        These settings apply to every package and every platform: the PyTorch index shadows PyPI, there is no
        way to send macOS to PyPI and Linux to a CUDA index, and `+cu118`-style local versions must be pinned
        by hand. Their own author warned this way "may not work for CUDA 12.4 and newer".
    Fix safety:
        Replaced by an explicit `[[tool.uv.index]]` and `[tool.uv.sources]` entries with platform markers.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    uv = pyproject.uv
    settings = [("index-url", u) for u in ([uv.index_url] if uv.index_url else [])]
    settings += [("extra-index-url", u) for u in uv.extra_index_url] + [("find-links", u) for u in uv.find_links]
    found = [(key, url) for key, url in settings if parse_index_url(url).serves_torch]
    if not found:
        return
    keys = sorted({key for key, _ in found})
    yield Finding(
        Severity.WARNING,
        f"the PyTorch index is set with [tool.uv] {', '.join(keys)}, which applies to every package and platform",
        "uv's project settings for PyTorch are an explicit `[[tool.uv.index]]` plus `[tool.uv.sources]` entries with "
        "platform markers. The legacy settings make the PyTorch index serve all packages on all platforms, so macOS "
        "cannot be kept on PyPI and CUDA builds have to be pinned with local versions such as `+cu118`.",
        tuple(Evidence(f"[tool.uv] {key}", url, pyproject.path) for key, url in found),
        _legacy_fix(pyproject, found),
    )


def _ended_before_range(pyproject: PyprojectInfo, variant: str | None) -> bool:
    """Whether PyTorch stopped building `variant` (with evidence) before every release the torch range admits:
    mapping torch to that index would make `uv lock` fail."""
    retired = knowledge().retired.get(variant or "")
    specifier = torch_range(pyproject)
    if retired is None or specifier is None:
        return False
    admitted = knowledge().releases_in("torch", specifier)
    return bool(admitted) and all(Version(r.series) > Version(retired.last) for r in admitted)


def _legacy_fix(pyproject: PyprojectInfo, found: list[tuple[str, str]]) -> Fix | None:
    """One explicit index for the variant the legacy URLs name, with sources for the torch family."""
    from torchdoctor.checks.gpu_build import pytorch_index_url

    parsed = [parse_index_url(url) for _, url in found]
    variants = {(u.channel, u.variant) for u in parsed if u.variant}
    if len(variants) != 1:
        return None  # several variants or none: which one was meant is the user's call
    channel, variant = variants.pop()
    if _ended_before_range(pyproject, variant):
        return None  # an explicit index would leave torch only that variant, which has no release in the range
    path = variant if channel == "stable" else f"{channel}/{variant}"
    declared = {r.name for r in pyproject.torch_requirements}
    packages = [p for p in BUILD_PACKAGES if p in declared]
    if "torch" not in packages:
        return None
    name = f"pytorch-{variant}" if channel == "stable" else f"pytorch-{channel}-{variant}"
    return Fix(
        f"Move the PyTorch {path} index from [tool.uv] {', '.join(sorted({k for k, _ in found}))} to an explicit index "
        "with sources for Linux and Windows",
        Applicability.UNSAFE,  # markers now decide per platform what the URLs decided for every platform
        ReplaceLegacyIndex(urls=tuple(url for _, url in found), name=name, url=pytorch_index_url(path),
                           packages=tuple(packages)),
    )


@rule("TD303", "unsafe-best-match-with-pytorch-index")
def unsafe_best_match(snapshot: Snapshot) -> Iterator[Finding]:
    """`index-strategy = "unsafe-best-match"` together with a PyTorch index that is not explicit.

    What it detects:
        `[tool.uv] index-strategy = "unsafe-best-match"` (or `unsafe-any-match`) while a PyTorch index can
        serve packages that are not mapped to it.
    Why it matters:
        uv then compares versions across all indexes, and stale copies of common packages on the PyTorch index
        can win over PyPI (the dependency-confusion risk uv's default strategy exists to prevent).
    Fix safety:
        Cured by TD301's or TD302's fix (an explicit PyTorch index), after which the strategy can stay. Dropping
        the strategy alone would be worse: with uv's default first-index strategy a non-explicit PyTorch index
        listed first then serves its old copies outright (a real `uv lock` in the tests showed it).
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None or pyproject.uv.index_strategy not in ("unsafe-best-match", "unsafe-any-match"):
        return
    loose = [i for i, url in _indexes(pyproject) if url.serves_torch and not i.explicit]
    loose_legacy = [u for u in (*pyproject.uv.extra_index_url, *pyproject.uv.find_links) if parse_index_url(u).serves_torch]
    if not loose and not loose_legacy:
        return
    yield Finding(
        Severity.WARNING,
        f"index-strategy = \"{pyproject.uv.index_strategy}\" lets the PyTorch index compete with PyPI for every package",
        "With this strategy uv picks the best version from any index, so old copies of common packages on the PyTorch "
        "index can be chosen over PyPI. Make the PyTorch index explicit and use uv's default strategy.",
        (Evidence("[tool.uv] index-strategy", pyproject.uv.index_strategy, pyproject.path),),
    )


@rule("TD304", "malformed-index-url", fix=SAFE)
def malformed_index_url(snapshot: Snapshot) -> Iterator[Finding]:
    """An index URL uv cannot use as written.

    What it detects:
        A `[[tool.uv.index]]` URL wrapped in Markdown link syntax (`[https://…](https://…)`, as pasted from a
        rendered page), with spaces, without an http(s) scheme, or with a `/simple` suffix that the PyTorch
        index does not have.
    Why it matters:
        uv rejects the URL or gets 404 for every package, so `uv lock` fails before resolving anything.
    Fix safety:
        The URL is replaced by the one inside it.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    for index, url in _indexes(pyproject):
        if not url.problems:
            continue
        yield Finding(
            Severity.ERROR,
            f"the URL of index {index.name or index.position} is malformed: {'; '.join(url.problems)}",
            "uv uses the URL exactly as written, so `uv lock` fails for every package from this index."
            + (f" It should read {url.cleaned}." if url.cleaned else ""),
            (Evidence(_index_label(index), f"url = {index.url!r}", pyproject.path),),
            Fix(f"Replace the URL by {url.cleaned}", Applicability.SAFE,
                RepairIndexUrl(position=index.position, name=index.name, url=url.cleaned)) if url.cleaned else None,
        )


@rule("TD305", "index-never-used", fix=UNSAFE)
def index_never_used(snapshot: Snapshot) -> Iterator[Finding]:
    """An explicit index is declared but no package is mapped to it.

    What it detects:
        A `[[tool.uv.index]]` with `explicit = true` whose name no `[tool.uv.sources]` entry names. An index
        with a `publish-url` is where `uv publish` uploads, not a source: it is never reported.
    Why it matters:
        uv uses an explicit index only for the packages mapped to it, so this one is never consulted. A warning
        for a PyTorch index while torch is mapped nowhere: torch comes from PyPI (a CPU build on Windows and macOS)
        although the index suggests otherwise. A note when torch is mapped to another index (an index kept for
        switching CUDA lines is harmless) or the index is not a PyTorch one.
    Fix safety:
        For a CUDA/ROCm/XPU PyTorch index while torch is mapped nowhere, map torch and its companions to
        it (removing it is the alternative); for another unused PyTorch index, remove it. An index that is not a
        PyTorch one (a vendor's, testpypi) is never touched.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    used = {s.target for s in pyproject.sources if s.kind == "index"}
    torch_mapped = any(s.package == "torch" for s in pyproject.sources)
    for index in pyproject.indexes:
        if index.publish_url:
            continue  # an index to upload to (`uv publish --index`), not to install from
        if not (index.explicit and index.name and index.name not in used):
            continue
        url = parse_index_url(index.url) if index.url else None
        pytorch = url is not None and url.serves_torch
        # Left over beside a torch that is mapped elsewhere (kept for switching lines): harmless, a note.
        # With torch mapped nowhere, a PyTorch index was probably meant for it: torch comes from PyPI instead.
        meant_for_torch = pytorch and not torch_mapped
        remove = Fix(f"Remove the unused index {index.name}", Applicability.UNSAFE, RemoveIndex(name=index.name))
        fix: Fix | None = remove if pytorch else None  # other indexes (vendors, testpypi) are not ours
        alternatives: tuple[Fix, ...] = ()
        if meant_for_torch and url is not None and url.accelerated and index.url:
            packages = [p for p in ("torch", *COMPANIONS) if _declared(pyproject, p) and not _sources_for(pyproject, p)]
            if "torch" in packages:
                fix = Fix(f"Map {', '.join(packages)} to {index.name} on Linux and Windows", Applicability.UNSAFE,
                          UsePytorchIndex(name=index.name, url=index.url, packages=tuple(packages)))
                alternatives = (remove,)
        yield Finding(
            Severity.WARNING if meant_for_torch else Severity.INFO,
            f"the explicit index {index.name} is never used: no package in [tool.uv.sources] is mapped to it",
            "An explicit index serves only the packages mapped to it. As nothing is, every package, torch included, "
            "comes from the other indexes." + (" It looks meant for torch: map torch to it, or remove it." if meant_for_torch else ""),
            (Evidence(_index_label(index), f"url = {index.url}, explicit = true", pyproject.path),),
            fix,
            alternatives,
        )


@rule("TD306", "source-index-undeclared", fix=UNSAFE)
def source_index_undeclared(snapshot: Snapshot) -> Iterator[Finding]:
    """A `[tool.uv.sources]` entry names an index that is not declared.

    What it detects:
        `{ index = "name" }` where no `[[tool.uv.index]]` has that name (a typo, or a renamed index).
    Why it matters:
        `uv lock` stops with "Package `torch` references an undeclared index".
    Fix safety:
        When exactly one index is declared, the fix points the source at it (a guess at a typo);
        otherwise there is no fix and the message lists the declared names.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    names = {i.name for i in pyproject.indexes if i.name}
    missing = sorted({(s.package, s.target) for s in pyproject.sources if s.kind == "index" and s.target not in names})
    for package, target in missing:
        only = sorted(names)[0] if len(names) == 1 else None
        yield Finding(
            Severity.ERROR,
            f"[tool.uv.sources] maps {package} to index {target!r}, which is not declared",
            f"uv refuses to lock when a source names an undeclared index. Declared: {', '.join(sorted(names)) or 'none'}.",
            (Evidence(f"[tool.uv.sources] {package}", f"index = {target!r}", pyproject.path),),
            # Only when one index is declared is there a single candidate; even then it is a guess.
            Fix(f"Point the sources that name {target!r} at the only declared index, {only!r}", Applicability.UNSAFE,
                RetargetSources(from_=target, to=only)) if only and target else None,
        )


@rule("TD307", "accelerated-index-reaches-macos", fix=SAFE)
def accelerated_index_reaches_macos(snapshot: Snapshot) -> Iterator[Finding]:
    """torch is mapped to a CUDA or ROCm index without a marker that keeps macOS on PyPI.

    What it detects:
        A `[tool.uv.sources]` entry for torch (or a companion) pointing at a CUDA/ROCm/XPU index whose marker
        can be true on macOS, in a project uv resolves for macOS (no `[tool.uv] environments` excluding it).
        Entries chosen by an extra are left to the user's choice.
    Why it matters:
        Those indexes have no macOS wheels, so the lock has no torch that a Mac can install
        ("doesn't have a source distribution or wheel for the current platform").
    Fix safety:
        Adds `marker = "sys_platform == 'linux' or sys_platform == 'win32'"`.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None or not environments_allow(pyproject.uv.environments, "darwin"):
        return
    urls = {i.name: parse_index_url(i.url) for i in pyproject.indexes if i.name and i.url}
    reaching: dict[str, list[UvSource]] = {}
    for source in pyproject.sources:
        url = urls.get(source.target or "")
        if source.kind != "index" or url is None or not url.accelerated or source.extra or source.group:
            continue
        if source.target and source.package in ("torch", *COMPANIONS) and marker_applies(source.marker, "darwin") is True:
            reaching.setdefault(source.target, []).append(source)
    for target, sources in reaching.items():
        url = urls[target]
        packages = ", ".join(s.package for s in sources)
        label = url.variant if url.channel == "stable" else f"{url.channel} {url.variant}"
        yield Finding(
            Severity.WARNING,
            f"{packages} come{'s' if len(sources) == 1 else ''} from the {label} index {target} on every platform, "
            "macOS included, where it has no wheels",
            f"The {label} index only has Linux and Windows wheels. Without a marker, macOS users get no installable "
            f"{sources[0].package}; add marker = \"sys_platform == 'linux' or sys_platform == 'win32'\" so macOS uses PyPI.",
            tuple(
                Evidence(f"[tool.uv.sources] {s.package}", f"index = {s.target!r}, marker = {s.marker!r}", pyproject.path)
                for s in sources
            ),
            Fix(
                f"Use the {url.variant} index on Linux and Windows only, PyPI on macOS",
                Applicability.SAFE,
                AddPlatformMarker(index=target, marker=LINUX_OR_WINDOWS),
            ),
        )


@rule("TD308", "nightly-index-incomplete", fix=(SAFE, DISPLAY_ONLY))
def nightly_index_incomplete(snapshot: Snapshot) -> Iterator[Finding]:
    """torch comes from the nightly, test, ROCm or XPU index, but the triton it depends on does not.

    What it detects:
        torch mapped to an explicit `/whl/nightly/` or `/whl/test/` CUDA index while neither pytorch-triton nor
        triton is mapped to it; or to an explicit ROCm or XPU index without pytorch-triton-rocm / triton-rocm
        (pytorch-triton-xpu / triton-xpu). A non-explicit index serves the triton to uv unasked, and a project that
        never resolves for Linux needs none; a uv.lock with torch from that index shows uv resolved it.
    Why it matters:
        Nightly torch pins `pytorch-triton==X+git…`, which exists only on the nightly index. An explicit index
        serves only mapped packages, so `uv lock` ends with "No solution found … torch depends on
        pytorch-triton". (Pre-releases need no setting here: with only nightlies on the explicit index, uv's
        default `if-necessary-or-explicit` accepts them, as a real `uv lock` in the tests shows.)
    Fix safety:
        Maps pytorch-triton (Linux only) to the same index and depends on it there.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    urls = {i.name: parse_index_url(i.url) for i in pyproject.indexes if i.name and i.url}
    explicit = {i.name for i in pyproject.indexes if i.explicit}
    # Only an explicit index hides the triton from uv; a non-explicit one serves it (TD303 speaks of the risk).
    needing: dict[str, tuple[str, str]] = {}
    for source in _sources_for(pyproject, "torch"):
        tritons = _triton_for(urls[source.target]) if source.target in urls and source.target else None
        if source.kind == "index" and source.target in explicit and tritons and source.target:
            needing[source.target] = tritons
    if not environments_allow(pyproject.uv.environments, "linux"):
        return  # the triton is a Linux dependency of torch: a project that never resolves for Linux needs none
    locked = {r.torch.index for r in project_model(snapshot).resolutions if r.basis == "uv.lock" and r.torch is not None}
    for name in sorted(needing):
        url, tritons = urls[name], needing[name]
        if any(s.package in tritons and s.target == name for s in pyproject.sources):
            continue
        if next((i.url for i in pyproject.indexes if i.name == name), None) in locked:
            continue  # uv.lock has torch from that index: uv resolved it, whatever its triton needed
        kind = f"{url.channel} " if url.channel != "stable" else ""
        what = f"the {kind}{url.variant or 'PyTorch'} index"
        yield Finding(
            Severity.ERROR,
            f"torch comes from {what} {name}, but {tritons[0]} is not mapped to it",
            f"torch from {what} depends on `{tritons[0]}` (`{tritons[1]}` in newer builds), published only on that index "
            "(for Linux). The index is explicit, so uv will not look for it there and `uv lock` fails with \"No solution "
            f"found … torch depends on {tritons[0]}\". Map {tritons[0]} to the same index with marker = \"sys_platform == "
            "'linux'\".",
            (Evidence("[tool.uv.sources] torch", f"index = {name!r} ({url.text})", pyproject.path),
             Evidence(f"[tool.uv.sources] {tritons[0]}", "missing", pyproject.path)),
            # The fix also adds the triton to [project].dependencies; where `dynamic` lists them a build backend
            # owns that key (r4), so the step is said, not written.
            Fix(f"Map {tritons[0]} to {name} on Linux and depend on it there", Applicability.SAFE,
                MapNightlyTriton(index=name, package=tritons[0])) if "dependencies" not in pyproject.dynamic else
            Fix(f"Map {tritons[0]} to {name} and add it to the requirements your build backend reads (dependencies are "
                "dynamic here)", Applicability.DISPLAY_ONLY,
                commands=(f'# [tool.uv.sources] {tritons[0]} = [{{ index = "{name}", marker = "sys_platform == \'linux\'" }}]',
                          f"# and in the file [tool.setuptools.dynamic] (or your backend) reads: {tritons[0]} ; sys_platform == 'linux'")),
        )


def _triton_for(url: IndexUrl) -> tuple[str, str] | None:
    """The triton packages torch from this index depends on, which only that index publishes: nightly and test CUDA
    builds pin `pytorch-triton==…+git…` (`triton` in newer nightlies); ROCm and XPU builds their own tritons."""
    variant = url.variant or ""
    if variant.startswith("rocm"):
        return ("pytorch-triton-rocm", "triton-rocm")
    if variant == "xpu":
        return ("pytorch-triton-xpu", "triton-xpu")
    if url.channel != "stable" and (variant.startswith("cu") or not variant):
        return ("pytorch-triton", "triton")
    return None


@rule("TD309", "companions-not-mapped", fix=SAFE)
def companions_not_mapped(snapshot: Snapshot) -> Iterator[Finding]:
    """torchvision/torchaudio/torchcodec would get a build that fails beside the project's torch.

    What it detects:
        For each platform and selection, the builds pyproject.toml gives torch and each declared companion (the
        resolution model's prediction, as `uv lock` would resolve): CPU beside CUDA, ROCm or XPU beside CUDA, or
        another CUDA major. A companion left on PyPI is not a finding by itself: on Linux PyPI's torchvision is the
        CUDA build the tables name for its release (0.23.0 is cu128, like torch 2.8.0+cu128); on Windows it is a
        CPU build.
    Why it matters:
        The companion's GPU operators fail beside this torch ("Could not run 'torchvision::nms' with arguments from
        the 'CUDA' backend", or "compiled with different CUDA major versions" at import). An error for a plain
        install on this machine; a warning for another platform or an opt-in selection.
    Fix safety:
        Copies torch's source entries to the companion.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    model = project_model(snapshot, from_lock=False)
    torch_targets = {(s.target, s.extra) for s in _sources_for(pyproject, "torch") if s.kind == "index"}
    for companion in BUILD_CHECKED:
        if not _declared(pyproject, companion):
            continue
        failing, uncertain = [], False
        for resolution in (*model.machine, *model.others()):
            torch, other = resolution.torch, resolution.get(companion)
            if torch is None or other is None:
                continue
            possible = other.possible_builds or (other.build,)
            conflicts = [b for b in possible if b is not None and build_conflict(torch.build, b)]
            if conflicts:
                failing.append((resolution, torch, replace(other, build=other.build or "/".join(conflicts))))
                uncertain = uncertain or len(conflicts) < len(possible)
        if not failing:
            continue
        here = any(r.platform == "this-machine" and r.option is None for r, _, _ in failing) and not uncertain
        where = places_text(r for r, _, _ in failing)
        resolution, torch, other = failing[0]
        targets = {(s.target, s.extra) for s in _sources_for(pyproject, companion) if s.kind == "index"}
        missing = torch_targets - targets
        yield Finding(
            Severity.ERROR if here else Severity.WARNING,
            f"{companion} {'may get' if uncertain else 'gets'} another build than torch on {where}: "
            f"{other.build} beside torch's {torch.build}",
            f"{companion}'s compiled operators must match torch's build ({build_conflict(torch.build, (other.build or '').split('/')[0])} "
            f"here): {COMPANION_FAILURE}. Map {companion} like torch.",
            (Evidence(f"torch ({resolution.selection})", f"{torch.build} ({torch.build_basis})", pyproject.path),
             Evidence(f"{companion} ({resolution.selection})", f"{other.build} ({other.build_basis})", pyproject.path)),
            Fix(
                f"Map {companion} like torch",
                Applicability.SAFE,
                MapCompanions(package=companion, targets=tuple(sorted(((t, e) for t, e in missing if t), key=str))),
            ) if missing else None,
        )


@rule("TD310", "no-torch-wheels-for-range", fix=(SAFE, UNSAFE))
def no_torch_wheels_for_range(snapshot: Snapshot) -> Iterator[Finding]:
    """A selection's torch range has no wheels on its CUDA index, or for a Python it admits.

    What it detects:
        For each selection (plain install, each extra, each group) on its own, never intersected with the ranges
        of conflicting extras: the torch range and the stable CUDA index the resolution model says it resolves
        from. An error only where the knowledge base has evidence that the variant ended before every release in
        the range (cu128 ended with 2.11, cu126 with 2.14, cu124 with 2.6); a variant the tables merely do not list
        for those releases (cu129 after 2.8) is "not in torchdoctor's tables", a note. An extra held at the last
        release of a retired variant is a note too. Separately, a requires-python that admits a Python none of the
        matching releases has wheels for (torch 2.15 dropped Python 3.10, 2.9 dropped 3.9).
    Why it matters:
        `uv lock` fails ("No solution found … torch==X has no wheels with a matching Python ABI tag", or no version
        on the index). uv locks for every Python the project admits, not only the one in use.
    Fix safety:
        For the Python case the fix raises requires-python, which changes what the project promises (unsafe); for
        the variant case it maps torch to the variant this machine needs among the releases the range admits
        (safe, unless it replaces the index torch is mapped to now).
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None or not _declared(pyproject, "torch"):
        return
    kb = knowledge()
    model = project_model(snapshot, from_lock=False)
    seen: set[tuple[str, str]] = set()
    for resolution in model.resolutions:
        torch = resolution.torch
        url = parse_index_url(torch.index) if torch is not None and torch.index else None
        if url is None or url.channel != "stable" or not url.variant or cuda_of_variant(url.variant) is None:
            continue
        specifier = _specifier(torch.specifier) if torch is not None else None
        if specifier is None or (url.variant, str(specifier)) in seen:
            continue
        seen.add((url.variant, str(specifier)))
        yield from _variant_findings(pyproject, resolution, torch, url, specifier, kb, snapshot)
    yield from _python_findings(pyproject, model, kb)


def _specifier(text: str | None) -> SpecifierSet | None:
    try:
        return SpecifierSet(text or "")
    except InvalidSpecifier:
        return None


def _variant_findings(pyproject, resolution, torch, url, specifier, kb, snapshot) -> Iterator[Finding]:
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
            yield Finding(
                Severity.INFO,
                f"{variant} ends at torch {retired.last}: torch {specifier or '(any)'}{selection} stays at {retired.last} on {where}",
                f"PyPI's newer releases have no {variant} build, so uv locks the newest release that has one. That works, "
                f"but this selection will not move past torch {retired.last}; a newer CUDA variant would.",
                (range_evidence, Evidence(f"last torch with {variant}", retired.last, f"{KNOWLEDGE}: {retired.source}")),
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


def _python_findings(pyproject, model, kb) -> Iterator[Finding]:
    if not pyproject.requires_python:
        return
    try:
        python_range = SpecifierSet(pyproject.requires_python)
    except InvalidSpecifier:
        return
    known_pythons = sorted({p for r in kb.releases for p in r.python}, key=Version)
    ranges = dict.fromkeys(r.torch.specifier or "" for r in model.resolutions if r.torch is not None and not r.torch.version)
    for text in ranges:
        specifier = _specifier(text)
        if specifier is None:
            continue
        releases = list(kb.releases_in("torch", specifier))
        if not releases:
            continue
        for python in known_pythons:
            if not python_range.contains(python + ".0") and not python_range.contains(python):
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


@rule("TD312", "accelerator-extras-misconfigured", fix=SAFE)
def accelerator_extras_misconfigured(snapshot: Snapshot) -> Iterator[Finding]:
    """Accelerator extras (cpu / cu128 …) map torch to different indexes without `[tool.uv] conflicts`.

    What it detects:
        torch sources chosen by `extra = …` that point at different indexes while the extras are not declared
        as conflicting; and sources that use `marker = "extra == '…'"` instead of the `extra` key.
    Why it matters:
        uv resolves all extras together, so without `conflicts` it must find one torch for both indexes and
        fails ("Requirements contain conflicting indexes for package `torch`"). A marker on `extra` is not how
        uv selects sources, so the mapping does not apply.
    Fix safety:
        Adds the conflicts table (uv's guide pattern) or moves the marker to the `extra` key.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    by_extra = {}
    for source in _sources_for(pyproject, "torch"):
        extra = source.extra or (extra_of_marker(source.marker, pyproject.extras) if source.marker else None)
        if extra and source.kind == "index":
            by_extra[extra] = source.target
    if len(set(by_extra.values())) > 1:
        declared = set()
        for group in pyproject.uv.conflicts or []:
            if isinstance(group, list):
                extras = frozenset(item.get("extra") for item in group if isinstance(item, dict) and item.get("extra"))
                declared.add(extras)
        needed = frozenset(by_extra)
        if not any(needed <= group for group in declared):
            yield Finding(
                Severity.ERROR,
                f"the extras {', '.join(sorted(by_extra))} map torch to different indexes but are not declared as conflicting",
                "uv locks all extras together; two torch builds from two indexes can only coexist in the lock when the "
                "extras are declared mutually exclusive in [tool.uv] conflicts.",
                (Evidence("[tool.uv.sources] torch", ", ".join(f"extra {e} → {t}" for e, t in sorted(by_extra.items())), pyproject.path),
                 Evidence("[tool.uv] conflicts", str(pyproject.uv.conflicts or "missing"), pyproject.path)),
                Fix(f"Declare the extras {', '.join(sorted(by_extra))} as conflicting", Applicability.SAFE,
                    DeclareExtraConflicts(extras=tuple(sorted(by_extra)))),
            )
    for source in pyproject.sources:
        if source.marker and marker_uses_extra(source.marker, pyproject.extras):
            extra = extra_of_marker(source.marker, pyproject.extras)
            yield Finding(
                Severity.WARNING,
                f"the source of {source.package} selects an extra through its marker ({source.marker}) instead of the extra key",
                "uv chooses sources for extras with `extra = \"name\"`; a marker on `extra` does not select the source.",
                (Evidence(f"[tool.uv.sources] {source.package}", f"marker = {source.marker!r}", pyproject.path),),
                Fix(f"Use extra = \"{extra}\" instead of the marker", Applicability.SAFE,
                    MarkerToExtra(markers=((source.marker, extra),))) if extra else None,
            )


@rule("TD313", "torch-in-base-and-extras", fix=(UNSAFE, DISPLAY_ONLY))
def torch_in_base_and_extras(snapshot: Snapshot) -> Iterator[Finding]:
    """torch is a base dependency while its CUDA index applies only through an extra.

    What it detects:
        torch in `[project] dependencies` and every torch source gated by `extra = …`.
    Why it matters:
        A plain `uv sync` (no extra) installs the base torch from PyPI, a CPU build on Windows and macOS, and
        silently ignores the CUDA mapping.
    Fix safety:
        Offered as an edit only for applications: the fix removes torch from the base dependencies (it stays in
        the extras), so a plain `uv sync` no longer installs it. A packaged project (a `[build-system]`, or
        `package = true`) keeps torch there, since the people who install it need it; its developers choose the
        extra (uv cannot map the plain requirement beside `extra =` sources).
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    sources = _sources_for(pyproject, "torch")
    if not sources or not all(s.extra for s in sources):
        return
    if not any(r.group == "dependencies" for r in _declared(pyproject, "torch")):
        return
    yield Finding(
        Severity.WARNING,
        "torch is a base dependency, but its index mapping only applies with an extra",
        "Without the extra (a plain `uv sync`) torch comes from PyPI, which is a CPU build on Windows and macOS. Either "
        "move torch into the extras only, or map the base dependency too.",
        (Evidence("torch requirements", "; ".join(f"{r.group}: {r.requirement}" for r in _declared(pyproject, "torch")), pyproject.path),),
        Fix("Remove torch (and companions chosen by the same extras) from the base dependencies", Applicability.UNSAFE,
            RemoveDependencies(packages=tuple(sorted(
                p for p in ("torch", *COMPANIONS)
                if any(r.group == "dependencies" for r in _declared(pyproject, p))
                and any(s.extra for s in _sources_for(pyproject, p))
            )))) if not pyproject.packaged else
        Fix("Keep torch in the published dependencies; develop with the extra that selects its build",
            Applicability.DISPLAY_ONLY,
            commands=tuple(f"uv sync --extra {extra}" for extra in sorted({s.extra for s in sources if s.extra}))),
    )


@rule("TD314", "torch-backend-ignored", fix=(SAFE, UNSAFE))
def torch_backend_ignored(snapshot: Snapshot) -> Iterator[Finding]:
    """`torch-backend` is set in pyproject.toml, where uv's project commands ignore it.

    What it detects:
        `torch-backend` under `[tool.uv]` or `[tool.uv.pip]`.
    Why it matters:
        It only affects `uv pip install`; `uv lock`, `uv sync` and `uv run` resolve torch from the indexes and
        sources as if it were not there, so the project gets PyPI's build.
    Fix safety:
        Replaced by the index and sources it was meant to select.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None or not pyproject.uv.torch_backend:
        return
    yield Finding(
        Severity.WARNING,
        f"torch-backend = \"{pyproject.uv.torch_backend}\" is ignored by uv lock, uv sync and uv run",
        "uv applies torch-backend to `uv pip` commands only. For a project, the CUDA build has to be chosen with an explicit "
        "[[tool.uv.index]] and [tool.uv.sources].",
        (Evidence("torch-backend", pyproject.uv.torch_backend, pyproject.path),),
        _replace_backend_fix(snapshot),
    )


def _replace_backend_fix(snapshot: Snapshot) -> Fix | None:
    """torch-backend's intent, as the index and sources uv's project commands do follow."""
    fix = use_build_fix(snapshot)
    if fix is None:
        return None
    assert isinstance(fix.edit, UsePytorchIndex)
    return Fix(f"Replace torch-backend by an explicit index: {fix.title}", fix.applicability,
               ReplaceTorchBackend(**{f.name: getattr(fix.edit, f.name) for f in dataclasses.fields(fix.edit)}))


@rule("TD315", "index-mirror")
def index_mirror(snapshot: Snapshot) -> Iterator[Finding]:
    """An index is a mirror: of the PyTorch index, or of PyPI.

    What it detects:
        An index URL on another host with the PyTorch index's layout (…/whl/cu124), or a default index that
        replaces PyPI (…/simple on a mirror host).
    Why it matters:
        Mirrors are fine and common (university and company mirrors); torchdoctor treats a PyTorch mirror like
        the index it mirrors, and notes that mirrors can lag behind or drop old builds.
    Fix safety:
        Nothing to fix: a mirror is the team's choice; the finding says what it serves.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    for index, url in _indexes(pyproject):
        if url.mirror_of_pytorch:
            yield Finding(
                Severity.INFO,
                f"index {index.name or index.position} ({url.host}) is a mirror of the PyTorch {url.variant} index",
                "It is checked like download.pytorch.org/whl/" + (f"{url.channel}/" if url.channel != "stable" else "")
                + f"{url.variant}. Mirrors can lag behind the original or drop old builds.",
                (Evidence(_index_label(index), index.url or "", pyproject.path),),
            )
        elif index.default and url.host and url.host != "pypi.org" and not url.serves_torch:
            yield Finding(
                Severity.INFO,
                f"the default index {index.name or index.position} ({url.host}) replaces PyPI",
                "Every package not mapped elsewhere comes from this index (a PyPI mirror or a private index).",
                (Evidence(_index_label(index), f"url = {index.url}, default = true", pyproject.path),),
            )


@rule("TD316", "windows-gets-cpu-torch", fix=(SAFE, UNSAFE))
def windows_gets_cpu_torch(snapshot: Snapshot) -> Iterator[Finding]:
    """Windows installs of the project get a CPU-only torch while Linux gets a GPU build.

    What it detects:
        By the resolution model (uv.lock, else pyproject.toml): a selection in which Windows x86_64 gets a CPU
        torch while Linux x86_64 gets a CUDA, ROCm or XPU build. Either torch comes from PyPI on Windows (no source
        applies there), or a source sends Windows to the CPU index, often by accident: `platform_machine ==
        'x86_64'` is false on Windows (which says AMD64), and `sys_platform != 'linux'` includes it.
    Why it matters:
        A Windows user with an NVIDIA GPU silently gets a CPU build, the most common PyTorch installation problem.
        A warning when a source routes Windows to the CPU index (it looks deliberate and is usually not), or on a
        Windows machine; a note elsewhere when Windows simply falls back to PyPI.
    Fix safety:
        Maps torch and its companions to a CUDA index for Linux and Windows, keeping macOS on PyPI.
    """
    pyproject = _pyproject(snapshot)
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
        sources = [s for s in _sources_for(pyproject, "torch") if s.kind == "index" and marker_applies(s.marker, "win32") is not False]
        where = snapshot.project.lock.path if windows.basis == "uv.lock" and snapshot.project.lock else pyproject.path
        yield Finding(
            Severity.WARNING if routed or on_windows else Severity.INFO,
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
            use_build_fix(snapshot) if selection.option is None else None,
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


@rule("TD317", "requires-python-beyond-nightly", fix=UNSAFE)
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
    pyproject = _pyproject(snapshot)
    if pyproject is None or not pyproject.requires_python:
        return
    try:
        python_range = SpecifierSet(pyproject.requires_python)
    except InvalidSpecifier:
        return
    torch_indexes = {s.target for s in _sources_for(pyproject, "torch") if s.kind == "index"}
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


@rule("TD318", "pytorch-index-without-variant")
def pytorch_index_without_variant(snapshot: Snapshot) -> Iterator[Finding]:
    """torch comes from the PyTorch index's root, which names no build.

    What it detects:
        An index that torch resolves from (by the resolution model) whose URL is the PyTorch index's root or a
        channel's root, `https://download.pytorch.org/whl/` or `…/whl/nightly/`, with no `cu130`, `cpu`, `rocm6.4`
        or `xpu` after it.
    Why it matters:
        The root lists every build under one version number, and uv takes the one it ranks highest, which on
        Linux has been the `+cpu` build: the project silently locks CPU torch for Linux, whatever GPU its users
        have. Naming the variant makes the choice explicit. It is a fact of the file, so it is said on every
        machine, not only on one with a GPU.
    Fix safety:
        Which CUDA line the project wants is the team's choice.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    model = project_model(snapshot, from_lock=False)
    roots: dict = {}
    for resolution in model.resolutions:
        torch = resolution.torch
        if torch is None or not torch.index:
            continue
        url = parse_index_url(torch.index)
        if url.pytorch and not url.variant:
            roots.setdefault(torch.index, (torch.index_name, url))
    for text, (name, url) in roots.items():
        channel = "" if url.channel == "stable" else f"{url.channel}/"
        yield Finding(
            Severity.WARNING,
            f"torch comes from the PyTorch index root {text}, which names no build: Linux gets whatever uv ranks highest, "
            "the CPU build",
            f"Name the build in the URL, for example https://download.pytorch.org/whl/{channel}cu130 for CUDA 13.0 or "
            f"https://download.pytorch.org/whl/{channel}cpu for CPU, so every platform gets the build the project means.",
            (Evidence("[[tool.uv.index]]" + (f" ({name})" if name else ""), text, pyproject.path),),
        )


LOCAL_TAG = re.compile(r"^(cpu|cu\d{3}|xpu|rocm\d+(\.\d+)+)$")


@rule("TD319", "local-version-pin")
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
        The pin is what the project promises.
    """
    pyproject = _pyproject(snapshot)
    if pyproject is None:
        return
    from torchdoctor.resolution import default_groups

    kb = knowledge()
    defaults = default_groups(pyproject, pyproject.dependency_groups)
    reported = set()
    for declared in pyproject.torch_requirements:
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
            )
            continue
        on_macos = environments_allow(pyproject.uv.environments, "darwin") and marker_applies(
            str(requirement.marker) if requirement.marker else None, "darwin") is not False
        plain = declared.group == "dependencies" or declared.group.removeprefix("group:") in defaults
        if on_macos and tag != "cpu":
            yield Finding(
                Severity.WARNING if plain else Severity.INFO,  # an opt-in extra is one macOS users would not pick
                f"{declared.requirement!r} pins the +{tag} build on every platform, macOS included, where no index has it",
                "A local version in the requirement fixes the build everywhere, and no index publishes macOS wheels with a "
                f"+{tag} tag, so macOS users cannot install the project. Require {declared.name}=={version} and choose the "
                "build with [tool.uv.sources] (an index per platform), or add a marker that keeps macOS away.",
                evidence,
            )


@rule("TD320", "environments-exclude-this-machine")
def environments_exclude_this_machine(snapshot: Snapshot) -> Iterator[Finding]:
    """`[tool.uv] environments` leaves out this machine.

    What it detects:
        The resolution environments in pyproject.toml (or the lock's `supported-markers`) checked against this
        machine's platform and Python. A project that supports only some platforms on purpose is not reported
        elsewhere: which platforms it supports is its choice.
    Why it matters:
        uv resolves only for those environments; here `uv sync` stops with "The current Python platform is not
        compatible with the lockfile's supported environments".
    Fix safety:
        Which platforms the project supports is its choice.
    """
    from torchdoctor.resolution import machine_platform, marker_holds, representative_python

    pyproject = _pyproject(snapshot)
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


@rule("TD321", "uv-settings-without-project")
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
    pyproject = _pyproject(snapshot)
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
