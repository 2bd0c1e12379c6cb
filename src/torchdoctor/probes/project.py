"""Probe the project's files: pyproject.toml, uv.lock, requirements files and Dockerfiles.

Reading is fast and forgiving: files are parsed with `tomllib` (tomlkit is for editing only) and a
file that cannot be used becomes a ProjectFileError naming the file, line and column, never an
exception. uv.lock can hold thousands of packages and several megabytes; only the parts that matter
here are parsed (see `read_lock`), so a 2,000-package lock reads in a few tens of milliseconds.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from torchdoctor.family import BUILDS_AGAINST_TORCH, TORCH_FAMILY
from torchdoctor.probes.code_scan import scan_device_assignments
from torchdoctor.probes.dockerfile import read_dockerfile
from torchdoctor.probes.documented import read_documented_syncs
from torchdoctor.probes.index_pages import published_pythons
from torchdoctor.probes.reading import FileProblem, position_of, read_text
from torchdoctor.redact import clean, clean_data, redact_url
from torchdoctor.requirements import parse_requirement
from torchdoctor.snapshot import (
    DeclaredRequirement,
    IndexPythons,
    LockEdge,
    LockedPackage,
    LockInfo,
    LockNode,
    ProjectFileError,
    ProjectInfo,
    PyprojectInfo,
    RequirementLine,
    RequirementsOption,
    ToolSettings,
    UvIndex,
    UvSettings,
    UvSource,
)

try:  # tomli is tomllib's parser compiled with mypyc, about 3x faster on the long marker strings of uv.lock
    import tomli as tomllib
except ImportError:  # pragma: no cover - a platform without its wheel; the standard library's is the same parser
    import tomllib  # type: ignore[no-redef]  # the same API

# Other packages whose locked versions the checks compare with torch's (NumPy's ABI).
ALSO_LOCKED = frozenset({"numpy"})
# CUDA runtime wheels that torch pulls in on Linux; locked alongside it and part of its variant.
CUDA_WHEEL_PREFIXES = ("nvidia-", "cuda-")

KNOWN_LOCK_VERSIONS = (1,)
"""uv.lock format versions this reader follows (uv 0.4.x to 0.13, as of 2026-12)."""
MAX_PYPROJECT_BYTES = 4 * 1024 * 1024
MAX_LOCK_BYTES = 256 * 1024 * 1024
MAX_REQUIREMENTS_BYTES = 1024 * 1024
SKIPPED_FOLDERS = frozenset({".git", ".venv", "node_modules", "__pycache__", ".tox", ".nox", "site-packages"})


def is_torch_family(name: str) -> bool:
    name = canonicalize_name(name)
    return name in TORCH_FAMILY or (name.startswith(CUDA_WHEEL_PREFIXES) and name != "nvidia-ml-py")


def find_project_root(start: Path) -> tuple[Path, str]:
    """The nearest folder at or above `start` with a pyproject.toml, as uv finds it."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            if folder == start:
                return folder, "pyproject.toml in the given directory"
            return folder, f"nearest pyproject.toml above {start}"
    return start, "no pyproject.toml in the given directory or above it"


def probe_project(root: Path, found_by: str = "") -> ProjectInfo:
    errors: list[ProjectFileError] = []
    pyproject = lock = None
    pyproject_path = root / "pyproject.toml"
    if pyproject_path.exists():
        try:
            pyproject = read_pyproject(pyproject_path, errors)
        except FileProblem as problem:
            errors.append(problem.error)
    lock_path = root / "uv.lock"
    if lock_path.exists():
        try:
            lock = read_lock(lock_path)
        except FileProblem as problem:
            errors.append(problem.error)
        else:
            if lock.version not in KNOWN_LOCK_VERSIONS:
                errors.append(ProjectFileError(str(lock_path), "unknown-version", (
                    f"it says version = {lock.version}; torchdoctor reads uv.lock version "
                    f"{', '.join(map(str, KNOWN_LOCK_VERSIONS))}, so what it reports from this lock may be incomplete")
                    if lock.version is not None else "it has no integer `version`, which every uv.lock starts with"))
    requirements_files = sorted(_requirements_files(root))
    options: list[RequirementsOption] = []
    requirement_lines: list[RequirementLine] = []
    for path in requirements_files:
        try:
            file_options, file_lines = read_requirements_file(path, root)
            options.extend(file_options)
            requirement_lines.extend(file_lines)
        except FileProblem as problem:
            errors.append(problem.error)
    dockerfiles = sorted(_dockerfiles(root))
    dockerfile_details = []
    for path in dockerfiles:
        try:
            dockerfile_details.append(read_dockerfile(path, clean(read_text(path, MAX_REQUIREMENTS_BYTES)), _relative(path, root)))
        except FileProblem as problem:
            errors.append(problem.error)
    index_pythons = _index_pythons(pyproject)
    if pyproject is not None and not pyproject.workspace and lock is None:
        workspace = _enclosing_workspace(root, errors)
        if workspace is not None:  # a member read alone is read as uv reads it: inside its workspace
            workspace_root, workspace_pyproject, workspace_lock = workspace
            pyproject, lock = _as_member(pyproject, workspace_pyproject, workspace_lock)
            found_by = f"{found_by}; a member of the workspace at {workspace_root}" if found_by else \
                f"a member of the workspace at {workspace_root}"
    return ProjectInfo(
        root=str(root),
        found_by=found_by,
        pyproject=pyproject,
        lock=lock,
        requirements_options=tuple(options),
        requirements_files=tuple(_relative(p, root) for p in requirements_files),
        dockerfiles=tuple(_relative(p, root) for p in dockerfiles),
        errors=tuple(errors),
        requirement_lines=tuple(requirement_lines),
        dockerfile_details=tuple(dockerfile_details),
        index_pythons=index_pythons,
        code_scan=scan_device_assignments(root),
        documented_syncs=read_documented_syncs(root),
        members=_workspace_members(root, pyproject, lock, errors) if pyproject is not None and pyproject.workspace else (),
    )


