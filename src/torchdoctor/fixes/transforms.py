"""pyproject.toml transforms: text in, text out, through tomlkit, touching only what the fix names.

Each transform edits a tomlkit document in place: comments, blank lines, key order, quoting and the
inline-or-array style the user wrote stay as they were outside the keys it sets. Every transform is
idempotent: run on its own output it changes nothing, because it first checks whether its change is
already there.
"""

from __future__ import annotations

import pickle
import re
import threading

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from tomlkit.items import AoT, Array, Comment, InlineTable, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from torchdoctor import edits
from torchdoctor.edits import LINUX_OR_WINDOWS, Edit
from torchdoctor.family import BUILD_PACKAGES


class FixError(ValueError):
    """The file does not have the shape the fix expects (edited since the check, or hand-made oddities)."""


E = TypeVar("E", bound=Edit)
TRANSFORMS: dict[type[Edit], Callable[[TOMLDocument, Any], None]] = {}
"""The function that carries out each kind of edit (torchdoctor.edits), by the edit's class."""


def transform(kind: type[E]) -> Callable[[Callable[[TOMLDocument, E], None]], Callable[[TOMLDocument, E], None]]:
    def register(function: Callable[[TOMLDocument, E], None]) -> Callable[[TOMLDocument, E], None]:
        TRANSFORMS[kind] = function
        return function

    return register


def apply_transform(text: str, edit: Edit) -> str:
    """The file's new text after one fix; the same text when the fix is already applied.

    The file's own conventions are kept: a byte-order mark stays at the front, and a file written with CRLF
    line ends gets them on every line, the inserted ones too (tomlkit writes what it adds with LF)."""
    key = (text, edit)
    with _PARSED_LOCK:
        done = _APPLIED.get(key)
    if isinstance(done, FixError):
        raise done
    if done is not None:
        return done
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    crlf = text.count("\r\n") > text.count("\n") - text.count("\r\n")
    try:
        new = _apply(text[len(bom):].replace("\r\n", "\n") if crlf else text[len(bom):], edit)
    except FixError as error:
        _remember(key, error)
        raise
    result = bom + (new.replace("\n", "\r\n") if crlf else new)
    _remember(key, result)
    return result


_APPLIED: dict[tuple[str, Edit], str | FixError] = {}
"""Edits done, by text and edit (edits are frozen values): the findings of one report often offer the same edit (one
per package it names), and `fix` proves again what the report proved. A transform is a function of the two."""


def _remember(key: tuple[str, Edit], outcome: str | FixError) -> None:
    with _PARSED_LOCK:
        if len(_APPLIED) >= 64:
            _APPLIED.clear()
        _APPLIED[key] = outcome


_PARSED: dict[str, bytes] = {}
"""Documents parsed, pickled, by text. tomlkit parses a large pyproject.toml in tens of milliseconds, and the same text
is parsed once for every fix of a report proven at report time; a pickled copy loads six times faster and dumps back
byte for byte (held to it on every real pyproject.toml of the field corpus). The pickles are made here, in process."""


def warm(text: str) -> None:
    """Parse `text` now, so that the proofs of the report that follows find it parsed: called while the probes wait on
    the torch subprocess, where the parse costs nothing the user waits for. A file that does not parse is left alone."""
    body = text.removeprefix("\ufeff")
    crlf = body.count("\r\n") > body.count("\n") - body.count("\r\n")
    try:
        _parse(body.replace("\r\n", "\n") if crlf else body, keep=True)  # the text apply_transform parses
    except FixError:
        pass


_PARSED_LOCK = threading.Lock()
"""_PARSED is filled by the warm-up thread (workflow/probing.py) and read by the proofs."""


def _parse(text: str, keep: bool = False) -> TOMLDocument:
    """A document of `text` the caller may change. With `keep`, the parse is kept unchanged for the next caller."""
    with _PARSED_LOCK:
        spare = None if keep else _UNUSED.pop(text, None)
        pickled = _PARSED.get(text)
    if spare is not None:
        return spare
    if pickled is not None:
        return pickle.loads(pickled)  # noqa: S301 - our own pickle, of a document parsed just before
    try:
        document = tomlkit.parse(text)
    except Exception as error:  # tomlkit raises its own ParseError subclasses
        raise FixError(f"pyproject.toml does not parse: {error}") from None
    pickled = pickle.dumps(document)
    with _PARSED_LOCK:
        if len(_PARSED) >= 16:
            _PARSED.clear()
            _UNUSED.clear()
        _PARSED[text] = pickled
        if keep:
            _UNUSED[text] = document
    return document


