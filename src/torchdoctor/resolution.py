"""The resolution model: for each platform and each install selection, which torch build a project installs.

A project is shared. Whether it is right depends on what Linux x86_64, Linux aarch64, Windows and macOS
users get with a plain `uv sync` and with each extra or dependency group, not on what this machine got.
Every project and lock rule asks this module instead of reading sources or lock entries on its own.

- **From uv.lock** the answer is exact: the lock graph is walked from the project's own entry, following
  each edge whose marker holds on that platform for that selection, as `uv sync` does. uv writes markers
  of conflicting extras and groups as `extra == 'extra-11-fish-speech-cpu'`: in uv, `extra` there is the
  *set* of active conflict items, so `==` means "is among them" and `!=` "is not" (a marker such as
  `extra == 'a' and extra == 'b'` is true when both are on). `marker_holds` evaluates them that way.
- **Without a lock** it is a prediction from pyproject.toml: the torch range of that selection alone (never
  the intersection of conflicting extras), the `[tool.uv.sources]` entry that applies (marker, `extra`,
  `group`), and the index it names; which build a PyPI wheel is comes from the knowledge base.

uv is the oracle: `tests/test_resolution_oracle.py` checks the lock walk against what `uv export --frozen`
printed for every selection of the real projects in the field corpus, on every platform here.
"""

from __future__ import annotations

import re

import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from torchdoctor.family import BUILD_CHECKED, BUILD_PACKAGES, TRITON_PACKAGES
from torchdoctor.indexes import parse_index_url
from torchdoctor.knowledge import knowledge, series_of
from torchdoctor.plans import (  # noqa: F401 - the model's answers, re-exported where the rules have always found them
    LINUX_AARCH64,
    LINUX_X86_64,
    MACOS_ARM64,
    PLATFORMS,
    WINDOWS_AMD64,
    Planned,
    Platform,
    ProjectModel,
    Resolution,
    Selection,
)
from torchdoctor.requirements import parse_requirement
from torchdoctor.snapshot import LockEdge, LockInfo, LockNode, ProjectInfo, PyprojectInfo, Snapshot, SystemInfo

MODEL_PACKAGES = BUILD_PACKAGES + TRITON_PACKAGES
"""What the model reports: the packages `uv export` was compared on, plus torchcodec."""


# ---------------------------------------------------------------------------------------------
# Platforms


def machine_platform(system: SystemInfo) -> Platform | None:
    """This machine as a Platform, or None for an OS uv's torch wheels do not serve."""
    machine = (system.architecture or "").lower()
    if system.os_name == "Linux":
        return LINUX_AARCH64 if machine in ("aarch64", "arm64") else LINUX_X86_64
    if system.os_name == "Windows":
        return WINDOWS_AMD64
    if system.os_name == "Darwin":
        return MACOS_ARM64 if machine in ("arm64", "aarch64") else Platform(
            "macos-x86_64", "macOS x86_64", "darwin", "Darwin", "posix", "x86_64")
    return None


# ---------------------------------------------------------------------------------------------
# Markers, with uv's meaning of `extra` and `group`

SET_VARIABLES = ("extra", "group")
_CACHE_LOCK = threading.Lock()
"""Guards the per-snapshot caches below: the TUI diagnoses in worker threads."""


@functools.lru_cache(maxsize=8192)
def _compiled(marker: str) -> tuple | None:
    """A marker as nested ("or", …) / ("and", …) tuples whose leaves are ("set", name, wanted) for `extra` and
    `group` comparisons (names canonical once, here) and ("env", text) for the rest: uv's conflict markers run to
    hundreds of atoms and are evaluated for every platform and selection, so they are taken apart only once."""
    try:
        node = _compile(Marker(marker)._markers)
    except InvalidMarker:
        return None
    return node, _as_terms(node)


def _compile(markers: list) -> tuple:
    groups: list[list] = [[]]
    for item in markers:
        if isinstance(item, list):
            groups[-1].append(_compile(item))
        elif isinstance(item, tuple):
            lhs, op, rhs = item
            variable = lhs if type(lhs).__name__ == "Variable" else rhs
            value = rhs if variable is lhs else lhs
            if variable.value in SET_VARIABLES:
                wanted = op.value == "==" if op.value in ("==", "!=") else None
                groups[-1].append(("set", canonicalize_name(value.value), wanted))
            else:
                groups[-1].append(("env", f"{lhs.serialize()} {op.serialize()} {rhs.serialize()}"))
        elif item == "or":
            groups.append([])
    return ("or", tuple(("and", tuple(group)) for group in groups))