MAX_MEMBERS = 64


def _workspace_members(root: Path, pyproject: PyprojectInfo, lock: LockInfo | None,
                       errors: list[ProjectFileError]) -> tuple[ProjectInfo, ...]:
    """Each member of a workspace root as its own project, as uv sees it: its pyproject.toml, the root's sources and
    indexes where it has none of its own (uv's precedence), and the workspace's uv.lock walked from the member.
    Folders are found by the members' globs, inside the root only, without following links; at most 64."""
    folders: list[Path] = []
    for folder in _member_folders(root, pyproject):
        if folder not in folders:
            folders.append(folder)
        if len(folders) >= MAX_MEMBERS:
            break
    members = []
    for folder in folders:
        path = folder / "pyproject.toml"
        member_errors: list[ProjectFileError] = []
        try:
            own = read_pyproject(path, member_errors)
        except FileProblem as problem:
            errors.append(problem.error)
            continue
        merged, seen_from_member = _as_member(own, pyproject, lock)
        members.append(ProjectInfo(root=str(folder), found_by=f"a member of the workspace at {root}", pyproject=merged,
                                   lock=seen_from_member, errors=tuple(member_errors)))
    return tuple(members)


def _member_folders(root: Path, pyproject: PyprojectInfo) -> Iterator[Path]:
    """The folders a workspace root's `members` globs name, inside the root only, without links or excluded ones."""
    import fnmatch

    for pattern in pyproject.workspace_members[:16]:
        if pattern.startswith(("/", "..")) or ".." in Path(pattern).parts:
            continue
        try:
            matches = sorted(root.glob(pattern))
        except (OSError, ValueError):
            continue
        for folder in matches:
            relative = _relative(folder, root)
            if (folder.is_symlink() or not folder.is_dir() or folder == root
                    or any(fnmatch.fnmatch(relative, x) for x in pyproject.workspace_exclude)
                    or not (folder / "pyproject.toml").is_file()):
                continue
            yield folder


def _as_member(own: PyprojectInfo, root: PyprojectInfo, lock: LockInfo | None) -> tuple[PyprojectInfo, LockInfo | None]:
    """A member's pyproject.toml as uv reads it, with the root's sources and indexes where it has none of its own (uv's
    precedence), and the workspace's uv.lock seen from the member's own entry."""
    overridden = {s.package for s in own.sources}
    named = {i.name for i in own.indexes if i.name}
    merged = replace(own, sources=(*own.sources, *(s for s in root.sources if s.package not in overridden)),
                     indexes=(*own.indexes, *(i for i in root.indexes if not i.name or i.name not in named)))
    seen = replace(lock, root=canonicalize_name(own.name), root_requires_dist=None) if lock is not None and own.name else None
    return merged, seen


MAX_WORKSPACE_DEPTH = 16


def _enclosing_workspace(folder: Path, errors: list[ProjectFileError]
                         ) -> tuple[Path, PyprojectInfo, LockInfo | None] | None:
    """The workspace whose member `folder` is, as uv finds it: the nearest folder above with a pyproject.toml that has
    `[tool.uv.workspace]` (at most 16 levels up); None when that root's `members` do not name `folder`, or there is
    none. Its files are read as the project's are (bounded, never run); a problem with them is said, not fatal."""
    resolved = folder.resolve()
    for parent in list(resolved.parents)[:MAX_WORKSPACE_DEPTH]:
        path = parent / "pyproject.toml"
        if not path.is_file():
            continue
        root_errors: list[ProjectFileError] = []
        try:
            candidate = read_pyproject(path, root_errors)
        except FileProblem:
            continue  # not readable as a workspace root: uv would stop with its own error; the member is read alone
        if not candidate.workspace:
            continue
        if resolved not in {f.resolve() for f in _member_folders(parent, candidate)}:
            return None
        lock = None
        if (parent / "uv.lock").is_file():
            try:
                lock = read_lock(parent / "uv.lock")
            except FileProblem as problem:
                errors.append(problem.error)
        return parent, candidate, lock
    return None