_UNUSED: dict[str, TOMLDocument] = {}
"""Documents parsed by `warm` and not changed yet: the first fix of the report takes one as it is, without a copy."""


def _apply(text: str, edit: Edit) -> str:
    document = _parse(text)
    if type(edit) not in TRANSFORMS:
        raise FixError(f"no transform carries out the edit {type(edit).__name__}")
    try:
        new = _edited(document, edit)
    except FixError:
        raise  # a transform's own refusal says why in its words
    except (TypeError, AttributeError, KeyError, ValueError) as error:
        # A table of the wrong kind (`index = 5`, `sources = ["torch"]`, `tool.uv = 1`): its own finding names it; no fix
        # is written on top of it.
        raise FixError(f"pyproject.toml has a [tool.uv] or [project] value of a kind uv does not read ({error}): "
                       "correct it first") from None
    # Removing a table leaves the blank line before it, and tomlkit puts one before each table it adds:
    # two blank lines where the user had one. Collapse them, unless the user writes double blank lines.
    if "\n\n\n" not in text:
        while "\n\n\n" in new:
            new = new.replace("\n\n\n", "\n\n")
    return new


def _edited(document: TOMLDocument, edit: Edit) -> str:
    _refuse_inline_tables(document)
    spaced = all(_spaced(before, table) for before, table in _neighbours(document))
    TRANSFORMS[type(edit)](document, edit)
    if spaced:  # the file puts a blank line (or a comment) between tables: so do the tables the fix added
        for before, table in _neighbours(document):
            if not _spaced(before, table):
                table.trivia.indent = "\n" + table.trivia.indent
    return tomlkit.dumps(document)


# ---------------------------------------------------------------------------------------------
# Finding and creating the tables


def _refuse_inline_tables(document: TOMLDocument) -> None:
    """uv's tables written inline (`tool = { uv = … }`, `index = [{ … }]`) cannot take the tables and
    multi-line arrays a fix writes without being rewritten whole: the fix is refused with the line to change.
    Dotted keys (`uv.sources.torch = …`) are tables to tomlkit and are edited like any other."""
    tool = document.get("tool")
    uv = tool.get("uv") if isinstance(tool, (Table, dict)) else None
    where = None
    if isinstance(tool, InlineTable):
        where = "`tool = { … }`"
    elif isinstance(uv, InlineTable):
        where = "`uv = { … }` under [tool]"
    elif uv is not None and isinstance(uv.get("index"), Array):
        where = "`index = [{ … }]` (an inline array)"
    elif uv is not None and isinstance(uv.get("sources"), InlineTable):
        where = "`sources = { … }`"
    if where is not None:
        raise FixError(f"pyproject.toml writes uv's settings inline ({where}); torchdoctor edits only "
                       "[tool.uv], [[tool.uv.index]] and [tool.uv.sources] tables: write them as tables, "
                       "or make the change shown by hand")


def _table(container: Any, key: str, create: bool) -> Any:
    if key in container:
        return container[key]
    if not create:
        raise FixError(f"pyproject.toml has no {key!r} table")
    container[key] = tomlkit.table(is_super_table=key == "tool")
    return container[key]


def _uv(document: TOMLDocument, create: bool = True) -> Table:
    tool = _table(document, "tool", create)
    if "uv" not in tool:
        if not create:
            raise FixError("pyproject.toml has no [tool.uv] table")
        tool["uv"] = tomlkit.table(is_super_table=True)  # no bare [tool.uv] header above [[tool.uv.index]]
    return tool["uv"]


def _indexes(document: TOMLDocument) -> AoT:
    uv = _uv(document)
    if "index" not in uv:
        uv["index"] = tomlkit.aot()
    return uv["index"]