@functools.lru_cache(maxsize=8192)
def _atom(text: str, environment: tuple[tuple[str, str], ...]) -> bool:
    return Marker(text).evaluate(dict(environment))


def _as_terms(node: tuple) -> tuple | None:
    """An "or" of "and"s of leaves (the shape uv writes) as terms of (present, absent, environment atoms, valid),
    evaluated with set operations; None for any other shape, which `_evaluate` walks instead."""
    if node[0] != "or":
        return None
    terms = []
    for child in node[1]:
        if child[0] != "and" or any(leaf[0] not in ("set", "env") for leaf in child[1]):
            return None
        present = frozenset(leaf[1] for leaf in child[1] if leaf[0] == "set" and leaf[2] is True)
        absent = frozenset(leaf[1] for leaf in child[1] if leaf[0] == "set" and leaf[2] is False)
        valid = not any(leaf[0] == "set" and leaf[2] is None for leaf in child[1])
        terms.append((present, absent, tuple(leaf[1] for leaf in child[1] if leaf[0] == "env"), valid))
    return tuple(terms)


def _holds(compiled: tuple, environment: tuple[tuple[str, str], ...], active: frozenset[str]) -> bool:
    node, terms = compiled
    if terms is None:
        return _evaluate(node, environment, active)
    for present, absent, atoms, valid in terms:
        if valid and present <= active and absent.isdisjoint(active) and all(_atom(a, environment) for a in atoms):
            return True
    return False


def _evaluate(node: tuple, environment: tuple[tuple[str, str], ...], active: frozenset[str]) -> bool:
    kind = node[0]
    if kind == "or":
        return any(_evaluate(child, environment, active) for child in node[1])
    if kind == "and":
        return all(_evaluate(child, environment, active) for child in node[1])
    if kind == "set":
        return node[2] is not None and (node[1] in active) == node[2]
    return _atom(node[1], environment)


@functools.lru_cache(maxsize=65536)
def marker_holds(marker: str | None, environment: tuple[tuple[str, str], ...], active: frozenset[str] = frozenset()) -> bool | None:
    """Whether `marker` is true on `environment` with the extras/groups in `active` on; None if it is invalid."""
    if not marker:
        return True
    compiled = _compiled(marker)
    if compiled is None:
        return None
    try:
        return _holds(compiled, environment, active)
    except Exception:  # an undefined variable or an odd comparison: unknown, not a verdict
        return None


def conflict_item(kind: str, package: str, name: str) -> str:
    """How uv names an extra or group in its conflict markers: `extra-11-fish-speech-cpu`."""
    package = canonicalize_name(package)
    return f"{kind}-{len(package)}-{package}-{canonicalize_name(name)}"


# ---------------------------------------------------------------------------------------------
# Selections


def _conflict_sets(pyproject: PyprojectInfo | None) -> list[set[tuple[str, str]]]:
    sets = []
    for group in pyproject.uv.conflict_groups if pyproject else []:
        if isinstance(group, list):
            items: set[tuple[str, str]] = set()
            for item in group:
                if isinstance(item, dict):
                    for kind in ("extra", "group"):
                        if isinstance(item.get(kind), str):
                            items.add((kind, canonicalize_name(item[kind])))
            sets.append(items)
    return sets


def default_groups(pyproject: PyprojectInfo | None, groups: Iterable[str]) -> tuple[str, ...]:
    """The groups a plain `uv sync` installs: `[tool.uv] default-groups`, else "dev" if there is one."""
    groups = tuple(groups)
    configured = pyproject.uv.default_groups if pyproject else None
    if configured == ("*all*",):
        return groups
    if configured is None:
        return ("dev",) if "dev" in groups else ()
    return tuple(canonicalize_name(g) for g in configured if canonicalize_name(g) in groups)