# ---------------------------------------------------------------------------------------------
# Reading files safely


def parse_toml(text: str, path: Path, line_offset: int = 0) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise FileProblem(ProjectFileError(str(path), "malformed", "invalid TOML: arrays or tables nested hundreds of "
                                           "levels deep; torchdoctor does not read it")) from None
    except tomllib.TOMLDecodeError as error:
        line, column = _error_position(error)
        if line is None and "end of document" in str(error):
            line, column = position_of(text, len(text))
        message = str(error.args[0] if error.args else error)
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", message)
        if line is not None:
            line += line_offset
        raise FileProblem(ProjectFileError(str(path), "malformed", f"invalid TOML: {message}", line, column)) from None


def _error_position(error: Exception) -> tuple[int | None, int | None]:
    line, column = getattr(error, "lineno", None), getattr(error, "colno", None)
    if line is not None:
        return line, column
    match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
    if match:
        return int(match.group(1)), int(match.group(2))
    return None, None


def locate(text: str, needle: str) -> tuple[int | None, int | None]:
    offset = text.find(needle)
    return position_of(text, offset) if offset >= 0 else (None, None)


# ---------------------------------------------------------------------------------------------
# pyproject.toml


def project_of_text(text: str, path: Path, parsed: dict[str, Any] | None = None) -> ProjectInfo:
    """pyproject.toml's text alone read as a project, in memory: how the proof reads a fixed text (no lock, which
    `uv lock` rewrites after a fix, and no other file). `path` is the file the text is for, named in what is said;
    `parsed`, the text's TOML when the caller has parsed it already."""
    errors: list[ProjectFileError] = []
    pyproject = None
    try:
        if "\x00" in text:
            raise FileProblem(ProjectFileError(str(path), "binary", "it contains a NUL byte: this is binary, not TOML text"))
        pyproject = pyproject_from_text(text.removeprefix("\ufeff"), path, errors, parsed)
    except FileProblem as problem:
        errors.append(problem.error)
    return ProjectInfo(root=str(path.parent), pyproject=pyproject, errors=tuple(errors),
                       index_pythons=_index_pythons(pyproject))


def _index_pythons(pyproject: PyprojectInfo | None) -> tuple[IndexPythons, ...]:
    """The Pythons each nightly index publishes wheels for (from the cache of index pages; see probes/index_pages)."""
    return tuple(
        published_pythons(index.name or "", index.url)
        for index in (pyproject.indexes if pyproject else ())
        if index.url and index.url.startswith(("http://", "https://")) and "/whl/nightly/" in index.url
    )


def read_pyproject(path: Path, errors: list[ProjectFileError]) -> PyprojectInfo:
    return pyproject_from_text(read_text(path, MAX_PYPROJECT_BYTES), path, errors)