def _index_for(document: TOMLDocument, name: str | None, position: int) -> Table | None:
    """The index a fix names: by its name when it has one (positions shift when another fix removes an
    index), else by position. None when it is gone, which leaves nothing to do."""
    indexes = _indexes(document)
    if name:
        return next((index for index in indexes if index.get("name") == name), None)
    return indexes[position - 1] if 1 <= position <= len(indexes) else None


def _sources(document: TOMLDocument) -> Table:
    return _table(_uv(document), "sources", True)


def _inline(values: dict[str, str]) -> InlineTable:
    """An inline table written the way uv writes them: `{ index = "x", marker = "..." }`."""
    body = ", ".join(f"{key} = {tomlkit.string(value).as_string()}" for key, value in values.items())
    return tomlkit.parse(f"x = {{ {body} }}")["x"]


def _entries(value: Any) -> list[Any]:
    if isinstance(value, (InlineTable, dict)):
        return [value]
    if isinstance(value, (Array, list)):
        return list(value)
    return []


class _Entry(dict):
    """A source entry as a plain dict that remembers where it stands in the file's array, so that writing the
    entries back edits that array in place: the comments between its lines stay with the entries they annotate."""

    def __init__(self, values: Any, position: int | None = None) -> None:
        super().__init__(values)
        self.position = position


def _current(sources: Table, key: str | None) -> list[_Entry]:
    """A package's source entries, each knowing its place in the file."""
    if key is None:
        return []
    return [_Entry(entry, position) for position, entry in enumerate(_entries(sources[key]))]


def _set_entries(sources: Table, package: str, entries: Sequence[dict[str, str]], like: Any = None) -> None:
    """Write a package's source entries.

    A multi-line array (the only kind that can hold comments) is edited in place: entries dropped are deleted,
    changed ones replaced where they stand, new ones appended, so every comment on a kept entry stays. Other
    shapes are written anew (they cannot hold comments; the key's own trailing comment is kept by tomlkit):
    a single inline table stays one when it was written so, several entries become a multi-line array.
    """
    value = sources.get(package)
    if isinstance(value, Array) and "\n" in value.as_string() and _in_place(entries, len(value)):
        kept = {entry.position: entry for entry in entries if isinstance(entry, _Entry) and entry.position is not None}
        for position in range(len(value) - 1, -1, -1):
            if position not in kept:
                del value[position]
            elif dict(kept[position]) != dict(_entries(value)[position]):
                value[position] = _inline(kept[position])
        for entry in entries:
            if not isinstance(entry, _Entry) or entry.position is None:
                value.append(_inline(entry))
        return
    if isinstance(like, InlineTable) and len(entries) == 1:
        _put(sources, package, _inline(entries[0]))
        return
    array = tomlkit.array()
    for entry in entries:
        array.append(_inline(entry))
    if len(entries) > 1:
        array.multiline(True)
    _put(sources, package, array)


def _put(table: Any, key: str, value: Any) -> None:
    """Set a key; a new one goes right after the table's last key, before the blank lines and comments that
    end the table (tomlkit would append it after them, under the next table's comments and glued to its header)."""
    if key in table or not isinstance(table, Table):
        table[key] = value
        return
    body = table.value.body
    last = max((i for i, (k, item) in enumerate(body) if k is not None and not isinstance(item, (Table, AoT))), default=None)
    if last is None or last == len(body) - 1 or isinstance(body[last + 1][1], (Table, AoT)):
        table[key] = value
        return
    table.value._insert_at(last + 1, key, value)  # tomlkit has no public insert-at-position for tables
    item = body[last + 1][1]
    if "\n" not in item.trivia.trail:
        item.trivia.trail = "\n"


def _in_place(entries: Sequence[dict[str, str]], length: int) -> bool:
    """Whether the new entries are the old ones in their order (some dropped or changed), then new ones."""
    positions = [e.position for e in entries if isinstance(e, _Entry) and e.position is not None]
    first_new = next((i for i, e in enumerate(entries) if not isinstance(e, _Entry) or e.position is None), len(entries))
    return positions == sorted(set(positions)) and all(p < length for p in positions) and len(positions) == first_new


def _source_key(sources: Table, package: str) -> str | None:
    """The key a package is written under (users write `Torch` or `torch_vision` at times)."""
    for key in sources:
        if canonicalize_name(key) == canonicalize_name(package):
            return key
    return None