def selections(pyproject: PyprojectInfo | None, lock: LockInfo | None = None) -> tuple[Selection, ...]:
    """The default install, then one per extra and per group that is not installed by default."""
    root = _root_node(lock)
    conflicts = _conflict_sets(pyproject)
    # Only extras and groups that can change what the torch family gets: those that declare a family package,
    # those whose edges in the lock lead to one (the lock graph keeps no other), and those in a conflict set (their
    # markers can switch other edges). A docs or test extra adds a selection that changes nothing.
    declared = {r.group for r in (pyproject.torch_requirements if pyproject else ())}
    in_conflicts = {item for items in conflicts for item in items}
    all_extras = [canonicalize_name(e) for e in (pyproject.extras if pyproject else ())] + list(root.optional_dependencies if root else ())
    all_groups = ([canonicalize_name(g) for g in (pyproject.dependency_groups if pyproject else ())]
                  + (["dev"] if "group:dev" in declared else []) + list(root.dependency_groups if root else ()))
    family_extras = {canonicalize_name(g.partition(":")[2]) for g in declared if g.startswith("optional:")}
    family_groups = {canonicalize_name(g.partition(":")[2]) for g in declared if g.startswith("group:")}
    extras = [e for e in dict.fromkeys(all_extras) if e in family_extras or ("extra", e) in in_conflicts
              or (root is not None and root.optional_dependencies.get(e))]
    groups = list(dict.fromkeys(all_groups))
    defaults = default_groups(pyproject, groups)
    groups = [g for g in groups if g in defaults or g in family_groups or ("group", g) in in_conflicts
              or (root is not None and root.dependency_groups.get(g))]

    def without_conflicting(kind: str, name: str) -> tuple[str, ...]:
        clashing = {g for items in conflicts if (kind, name) in items for k, g in items if k == "group" and g != name}
        return tuple(g for g in defaults if g not in clashing)

    found = [Selection((), defaults)]
    for extra in extras:
        found.append(Selection((extra,), without_conflicting("extra", extra), f"extra {extra}", f"--extra {extra}"))
    for group in groups:
        if group not in defaults:
            found.append(Selection((), (*without_conflicting("group", group), group), f"group {group}", f"--group {group}"))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# The answer


# ---------------------------------------------------------------------------------------------
# Builds


def _local(version: str | None) -> str | None:
    if not version or "+" not in version:
        return None
    return version.split("+", 1)[1]


def _accelerator_tag(local: str | None) -> str | None:
    if not local:
        return None
    tag = local.split(".", 1)[0] if local.startswith("cu") else local
    if tag == "cpu" or tag.startswith("cu"):
        return tag
    # AMD's own wheels carry the commit they were built from after the ROCm version: torch 2.8.0+rocm7.0.2.lw.git7e…
    # and torchvision 0.23.0+rocm7.0.2.git824e8c87 are both the rocm7.0.2 build.
    vendor = re.match(r"(rocm\d+(?:\.\d+)*|xpu)(?![a-z0-9])", local)
    return vendor.group(1) if vendor else None


def _is_pypi_like(index: str | None, default_mirror: bool) -> bool:
    if index is None or default_mirror:
        return True
    host = parse_index_url(index).host
    return host in ("pypi.org", "files.pythonhosted.org")


def build_of(name: str, version: str | None, series: str | None, index: str | None, platform: Platform,
             default_mirror: bool = False, series_known: bool = True) -> tuple[str | None, str]:
    """(build, why) of one wheel: its local version, else its index, else what the tables say of PyPI's.

    The build is "cpu", a variant ("cu128", "rocm6.4", "xpu"), "cuda" (a CUDA build whose CUDA version
    depends on the release uv picks), or None when torchdoctor cannot tell. `series_known` is False when the
    series is only the newest of several a range admits: then only what every release shares is said."""
    if name not in BUILD_PACKAGES:
        return None, ""
    tag = _accelerator_tag(_local(version))
    if tag:
        return tag, f"local version +{_local(version)}"
    url = parse_index_url(index) if index else None
    if url is not None and url.serves_torch and url.variant:
        if version is None:
            macos = platform.sys_platform == "darwin" and url.variant != "cpu"
            return url.variant, f"from the {url.variant} index" + (", which has no macOS wheels" if macos else "")
        if url.variant == "cpu" or platform.sys_platform == "darwin":
            return "cpu", f"from the {url.variant} index" + (" (macOS builds have no CUDA)" if url.variant != "cpu" else "")
        return None, f"from the {url.variant} index without a local version, which the tables do not describe"
    if platform.sys_platform == "darwin":
        return "cpu", "macOS wheels have no CUDA (MPS on Apple silicon)"
    if not _is_pypi_like(index, default_mirror):
        return None, "from an index torchdoctor's tables do not describe"
    if platform.sys_platform == "win32":
        return "cpu", "PyPI's Windows wheels are CPU-only"
    kb = knowledge()
    release = kb.release_of(name, version or series) if (version or series) else None
    if platform.platform_machine == "aarch64":
        if name != "torch":
            return None, "which build PyPI's Linux aarch64 wheels of this package are is not in torchdoctor's tables"
        if release is None or not series_known:
            return None, "PyPI's Linux aarch64 wheels are CPU builds before torch 2.11 and CUDA builds from it"
        if Version(release.series) < Version("2.11"):
            return "cpu", f"PyPI's Linux aarch64 wheels of torch {release.series} are CPU builds"
    if release is None or not series_known:
        return "cuda", "PyPI's Linux wheels of torch are CUDA builds; which CUDA depends on the release uv picks"
    return release.pypi_linux_cuda, f"PyPI's Linux wheel of torch {release.series} is its {release.pypi_linux_cuda} build"


