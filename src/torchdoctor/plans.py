"""What the resolution model answers, as data: the platforms uv resolves for, the selections a project offers, and
for each platform × selection the packages it gets (exactly, from uv.lock, or as predicted from pyproject.toml).

The model's logic is resolution.py's; these are its answers, kept apart so that what only shows them (the renderers,
the Report that carries them) needs none of that logic: data down, logic up (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    """A platform uv resolves for, as the marker variables it sets."""

    key: str
    label: str
    sys_platform: str
    platform_system: str
    os_name: str
    platform_machine: str

    def environment(self, python: str) -> tuple[tuple[str, str], ...]:
        """Marker variables for this platform on CPython `python` ("3.12"), hashable for caching."""
        full = python if python.count(".") >= 2 else f"{python}.0"
        return (
            ("implementation_name", "cpython"), ("implementation_version", full), ("os_name", self.os_name),
            ("platform_machine", self.platform_machine), ("platform_python_implementation", "CPython"),
            ("platform_release", ""), ("platform_system", self.platform_system), ("platform_version", ""),
            ("python_full_version", full), ("python_version", ".".join(full.split(".")[:2])),
            ("sys_platform", self.sys_platform),
        )


LINUX_X86_64 = Platform("linux-x86_64", "Linux x86_64", "linux", "Linux", "posix", "x86_64")
LINUX_AARCH64 = Platform("linux-aarch64", "Linux aarch64", "linux", "Linux", "posix", "aarch64")
WINDOWS_AMD64 = Platform("windows-amd64", "Windows x86_64", "win32", "Windows", "nt", "AMD64")
MACOS_ARM64 = Platform("macos-arm64", "macOS arm64", "darwin", "Darwin", "posix", "arm64")
PLATFORMS = (LINUX_X86_64, LINUX_AARCH64, WINDOWS_AMD64, MACOS_ARM64)


@dataclass(frozen=True)
class Selection:
    """What one install asks for: `uv sync` (default groups) with some extras and groups on."""

    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    label: str = "default"
    """"default", "extra cu128", "group cuda13"."""
    option: str | None = None
    """The option that makes this selection (`--extra cu128`), None for a plain `uv sync`."""


@dataclass(frozen=True)
class Planned:
    """One package one install gets: exactly (from uv.lock) or as predicted (from pyproject.toml)."""

    name: str
    version: str | None = None
    """The exact version from uv.lock; None when predicted."""
    specifier: str | None = None
    """The range that selection asks for, when predicted."""
    series: str | None = None
    """The torch-style release series, e.g. "2.8": exact from a lock, else the newest release the tables know
    in the range (None when the tables know none)."""
    index: str | None = None
    """Where the wheel comes from: the index URL, a direct URL or path; None for PyPI (the default index)."""
    index_name: str | None = None
    build: str | None = None
    """"cpu", "cu128", "rocm6.4", "xpu", … ; None when unknown or not a compiled package (triton)."""
    build_basis: str = ""
    """Why that build, in a few words: "local version +cu128", "PyPI's Windows wheels are CPU-only" …"""
    releases: tuple[str, ...] = ()
    """Predicted: the torch release series the range admits there, newest first (uv takes the newest unless
    another dependency holds it back); empty when the range reaches past the tables."""
    possible_builds: tuple[str, ...] = ()
    """Predicted: the builds it can be across `releases`, when they differ (PyPI's torchvision is cu128 for
    torch 2.10 and cu130 for 2.11); `build` is then None."""
    together: tuple[str, ...] = ()
    """From a lock: the versions `uv sync` installs at once, over each other, when the lock's edges reach several
    (a lock an older uv wrote without the markers that choose); the package is then undecided."""
    decided: bool = True
    """False when uv's universal resolution, not a rule torchdoctor can state, picks its index (see _predicted_index)."""

    @property
    def label(self) -> str:
        """"torch 2.8.0+cu128" from a lock; "torch >=2.9 (predicted)" from pyproject.toml."""
        if self.version:
            return f"{self.name} {self.version}"
        return f"{self.name} {self.specifier or '(any version)'} (predicted)"

    @property
    def accelerated(self) -> bool:
        return bool(self.build) and self.build != "cpu"


@dataclass(frozen=True)
class Resolution:
    """What one platform gets for one selection."""

    platform: str
    """A Platform key ("linux-x86_64"), or "this-machine"."""
    platform_label: str
    python: str
    selection: str
    option: str | None
    basis: str
    """"uv.lock" (exact) or "pyproject.toml" (predicted)."""
    packages: tuple[Planned, ...] = ()
    note: str | None = None
    """Why the model could not answer fully, when it could not."""

    def get(self, name: str) -> Planned | None:
        return next((p for p in self.packages if p.name == name), None)

    @property
    def torch(self) -> Planned | None:
        return self.get("torch")


@dataclass(frozen=True)
class ProjectModel:
    """The model's answers for one project: every platform × selection, and this machine's."""

    basis: str | None
    """"uv.lock", "pyproject.toml", or None when the project declares no torch at all."""
    resolutions: tuple[Resolution, ...] = ()
    machine: tuple[Resolution, ...] = ()
    """This machine's platform and Python, one per selection."""
    selections: tuple[Selection, ...] = ()
    note: str | None = None
    machine_platform: str | None = None
    """The Platform key this machine is ("linux-x86_64"), whose answers `machine` gives at its own Python."""

    def others(self) -> tuple[Resolution, ...]:
        """The answers for the platforms other than this machine's."""
        return tuple(r for r in self.resolutions if r.platform != self.machine_platform)

    def for_platform(self, key: str) -> tuple[Resolution, ...]:
        return tuple(r for r in self.resolutions if r.platform == key)

    @property
    def machine_default(self) -> Resolution | None:
        return next((r for r in self.machine if r.option is None), None)


@dataclass(frozen=True)
class CollectiveRate:
    """One collective at one size as nccl-tests prints it: the algorithm bandwidth (bytes / time) and the bus bandwidth
    (what the links carried, the algorithm bandwidth times the op's factor for the world size)."""

    op: str
    bytes: int
    seconds: float
    iterations: int
    algorithm_gb_per_s: float
    bus_gb_per_s: float