def _dependencies(document: TOMLDocument) -> Array:
    project = _table(document, "project", False)
    if "dependencies" not in project:
        project["dependencies"] = tomlkit.array()
    return project["dependencies"]


def _declares(requirements: Any, package: str) -> bool:
    for item in requirements:
        try:
            if canonicalize_name(Requirement(str(item)).name) == package:
                return True
        except InvalidRequirement:
            continue
    return False


# ---------------------------------------------------------------------------------------------
# The transforms


@transform(edits.MakeIndexExplicit)
def make_index_explicit(document: TOMLDocument, edit: edits.MakeIndexExplicit) -> None:
    index = _index_for(document, edit.name, edit.position)
    if index is None:
        return
    if index.get("explicit") is not True:
        index["explicit"] = True
    if edit.drop_default and "default" in index:
        del index["default"]
    # An index nothing is mapped to served torch only through its priority; once explicit, it must be mapped.
    packages = edit.map_packages
    sources = _sources(document) if packages else None
    for package in packages:
        if sources is not None and _source_key(sources, package) is None:
            entry = {"index": index["name"]}
            if edit.marker:
                entry["marker"] = edit.marker
            _set_entries(sources, package, [entry])
    if edit.triton and index.get("name"):
        map_nightly_triton(document, edits.MapNightlyTriton(index=str(index["name"]), package=edit.triton))


@transform(edits.RepairIndexUrl)
def repair_index_url(document: TOMLDocument, edit: edits.RepairIndexUrl) -> None:
    """The URL inside the Markdown link (or without its spaces or /simple), cleaned from the file's own value:
    the report's URL has its credentials redacted, and `user:token@` must be kept byte for byte."""
    from torchdoctor.indexes import parse_index_url

    index = _index_for(document, edit.name, edit.position)
    if index is None or not isinstance(index.get("url"), str):
        return
    cleaned = parse_index_url(str(index["url"])).cleaned
    if cleaned and index.get("url") != cleaned:
        index["url"] = cleaned




@transform(edits.AddPlatformMarker)
def add_platform_marker(document: TOMLDocument, edit: edits.AddPlatformMarker) -> None:
    """Give every torch-family source that points at `index` the marker that keeps macOS on PyPI.

    The packages are found when the fix runs, not when it was planned, so the fix composes with one that
    maps a companion to the same index first.
    """
    sources = _sources(document)
    for package in BUILD_PACKAGES:
        key = _source_key(sources, package)
        if key is None:
            continue
        entries = _current(sources, key)
        changed = False
        for entry in entries:
            if entry.get("index") != edit.index or entry.get("extra") or entry.get("group"):
                continue
            marker = entry.get("marker")
            if marker is None:
                entry["marker"] = edit.marker
                changed = True
            elif edit.marker not in str(marker):
                entry["marker"] = f"({marker}) and ({edit.marker})"
                changed = True
        if changed:
            _set_entries(sources, key, entries, like=sources[key])
    _drop_local_tags(document, edit.unpin)


@transform(edits.MapNightlyTriton)
def map_nightly_triton(document: TOMLDocument, edit: edits.MapNightlyTriton) -> None:
    """Map pytorch-triton (Linux only) to the nightly index, and depend on it so the source applies."""
    package, index = edit.package, edit.index
    marker = "sys_platform == 'linux'"
    sources = _sources(document)
    key = _source_key(sources, package)
    if key is None or not any(e.get("index") == index for e in _entries(sources[key])):
        if key is None:
            _set_entries(sources, package, [{"index": index, "marker": marker}])
        else:
            existing = _current(sources, key)
            _set_entries(sources, key, [*existing, {"index": index, "marker": marker}])
    dependencies = _dependencies(document)
    if not _declares(dependencies, package):
        dependencies.append(f"{package} ; {marker}")


@transform(edits.MapCompanions)
def map_companions(document: TOMLDocument, edit: edits.MapCompanions) -> None:
    """Give a companion package (torchvision, torchaudio) torch's source entries for the named indexes.

    torch's entries are read when the fix runs, so a marker another fix added to them is copied too.
    """
    _require(document, edit.require)
    sources = _sources(document)
    package = edit.package
    targets = {(index, extra) for index, extra in edit.targets}
    torch_key = _source_key(sources, "torch")
    if torch_key is None:
        return
    wanted = [dict(e) for e in _entries(sources[torch_key]) if (e.get("index"), e.get("extra")) in targets]
    key = _source_key(sources, package)
    current = _current(sources, key)
    have = {(e.get("index"), e.get("extra")) for e in current}
    missing = [entry for entry in wanted if (entry.get("index"), entry.get("extra")) not in have]
    if missing:
        _set_entries(sources, key or package, [*current, *missing])


