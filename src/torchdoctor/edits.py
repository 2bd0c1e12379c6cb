"""What a fix does to pyproject.toml, as typed data: one frozen dataclass per transform.

A rule plans an edit (`UsePytorchIndex(name=..., url=..., packages=...)`) and torchdoctor.fixes applies it, so the
plan crosses the layers as data that type-checks, serialises to JSON (`action` and `params`, the report's schema)
and can be compared, instead of an action string and an untyped dict read by key at the other end. Each class
names its transform (`action`); fixes/transforms.py registers one function per class and refuses a class it does
not know. The classes hold only what the rule decided; the transforms read the file's current state when they run,
so edits compose (a marker one fix adds is copied by the next).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

LINUX_OR_WINDOWS = "sys_platform == 'linux' or sys_platform == 'win32'"

EDITS: dict[str, type[Edit]] = {}
"""Every edit class by its action name."""


@dataclass(frozen=True)
class Edit:
    action: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.action:
            if cls.action in EDITS:
                raise ValueError(f"two edits are called {cls.action!r}")
            EDITS[cls.action] = cls

    def params(self) -> dict[str, Any]:
        """The edit's fields as plain JSON values (tuples as lists); `from_` is written `from`."""

        def plain(value: Any) -> Any:
            return [plain(v) for v in value] if isinstance(value, (tuple, list)) else value

        return {f.name.rstrip("_"): plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @staticmethod
    def from_params(action: str, params: dict[str, Any]) -> Edit:
        """The edit a JSON report (or a test) names; lists become tuples. Raises ValueError for an unknown action or
        fields the edit does not have."""
        cls = EDITS.get(action)
        if cls is None:
            raise ValueError(f"unknown fix action {action!r}")
        names = {f.name.rstrip("_"): f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"{action} has no parameter {', '.join(unknown)}")

        def typed(value: Any) -> Any:
            return tuple(typed(v) for v in value) if isinstance(value, list) else value

        return cls(**{names[key]: typed(value) for key, value in params.items()})


# --- indexes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MakeIndexExplicit(Edit):
    """`explicit = true` on an index (found by name, else by its 1-based position), optionally without `default`, with
    the torch family mapped to it (it served them only through its priority) and the triton a nightly pins."""

    action: ClassVar[str] = "make-index-explicit"
    position: int = 0
    name: str | None = None
    drop_default: bool = False
    map_packages: tuple[str, ...] = ()
    marker: str | None = None
    triton: str | None = None


@dataclass(frozen=True)
class RepairIndexUrl(Edit):
    """The URL inside a Markdown link or without its spaces, cleaned from the file's own value (credentials kept).
    `url` is the redacted URL the report shows; the transform never writes it."""

    action: ClassVar[str] = "repair-index-url"
    position: int = 0
    name: str | None = None
    url: str = ""


@dataclass(frozen=True)
class RemoveIndex(Edit):
    action: ClassVar[str] = "remove-index"
    name: str = ""


@dataclass(frozen=True)
class UsePytorchIndex(Edit):
    """Declare an explicit PyTorch index and map `packages` to it under `marker`; with `replace`, entries pointing at
    those other indexes are replaced and the indexes left unused removed."""

    action: ClassVar[str] = "use-pytorch-index"
    name: str = ""
    url: str = ""
    packages: tuple[str, ...] = ()
    marker: str = LINUX_OR_WINDOWS
    replace: tuple[str, ...] = ()
    unpin: tuple[str, ...] = ()
    """Packages whose `==X+tag` requirements lose the tag: a tag fixes one build on every platform, so no index
    can move it; without it the index chooses (`torch==2.7.1+cu126` becomes `torch==2.7.1`)."""
    require: tuple[tuple[str, str, str], ...] = ()
    """(package, where, marker): companions the project installs only through another package, required by the
    project itself so that its source applies (uv applies sources to the project's own requirements only): where is
    "dependencies", "optional:<extra>" or "group:<name>", as DeclaredRequirement.group."""


@dataclass(frozen=True)
class ReplaceTorchBackend(UsePytorchIndex):
    """Drop `torch-backend` (which uv's project commands ignore) and declare the index it was meant to select."""

    action: ClassVar[str] = "replace-torch-backend"


@dataclass(frozen=True)
class ReplaceLegacyIndex(UsePytorchIndex):
    """Move PyTorch `urls` out of index-url / extra-index-url / find-links into an explicit index with sources."""

    action: ClassVar[str] = "replace-legacy-index"
    urls: tuple[str, ...] = ()


# --- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddPlatformMarker(Edit):
    """Give the torch-family sources that point at `index` the marker that keeps macOS on PyPI."""

    action: ClassVar[str] = "add-platform-marker"
    index: str = ""
    marker: str = LINUX_OR_WINDOWS
    unpin: tuple[str, ...] = ()
    """As UsePytorchIndex.unpin: a pinned `+cu126` cannot come from PyPI on macOS."""


@dataclass(frozen=True)
class MapNightlyTriton(Edit):
    """Map pytorch-triton (Linux only) to the nightly index and depend on it there, so the source applies."""

    action: ClassVar[str] = "map-nightly-triton"
    index: str = ""
    package: str = "pytorch-triton"


@dataclass(frozen=True)
class MapCompanions(Edit):
    """Copy torch's source entries for the (index, extra) `targets` to a companion (torchvision, torchaudio)."""

    action: ClassVar[str] = "map-companions"
    package: str = ""
    targets: tuple[tuple[str, str | None], ...] = ()
    require: tuple[tuple[str, str, str], ...] = ()
    """As UsePytorchIndex.require: where the project installs the companion only through another package."""


@dataclass(frozen=True)
class RetargetSources(Edit):
    """Point the source entries that name index `from_` at index `to` (a misspelt or renamed index)."""

    action: ClassVar[str] = "retarget-sources"
    from_: str = ""
    to: str = ""


@dataclass(frozen=True)
class MarkerToExtra(Edit):
    """Replace `marker = "extra == 'x'"` by `extra = "x"`: `markers` pairs each marker text with its extra."""

    action: ClassVar[str] = "marker-to-extra"
    markers: tuple[tuple[str, str], ...] = ()


# --- extras, dependencies and settings -----------------------------------------------------------


@dataclass(frozen=True)
class DeclareExtraConflicts(Edit):
    action: ClassVar[str] = "declare-extra-conflicts"
    extras: tuple[str, ...] = ()
    blank_line_after: bool = False


@dataclass(frozen=True)
class AcceleratorExtras(Edit):
    """uv's guide pattern: one extra per variant (`uv sync --extra cu130`) with its own index, declared conflicting;
    the `packages` move from the base dependencies into each extra."""

    action: ClassVar[str] = "accelerator-extras"
    variants: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoveDependencies(Edit):
    """Remove `packages` from [project] dependencies (they stay in the extras that need them)."""

    action: ClassVar[str] = "remove-dependencies"
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class DropLocalTags(Edit):
    """`pkg==X+tag` becomes `pkg==X` wherever the project requires `packages`: the index its source names chooses
    the build."""

    action: ClassVar[str] = "drop-local-tags"
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddExtraBuildDependencies(Edit):
    """Give a package's isolated build torch (`extra-build-dependencies`)."""

    action: ClassVar[str] = "add-extra-build-dependencies"
    package: str = ""


@dataclass(frozen=True)
class SetRequiresPython(Edit):
    action: ClassVar[str] = "set-requires-python"
    value: str = ""


DROPS_PACKAGES: tuple[type[Edit], ...] = (RemoveDependencies, AcceleratorExtras)
"""Edits whose title says a package leaves the plain install (removed, or moved into opt-in extras): the proof lets
these, and only these, take a torch-family package out of what a platform installs."""


PROMISING: tuple[type[Edit], ...] = (RemoveDependencies, AcceleratorExtras, DropLocalTags, SetRequiresPython,
                                     MapNightlyTriton, MarkerToExtra)
"""Edits that always change what the project requires: its dependencies, extras or Python range."""


def changes_requirements(edit: Edit) -> bool:
    """Whether the edit changes what the project promises (its dependencies, extras or Python range), not only where
    packages come from: one of PROMISING, or an index move that also unpins a build tag or requires a companion."""
    return isinstance(edit, PROMISING) or bool(getattr(edit, "unpin", ())) or bool(getattr(edit, "require", ()))
