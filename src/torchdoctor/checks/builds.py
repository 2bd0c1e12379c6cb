"""The build to use: which PyTorch index (CUDA line) the project should map the torch family to, and the fix that
writes it. Several rules offer it (TD201, TD220-TD232, TD310, TD314, TD316, TD402), so it lives here, beside them,
rather than in one rule module the others import. The GPUs and the driver's CUDA it reads are here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from torchdoctor.checks.common import nvml_source, torch_source, torch_specifier
from torchdoctor.edits import LINUX_OR_WINDOWS, AcceleratorExtras, UsePytorchIndex
from torchdoctor.family import BUILD_CHECKED, BUILD_PACKAGES
from torchdoctor.knowledge import (
    Capability,
    coverage,
    cuda_of_variant,
    decode_cuda_version,
    knowledge,
    sm_name,
)
from torchdoctor.model import Applicability, Fix
from torchdoctor.resolution import project_model
from torchdoctor.snapshot import Snapshot


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    capability: Capability
    source: str


def gpus(snapshot: Snapshot) -> tuple[Gpu, ...]:
    """The NVIDIA GPUs with their compute capability: NVML's view, else torch's."""
    if snapshot.nvml.status == "ok" and snapshot.nvml.gpus:
        return tuple(
            Gpu(g.index, g.name or f"GPU {g.index}", (g.compute_capability[0], g.compute_capability[1]), nvml_source(snapshot))
            for g in snapshot.nvml.gpus
            if g.compute_capability
        )
    return tuple(Gpu(d.index, d.name, d.capability, torch_source(snapshot)) for d in snapshot.torch.devices)


def driver_cuda(snapshot: Snapshot) -> tuple[int, int] | None:
    """The newest CUDA the driver supports: NVML's answer, else the driver API's."""
    encoded = snapshot.nvml.cuda_driver_version
    if not encoded and snapshot.torch.cuda_driver is not None:
        encoded = snapshot.torch.cuda_driver.driver_version
    return decode_cuda_version(encoded)


PYTORCH_INDEX = "https://download.pytorch.org/whl"


def pytorch_index_url(variant: str, pyproject=None) -> str:
    """The PyTorch index of `variant` ("cu128", "nightly/cu128") where the project gets PyTorch's index: the copy
    `[tool.torchdoctor] pytorch-index` names, or the mirror its own indexes already use (a company's or a university's
    copy of download.pytorch.org/whl; a firewall may allow nothing else), else download.pytorch.org."""
    chosen = pyproject.settings.pytorch_index if pyproject is not None and pyproject.settings else None
    return f"{chosen or mirror_base(pyproject) or PYTORCH_INDEX}/{variant}"


def mirror_base(pyproject) -> str | None:
    """The `…/whl` the project's mirror of the PyTorch index serves its stable lines under, when one of its indexes is
    such a mirror (`https://mirrors.nju.edu.cn/pytorch/whl/cu124` -> `https://mirrors.nju.edu.cn/pytorch/whl`); None
    when it has none, or several on different bases (which to use is the team's call)."""
    from torchdoctor.indexes import parse_index_url

    bases = set()
    for index in (pyproject.indexes if pyproject is not None else ()):
        url = parse_index_url(index.url) if index.url else None
        if url is None or not url.mirror_of_pytorch or url.channel != "stable" or not url.variant:
            continue
        path = index.url.rstrip("/")
        if path.endswith("/" + url.variant):
            bases.add(path[: -len(url.variant) - 1])
    return bases.pop() if len(bases) == 1 else None


def declared_cuda_lines(snapshot: Snapshot) -> tuple[str, ...]:
    """The CUDA variants the project already declares, the one torch is mapped to first: stable PyTorch
    indexes in [[tool.uv.index]] (mapped or not). The project's CUDA line belongs to the team."""
    from torchdoctor.indexes import parse_index_url

    pyproject = snapshot.project.pyproject
    if pyproject is None:
        return ()
    variants = {i.name: parse_index_url(i.url).variant for i in pyproject.indexes if i.url
                and parse_index_url(i.url).serves_torch and parse_index_url(i.url).channel == "stable"}
    cuda = {name: v for name, v in variants.items() if v and cuda_of_variant(v)}
    mapped = [cuda[s.target] for s in pyproject.sources if s.package == "torch" and s.kind == "index" and s.target in cuda]
    rest = sorted(set(cuda.values()) - set(mapped), key=lambda v: cuda_of_variant(v) or (0, 0))
    return tuple(dict.fromkeys([*mapped, *rest]))


def linux_cuda_line_today(snapshot: Snapshot) -> str | None:
    """The CUDA line a plain `uv sync` installs on Linux x86_64 now, where no stable PyTorch index declares one: from
    PyPI (whose Linux wheels are CUDA builds) or a nightly index. The team's line in fact, though not in name."""
    for resolution in project_model(snapshot).resolutions:
        torch = resolution.torch
        if (resolution.platform == "linux-x86_64" and resolution.option is None and torch is not None and torch.build
                and cuda_of_variant(torch.build)):
            return torch.build
    return None


def recommend_builds(snapshot: Snapshot, outright: bool = False) -> list[tuple[str, str]]:
    """The CUDA lines to offer, as (variant, reason), the default first.

    The project's CUDA line belongs to the team. The default keeps the line the project already declares when
    it runs on every NVIDIA GPU here (CUDA's arch rules over the wheel's arch list) and on this driver, or, when it
    declares none, the line Linux installs today (PyPI's, say: mapping Windows to CUDA then leaves Linux as it is);
    with `outright` (the cure of a driver finding) that line must run on the driver without leaning on CUDA's
    minor-version compatibility, or it is the very line the finding is about;
    otherwise it is the *oldest* CUDA line of the newest release in the project's range that does, with the
    driver supporting it outright where possible: the lowest driver floor for everyone who shares the project.
    The second choice, when it differs, is this machine's newest line. A machine without an NVIDIA GPU keeps the
    declared line or proposes nothing: it never moves Linux from CUDA to CPU.
    """
    kb = knowledge()
    specifier = torch_specifier(snapshot.project.pyproject)
    if specifier is None:
        return []
    releases = sorted(kb.releases_in("torch", specifier), key=lambda r: Version(r.latest), reverse=True)
    declared = declared_cuda_lines(snapshot)
    capabilities = sorted({g.capability for g in gpus(snapshot)})
    if not capabilities:
        return [(declared[0], f"{declared[0]}: the project's declared CUDA line (this machine has no NVIDIA GPU to "
                              "choose another by)")] if declared else []
    if not releases:
        return []
    supported = driver_cuda(snapshot)
    driver = snapshot.nvml.driver_version or "current"
    targets = " ".join(sm_name(c) for c in capabilities)

    def serves(release, variant: str, strict: bool) -> bool:
        cuda = cuda_of_variant(variant)
        if cuda is None or variant not in release.variants:
            return False
        if supported is not None and (cuda > supported if strict else cuda[0] > supported[0]):
            return False
        archs = kb.arch_list(release.latest, variant, snapshot.system.architecture or "x86_64")
        return archs is not None and bool(archs) and all(coverage(c, archs).supported for c in capabilities)

    for variant in declared[:1]:
        if any(serves(release, variant, strict=outright) for release in releases):
            return [(variant, f"{variant}: the project's declared CUDA line, which has {targets} and runs on your {driver} driver")]
    today = None if declared else linux_cuda_line_today(snapshot)
    if today is not None and any(serves(release, today, strict=outright) for release in releases):
        return [(today, f"{today}: the CUDA line Linux installs today, which has {targets} and runs on your {driver} "
                        "driver: Linux keeps its build")]

    def first(newest: bool) -> tuple[str, str] | None:
        for strict in (True, False):
            for release in releases:
                variants = sorted((v for v in release.variants if cuda_of_variant(v)), key=lambda v: cuda_of_variant(v) or (0, 0),
                                  reverse=newest)
                for variant in variants:
                    if serves(release, variant, strict):
                        return variant, release.series
        return None

    oldest, newest = first(newest=False), first(newest=True)
    choices = []
    if oldest is not None:
        choices.append((oldest[0], f"{oldest[0]}: the oldest CUDA line of torch {oldest[1]} with {targets} that your {driver} "
                                   "driver supports (the lowest driver floor for everyone who shares the project)"))
    if newest is not None and newest != oldest:
        choices.append((newest[0], f"{newest[0]}: this machine's newest torch {newest[1]} build with {targets} (it raises the "
                                   "driver floor for everyone who shares the project)"))
    return choices


def build_alternatives(snapshot: Snapshot, outright: bool = False) -> tuple[Fix, ...]:
    """The other choices beside use_build_fix's default: this machine's newest line, and the extras pattern."""
    newest = use_build_fix(snapshot, choice=1, outright=outright)
    return ((newest,) if newest else ()) + extras_alternative(snapshot, outright)


def extras_alternative(snapshot: Snapshot, outright: bool = False) -> tuple[Fix, ...]:
    """The other way: let each user pick CPU or the recommended CUDA build with an extra (uv's guide pattern)."""
    fix = use_build_fix(snapshot, outright=outright)
    pyproject = snapshot.project.pyproject
    if fix is None or pyproject is None or pyproject.extras or not isinstance(fix.edit, UsePytorchIndex) or fix.edit.replace:
        return ()
    from torchdoctor.indexes import parse_index_url

    variant = parse_index_url(fix.edit.url).variant or fix.edit.name.removeprefix("pytorch-")
    variants = ["cpu"] if variant == "cpu" else ["cpu", variant]
    if len(variants) < 2:
        return ()
    return (
        Fix(
            f"Let each user choose: extras {' and '.join(variants)} (`uv sync --extra {variant}`), declared conflicting; "
            "torch leaves the plain install",
            Applicability.UNSAFE,  # a plain `uv sync` no longer installs torch
            AcceleratorExtras(variants=tuple(variants), urls=tuple(pytorch_index_url(v, pyproject) for v in variants),
                              packages=fix.edit.packages),
        ),
    )


def use_build_fix(snapshot: Snapshot, choice: int = 0, outright: bool = False) -> Fix | None:
    """The fix that maps the torch family to the recommended PyTorch index (choice 0, the default; 1, this
    machine's newest line when it differs), or None."""
    pyproject = snapshot.project.pyproject
    if pyproject is None or not pyproject.has_project_table:
        return None
    choices = recommend_builds(snapshot, outright)
    if len(choices) <= choice:
        return None
    variant, reason = choices[choice]
    declared = {r.name for r in pyproject.torch_requirements}
    packages = [p for p in BUILD_PACKAGES if p in declared]
    if "torch" not in packages:
        return None
    from torchdoctor.indexes import parse_index_url

    pytorch_indexes = {i.name for i in pyproject.indexes if i.name and i.url and parse_index_url(i.url).serves_torch}
    # The project's own index for that line, when sources already use it: its name and URL (a mirror) stay as
    # they are. An unused one is left to TD305, whose fix may remove it; the two fixes must not meet there.
    used = {s.target for s in pyproject.sources if s.kind == "index"}
    own = next((i for i in pyproject.indexes if i.name in used and i.url and parse_index_url(i.url).serves_torch
                and parse_index_url(i.url).channel == "stable" and parse_index_url(i.url).variant == variant), None)
    name = own.name if own and own.name else f"pytorch-{variant}"
    torch_sources = [s for s in pyproject.sources if s.package == "torch"]
    if each_user_picks(pyproject):
        return None  # no edit reaches the plain install; the findings offer the selection that works (selection_fix)
    if any(s.kind != "index" and not s.extra and not s.group for s in torch_sources):
        return None  # torch from a URL, path or git: not an index this fix can move (the finding says what to use)
    existing = {s.target for s in pyproject.sources if s.package in packages and s.kind == "index" and not s.extra and not s.group}
    replace = sorted(target for target in existing & pytorch_indexes - {name} if target)
    if existing - pytorch_indexes - {name}:
        return None  # sources to other kinds of index: not ours to rewrite
    pinned = local_pins(pyproject, packages)
    bound = bound_to_line(pyproject, declared_cuda_lines(snapshot)[:1], variant, packages)
    required = companions_through_others(snapshot)
    followers = sorted({package for package, _, _ in required})
    if "dependencies" in pyproject.dynamic or "optional-dependencies" in pyproject.dynamic:
        required, followers = (), []  # the build backend owns the requirements: the proof would refuse, say why
    return Fix(
        title=reason + (f"; the build tag leaves the pin ({', '.join(pinned.values())}): the index chooses the build"
                        if pinned else "")
        + (f"; {', '.join(followers)}, installed only through other packages, become requirements of the project so "
           "that they follow torch" if followers else "")
        + (f"; {', '.join(bound[:3])}{f' and {len(bound) - 3} more' if len(bound) > 3 else ''}, built for the project's "
           f"{declared_cuda_lines(snapshot)[0]}, would not follow" if bound else ""),
        applicability=Applicability.UNSAFE if replace or choice or pinned or required or bound else Applicability.SAFE,
        edit=UsePytorchIndex(name=name, url=own.url if own and own.url else pytorch_index_url(variant, pyproject),
                             packages=tuple(dict.fromkeys([*packages, *followers])), marker=LINUX_OR_WINDOWS,
                             replace=tuple(replace), unpin=tuple(pinned), require=required),
    )


def companions_through_others(snapshot: Snapshot) -> tuple[tuple[str, str, str], ...]:
    """(package, where, marker) for each companion built per CUDA line (torchvision, torchaudio) that uv.lock installs
    for some selection only as another package's dependency. uv applies a source only to the project's own
    requirements (tests/test_uv_lock.py runs it), so such a companion stays on PyPI when torch moves: it must become
    the project's requirement where that selection asks for it (its extra or group, else [project] dependencies),
    under a marker for the platforms it is installed on. A project that publishes (a build system) gets it in the
    `dev` group for a plain install, never in the dependencies its users install."""
    pyproject = snapshot.project.pyproject
    if pyproject is None or snapshot.project.lock is None:
        return ()
    declared = {(r.name, r.group) for r in pyproject.torch_requirements}
    declared_anywhere = {r.name for r in pyproject.torch_requirements}
    found: dict[tuple[str, str], set[str]] = {}
    model = project_model(snapshot)  # the lock's walk, once per snapshot: every rule's build fix asks
    selections = {s.label: s for s in model.selections}
    for resolution in model.resolutions:
        selection = selections.get(resolution.selection)
        if selection is None or resolution.torch is None:
            continue
        where = requirement_place(selection, pyproject)
        for package in BUILD_CHECKED:
            if resolution.get(package) is None or (package, where) in declared or package in declared_anywhere:
                continue
            found.setdefault((package, where), set()).add(_SYS_PLATFORM[resolution.platform])
    every = set(_SYS_PLATFORM.values())
    return tuple((package, where, "" if platforms == every else " or ".join(f"sys_platform == '{p}'" for p in sorted(platforms)))
                 for (package, where), platforms in sorted(found.items()))


def requirement_place(selection, pyproject) -> str:
    """Where a requirement for what `selection` installs goes: its extra or group ("optional:<extra>", "group:<name>"),
    else the dependencies, or the `dev` group for a project that publishes (its users' dependencies stay its own)."""
    if selection is not None and selection.option is not None:
        if selection.option.startswith("--extra") and selection.extras:
            return f"optional:{selection.extras[-1]}"
        if selection.groups:
            return f"group:{selection.groups[-1]}"
    return "group:dev" if publishes(pyproject) else "dependencies"


def each_user_picks(pyproject) -> bool:
    """Every torch source names an extra or a group: each user picks a build. A source for the plain install beside
    those would overlap them, which uv refuses ("conflicting indexes for package `torch` in split ..."; a test runs
    uv on it), so no edit of the sources reaches the plain install."""
    torch_sources = [s for s in pyproject.sources if s.package == "torch"]
    return bool(torch_sources) and all(s.extra or s.group for s in torch_sources)


def is_cuda_build(planned) -> bool:
    """A CUDA build of torch (cu128 …): the only kind that runs on an NVIDIA GPU (a ROCm or XPU build is accelerated,
    but not there)."""
    return planned is not None and planned.build is not None and cuda_of_variant(planned.build) is not None


def publishes(pyproject) -> bool:
    """The project is a package others install (a build system, or an index it publishes to): its published
    dependencies are its users', and no fix adds to them or takes torch away from them."""
    return pyproject.packaged or any(index.publish_url for index in pyproject.indexes)


_SYS_PLATFORM = {"linux-x86_64": "linux", "linux-aarch64": "linux", "windows-amd64": "win32", "macos-arm64": "darwin"}


def bound_to_line(pyproject, declared: tuple[str, ...], target: str, packages) -> list[str]:
    """What else in the project is built for its declared CUDA line, when the target line is another CUDA major:
    sources on indexes named for it (`flashinfer-cu130`, `astral-cu130`) and requirements tagged with it
    (`flash-attn==2.8.3+cu.13.0.torch.2.11`). Those do not move with torch, and their CUDA major must match it: the
    reason a team declares its line, to be named before anyone is moved off it."""
    import re

    if not declared or declared[0] == target:
        return []
    line, wanted = cuda_of_variant(declared[0]), cuda_of_variant(target)
    if line is None or wanted is None or line[0] == wanted[0]:
        return []
    tag = re.compile(rf"cu\.?{line[0]}(?:\.?{line[1]})?(?![\d])", re.IGNORECASE)
    urls = {index.name: f"{index.name} {index.url or ''}" for index in pyproject.indexes if index.name}
    found = []
    for source in pyproject.sources:
        if source.package in packages or source.kind != "index" or not source.target:
            continue
        if tag.search(urls.get(source.target, source.target)):
            found.append(source.package)
    for requirement in pyproject.extension_requirements:
        if requirement.name not in packages and "+" in requirement.requirement and tag.search(requirement.requirement.split("+", 1)[1]):
            found.append(requirement.name)
    return list(dict.fromkeys(found))


def line_is_bound(snapshot: Snapshot, fix: Fix) -> bool:
    """Whether the index move `fix` proposes leaves packages built for the project's declared line behind."""
    from torchdoctor.indexes import parse_index_url

    pyproject = snapshot.project.pyproject
    if pyproject is None or not isinstance(fix.edit, UsePytorchIndex):
        return False
    variant = parse_index_url(fix.edit.url).variant or ""
    return bool(bound_to_line(pyproject, declared_cuda_lines(snapshot)[:1], variant, fix.edit.packages))


def local_pins(pyproject, packages) -> dict[str, str]:
    """The packages among `packages` the project pins to a build (`torch==2.7.1+cu126`), with that requirement: a fix
    that moves their index must drop the tag, or it cannot change the build (and macOS cannot install it at all)."""
    from torchdoctor.requirements import parse_requirement

    found: dict[str, str] = {}
    for declared in pyproject.torch_requirements:
        if declared.name not in packages or declared.name in found:
            continue
        requirement = parse_requirement(declared.requirement)[0]
        if requirement is not None and any(s.operator == "==" and "+" in s.version for s in requirement.specifier):
            found[declared.name] = declared.requirement
    return found



def selection_fix(snapshot: Snapshot, platform: str | None, works) -> Fix | None:
    """Where the project lets each user pick a build (extras or groups), the pick that cures: the first opt-in
    selection whose torch on `platform` (this machine's answers when None) satisfies `works`, as the command to run."""
    model = project_model(snapshot)
    answers = model.machine if platform is None else model.for_platform(platform)
    for resolution in answers:
        if resolution.option and resolution.torch is not None and works(resolution):
            where = "here" if platform is None else f"on {resolution.platform_label}"
            return Fix(f"Install the project's own `{resolution.option}` selection, which gives {where} "
                       f"{resolution.torch.label}" + (f" ({resolution.torch.build})" if resolution.torch.build else ""),
                       Applicability.DISPLAY_ONLY, commands=(f"uv sync {resolution.option}",))
    return None