@transform(edits.DeclareExtraConflicts)
def declare_extra_conflicts(document: TOMLDocument, edit: edits.DeclareExtraConflicts) -> None:
    uv = _uv(document)
    extras = sorted(edit.extras)
    if "conflicts" not in uv:
        uv["conflicts"] = tomlkit.array()
        uv["conflicts"].multiline(True)
        if edit.blank_line_after:
            uv["conflicts"].trivia.trail = "\n\n"  # before the [[tool.uv.index]] / [tool.uv.sources] added with it
    for group in uv["conflicts"]:
        if sorted(item.get("extra") for item in group if hasattr(item, "get")) == extras:
            return
    group = tomlkit.array()
    for extra in extras:
        group.append(_inline({"extra": extra}))
    uv["conflicts"].append(group)


@transform(edits.UsePytorchIndex)
def use_pytorch_index(document: TOMLDocument, edit: edits.UsePytorchIndex) -> None:
    """Declare an explicit PyTorch index and send the torch family to it on Linux and Windows.

    With `replace`, the packages' existing entries that point at other PyTorch indexes are replaced and the
    indexes left unused are removed; without it, packages that already have sources are left alone.
    """
    name, url = edit.name, edit.url
    indexes = _indexes(document)
    if not any(index.get("name") == name for index in indexes):
        table = tomlkit.table()
        table["name"] = name
        table["url"] = url
        table["explicit"] = True
        _append_index(indexes, table)
    _require(document, edit.require)
    sources = _sources(document)
    replaced = set(edit.replace)
    for package in edit.packages:
        key = _source_key(sources, package)
        entry = {"index": name, "marker": edit.marker}
        if key is None:
            _set_entries(sources, package, [entry])
            continue
        current = _current(sources, key)
        if entry in current:
            continue
        # An entry for this same index with another marker (Linux only, say) is widened to the fix's platforms;
        # entries for other indexes are replaced only when named in `replace`.
        same_index = [e for e in current if e.get("index") == name and not e.get("extra") and not e.get("group")]
        if not replaced and not same_index:
            continue
        # The new entry takes the place of the first one it replaces, so that entry's comment and indentation stay
        # with it; the other replaced ones go.
        written: list[dict[str, str]] = []
        placed = False
        for e in current:
            if (e.get("index") not in replaced and e not in same_index) or e.get("extra") or e.get("group"):
                written.append(e)
            elif not placed:
                written.append(_Entry(entry, e.position))
                placed = True
        _set_entries(sources, key, written if placed else [*written, entry])
    # Leave no index behind that nothing uses: the ones replaced, and the new one if every package already
    # had its own source (another fix may have mapped them first).
    used = {e.get("index") for value in sources.values() for e in _entries(value)}
    for position in range(len(indexes) - 1, -1, -1):
        index_name = indexes[position].get("name")
        if index_name in (*replaced, name) and index_name not in used:
            _delete_index(document, indexes, position)
    _drop_empty(document)
    _drop_local_tags(document, edit.unpin)


def _require(document: TOMLDocument, wanted: Sequence[tuple[str, str, str]]) -> None:
    """Add `package ; marker` to the named requirement list unless it requires the package already."""
    for package, where, marker in wanted:
        kind, _, name = where.partition(":")
        requirements: Any
        if kind == "dependencies":
            requirements = _dependencies(document)
        elif kind == "optional":
            extras = _table(_table(document, "project", False), "optional-dependencies", False)
            key = next((k for k in extras if canonicalize_name(k) == canonicalize_name(name)), None)
            requirements = extras.get(key) if key is not None else None
        else:
            groups = _table(document, "dependency-groups", True)
            key = next((k for k in groups if canonicalize_name(k) == canonicalize_name(name)), None)
            if key is None:
                groups[name] = tomlkit.array()  # `dev`, uv's default group, for a project that publishes
                key = name
            requirements = groups.get(key)
        if requirements is None:
            continue
        if not _declares(requirements, canonicalize_name(package)):
            requirements.append(f"{package} ; {marker}" if marker else package)