def pyproject_from_text(text: str, path: Path, errors: list[ProjectFileError],
                        parsed: dict[str, Any] | None = None) -> PyprojectInfo:
    data = clean_data(parse_toml(text, path) if parsed is None else parsed)

    def invalid(message: str, needle: str | None = None) -> None:
        line, column = locate(text, needle) if needle else (None, None)
        errors.append(ProjectFileError(str(path), "invalid-value", message, line, column))

    project = data.get("project")
    if project is not None and not isinstance(project, dict):
        invalid("[project] is not a table", "project")
        project = None
    project = project or {}

    declared: list[DeclaredRequirement] = []
    extensions: list[DeclaredRequirement] = []
    count = 0

    def collect(group: str, requirements: Any) -> None:
        nonlocal count
        if not isinstance(requirements, list):
            invalid(f"{group} is not a list of requirement strings")
            return
        for item in requirements:
            if not isinstance(item, str):
                continue  # {include-group = "..."} entries of dependency groups
            count += 1
            requirement, lenient = parse_requirement(item)
            if lenient:
                line, column = locate(text, item)
                errors.append(ProjectFileError(
                    str(path), "pip-incompatible",
                    f"{group}: {item!r} is accepted by uv, but pip and other PEP 508 tools reject it: put a space "
                    "before the `;` that starts its marker", line, column))
            try:
                requirement = requirement or Requirement(item)
            except InvalidRequirement as error:
                reason = str(error)
                if "+" in item and any(op in item for op in (">=", "<=", "~=", ">", "<")):
                    reason = ("a local version such as +cu118 is only allowed with == or !=, never in a range; "
                              "choose the CUDA build with an index in [tool.uv.sources] instead")
                invalid(f"{group}: {item!r} is not a valid requirement ({reason})", item)
                continue
            name = canonicalize_name(requirement.name)
            if is_torch_family(name):
                declared.append(DeclaredRequirement(group, redact_url(item), name))
            elif name in BUILDS_AGAINST_TORCH:
                extensions.append(DeclaredRequirement(group, redact_url(item), name))

    collect("dependencies", project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    extras = extras if isinstance(extras, dict) else {}
    for extra, requirements in extras.items():
        collect(f"optional:{extra}", requirements)
    groups = data.get("dependency-groups", {})
    groups = groups if isinstance(groups, dict) else {}
    for group, requirements in groups.items():
        collect(f"group:{group}", requirements)

    tool_uv = _table(data, "tool", "uv")
    legacy_dev = tool_uv.get("dev-dependencies")
    if legacy_dev is not None:
        collect("group:dev", legacy_dev)

    requires_python = project.get("requires-python")
    if requires_python is not None and not _valid_specifier(requires_python):
        invalid(f"requires-python = {requires_python!r} is not a version range (e.g. \">=3.10\"): uv refuses the file",
                "requires-python")
        requires_python = None
    for message, needle in _uv_type_errors(tool_uv):
        invalid(message, needle)
    def invalid_setting(message: str, needle: str | None = None) -> None:
        line, column = locate(text, needle) if needle else (None, None)
        errors.append(ProjectFileError(str(path), "invalid-setting", message, line, column))

    tool = data.get("tool") if isinstance(data, dict) else None
    if isinstance(tool, dict) and "torchdoctor" in tool and not isinstance(tool["torchdoctor"], dict):
        kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}.get(
            type(tool["torchdoctor"]), "a value")
        invalid_setting(f"[tool] torchdoctor is {kind}, where torchdoctor expects a table ([tool.torchdoctor]): its "
                        "settings are not read", "torchdoctor")
    settings = _tool_settings(_table(data, "tool", "torchdoctor"), invalid_setting)
    return PyprojectInfo(
        path=str(path),
        name=project.get("name") if isinstance(project.get("name"), str) else None,
        has_project_table="project" in data,
        requires_python=requires_python if isinstance(requires_python, str) else None,
        dependency_count=count,
        torch_requirements=tuple(declared),
        extension_requirements=tuple(extensions),
        extras=tuple(extras),
        dependency_groups=tuple(groups),
        indexes=_indexes(tool_uv.get("index")),
        sources=_sources(tool_uv.get("sources")),
        uv=_uv_settings(tool_uv),
        dynamic=_strs(project.get("dynamic")),
        workspace="workspace" in tool_uv,
        workspace_members=_strs(_table(tool_uv, "workspace").get("members")),
        workspace_exclude=_strs(_table(tool_uv, "workspace").get("exclude")),
        settings=settings,
        packaged=tool_uv["package"] if isinstance(tool_uv.get("package"), bool) else isinstance(data.get("build-system"), dict),
    )


CODE_PREFIX = re.compile(r"^TD\d{0,3}$")
SEVERITIES = ("info", "warning", "error")


def _tool_settings(table: dict, invalid) -> ToolSettings:
    """`[tool.torchdoctor]` select / ignore / fail-on, checked as ruff checks its selectors: a code that cannot be
    one is an error, not silently nothing."""
    known = {"select", "ignore", "fail-on"}
    unknown = [str(key) for key in table if key not in known]
    if unknown:
        # One finding for all of them: 20,000 unknown keys made 20,000 findings and 20 MB of JSON (issue 25, item 6).
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        invalid(f"[tool.torchdoctor] {shown} {'is not a setting' if len(unknown) == 1 else 'are not settings'} "
                f"torchdoctor knows ({', '.join(sorted(known))})", unknown[0])

    def codes(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            invalid(f"[tool.torchdoctor] {key} must be an array of codes such as \"TD301\" or \"TD3\"", key)
            return ()
        wrong = [item for item in value if not CODE_PREFIX.match(item.upper())]
        if wrong:
            invalid(f"[tool.torchdoctor] {key}: {', '.join(map(repr, wrong))} is not a code or prefix (TD, TD3, TD301)", key)
        return tuple(item.upper() for item in value if CODE_PREFIX.match(item.upper()))

    fail_on = table.get("fail-on")
    if fail_on is not None and fail_on not in SEVERITIES:
        invalid(f"[tool.torchdoctor] fail-on = {fail_on!r}: choose one of {', '.join(SEVERITIES)}", "fail-on")
        fail_on = None
    return ToolSettings(select=codes("select"), ignore=codes("ignore"), fail_on=fail_on)


def _valid_specifier(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        return False
    return True


def _valid_marker(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Marker(value)
    except InvalidMarker:
        return False
    return True


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), f"a {type(value).__name__}")


def _uv_type_errors(tool_uv: dict) -> Iterable[tuple[str, str]]:
    """(message, text to locate) for each [tool.uv] value of a kind uv refuses: uv stops on these with
    "invalid type", so they are the file's errors, not the project's configuration."""
    expected = {"index": list, "sources": dict, "conflicts": list, "environments": list, "required-environments": list,
                "extra-index-url": list, "find-links": list, "no-build-isolation-package": list, "index-url": str,
                "index-strategy": str, "prerelease": str, "extra-build-dependencies": dict}
    for key, kind in expected.items():
        if key in tool_uv and not isinstance(tool_uv[key], kind):
            yield f"[tool.uv] {key} is {_kind(tool_uv[key])}, where uv expects {_kind(kind())}", key
    indexes = tool_uv.get("index")
    for position, entry in enumerate(indexes if isinstance(indexes, list) else (), start=1):
        if not isinstance(entry, dict):
            yield f"[[tool.uv.index]] #{position} is {_kind(entry)}, not a table", "index"
        elif not isinstance(entry.get("url"), str):
            yield f"[[tool.uv.index]] #{position} has no url string", "index"
    sources = tool_uv.get("sources")
    for package, entries in (sources if isinstance(sources, dict) else {}).items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict):
                yield f"[tool.uv.sources] {package} is {_kind(entry)}, where uv expects a table", str(package)
            elif "marker" in entry and not _valid_marker(entry["marker"]):
                yield f"[tool.uv.sources] {package}: marker = {entry['marker']!r} is not a valid marker", str(package)
    for key in ("environments", "required-environments"):
        markers = tool_uv.get(key)
        for marker in markers if isinstance(markers, list) else ():
            if not _valid_marker(marker):
                yield f"[tool.uv] {key}: {marker!r} is not a valid marker", key
    conflicts = tool_uv.get("conflicts")
    for group in conflicts if isinstance(conflicts, list) else ():
        if not isinstance(group, list) or not all(isinstance(item, dict) for item in group):
            yield "[tool.uv] conflicts must be an array of arrays of tables ({ extra = … } / { group = … })", "conflicts"
            break


