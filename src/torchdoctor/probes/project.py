"""Probe the project's files: pyproject.toml, uv.lock, requirements files and Dockerfiles, as one ProjectInfo.

Each kind of file has its reader (pyproject_file, lock_file, requirements_files, dockerfile, documented); this module
finds the project and its workspace and puts what they read together. Reading is fast and forgiving: a file that
cannot be used becomes a ProjectFileError naming the file, line and column, never an exception.
"""

from __future__ import annotations

import re

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from torchdoctor.probes.code_scan import scan_device_assignments
from torchdoctor.probes.dockerfile import read_dockerfile
from torchdoctor.probes.documented import read_documented_syncs
from torchdoctor.probes.index_pages import published_pythons
from torchdoctor.probes.lock_file import KNOWN_LOCK_VERSIONS, read_lock
from torchdoctor.probes.pyproject_file import pyproject_from_text, read_pyproject
from torchdoctor.probes.reading import FileProblem, read_text
from torchdoctor.probes.requirements_files import (
    MAX_REQUIREMENTS_BYTES,
    find_dockerfiles,
    find_requirements_files,
    read_requirements_file,
    relative_to_root,
)
from torchdoctor.redact import clean
from torchdoctor.snapshot import (
    IndexPythons,
    LockInfo,
    ProjectFileError,
    ProjectInfo,
    PyprojectInfo,
    RequirementLine,
    RequirementsOption,
)

__all__ = ["find_project_root", "probe_project", "project_of_text", "read_lock", "read_pyproject"]
"""The project's readers, one door: read_lock and read_pyproject live beside, in lock_file and pyproject_file."""


def find_project_root(start: Path) -> tuple[Path, str]:
    """The nearest folder at or above `start` with a pyproject.toml, as uv finds it."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            if folder == start:
                return folder, "pyproject.toml in the given directory"
            return folder, f"nearest pyproject.toml above {start}"
    return start, "no pyproject.toml in the given directory or above it"


def probe_project(root: Path, found_by: str = "", offline: bool = True) -> ProjectInfo:
    """The project's files in `root`, read (never run). `offline`: no package index is asked (the nightly index's page
    of what it publishes, cached for a day, answers from the cache); a live check asks, unless told not to."""
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
    requirements_files = sorted(find_requirements_files(root))
    options: list[RequirementsOption] = []
    requirement_lines: list[RequirementLine] = []
    for path in requirements_files:
        try:
            file_options, file_lines = read_requirements_file(path, root)
            options.extend(file_options)
            requirement_lines.extend(file_lines)
        except FileProblem as problem:
            errors.append(problem.error)
    dockerfiles = sorted(find_dockerfiles(root))
    dockerfile_details = []
    for path in dockerfiles:
        try:
            dockerfile_details.append(read_dockerfile(path, clean(read_text(path, MAX_REQUIREMENTS_BYTES)), relative_to_root(path, root)))
        except FileProblem as problem:
            errors.append(problem.error)
    index_pythons = _index_pythons(pyproject, offline)
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
        requirements_files=tuple(relative_to_root(p, root) for p in requirements_files),
        dockerfiles=tuple(relative_to_root(p, root) for p in dockerfiles),
        errors=tuple(errors),
        requirement_lines=tuple(requirement_lines),
        dockerfile_details=tuple(dockerfile_details),
        compose_gpu_files=compose_gpu_files(root),
        index_pythons=index_pythons,
        offline=offline,
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
            relative = relative_to_root(folder, root)
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


def project_of_text(text: str, path: Path, parsed: dict[str, Any] | None = None, offline: bool = True) -> ProjectInfo:
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
                       index_pythons=_index_pythons(pyproject, offline), offline=offline)


def _index_pythons(pyproject: PyprojectInfo | None, offline: bool) -> tuple[IndexPythons, ...]:
    """The Pythons each nightly index publishes wheels for (from the cache of index pages; see probes/index_pages)."""
    return tuple(
        published_pythons(index.name or "", index.url, offline=offline)
        for index in (pyproject.indexes if pyproject else ())
        if index.url and index.url.startswith(("http://", "https://")) and "/whl/nightly/" in index.url
    )


COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COMPOSE_GPU = re.compile(r"^\s*(?:driver:\s*['\"]?nvidia\b|gpus:|runtime:\s*['\"]?nvidia\b|capabilities:\s*\[[^\]]*\bgpu\b)",
                         re.IGNORECASE | re.MULTILINE)


def compose_gpu_files(root: Path) -> tuple[str, ...]:
    """The compose files at the root that ask for NVIDIA GPUs, read as text (never run, never parsed as YAML: a line
    `driver: nvidia`, `gpus:`, `runtime: nvidia` or `capabilities: [gpu]` is the request Docker Compose documents)."""
    found = []
    for name in COMPOSE_FILES:
        path = root / name
        try:
            if not path.is_file():
                continue
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(1 << 20)  # bounded: a hostile file costs a megabyte at most
        except OSError:
            continue
        if COMPOSE_GPU.search(text):
            found.append(name)
    return tuple(found)
