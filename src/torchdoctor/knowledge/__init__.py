"""The knowledge base: facts about torch releases, CUDA drivers, wheel arch lists and GPUs, as data.

The facts live in the TOML files beside this module, each row with its source and each file with an
as-of date, so they can be checked and updated without touching the rules. This module only answers
questions about them. Versions are compared with `packaging`, never by hand.

The arch rules follow CUDA's, exactly:
- SASS for sm_XY runs on a GPU of compute capability X.Z with Z >= Y (same major only);
- the family-specific sm_XYf runs on the same major with Z >= Y too (CUDA 12.9's "family" targets);
- the arch-specific sm_XYa runs only on X.Y itself;
- PTX for compute_XY is JIT-compiled by the driver for any GPU of capability >= X.Y (compute_XYa only on X.Y).
So an RTX 4090 (8.9) runs a wheel with sm_86, a B300 (10.3) runs sm_100 and a GB10 (12.1) runs sm_120,
while sm_90 never runs on Blackwell.
"""

from __future__ import annotations

import re

import functools
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Capability = tuple[int, int]


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("torchdoctor.knowledge").joinpath(name).read_text(encoding="utf-8"))


def parse_capability(text: str) -> Capability:
    major, minor = text.split(".")
    return int(major), int(minor)


def capability_text(capability: Capability) -> str:
    return f"{capability[0]}.{capability[1]}"


def decode_cuda_version(encoded: int | None) -> tuple[int, int] | None:
    """NVML and the CUDA driver API encode CUDA 12.8 as 12080."""
    if not encoded:
        return None
    return encoded // 1000, (encoded % 1000) // 10


def sm_name(capability: Capability) -> str:
    return f"sm_{capability[0]}{capability[1]}"


# ---------------------------------------------------------------------------------------------
# Arch targets and coverage


@dataclass(frozen=True)
class ArchTarget:
    """One entry of a build's arch list: `sm_90`, `sm_90a`, `sm_100f` or `compute_120`."""

    ptx: bool
    capability: Capability
    suffix: str = ""
    """"a" (arch-specific), "f" (family-specific) or ""."""

    @property
    def name(self) -> str:
        return f"{'compute' if self.ptx else 'sm'}_{self.capability[0]}{self.capability[1]}{self.suffix}"

    def runs_on(self, gpu: Capability) -> bool:
        if self.suffix == "a":
            return gpu == self.capability
        if self.ptx:
            return gpu >= self.capability
        return gpu[0] == self.capability[0] and gpu[1] >= self.capability[1]


def parse_arch(entry: str) -> ArchTarget | None:
    """`sm_86` -> SASS 8.6; `compute_120` -> PTX 12.0; also `8.6`, `12.0+PTX` (TORCH_CUDA_ARCH_LIST style)."""
    entry = entry.strip()
    if entry.startswith(("sm_", "compute_")):
        prefix, _, digits = entry.partition("_")
        suffix = ""
        if digits and digits[-1] in "af":
            digits, suffix = digits[:-1], digits[-1]
        if not digits.isdigit() or len(digits) < 2:
            return None
        return ArchTarget(prefix == "compute", (int(digits[:-1]), int(digits[-1])), suffix)
    return None


def expand_arch_list(archs: list[str]) -> tuple[str, ...]:
    """TORCH_CUDA_ARCH_LIST style ("8.6", "12.0+PTX") to get_arch_list() style ("sm_86", "compute_120")."""
    out: list[str] = []
    for entry in archs:
        base, _, ptx = entry.partition("+")
        capability = parse_capability(base)
        out.append(sm_name(capability))
        if ptx.upper() == "PTX":
            out.append(f"compute_{capability[0]}{capability[1]}")
    return tuple(out)


@dataclass(frozen=True)
class Coverage:
    """Whether a build can run on a GPU, and through which target."""

    supported: bool
    via: str | None = None
    """The target that runs: "sm_86" (SASS) or "compute_120" (PTX JIT)."""
    reason: str = ""
    """"too-new" (the GPU is past every target and no PTX runs forward), "too-old" (it is below the oldest
    target), "gap" (between targets, of a major the build skips), "no-targets" (an empty list), or ""."""


def coverage(gpu: Capability, arch_list: tuple[str, ...] | list[str]) -> Coverage:
    targets = [t for t in (parse_arch(a) for a in arch_list) if t is not None]
    if not targets:
        return Coverage(False, reason="no-targets")
    sass = [t for t in targets if not t.ptx and t.runs_on(gpu)]
    if sass:
        return Coverage(True, max(sass, key=lambda t: t.capability).name)
    ptx = [t for t in targets if t.ptx and t.runs_on(gpu)]
    if ptx:
        return Coverage(True, max(ptx, key=lambda t: t.capability).name)
    capabilities = [t.capability for t in targets]
    if gpu < min(capabilities):
        return Coverage(False, reason="too-old")
    if gpu > max(capabilities):
        return Coverage(False, reason="too-new")
    return Coverage(False, reason="gap")


