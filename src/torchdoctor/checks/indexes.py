"""TD301-TD309, TD314, TD315, TD318: the project's indexes and sources, as uv reads them.

Each rule reads [[tool.uv.index]], [tool.uv.sources] and the legacy [tool.uv] index settings of pyproject.toml:
an index that shadows PyPI, a URL uv cannot use, a source naming an index nobody declared, a CUDA index that
macOS would be sent to, a nightly without its triton, a companion left on another build.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import replace

from packaging.version import Version

from torchdoctor.checks.builds import each_user_picks, local_pins, use_build_fix
from torchdoctor.checks.common import COMPANION_FAILURE, declared_requirements, places_text, pyproject_of, sources_for
from torchdoctor.checks.common import torch_specifier as torch_range
from torchdoctor.checks.registry import DISPLAY_ONLY, SAFE, UNSAFE, Finding, rule
from torchdoctor.edits import (
    LINUX_OR_WINDOWS,
    AddPlatformMarker,
    MakeIndexExplicit,
    MapCompanions,
    MapNightlyTriton,
    RemoveIndex,
    RepairIndexUrl,
    ReplaceLegacyIndex,
    ReplaceTorchBackend,
    RetargetSources,
    UsePytorchIndex,
)
from torchdoctor.family import BUILD_PACKAGES, COMPANIONS
from torchdoctor.indexes import (
    IndexUrl,
    environments_allow,
    marker_applies,
    parse_index_url,
)
from torchdoctor.knowledge import knowledge
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.resolution import BUILD_CHECKED, build_conflict, project_model
from torchdoctor.snapshot import PyprojectInfo, Snapshot, UvIndex, UvSource


def _index_label(index: UvIndex) -> str:
    return f"[[tool.uv.index]] #{index.position}" + (f" ({index.name})" if index.name else "")


def _indexes(pyproject: PyprojectInfo) -> list[tuple[UvIndex, IndexUrl]]:
    return [(i, parse_index_url(i.url)) for i in pyproject.indexes if i.url]


@rule("TD301", "pytorch-index-not-explicit", fix=(SAFE, UNSAFE), reads="project")
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
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    for index, url in _indexes(pyproject):
        if not url.serves_torch or index.explicit:
            continue
        as_default = index.default
        mapped = any(s.kind == "index" and s.target == index.name for s in pyproject.sources)
        # Map the family to it only when torch has no source yet: companions follow torch (TD309), never another index.
        unmapped = index.name and not mapped and not sources_for(pyproject, "torch")
        family = [p for p in ("torch", *COMPANIONS) if declared_requirements(pyproject, p) and not sources_for(pyproject, p)] if unmapped else []
        if _ended_before_range(pyproject, url.variant):
            family = []  # torch has no release in its range there: mapping it would make `uv lock` fail
        # Once explicit, the index stops serving the triton its torch pins (nightly, ROCm, XPU): map that too, or
        # the fix would make the project unlockable (TD308). Where a build backend owns the dependencies, the proof
        # refuses the fix and says why.
        torch_here = "torch" in family or any(s.target == index.name for s in sources_for(pyproject, "torch"))
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


@rule("TD302", "legacy-pytorch-index-setting", fix=UNSAFE, reads="project")
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
    pyproject = pyproject_of(snapshot)
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
    from torchdoctor.checks.builds import pytorch_index_url

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
        ReplaceLegacyIndex(urls=tuple(url for _, url in found), name=name,
                           url=next((url for _, url in found if parse_index_url(url).mirror_of_pytorch), None)
                           or pytorch_index_url(path, pyproject),  # a mirror the legacy setting named stays the mirror
                           packages=tuple(packages)),
    )


@rule("TD303", "unsafe-best-match-with-pytorch-index", reads="project")
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
    pyproject = pyproject_of(snapshot)
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


@rule("TD304", "malformed-index-url", fix=SAFE, reads="project")
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
    pyproject = pyproject_of(snapshot)
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


@rule("TD305", "index-never-used", fix=UNSAFE, reads="project")
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
        PyTorch one (a vendor's, testpypi) is never touched, nor is any index while a source names an undeclared one
        (the name may be a typo of this index's).
    """
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    used = {s.target for s in pyproject.sources if s.kind == "index"}
    torch_mapped = any(s.package == "torch" for s in pyproject.sources)
    declared = {i.name for i in pyproject.indexes if i.name}
    # A source that names an undeclared index (TD306, a typo or a rename) may mean this one: no fix may remove it,
    # or a refused typo fix followed by this one would delete the very index the typo meant.
    misnamed = sorted({s.target for s in pyproject.sources if s.kind == "index" and s.target and s.target not in declared})
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
            packages = [p for p in ("torch", *COMPANIONS) if declared_requirements(pyproject, p) and not sources_for(pyproject, p)]
            if "torch" in packages:
                fix = Fix(f"Map {', '.join(packages)} to {index.name} on Linux and Windows", Applicability.UNSAFE,
                          UsePytorchIndex(name=index.name, url=index.url, packages=tuple(packages)))
                alternatives = (remove,)
        if misnamed:
            fix, alternatives = None, ()
        yield Finding(
            Severity.WARNING if meant_for_torch else Severity.INFO,
            f"the explicit index {index.name} is never used: no package in [tool.uv.sources] is mapped to it",
            "An explicit index serves only the packages mapped to it. As nothing is, every package, torch included, "
            "comes from the other indexes." + (" It looks meant for torch: map torch to it, or remove it." if meant_for_torch else "")
            + (f" A source names the undeclared index {', '.join(repr(m) for m in misnamed)} (TD306), which may mean this one:"
               " correct that first." if misnamed else ""),
            (Evidence(_index_label(index), f"url = {index.url}, explicit = true", pyproject.path),),
            fix,
            alternatives,
        )