def _conflicts_shaped(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(group, list) and all(isinstance(item, dict) for item in group)
                                           for group in value)


def _as_written(value: Any) -> Any:
    """TOML kept as written in the snapshot, made JSON-safe: nan, inf, dates and times become their text (the
    rules that read these values find them of the wrong type, as they are)."""
    if isinstance(value, dict):
        return {str(key): _as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _table(data: dict, *keys: str) -> dict:
    for key in keys:
        value = data.get(key) if isinstance(data, dict) else None
        data = value if isinstance(value, dict) else {}
    return data


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, (str, int, float)))
    return ()


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _indexes(value: Any) -> tuple[UvIndex, ...]:
    if not isinstance(value, list):
        return ()
    found = []
    for position, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            continue
        url = _str_or_none(entry.get("url"))
        found.append(
            UvIndex(
                position=position,
                name=_str_or_none(entry.get("name")),
                url=redact_url(url) if url is not None else None,
                explicit=entry.get("explicit") is True,
                default=entry.get("default") is True,
                format=_str_or_none(entry.get("format")),
                publish_url=redact_url(entry["publish-url"]) if isinstance(entry.get("publish-url"), str) else None,
            )
        )
    return tuple(found)


def _sources(value: Any) -> tuple[UvSource, ...]:
    if not isinstance(value, dict):
        return ()
    found = []
    for package, entries in value.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict):
                found.append(UvSource(package=canonicalize_name(package), kind="unknown", target=str(entry)))
                continue
            for kind in ("index", "url", "path", "git", "workspace"):
                if kind in entry:
                    target = entry[kind]
                    break
            else:
                kind, target = "unknown", None
            found.append(
                UvSource(
                    package=canonicalize_name(package),
                    kind=kind,
                    target=redact_url(str(target)) if target is not None else None,
                    marker=_str_or_none(entry.get("marker")),
                    extra=_str_or_none(entry.get("extra")),
                    group=_str_or_none(entry.get("group")),
                )
            )
    return tuple(found)


def _uv_settings(tool_uv: dict) -> UvSettings:
    pip = _table(tool_uv, "pip")
    backend = _str_or_none(tool_uv.get("torch-backend")) or _str_or_none(pip.get("torch-backend"))
    return UvSettings(
        index_url=redact_url(tool_uv["index-url"]) if isinstance(tool_uv.get("index-url"), str) else None,
        extra_index_url=tuple(redact_url(u) for u in _strs(tool_uv.get("extra-index-url"))),
        find_links=tuple(redact_url(u) for u in _strs(tool_uv.get("find-links"))),
        index_strategy=_str_or_none(tool_uv.get("index-strategy")),
        prerelease=_str_or_none(tool_uv.get("prerelease")),
        torch_backend=backend,
        environments=_strs(tool_uv.get("environments")),
        required_environments=_strs(tool_uv.get("required-environments")),
        no_build_isolation=tool_uv.get("no-build-isolation") is True,
        no_build_isolation_package=_strs(tool_uv.get("no-build-isolation-package")),
        conflicts=_as_written(tool_uv["conflicts"]) if _conflicts_shaped(tool_uv.get("conflicts")) else None,
        default_groups=("*all*",) if tool_uv.get("default-groups") == "all" else (
            _strs(tool_uv["default-groups"]) if isinstance(tool_uv.get("default-groups"), list) else None),
        extra_build_dependencies=_as_written(tool_uv.get("extra-build-dependencies"))
        if isinstance(tool_uv.get("extra-build-dependencies"), dict) else None,
    )