# ---------------------------------------------------------------------------------------------
# torch releases and their builds


@dataclass(frozen=True)
class Release:
    series: str
    latest: str
    date: str
    python: tuple[str, ...]
    variants: tuple[str, ...]
    pypi_linux_cuda: str
    torchvision: str | None
    torchaudio: str | None
    source: str
    note: str | None = None
    rocm: tuple[str, ...] = ()
    """ROCm index names the sources list for this release; others may exist."""


@dataclass(frozen=True)
class Numpy2:
    """From which torch release the wheels work with NumPy 2 (built against its ABI), and the exceptions."""

    first_series: str
    source: str
    windows_broken: tuple[str, ...] = ()
    windows_source: str = ""

    def works_with(self, torch_version: str, windows: bool) -> bool | None:
        """Whether this torch works with NumPy 2; None when the version cannot be read."""
        try:
            version = Version(torch_version)
        except InvalidVersion:
            return None
        if windows and version.public in self.windows_broken:
            return False
        return Version(f"{version.major}.{version.minor}") >= Version(self.first_series)


def public_specifier(specifier: SpecifierSet) -> SpecifierSet:
    """The range without local versions: `==2.5.1+cu124` -> `==2.5.1`."""
    return SpecifierSet(",".join(f"{s.operator}{s.version.split('+', 1)[0]}" for s in specifier))


@dataclass(frozen=True)
class Retired:
    """A CUDA variant PyTorch stopped building, with evidence: `last` is its last release series."""

    variant: str
    last: str
    source: str


@dataclass(frozen=True)
class Build:
    series: tuple[str, ...]
    variant: str
    archs: tuple[str, ...]
    """get_arch_list() style."""
    aarch64: tuple[str, ...] | None
    verified: bool
    source: str