@rule("TD306", "source-index-undeclared", fix=UNSAFE, reads="project")
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
    pyproject = pyproject_of(snapshot)
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


@rule("TD307", "accelerated-index-reaches-macos", fix=(SAFE, UNSAFE), reads="project")
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
        Adds `marker = "sys_platform == 'linux' or sys_platform == 'win32'"`. Where a requirement pins the build
        (`torch==2.7.1+cu126`), macOS cannot install it from PyPI either: the fix also drops the tag (the index
        chooses the build), which changes the requirement: unsafe.
    """
    pyproject = pyproject_of(snapshot)
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
        pinned = local_pins(pyproject, [s.package for s in sources])
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
                f"Use the {url.variant} index on Linux and Windows only, PyPI on macOS"
                + (f"; the build tag leaves the pin ({', '.join(pinned.values())}), which macOS cannot install"
                   if pinned else ""),
                Applicability.UNSAFE if pinned else Applicability.SAFE,
                AddPlatformMarker(index=target, marker=LINUX_OR_WINDOWS, unpin=tuple(pinned)),
            ),
        )


@rule("TD308", "nightly-index-incomplete", fix=(SAFE, DISPLAY_ONLY), reads="project")
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
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    urls = {i.name: parse_index_url(i.url) for i in pyproject.indexes if i.name and i.url}
    explicit = {i.name for i in pyproject.indexes if i.explicit}
    # Only an explicit index hides the triton from uv; a non-explicit one serves it (TD303 speaks of the risk).
    needing: dict[str, tuple[str, str]] = {}
    for source in sources_for(pyproject, "torch"):
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


@rule("TD309", "companions-not-mapped", fix=SAFE, reads="project")
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
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    model = project_model(snapshot, from_lock=False)
    torch_targets = {(s.target, s.extra) for s in sources_for(pyproject, "torch") if s.kind == "index"}
    for companion in BUILD_CHECKED:
        if not declared_requirements(pyproject, companion):
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
        targets = {(s.target, s.extra) for s in sources_for(pyproject, companion) if s.kind == "index"}
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


@rule("TD314", "torch-backend-ignored", fix=(SAFE, UNSAFE), reads="project")
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
    pyproject = pyproject_of(snapshot)
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
    pyproject = snapshot.project.pyproject
    if fix is None and pyproject is not None and each_user_picks(pyproject):
        return Fix("Drop torch-backend: the project's extras and groups already choose torch's build", Applicability.SAFE,
                   ReplaceTorchBackend())
    if fix is None:
        return None
    assert isinstance(fix.edit, UsePytorchIndex)
    return Fix(f"Replace torch-backend by an explicit index: {fix.title}", fix.applicability,
               ReplaceTorchBackend(**{f.name: getattr(fix.edit, f.name) for f in dataclasses.fields(fix.edit)}))


@rule("TD315", "index-mirror", reads="project")
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
    pyproject = pyproject_of(snapshot)
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


@rule("TD318", "pytorch-index-without-variant", reads="project")
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
    pyproject = pyproject_of(snapshot)
    if pyproject is None:
        return
    model = project_model(snapshot, from_lock=False)
    roots: dict = {}
    for resolution in model.resolutions:
        torch = resolution.torch
        if torch is None or not torch.index or resolution.platform.startswith("macos"):
            continue  # macOS wheels are one build (CPU, MPS on Apple silicon): the root serves macOS what it means
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