# ---------------------------------------------------------------------------------------------
# uv.lock

PACKAGE_HEADER = "[[package]]\n"


def read_lock(path: Path) -> LockInfo:
    """Parse the lock's header, its torch-family entries and the part of its graph that leads to them.

    uv writes uv.lock in a fixed layout: a header, then one `[[package]]` table per package, each starting
    with its `name`. Most of a lock's bytes are the `sdist` and `wheels` lines of each entry, and parsing a
    whole large lock with tomllib takes about half a second per 6 MB. So each entry is parsed without
    those lines (`_graph_text`), except torch-family entries, whose wheels say which platforms they cover.
    The graph is then cut to the entries from which a torch-family package can be reached: the resolution
    model needs nothing else, and a snapshot stays small.
    """
    text = read_text(path, MAX_LOCK_BYTES).replace("\r\n", "\n")
    if text.startswith(PACKAGE_HEADER):
        text = "\n" + text
    pieces = text.split("\n" + PACKAGE_HEADER)
    header = clean_data(parse_toml(pieces[0], path))
    chunks = pieces[1:]
    wanted = _chunks_that_may_reach_family(chunks)
    packages: list[LockedPackage] = []
    nodes: list[LockNode] = []
    root_requires: Any = None
    root: str | None = None
    line = pieces[0].count("\n") + 2  # the line of the first entry's `[[package]]`
    for number, chunk in enumerate(chunks):
        start, line = line, line + chunk.count("\n") + 2
        whole = wanted.get(number)
        last = number == len(chunks) - 1
        if whole is None and not last:
            continue
        # The last entry and the project's own are parsed whole (a truncated write shows in the last; the
        # project's metadata is compared with pyproject.toml); the others without their wheel lines, whose
        # file names are read on their own when the entry's platforms matter.
        root_entry = whole and not first_line_is_tracked(chunk)
        entry = clean_data(parse_toml(PACKAGE_HEADER + (chunk if root_entry or last else _graph_text(chunk)), path,
                                      line_offset=start - 1))
        package = _first_table(entry.get("package"))
        name = package.get("name")
        if not isinstance(name, str):
            continue
        source = _table(package, "source")
        if is_tracked(name):
            packages.append(_locked_package(package, source, _wheel_locations(chunk), "\nsdist = " in chunk))
        if source.get("editable") == "." or source.get("virtual") == ".":
            metadata = _table(package, "metadata")
            root = canonicalize_name(name)
            root_requires = _as_written({
                "requires-dist": metadata.get("requires-dist", []),
                "requires-dev": metadata.get("requires-dev", {}),
            })
        nodes.append(_lock_node(package, source))
    version = header.get("version")
    revision = header.get("revision")
    return LockInfo(
        path=str(path),
        version=version if isinstance(version, int) else None,
        revision=revision if isinstance(revision, int) else None,
        requires_python=_str_or_none(header.get("requires-python")),
        resolution_markers=_strs(header.get("resolution-markers")),
        supported_markers=_strs(header.get("supported-markers")),
        package_count=len(chunks),
        packages=tuple(sorted(packages, key=lambda p: (p.name, p.version))),
        root_requires_dist=root_requires,
        root=root,
        graph=_paths_to_family(nodes, root),
    )


_NAMED = re.compile(r'\{ name = "([^"]+)"')


def _chunks_that_may_reach_family(chunks: list[str]) -> dict[int, bool]:
    """Which entries to parse, each with whether to parse it whole (torch-family: its wheels; the project's own
    entry: its metadata) or only its graph.

    A cheap first pass over uv's fixed layout: each entry's name from its first line and every
    `{ name = "…"` it mentions (its dependencies, extras, groups and requires-dist). That over-counts
    edges, never misses one, so every entry that can reach torch is kept; the exact graph is then built
    from what tomllib parses. Entries whose first line is not `name = …` are parsed, to be safe."""
    names: dict[int, str] = {}
    needs: dict[str, list[int]] = {}
    wanted: dict[int, bool] = {}
    for number, chunk in enumerate(chunks):
        first_line = chunk[: chunk.find("\n")] if "\n" in chunk else chunk
        if not first_line.startswith('name = "'):
            wanted[number] = False
            continue
        name = canonicalize_name(first_line[8:].rstrip().rstrip('"'))
        names[number] = name
        if is_tracked(name):
            wanted[number] = True
        head = chunk[:400]
        if 'editable = "."' in head or 'virtual = "."' in head:
            wanted[number] = True  # the project's own entry: its [package.metadata] is compared with pyproject
        for needed in set(_NAMED.findall(chunk)):
            needs.setdefault(canonicalize_name(needed), []).append(number)
    reached = {name for name in names.values() if is_torch_family(name)}
    queue = list(reached)
    while queue:
        for parent in needs.get(queue.pop(), ()):
            wanted.setdefault(parent, False)
            if parent in names and names[parent] not in reached:
                reached.add(names[parent])
                queue.append(names[parent])
    return wanted


