"""uv.lock read for the torch family: only the parts that matter here are parsed (a 2,000-package lock reads in a few
tens of milliseconds), the packages on a path from the project to torch's family kept as a graph for the resolution
model to walk."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from torchdoctor.family import BUILDS_AGAINST_TORCH
from torchdoctor.probes.pyproject_file import as_written, is_torch_family, parse_toml, string_or_none, strings, table_at
from torchdoctor.probes.reading import read_text
from torchdoctor.redact import clean_data, redact_url
from torchdoctor.snapshot import LockEdge, LockedPackage, LockInfo, LockNode


# Other packages whose locked versions the checks compare with torch's (NumPy's ABI).
ALSO_LOCKED = frozenset({"numpy"})
KNOWN_LOCK_VERSIONS = (1,)
"""uv.lock format versions this reader follows (uv 0.4.x to 0.13, as of 2026-12)."""
MAX_LOCK_BYTES = 256 * 1024 * 1024


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
        source = table_at(package, "source")
        if is_tracked(name):
            packages.append(_locked_package(package, source, _wheel_locations(chunk), "\nsdist = " in chunk))
        if source.get("editable") == "." or source.get("virtual") == ".":
            metadata = table_at(package, "metadata")
            root = canonicalize_name(name)
            root_requires = as_written({
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
        requires_python=string_or_none(header.get("requires-python")),
        resolution_markers=strings(header.get("resolution-markers")),
        supported_markers=strings(header.get("supported-markers")),
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
                version=string_or_none(item.get("version")),
                source=_source_location(item.get("source"))[1],
                marker=string_or_none(item.get("marker")),
                extras=tuple(canonicalize_name(e) for e in strings(item.get("extra"))),
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
    tags_read: set[str] = set()
    for wheel in wheels:
        filename = unquote(str(wheel).split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1])
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        for tag in tags:
            platforms.add(tag.platform)
            pythons.add(tag.interpreter)
            tags_read.add(f"{tag.interpreter}-{tag.abi}-{tag.platform}")
    kind, location = _source_location(source)
    return LockedPackage(
        name=canonicalize_name(str(package.get("name"))),
        version=str(package.get("version", "")),
        source_kind=kind,
        source=location,
        wheel_platforms=tuple(sorted(platforms)),
        wheel_pythons=tuple(sorted(pythons)),
        has_sdist=has_sdist,
        wheel_tags=tuple(sorted(tags_read)),
    )