@functools.lru_cache(maxsize=4096)
def series_of(version: str) -> str | None:
    """'2.9.1+cu128' -> '2.9'; '2.10.0.dev20251010+cu128' -> '2.10'."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    return f"{parsed.major}.{parsed.minor}"


def variant_of_cuda(cuda: str | None) -> str | None:
    """torch.version.cuda '12.8' -> 'cu128'."""
    if not cuda:
        return None
    major, _, minor = cuda.partition(".")
    return f"cu{major}{minor.split('.')[0]}" if major.isdigit() else None


def cuda_of_variant(variant: str) -> tuple[int, int] | None:
    """'cu128' -> (12, 8); 'cu130' -> (13, 0)."""
    digits = variant.removeprefix("cu")
    if not variant.startswith("cu") or not digits.isdigit() or len(digits) < 3:
        return None
    return int(digits[:-1]), int(digits[-1])


@dataclass(frozen=True)
class DriverFloor:
    major: int
    linux: str
    windows: str
    source: str
    note: str | None = None


@dataclass(frozen=True)
class GpuModel:
    name: str
    match: tuple[str, ...]
    capability: Capability
    peaks: dict[str, float]
    bandwidth: float | None
    source: str
    pci_device_id: int | None = None
    measured: dict[str, float] | None = None
    """TFLOP/s that cuBLAS through torch reached on this model in our own careful measurement."""
    measured_source: str | None = None


@dataclass(frozen=True)
class GemmExpectation:
    """What a GEMM of one dtype should reach on one GPU model, and where that number comes from."""

    peak: float | None
    expected: float
    basis: str
    """"measured" (our recording of this model) or "typical share of peak"."""
    source: str


class Knowledge:
    """All tables, loaded once. `as_of` says how current they are."""

    def __init__(self) -> None:
        releases = _load("torch_releases.toml")
        self.as_of: str = releases["as_of"]
        self.releases = tuple(
            Release(
                series=r["series"], latest=r["latest"], date=r["date"], python=tuple(r["python"]),
                variants=tuple(r["variants"]), pypi_linux_cuda=r["pypi_linux_cuda"], torchvision=r.get("torchvision"),
                torchaudio=r.get("torchaudio"), source=r["source"], note=r.get("note"), rocm=tuple(r.get("rocm", ())),
            )
            for r in releases["release"]
        )
        self.retired = {
            r["variant"]: Retired(r["variant"], r["last"], r["source"]) for r in releases.get("retired", [])
        }
        numpy2 = releases["numpy2"]
        self.numpy2 = Numpy2(numpy2["first_series"], numpy2["source"], tuple(numpy2.get("windows_broken", ())),
                             numpy2.get("windows_source", ""))
        archs = _load("wheel_archs.toml")
        self.builds = tuple(
            Build(
                series=tuple(b["series"]), variant=b["variant"], archs=expand_arch_list(b["archs"]),
                aarch64=expand_arch_list(b["aarch64"]) if "aarch64" in b else None,
                verified=b.get("verified", False), source=b["source"],
            )
            for b in archs["build"]
        )
        drivers = _load("cuda_drivers.toml")
        self.driver_floors = {
            d["major"]: DriverFloor(d["major"], d["linux"], d["windows"], d["source"], d.get("note"))
            for d in drivers["minor_compat"]
        }
        self.ptx_isa_cuda = {_version_pair(isa): _version_pair(cuda) for isa, cuda in drivers["ptx_isa"]["cuda"].items()}
        self.ptx_isa_source: str = drivers["ptx_isa"]["source"]
        gpus = _load("gpus.toml")
        self.architectures = {
            parse_capability(c): a["name"] for a in gpus["architecture"] for c in a["capability"]
        }
        self.gpu_models = tuple(
            GpuModel(
                name=m["name"], match=tuple(m["match"]), capability=parse_capability(m["capability"]),
                peaks={k: float(m[k]) for k in ("fp32", "tf32", "bf16", "fp16") if k in m},
                bandwidth=m.get("bandwidth"), source=m["source"], pci_device_id=m.get("pci_device_id"),
                measured=m.get("measured"), measured_source=m.get("measured_source"),
            )
            for m in gpus["model"]
        )
        self.gemm_typical_fraction: dict[str, float] = gpus["gemm"]["typical_fraction"]
        self.gemm_slow_below: float = gpus["gemm"]["slow_below"]
        self.gemm_source: str = gpus["gemm"]["source"]
        self.pcie_lane_gb_per_s = {int(k): float(v) for k, v in gpus["pcie"]["lane_gb_per_s"].items()}
        self.pcie_slow_below: float = gpus["pcie"]["slow_below"]
        self.nvlink_link_gb_per_s = {int(k): float(v) for k, v in gpus["nvlink"]["link_gb_per_s"].items()}
        self.nvlink_slow_below: float = gpus["nvlink"]["slow_below"]
        self.nvlink_source: str = gpus["nvlink"]["source"]
        self.gpus_as_of: str = gpus["as_of"]
        names = _load("gpu_names.toml")
        self.gpu_names = tuple((re.compile(pattern, re.IGNORECASE), parse_capability(capability))
                               for pattern, capability in names["names"])
        self.gpu_names_as_of: str = names["as_of"]

    # releases --------------------------------------------------------------------------------

    def release(self, version: str) -> Release | None:
        series = series_of(version)
        return next((r for r in self.releases if r.series == series), None)

    def release_of(self, package: str, version: str | None) -> Release | None:
        """The torch release a torch, torchvision or torchaudio version belongs to (torchvision 0.23.x -> 2.8)."""
        series = series_of(version) if version else None
        if series is None:
            return None
        if package == "torch" and version:
            return self.release(version)
        column = {"torchvision": "torchvision", "torchaudio": "torchaudio"}.get(package)
        if column is None:
            return None
        return next((r for r in self.releases if getattr(r, column) == series), None)

    def versions_in(self, package: str, release: Release) -> tuple[str, ...]:
        """Versions of `package` that belong to `release`, to test a range against (patch releases 0-4)."""
        series = {"torch": release.series, "torchvision": release.torchvision, "torchaudio": release.torchaudio}.get(package)
        if not series:
            return ()
        return tuple([release.latest] if package == "torch" else []) + tuple(f"{series}.{p}" for p in range(5))

    def releases_in(self, package: str, specifier) -> tuple[Release, ...]:
        """The releases whose `package` versions a range admits, oldest first. A local version in the range
        (`==2.4.0+cu118`) names the build, not the release: it is compared without it. Cached by the range's
        text: the resolution model asks the same question for every platform and selection."""
        return self._releases_in(package, str(specifier))

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Knowledge lives for the process (knowledge() is cached)
    def _releases_in(self, package: str, specifier_text: str) -> tuple[Release, ...]:
        public = public_specifier(SpecifierSet(specifier_text))
        return tuple(r for r in sorted(self.releases, key=lambda r: Version(r.latest))
                     if any(public.contains(v, prereleases=True) for v in self.versions_in(package, r)))

    def admits_beyond_tables(self, specifier) -> bool:
        """Whether a torch range admits releases newer than the tables know (`>=2.9` does; `<2.12` does not)."""
        newest = Version(self.newest_release.latest)
        return specifier.contains(f"{newest.major}.{newest.minor + 1}.0", prereleases=True)

    @functools.cached_property
    def newest_release(self) -> Release:
        """The tables do not change while the process runs (knowledge() is cached): found once."""
        return max(self.releases, key=lambda r: Version(r.latest))

    def is_newer_than_known(self, version: str) -> bool:
        """True when `version` is past the newest release the tables know (a newer minor series)."""
        series = series_of(version)
        if series is None:
            return False
        return Version(series) > Version(self.newest_release.series)

    # builds ----------------------------------------------------------------------------------

    def build(self, version: str, variant: str) -> Build | None:
        series = series_of(version)
        return next((b for b in self.builds if series in b.series and b.variant == variant), None)

    def arch_list(self, version: str, variant: str, machine: str = "x86_64") -> tuple[str, ...] | None:
        build = self.build(version, variant)
        if build is None:
            return None
        if machine in ("aarch64", "arm64") and build.aarch64 is not None:
            return build.aarch64
        return build.archs

    def variants_covering(self, gpu: Capability, version: str) -> tuple[str, ...]:
        """The CUDA variants of `version`'s series whose wheels run on `gpu`, oldest CUDA first."""
        release = self.release(version)
        if release is None:
            return ()
        found = []
        for variant in release.variants:
            archs = self.arch_list(version, variant)
            if archs and coverage(gpu, archs).supported:
                found.append(variant)
        return tuple(sorted(found, key=lambda v: cuda_of_variant(v) or (0, 0)))

    def releases_covering(self, gpu: Capability) -> tuple[tuple[Release, str], ...]:
        """Every (release, variant) whose wheels run on `gpu`, newest release first."""
        found = []
        for release in sorted(self.releases, key=lambda r: Version(r.latest), reverse=True):
            for variant in self.variants_covering(gpu, release.latest):
                found.append((release, variant))
        return tuple(found)

    # drivers ---------------------------------------------------------------------------------

    def driver_floor(self, cuda_major: int) -> DriverFloor | None:
        return self.driver_floors.get(cuda_major)

    # GPUs ------------------------------------------------------------------------------------

    def architecture(self, capability: Capability) -> str | None:
        return self.architectures.get(capability)

    def capability_of_name(self, name: str) -> Capability | None:
        """The compute capability NVIDIA's tables give a GPU by its name (gpu_names.toml); None for a name they do
        not list: unknown, never guessed."""
        return next((capability for pattern, capability in self.gpu_names if pattern.search(name)), None)

    def gpu_model(self, name: str | None, pci_device_id: int | None = None) -> GpuModel | None:
        if pci_device_id is not None:
            device = pci_device_id >> 16
            for model in self.gpu_models:
                if model.pci_device_id == device:
                    return model
        if name:
            for model in self.gpu_models:
                if any(pattern in name for pattern in model.match):
                    return model
        return None


    def gemm_expectation(self, model: GpuModel, dtype: str) -> GemmExpectation | None:
        """The rate a healthy `model` reaches for `dtype`: measured if we have it, else a typical share."""
        peak = model.peaks.get(dtype)
        if model.measured and dtype in model.measured:
            return GemmExpectation(peak, model.measured[dtype], "measured", model.measured_source or model.source)
        if peak is None or dtype not in self.gemm_typical_fraction:
            return None
        fraction = self.gemm_typical_fraction[dtype]
        return GemmExpectation(peak, peak * fraction, f"{fraction:.0%} of the datasheet peak", self.gemm_source)

    def pcie_link_gb_per_s(self, generation: int | None, width: int | None) -> float | None:
        """The raw one-direction rate of a PCIe link: lanes x per-lane rate of its generation."""
        if generation is None or width is None or generation not in self.pcie_lane_gb_per_s:
            return None
        return self.pcie_lane_gb_per_s[generation] * width

    def cuda_for_ptx_isa(self, isa: tuple[int, int]) -> tuple[tuple[int, int], bool]:
        """(the first CUDA whose driver loads PTX of this ISA version, exact). Past the table: (the table's newest
        CUDA, False): the driver needs something newer than that, and how much newer our tables do not say."""
        if isa in self.ptx_isa_cuda:
            return self.ptx_isa_cuda[isa], True
        return max(self.ptx_isa_cuda.values()), False

    def nvlink_gb_per_s(self, capability_major: int | None, active_links: int | None) -> float | None:
        """A GPU's NVLink rate in one direction: active links x the per-link rate of its architecture's
        generation; None when it has no active link or the architecture is past the table."""
        if not active_links or capability_major not in self.nvlink_link_gb_per_s:
            return None
        return self.nvlink_link_gb_per_s[capability_major] * active_links


def _version_pair(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@functools.cache
def knowledge() -> Knowledge:
    return Knowledge()