def is_tracked(name: str) -> bool:
    """Entries whose versions and wheel platforms the checks read: the torch family, packages that build against
    torch, and NumPy."""
    name = canonicalize_name(name)
    return is_torch_family(name) or name in BUILDS_AGAINST_TORCH or name in ALSO_LOCKED


def first_line_is_tracked(chunk: str) -> bool:
    first_line = chunk[: chunk.find("\n")] if "\n" in chunk else chunk
    return first_line.startswith('name = "') and is_tracked(first_line[8:].rstrip().rstrip('"'))


_WHEEL_LOCATION = re.compile(r'\b(?:filename|url|path) = "([^"]*)"')


def _wheel_locations(chunk: str) -> list[str]:
    """The file names of an entry's wheels, from its `wheels = [` … `]` lines: one wheel per line, as uv writes
    them (the first location key on each line). Parsing those lines with tomllib costs most of a lock's time."""
    start = chunk.find("\nwheels = [")
    if start < 0:
        return []
    end = chunk.find("\n]", start + 1)
    block = chunk[start : end if end >= 0 else len(chunk)]
    found = []
    for line in block.split("\n")[1:]:
        match = _WHEEL_LOCATION.search(line)
        if match:
            found.append(match.group(1))
    return found


def _first_table(value: Any) -> dict:
    return value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else {}


def _graph_text(chunk: str) -> str:
    """An entry without its `sdist`, `wheels` and `resolution-markers` lines and its `[package.metadata]`
    tables: what is left is what the graph needs, a tenth of the bytes (the resolution model follows the edges'
    markers, not the forks an entry was chosen in). uv writes `wheels = [` and its closing `]` on lines of their
    own; anything else is kept, so an unusual layout costs time, never correctness."""
    if ("\nwheels = [" not in chunk and "\nsdist = " not in chunk and "[package.metadata" not in chunk
            and "\nresolution-markers = [" not in chunk):
        return chunk
    kept: list[str] = []
    skipping_wheels = skipping_metadata = False
    for text_line in chunk.split("\n"):
        if skipping_wheels:
            skipping_wheels = text_line != "]"
            continue
        if text_line.startswith(("wheels = [", "resolution-markers = [")):
            skipping_wheels = not text_line.rstrip().endswith("]")
            continue
        if text_line.startswith("["):
            skipping_metadata = text_line.startswith("[package.metadata")
        if skipping_metadata:
            continue
        if text_line.startswith("sdist = "):
            continue
        kept.append(text_line)
    return "\n".join(kept)


def _source_location(source: Any) -> tuple[str | None, str | None]:
    """(kind, location) of a uv.lock source table, credentials redacted."""
    if not isinstance(source, dict) or not source:
        return None, None
    kind = next(iter(source))
    target = source.get(kind)
    return kind, redact_url(str(target)) if target is not None else None


def _edges(value: Any) -> tuple[LockEdge, ...]:
    edges = []
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        edges.append(
            LockEdge(
                name=canonicalize_name(item["name"]),
                version=_str_or_none(item.get("version")),
                source=_source_location(item.get("source"))[1],
                marker=_str_or_none(item.get("marker")),
                extras=tuple(canonicalize_name(e) for e in _strs(item.get("extra"))),
            )
        )
    return tuple(edges)


def _edge_tables(value: Any) -> dict[str, tuple[LockEdge, ...]]:
    if not isinstance(value, dict):
        return {}
    return {canonicalize_name(str(key)): _edges(edges) for key, edges in value.items()}


def _lock_node(package: dict, source: dict) -> LockNode:
    kind, location = _source_location(source)
    return LockNode(
        name=canonicalize_name(str(package.get("name"))),
        version=str(package.get("version", "")),
        source_kind=kind,
        source=location,
        dependencies=_edges(package.get("dependencies")),
        optional_dependencies=_edge_tables(package.get("optional-dependencies")),
        dependency_groups=_edge_tables(package.get("dev-dependencies")),
    )