def build_conflict(torch_build: str | None, companion_build: str | None) -> str | None:
    """Why a companion of `companion_build` fails beside torch of `torch_build`, or None when it does not
    or either build is unknown. torchvision and torchaudio check only the CUDA major at import ("compiled with
    different CUDA major versions"), so cu126 beside cu128 works; CPU beside CUDA does not run the GPU
    operators, and ROCm, XPU and CUDA builds are different libraries."""
    if not torch_build or not companion_build or "cuda" in (torch_build, companion_build):
        return None
    if torch_build == companion_build:
        return None
    torch_cuda, companion_cuda = _cuda_major(torch_build), _cuda_major(companion_build)
    if torch_cuda is not None and companion_cuda is not None:
        return None if torch_cuda == companion_cuda else f"CUDA {torch_cuda} beside CUDA {companion_cuda}"
    return f"{torch_build} beside {companion_build}"


def _cuda_major(build: str) -> int | None:
    digits = build.removeprefix("cu")
    return int(digits[:-1]) if build.startswith("cu") and digits.isdigit() and len(digits) >= 3 else None


# ---------------------------------------------------------------------------------------------
# From uv.lock


def _root_node(lock: LockInfo | None) -> LockNode | None:
    if lock is None or not lock.root:
        return None
    return next((n for n in lock.graph if n.name == lock.root and n.source_kind in ("editable", "virtual")), None)


class _LockIndex:
    """The lock graph by name, to follow an edge to the entry it means (each edge resolved once)."""

    def __init__(self, lock: LockInfo):
        self.by_name: dict[str, list[LockNode]] = {}
        for node in lock.graph:
            self.by_name.setdefault(node.name, []).append(node)
        self.targets: dict[int, LockNode | None] = {}
        """By id(edge): the edges are the lock's own objects, and hashing a dataclass per lookup is slow."""

    def target(self, edge: LockEdge) -> LockNode | None:
        if id(edge) in self.targets:
            return self.targets[id(edge)]
        candidates = self.by_name.get(edge.name, [])
        if edge.version is not None:
            candidates = [n for n in candidates if n.version == edge.version]
        if edge.source is not None and len(candidates) > 1:
            candidates = [n for n in candidates if n.source == edge.source]
        self.targets[id(edge)] = found = candidates[0] if candidates else None
        return found


_INDEXES: dict[int, tuple[LockInfo, _LockIndex]] = {}


def _lock_index(lock: LockInfo) -> _LockIndex:
    """One index per lock object: the model walks the same lock for every platform and selection."""
    with _CACHE_LOCK:
        hit = _INDEXES.get(id(lock))
        if hit is not None and hit[0] is lock:
            return hit[1]
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        _INDEXES[id(lock)] = (lock, index := _LockIndex(lock))
        return index