def _drop_local_tags(document: TOMLDocument, packages: Sequence[str]) -> None:
    """`pkg==X+tag` becomes `pkg==X` wherever the project requires or constrains it (dependencies, extras, dependency
    groups, uv's constraint and override dependencies), each string replaced where it stands, its marker and the
    comment after it kept."""
    if not packages:
        return
    wanted = {canonicalize_name(p) for p in packages}
    project = document.get("project")
    lists: list[Any] = []
    if isinstance(project, (Table, dict)):
        lists.append(project.get("dependencies"))
        extras = project.get("optional-dependencies")
        lists.extend(extras.values() if isinstance(extras, (Table, dict)) else ())
    groups = document.get("dependency-groups")
    lists.extend(groups.values() if isinstance(groups, (Table, dict)) else ())
    tool = document.get("tool")
    uv = tool.get("uv") if isinstance(tool, (Table, dict)) else None
    if isinstance(uv, (Table, dict)):  # a tag pinned in a constraint or an override holds the build just the same
        lists += [uv.get("constraint-dependencies"), uv.get("override-dependencies")]
    for requirements in lists:
        if not isinstance(requirements, (Array, list)):
            continue
        for position, item in enumerate(requirements):
            if not isinstance(item, str):
                continue
            try:
                requirement = Requirement(str(item))
            except InvalidRequirement:
                continue
            if canonicalize_name(requirement.name) not in wanted:
                continue
            text = str(item)
            for specifier in requirement.specifier:
                if specifier.operator == "==" and "+" in specifier.version:
                    text = re.sub(r"==\s*" + re.escape(specifier.version), "==" + specifier.version.split("+", 1)[0], text)
            if text != str(item):
                requirements[position] = text


@transform(edits.AddExtraBuildDependencies)
def add_extra_build_dependencies(document: TOMLDocument, edit: edits.AddExtraBuildDependencies) -> None:
    """Give a package's isolated build torch.

    Plain `"torch"`, not `match-runtime = true`: uv accepts match-runtime only for packages with static
    metadata (or a [[tool.uv.dependency-metadata]] entry torchdoctor cannot know), and refuses to lock
    otherwise, as a real `uv lock` in the tests shows. torch then resolves from the project's sources.
    """
    uv = _uv(document)
    if "extra-build-dependencies" not in uv:
        uv["extra-build-dependencies"] = tomlkit.inline_table()
    table = uv["extra-build-dependencies"]
    package = edit.package
    if package in table:
        return
    _put(table, package, tomlkit.parse('x = ["torch"]')["x"])


@transform(edits.ReplaceTorchBackend)
def replace_torch_backend(document: TOMLDocument, edit: edits.ReplaceTorchBackend) -> None:
    """Drop the torch-backend setting uv's project commands ignore, and declare what it was meant to select."""
    uv = _uv(document)
    if "torch-backend" in uv:
        del uv["torch-backend"]
    pip = uv.get("pip")
    if pip is not None and "torch-backend" in pip:
        del pip["torch-backend"]
    if edit.packages:  # none where the project's own extras or groups already choose the build
        use_pytorch_index(document, edit)


@transform(edits.ReplaceLegacyIndex)
def replace_legacy_index(document: TOMLDocument, edit: edits.ReplaceLegacyIndex) -> None:
    """Move PyTorch URLs out of index-url / extra-index-url / find-links into an explicit index with sources."""
    uv = _uv(document)
    legacy = set(edit.urls)
    for key in ("index-url", "extra-index-url", "find-links"):
        if key not in uv:
            continue
        value = uv[key]
        if isinstance(value, str):
            if value in legacy:
                del uv[key]
            continue
        kept = [item for item in value if str(item) not in legacy]
        if not kept:
            del uv[key]
        elif len(kept) != len(value):
            for position in range(len(value) - 1, -1, -1):
                if str(value[position]) in legacy:
                    del value[position]
    if _empty(uv):  # nothing else was set there: let the new tables stand without a bare [tool.uv] header
        del document["tool"]["uv"]
    use_pytorch_index(document, edit)


