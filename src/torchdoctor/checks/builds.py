"""The build to use: which PyTorch index (CUDA line) the project should map the torch family to, and the fix that
writes it. Several rules offer it (TD201, TD220-TD232, TD310, TD314, TD316, TD402), so it lives here, beside them,
rather than in one rule module the others import. The GPUs and the driver's CUDA it reads are here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from torchdoctor.checks.common import NVML_SOURCE, torch_source, torch_specifier
from torchdoctor.edits import LINUX_OR_WINDOWS, AcceleratorExtras, UsePytorchIndex
from torchdoctor.family import BUILD_PACKAGES
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
            Gpu(g.index, g.name or f"GPU {g.index}", (g.compute_capability[0], g.compute_capability[1]), NVML_SOURCE)
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


PYTORCH_INDEX_BASE_VARIABLE = "TORCHDOCTOR_PYTORCH_INDEX_BASE"


def pytorch_index_url(variant: str) -> str:
    """download.pytorch.org/whl/<variant>; tests point the base at a local index without other changes."""
    import os

    base = os.environ.get(PYTORCH_INDEX_BASE_VARIABLE, "https://download.pytorch.org/whl").rstrip("/")
    return f"{base}/{variant}"


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
            AcceleratorExtras(variants=tuple(variants), urls=tuple(pytorch_index_url(v) for v in variants),
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
    if torch_sources and all(s.extra or s.group for s in torch_sources):
        # Each user picks a build with an extra or group. A source for the plain install beside those would overlap
        # them, which uv refuses ("conflicting indexes for package `torch` in split ..."; tests/test_uv_lock.py):
        # no edit reaches it. The findings offer the selection that works instead (selection_fix).
        return None
    if any(s.kind != "index" and not s.extra and not s.group for s in torch_sources):
        return None  # torch from a URL, path or git: not an index this fix can move (the finding says what to use)
    existing = {s.target for s in pyproject.sources if s.package in packages and s.kind == "index" and not s.extra and not s.group}
    replace = sorted(target for target in existing & pytorch_indexes - {name} if target)
    if existing - pytorch_indexes - {name}:
        return None  # sources to other kinds of index: not ours to rewrite
    return Fix(
        title=reason,
        applicability=Applicability.UNSAFE if replace or choice else Applicability.SAFE,
        edit=UsePytorchIndex(name=name, url=own.url if own and own.url else pytorch_index_url(variant),
                             packages=tuple(packages), marker=LINUX_OR_WINDOWS, replace=tuple(replace)),
    )



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