def walk_lock(lock: LockInfo, environment: tuple[tuple[str, str], ...], selection: Selection) -> list[LockNode]:
    """The entries `uv sync` installs on `environment` for `selection`, as uv walks the lock.

    Turning on an extra of a workspace member can turn on conflict markers further down, so the walk
    repeats until the set of active conflict items stops growing (twice for every project seen)."""
    root = _root_node(lock)
    if root is None:
        return []
    graph = _lock_index(lock)
    active = frozenset(
        [conflict_item("extra", root.name, e) for e in selection.extras]
        + [conflict_item("group", root.name, g) for g in selection.groups]
    )
    while True:
        installed: dict[int, LockNode] = {}
        turned_on: set[str] = set()
        seen: set[tuple[int, str | None]] = set()
        queue: list[tuple[LockNode, tuple[LockEdge, ...]]] = [(root, root.dependencies)]
        queue += [(root, root.optional_dependencies.get(e, ())) for e in selection.extras]
        queue += [(root, root.dependency_groups.get(g, ())) for g in selection.groups]
        while queue:
            _, edges = queue.pop()
            for edge in edges:
                node = graph.target(edge)
                if node is None or (id(node) in installed and all((id(node), part) in seen for part in (None, *edge.extras))):
                    continue  # nothing new down this edge: its marker need not be evaluated
                # An edge that turns on a member's extra holds when that extra is on, which it then is: uv
                # writes its marker as `extra == 'extra-10-member-x' and …`.
                member = node.source_kind in ("editable", "virtual", "directory")
                own = frozenset(conflict_item("extra", node.name, x) for x in edge.extras) if member else frozenset()
                if not marker_holds(edge.marker, environment, active | own):
                    continue
                installed[id(node)] = node
                for part in (None, *edge.extras):
                    if (id(node), part) in seen:
                        continue
                    seen.add((id(node), part))
                    if part is None:
                        queue.append((node, node.dependencies))
                    else:
                        queue.append((node, node.optional_dependencies.get(part, ())))
                turned_on |= own
        if turned_on <= active:
            return list(installed.values())
        active = active | turned_on


def _from_lock(lock: LockInfo, platform: Platform, python: str, selection: Selection, default_mirror: bool) -> tuple[Planned, ...]:
    planned = []
    for node in walk_lock(lock, platform.environment(python), selection):
        if node.name not in MODEL_PACKAGES:
            continue
        series = _series(node.name, node.version)
        index = node.source if node.source_kind in ("registry", "url", "path", "directory", "git") else None
        if index and node.source_kind == "registry" and parse_index_url(index).host == "pypi.org":
            index = None
        build, why = build_of(node.name, node.version, series, index, platform, default_mirror)
        planned.append(Planned(node.name, node.version, None, series, index, None, build, why))
    return tuple(sorted(_one_each(planned), key=lambda p: (MODEL_PACKAGES.index(p.name), p.version or "")))


def _one_each(planned: list[Planned]) -> list[Planned]:
    """One answer per package. uv installs one version of a package; a walk that reaches several (a lock an older uv
    wrote, whose edges to `torch`, `torch+cpu` and `torch+cu124` carry no marker that chooses) is a lock this reading
    cannot decide: undecided, never the first of them."""
    by_name: dict[str, list[Planned]] = {}
    for item in planned:
        by_name.setdefault(item.name, []).append(item)
    kept = []
    for name, items in by_name.items():
        if len({(i.version, i.index) for i in items}) == 1:
            kept.append(items[0])
            continue
        versions = tuple(sorted({i.version or "?" for i in items}))
        kept.append(Planned(name, build_basis=f"uv.lock lists {name} {', '.join(versions)} for this install, with no "
                                             "marker that chooses one: `uv sync` installs them over each other",
                            together=versions, decided=False))
    return kept


def _series(name: str, version: str | None) -> str | None:
    """The torch release series a package version belongs to ("2.8" for torchvision 0.23.0)."""
    if not version:
        return None
    release = knowledge().release_of(name, version)
    return release.series if release else (series_of(version) if name == "torch" else None)


# ---------------------------------------------------------------------------------------------
# From pyproject.toml


def _in_selection(group: str, selection: Selection) -> bool:
    if group == "dependencies":
        return True
    kind, _, name = group.partition(":")
    name = canonicalize_name(name)
    return (kind == "optional" and name in selection.extras) or (kind == "group" and name in selection.groups)