@transform(edits.RemoveIndex)
def remove_index(document: TOMLDocument, edit: edits.RemoveIndex) -> None:
    indexes = _indexes(document)
    for position in range(len(indexes) - 1, -1, -1):
        if indexes[position].get("name") == edit.name:
            _delete_index(document, indexes, position)
    _drop_empty(document)


def _append_index(indexes: AoT, table: Table) -> None:
    """Append a [[tool.uv.index]] table spaced like the one before it: the blank lines that separated that one
    from the next header now follow the new table, so it is not glued to the header after it."""
    last = indexes[-1] if len(indexes) else None
    trailing = ""
    if last is not None:
        for key, item in reversed(last.value.body):
            if key is not None or not isinstance(item, Whitespace):
                break
            trailing = item.as_string() + trailing
    indexes.append(table)
    if trailing.count("\n") > 0:
        table.add(tomlkit.ws(trailing))


def _delete_index(document: TOMLDocument, indexes: AoT, position: int) -> None:
    """Delete one [[tool.uv.index]] table, leaving the comments that introduce the next table in place.

    tomlkit keeps the comment lines above a header in the body of the table before it: deleting that table
    would take them along. They are moved in front of the next table's header (or to the end of the table
    before, at the end of the file)."""
    table = indexes[position]
    body = table.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None and isinstance(body[start - 1][1], (Comment, Whitespace)):
        start -= 1
    while start < len(body) and not isinstance(body[start][1], Comment):
        start += 1  # the blank lines before the first comment go with the table
    block = body[start:]
    order = list(_tables_in_file_order(document))
    place = next(i for i, t in enumerate(order) if t is table)
    del indexes[position]
    if not block:
        return
    following = order[place + 1] if place + 1 < len(order) else None
    if following is not None:
        following.trivia.indent = "".join(item.as_string() for _, item in block) + following.trivia.indent
    elif place > 0:
        order[place - 1].value.body.extend(block)


def _neighbours(document: TOMLDocument) -> Iterable[tuple[Table, Table]]:
    order = list(_tables_in_file_order(document))
    return zip(order, order[1:], strict=False)


def _spaced(before: Table, table: Table) -> bool:
    """Whether a blank line or a comment stands between a table's last line and the next header."""
    if table.trivia.indent.strip(" \t"):
        return True
    own = [item for key, item in before.value.body if not isinstance(item, (Table, AoT))]
    return not own or isinstance(own[-1], (Whitespace, Comment))


def _tables_in_file_order(container: Any) -> Iterable[Table]:
    """Every table with a header, in the order of the file (tomlkit nests them by name, not by position)."""
    for _, item in container.body:
        if isinstance(item, Table):
            if not item.is_super_table():
                yield item
            yield from _tables_in_file_order(item.value)
        elif isinstance(item, AoT):
            for table in item.body:
                yield table
                yield from _tables_in_file_order(table.value)


def _drop_empty(document: TOMLDocument) -> None:
    """Remove an emptied [[tool.uv.index]] list and emptied [tool.uv] / [tool] tables.

    tomlkit would otherwise write an emptied array of tables as `tool.uv.index = []` at the top of the file.
    """
    tool = document.get("tool")
    uv = tool.get("uv") if tool is not None else None
    if uv is None:
        return
    if "index" in uv and len(uv["index"]) == 0:
        del uv["index"]
    if _empty(uv) and tool is not None:
        del tool["uv"]
    if _empty(tool):
        del document["tool"]


def _empty(table: Any) -> bool:
    """No keys and no comments: a table that only holds comments is kept, with them."""
    body = getattr(getattr(table, "value", None), "body", ())
    return len(table) == 0 and not any(isinstance(item, Comment) for _, item in body)


@transform(edits.SetRequiresPython)
def set_requires_python(document: TOMLDocument, edit: edits.SetRequiresPython) -> None:
    project = _table(document, "project", False)
    if project.get("requires-python") != edit.value:
        project["requires-python"] = edit.value