def _paths_to_family(nodes: list[LockNode], root: str | None) -> tuple[LockNode, ...]:
    """The entries from which a torch-family package can be reached (and the root), with only the edges
    among them: every path uv can take from the project to torch lies inside this part of the graph."""
    needs: dict[str, set[str]] = {}
    for node in nodes:
        for edge in _all_edges(node):
            needs.setdefault(edge.name, set()).add(node.name)
    kept = {node.name for node in nodes if is_torch_family(node.name)}
    queue = list(kept)
    while queue:
        for parent in needs.get(queue.pop(), ()):
            if parent not in kept:
                kept.add(parent)
                queue.append(parent)
    if root:
        kept.add(root)

    def cut(edges: tuple[LockEdge, ...]) -> tuple[LockEdge, ...]:
        return tuple(e for e in edges if e.name in kept)

    return tuple(
        replace(
            node,
            dependencies=cut(node.dependencies),
            optional_dependencies={k: cut(v) for k, v in node.optional_dependencies.items() if cut(v)},
            dependency_groups={k: cut(v) for k, v in node.dependency_groups.items()},
        )
        for node in nodes
        if node.name in kept
    )


def _all_edges(node: LockNode) -> Iterable[LockEdge]:
    yield from node.dependencies
    for edges in (*node.optional_dependencies.values(), *node.dependency_groups.values()):
        yield from edges


def _locked_package(package: dict, source: dict, wheels: list[str], has_sdist: bool) -> LockedPackage:
    """A tracked entry with the platforms and Pythons of its wheels."""
    platforms: set[str] = set()
    pythons: set[str] = set()
    for wheel in wheels:
        filename = unquote(str(wheel).split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1])
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        for tag in tags:
            platforms.add(tag.platform)
            pythons.add(tag.interpreter)
    kind, location = _source_location(source)
    return LockedPackage(
        name=canonicalize_name(str(package.get("name"))),
        version=str(package.get("version", "")),
        source_kind=kind,
        source=location,
        wheel_platforms=tuple(sorted(platforms)),
        wheel_pythons=tuple(sorted(pythons)),
        has_sdist=has_sdist,
    )


# ---------------------------------------------------------------------------------------------
# requirements files and Dockerfiles

INDEX_OPTIONS = {
    "-i": "--index-url", "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links", "--find-links": "--find-links",
    "--pre": "--pre",
}


def read_requirements_file(path: Path, root: Path) -> tuple[list[RequirementsOption], list[RequirementLine]]:
    """A requirements file's index options (`--index-url`, ...) and its requirement lines, read once."""
    text = clean(read_text(path, MAX_REQUIREMENTS_BYTES))
    relative = _relative(path, root)
    lines = []
    for number, line in _logical_lines(text):
        content = re.split(r"(^|\s)#", line, maxsplit=1)[0].strip()
        if content and not content.startswith("-"):
            lines.append(RequirementLine(relative, number, content))
    return read_requirements_options(text, relative), lines


def read_requirements_options(text: str, relative: str) -> list[RequirementsOption]:
    found = []
    for number, line in _logical_lines(text):
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        for index, token in enumerate(tokens):
            option, sep, value = token.partition("=")
            canonical = INDEX_OPTIONS.get(option)
            if canonical is None:
                continue
            if canonical == "--pre":
                found.append(RequirementsOption(relative, number, canonical))
                continue
            if not sep:
                value = tokens[index + 1] if index + 1 < len(tokens) else ""
            found.append(RequirementsOption(relative, number, canonical, redact_url(value)))
    return found


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with backslash continuations joined, each with the number of the line it starts on. Numbered as editors
    and GitHub number them (by "\\n"); a lone CR or another separator pip splits on ends a requirement within its
    line (counted as lines, it shifted every annotation after it: issue 25 item 8)."""
    pending, start = "", 0
    for number, physical in enumerate(text.split("\n"), start=1):
        for line in physical.splitlines() or [""]:
            if not pending:
                start = number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            yield start, pending + line
            pending = ""
    if pending:
        yield start, pending


def _requirements_files(root: Path) -> Iterable[Path]:
    for folder in (root, root / "requirements"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            is_requirements = name.endswith(".txt") and (name.startswith("requirements") or folder.name == "requirements")
            if is_requirements and (folder / name).is_file():
                yield folder / name


def _dockerfiles(root: Path) -> Iterable[Path]:
    def is_dockerfile(name: str) -> bool:
        lower = name.lower()
        return lower.startswith(("dockerfile", "containerfile")) or lower.endswith(".dockerfile")

    try:
        top = list(os.scandir(root))
    except OSError:
        return
    for entry in top:
        if _is_file(entry) and is_dockerfile(entry.name):
            yield Path(entry.path)
        elif _is_dir(entry) and entry.name not in SKIPPED_FOLDERS and not entry.name.startswith("."):
            try:
                for inner in os.scandir(entry.path):
                    if _is_file(inner) and is_dockerfile(inner.name):
                        yield Path(inner.path)
            except OSError:
                continue


def _is_file(entry: os.DirEntry) -> bool:
    """A regular file (through symlinks); False for a symlink loop or anything unreadable."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