def _predict(pyproject: PyprojectInfo, platform: Platform, python: str, selection: Selection,
             default_mirror: bool) -> tuple[Planned, ...]:
    environment = platform.environment(python)
    active = frozenset(selection.extras)
    wanted: dict[str, list[Requirement]] = {}
    for declared in pyproject.torch_requirements:
        if declared.name not in MODEL_PACKAGES or not _in_selection(declared.group, selection):
            continue
        requirement = parse_requirement(declared.requirement)[0]
        if requirement is None:
            continue
        if requirement.marker is not None and marker_holds(str(requirement.marker), environment, active) is False:
            continue
        wanted.setdefault(declared.name, []).append(requirement)
    indexes = {i.name: i for i in pyproject.indexes if i.name}
    conflicting = frozenset(item for items in _conflict_sets(pyproject) for item in items)
    planned = []
    for name, requirements in wanted.items():
        specifier = SpecifierSet()
        direct = None
        for requirement in requirements:
            specifier &= requirement.specifier
            direct = direct or requirement.url
        in_base = any(r.group == "dependencies" for r in pyproject.torch_requirements if r.name == name)
        index, index_name = _predicted_index(pyproject, indexes, conflicting, name, environment, selection, in_base)
        if direct:
            index, index_name = direct, None
        if index == UNDECIDED:
            planned.append(Planned(name, None, str(specifier) or None, None, None, None, None,
                                   "uv decides between several [tool.uv.sources] entries here; lock to know", decided=False))
            continue
        series, only, releases = _newest_series(name, specifier, index)
        version = _version_of_url(index) if index and index.endswith(".whl") else _pinned(specifier)
        if version:
            series, only = _series(name, version), True
        build, why = build_of(name, version, series, index, platform, default_mirror, series_known=only)
        planned.append(Planned(name, version, str(specifier) or None, series, index, index_name, build, why,
                               ((series,) if series else ()) if version else releases))
    return tuple(sorted(_follow_torch(planned, platform, default_mirror), key=lambda p: MODEL_PACKAGES.index(p.name)))


def _follow_torch(planned: list[Planned], platform: Platform, default_mirror: bool) -> list[Planned]:
    """A companion whose own range leaves its release open follows torch's: torchvision X.Y pins one torch
    release, so the torch releases a range admits decide which PyPI builds its torchvision can be."""
    torch = next((p for p in planned if p.name == "torch"), None)
    if torch is None or not torch.releases:
        return planned
    kb = knowledge()
    followed = []
    for item in planned:
        if item.name in BUILD_CHECKED and item.build in (None, "cuda") and not item.version and item.decided:
            specifier = _specifier_or_any(item.specifier)
            builds: dict[str, list[str]] = {}
            for series in torch.releases:
                release = kb.release(f"{series}.0")
                versions = kb.versions_in(item.name, release) if release else ()
                if not versions or not any(specifier.contains(v, prereleases=True) for v in versions):
                    continue
                build, _ = build_of(item.name, versions[0], series, item.index, platform, default_mirror)
                if build in (None, "cuda"):
                    builds = {}
                    break
                builds.setdefault(build, []).append(series)
            if len(builds) == 1:
                (build,) = builds
                item = replace(item, build=build, releases=tuple(torch.releases),
                               build_basis=f"PyPI's build for torch {', '.join(builds[build])}, the releases torch's range admits")
            elif builds:
                item = replace(item, build=None, releases=tuple(torch.releases), possible_builds=tuple(builds),
                               build_basis="PyPI's build depends on the torch release uv picks: " + "; ".join(
                                   f"{b} for torch {', '.join(v)}" for b, v in builds.items()))
        followed.append(item)
    return followed


def _specifier_or_any(text: str | None) -> SpecifierSet:
    try:
        return SpecifierSet(text or "")
    except InvalidSpecifier:
        return SpecifierSet()


ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def is_direct(location: str) -> bool:
    """Whether a Planned's `index` is the package's own file, not an index: a wheel's or an archive's URL, a path, a
    git repository. What it is, it is: no index line or variant reasoning applies to it."""
    bare = location.split("#", 1)[0].split("?", 1)[0].lower()
    return bare.endswith(ARCHIVES) or bare.startswith("git+") or not bare.startswith(("http://", "https://"))


def _version_of_url(url: str) -> str | None:
    try:
        return str(parse_wheel_filename(url.rsplit("/", 1)[-1].replace("%2B", "+"))[1])
    except (InvalidWheelFilename, InvalidVersion):
        return None


UNDECIDED = "<undecided>"


def _pinned(specifier: SpecifierSet) -> str | None:
    """The version an `==` pin names when it has a local part (`torch==2.5.1+cu124`): the build is in it."""
    pins = sorted({s.version for s in specifier if s.operator in ("==", "===") and "+" in s.version and "*" not in s.version})
    return pins[0] if len(pins) == 1 else None