@transform(edits.AcceleratorExtras)
def accelerator_extras(document: TOMLDocument, edit: edits.AcceleratorExtras) -> None:
    """uv's guide pattern: one extra per accelerator (`uv sync --extra cu130`), declared conflicting.

    The torch-family requirements move from [project] dependencies into each extra; every extra gets its
    own explicit index and `extra =` sources (macOS stays on PyPI for the CUDA extras).
    """
    packages = set(edit.packages)
    project = _table(document, "project", False)
    tool = document.get("tool")
    uv_tables_existed = tool is not None and "uv" in tool and ("index" in tool["uv"] or "sources" in tool["uv"])
    dependencies = _dependencies(document)
    moved: list[str] = []
    for position in range(len(dependencies) - 1, -1, -1):
        try:
            name = canonicalize_name(Requirement(str(dependencies[position])).name)
        except InvalidRequirement:
            continue
        if name in packages:
            moved.insert(0, str(dependencies[position]))
            del dependencies[position]
    if moved and len(dependencies) == 0:
        project["dependencies"] = tomlkit.array()  # `[]`, not an empty multi-line array
    extras = project.get("optional-dependencies")
    if extras is None:
        project["optional-dependencies"] = tomlkit.table()
        extras = project["optional-dependencies"]
    for variant in edit.variants:
        if variant not in extras:
            requirements = tomlkit.array()
            for requirement in moved or [p for p in edit.packages if p == "torch"]:
                requirements.append(requirement)
            extras[variant] = requirements
    indexes = _indexes(document)
    for variant, url in zip(edit.variants, edit.urls, strict=True):
        if not any(index.get("name") == f"pytorch-{variant}" for index in indexes):
            table = tomlkit.table()
            table["name"] = f"pytorch-{variant}"
            table["url"] = url
            table["explicit"] = True
            _append_index(indexes, table)
    sources = _sources(document)
    for package in edit.packages:
        wanted = []
        for variant in edit.variants:
            marker = "sys_platform != 'darwin'" if variant == "cpu" else LINUX_OR_WINDOWS
            wanted.append({"index": f"pytorch-{variant}", "extra": variant, "marker": marker})
        key = _source_key(sources, package)
        current = _current(sources, key)
        have = {(e.get("index"), e.get("extra")) for e in current}
        missing = [w for w in wanted if (w["index"], w["extra"]) not in have]
        if missing:
            _set_entries(sources, key or package, [*current, *missing])
    declare_extra_conflicts(document, edits.DeclareExtraConflicts(edit.variants, blank_line_after=not uv_tables_existed))


@transform(edits.DropLocalTags)
def drop_local_tags(document: TOMLDocument, edit: edits.DropLocalTags) -> None:
    _drop_local_tags(document, edit.packages)


@transform(edits.RemoveDependencies)
def remove_dependencies(document: TOMLDocument, edit: edits.RemoveDependencies) -> None:
    """Remove the named packages from [project] dependencies (they stay in the extras that need them)."""
    packages = set(edit.packages)
    dependencies = _dependencies(document)
    for position in range(len(dependencies) - 1, -1, -1):
        try:
            if canonicalize_name(Requirement(str(dependencies[position])).name) in packages:
                del dependencies[position]
        except InvalidRequirement:
            continue


@transform(edits.RetargetSources)
def retarget_sources(document: TOMLDocument, edit: edits.RetargetSources) -> None:
    """Point the source entries that name index `from` at index `to` (a misspelt or renamed index)."""
    sources = _sources(document)
    for key in list(sources.keys()):
        entries = _current(sources, key)
        if any(e.get("index") == edit.from_ for e in entries):
            for entry in entries:
                if entry.get("index") == edit.from_:
                    entry["index"] = edit.to
            _set_entries(sources, key, entries, like=sources[key])


@transform(edits.MarkerToExtra)
def marker_to_extra(document: TOMLDocument, edit: edits.MarkerToExtra) -> None:
    """Replace `marker = "extra == 'x'"` by `extra = "x"` on source entries whose marker is only that."""
    sources = _sources(document)
    for key in list(sources.keys()):
        entries = _current(sources, key)
        changed = False
        for entry in entries:
            extra = dict(edit.markers).get(str(entry.get("marker")))
            if extra and not entry.get("extra"):
                del entry["marker"]
                entry["extra"] = extra
                changed = True
        if changed:
            _set_entries(sources, key, entries, like=sources[key])