def _predicted_index(pyproject: PyprojectInfo, indexes: Mapping, conflicting: frozenset[tuple[str, str]], name: str,
                     environment, selection: Selection, in_base: bool = False):
    """(index URL or None for PyPI, index name) for `name`: UNDECIDED where uv's universal resolution decides.

    The first `[tool.uv.sources]` entry whose marker holds and whose `extra`/`group` (if any) is on wins, as
    in uv; without one, the first index that carries torch builds in uv's search order (non-explicit
    `[[tool.uv.index]]` entries, then `extra-index-url`, then the default index)."""
    active = frozenset(selection.extras)
    chosen = [s for s in pyproject.sources if s.package == name
              and (not s.extra or canonicalize_name(s.extra) in selection.extras)
              and (not s.group or canonicalize_name(s.group) in selection.groups)]
    applying = [s for s in chosen if marker_holds(s.marker, environment, active) is not False]
    keyed = any(s.extra or s.group for s in chosen)
    unified = [s for s in pyproject.sources if s.package == name and (s.extra or s.group)
               and (("extra", canonicalize_name(s.extra)) if s.extra else ("group", canonicalize_name(s.group or ""))) not in conflicting]
    base_too = keyed and in_base and len(applying) == 1 and not _index_covers(indexes, applying[0], environment)
    if len(applying) > 1 or (keyed and not applying) or (unified and not applying) or base_too:
        # Several entries apply, this selection maps the package on other platforms only, or an extra that does not
        # conflict maps it (uv then locks one version for all of them): uv's universal resolution decides (the field
        # corpus shows it reusing another selection's or platform's build), not a rule torchdoctor can state. Where
        # the base dependencies require it too and this selection's one source applies, that source is the
        # package's in this fork where that index has wheels for the platform (the real uv: torch in the dependencies
        # and in a default group mapped to cu130 locks the cu130 build for a plain `uv sync`, tests/test_uv_lock.py);
        # elsewhere (macOS, for a CUDA index) the field corpus shows uv taking the base requirement's PyPI build.
        return UNDECIDED, None
    if applying:
        source = applying[0]
        if source.kind == "index":
            index = indexes.get(source.target)
            if index is None or not index.url:
                return UNDECIDED, None  # an undeclared index: uv refuses to lock (TD306)
            return index.url, source.target
        return source.target, None
    if any(parse_index_url(u).serves_torch for u in pyproject.uv.find_links):
        # find-links pages add candidates beside the indexes' (uv takes torch from either): which wins
        # depends on the versions each has.
        return UNDECIDED, None
    searched = [(i.url, i.name) for i in pyproject.indexes if not i.explicit and not i.default and i.url]
    searched += [(u, None) for u in pyproject.uv.extra_index_url]
    for url, index_name in searched:
        if parse_index_url(url).serves_torch:
            return url, index_name
    default = next((i for i in pyproject.indexes if i.default and i.url), None)
    if default is not None:
        return default.url, default.name
    return pyproject.uv.index_url, None


def _index_covers(indexes: Mapping, source, environment) -> bool:
    """Whether the PyTorch index a source names publishes wheels for this platform: CPU and CUDA builds for Linux
    x86_64 and Windows, ROCm for Linux x86_64. Anything else (macOS, aarch64, an index the tables do not describe) is
    not known to."""
    index = indexes.get(source.target) if source.kind == "index" else None
    url = parse_index_url(index.url) if index is not None and index.url else None
    if url is None or not url.serves_torch or url.channel != "stable" or not url.variant:
        return False
    values = dict(environment)
    machine, system = values.get("platform_machine"), values.get("sys_platform")
    if url.variant.startswith("rocm"):
        return system == "linux" and machine == "x86_64"
    return (system == "linux" and machine == "x86_64") or system == "win32"


def _newest_series(name: str, specifier: SpecifierSet, index: str | None) -> tuple[str | None, bool, tuple[str, ...]]:
    """(The newest release series in the tables that `specifier` admits and `index` carries, whether it is the
    only one, all of them newest first; none when the range reaches past the tables)."""
    kb = knowledge()
    url = parse_index_url(index) if index else None
    if url is not None and url.channel != "stable":
        return None, False, ()  # nightly and test channels carry development builds the tables do not list
    variant = url.variant if url else None
    admitted = [r.series for r in reversed(kb.releases_in(name, specifier))
                if not variant or variant == "cpu" or variant in r.variants]
    retired = variant is not None and variant in kb.retired  # a retired variant gets no newer release
    open_ended = name == "torch" and not retired and kb.admits_beyond_tables(specifier)
    if not admitted:
        return None, False, ()
    return admitted[0], len(admitted) == 1 and not open_ended, () if open_ended else tuple(admitted)


# ---------------------------------------------------------------------------------------------
# Putting it together


PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15")


def representative_python(*ranges: str | None) -> str:
    """The Python the cross-platform answers are computed for: 3.12 if every range admits it, else the
    newest one that all admit (markers on Python versions rarely change which torch build a platform gets)."""
    admitted = []
    for python in PYTHONS:
        ok = True
        for text in ranges:
            try:
                if text and not SpecifierSet(text).contains(f"{python}.0", prereleases=True):
                    ok = False
            except InvalidSpecifier:
                continue
        if ok:
            admitted.append(python)
    if "3.12" in admitted:
        return "3.12"
    return admitted[-1] if admitted else "3.12"


def _machine_python(snapshot: Snapshot) -> str | None:
    """The interpreter's Python as "3.12": markers almost never split on the patch release, and with the same
    environment as the platform answers, this machine's walks reuse their marker results."""
    version = snapshot.torch.python_version
    if not version:
        return None
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) else None


def resolve(project: ProjectInfo, platform: Platform, python: str, selection: Selection, key: str | None = None) -> Resolution:
    pyproject, lock = project.pyproject, project.lock
    # A default index that is not a PyTorch one replaces PyPI (a mirror): its torch wheels are PyPI's builds.
    defaults = [i.url for i in (pyproject.indexes if pyproject else ()) if i.default and i.url]
    defaults += [pyproject.uv.index_url] if pyproject and pyproject.uv.index_url else []
    default_mirror = any(not parse_index_url(url).serves_torch for url in defaults)
    environment = platform.environment(python)
    note = None
    packages: tuple[Planned, ...]
    if lock is not None and _root_node(lock) is not None:
        basis = "uv.lock"
        if lock.supported_markers and not any(marker_holds(m, environment) for m in lock.supported_markers):
            packages, note = (), "outside the lock's supported environments ([tool.uv] environments): uv cannot install here"
        else:
            packages = _from_lock(lock, platform, python, selection, default_mirror)
    else:
        basis = "pyproject.toml"
        environments = pyproject.uv.environments if pyproject else ()
        if environments and not any(marker_holds(m, environment) for m in environments):
            packages, note = (), "outside [tool.uv] environments: uv does not resolve for this platform"
        else:
            packages = _predict(pyproject, platform, python, selection, default_mirror) if pyproject else ()
    return Resolution(key or platform.key, platform.label if key is None else f"this machine ({platform.label})", python,
                      selection.label, selection.option, basis, packages, note)


def build_model(snapshot: Snapshot, from_lock: bool = True) -> ProjectModel:
    """Every platform × selection for the snapshot's project, and this machine's answers. With `from_lock`
    False the answers are predicted from pyproject.toml even where a lock exists: what `uv lock` would do."""
    project = snapshot.project if from_lock else replace(snapshot.project, lock=None)
    pyproject, lock = project.pyproject, project.lock
    declares_torch = bool(pyproject and any(r.name in MODEL_PACKAGES for r in pyproject.torch_requirements))
    locked = lock is not None and _root_node(lock) is not None
    if not declares_torch and not (lock is not None and locked and any(p.name in MODEL_PACKAGES for p in lock.packages)):
        return ProjectModel(None)
    note = None
    if lock is not None and not locked:
        note = ("uv.lock has no entry for the project itself, or was recorded before torchdoctor read lock graphs: "
                "the answers are predicted from pyproject.toml")
    chosen = selections(pyproject, lock if locked else None)
    python = representative_python(lock.requires_python if lock is not None and locked else None,
                                   pyproject.requires_python if pyproject else None)
    resolutions = tuple(resolve(project, p, python, s) for p in PLATFORMS for s in chosen)
    platform = machine_platform(snapshot.system)
    machine: tuple[Resolution, ...] = ()
    if platform is not None:
        machine_python = _machine_python(snapshot) or python
        machine = tuple(resolve(project, platform, machine_python, s, "this-machine") for s in chosen)
    return ProjectModel("uv.lock" if locked else "pyproject.toml", resolutions, machine, chosen, note,
                        platform.key if platform else None)


_CACHE: dict[tuple[int, bool], tuple[Snapshot, ProjectModel]] = {}


def project_model(snapshot: Snapshot, from_lock: bool = True) -> ProjectModel:
    """The model for `snapshot`, built once per snapshot: every rule asks, the walk runs once. Without a lock the
    model predicted from pyproject.toml is the only one, whichever a rule asks for (the proofs' projects have none)."""
    key = (id(snapshot), from_lock or snapshot.project.lock is None)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is snapshot:
            return hit[1]
    model = build_model(snapshot, from_lock)
    with _CACHE_LOCK:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = (snapshot, model)
    return model
