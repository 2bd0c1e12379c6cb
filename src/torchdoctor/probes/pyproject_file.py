"""pyproject.toml read as uv reads it: parsed with `tomllib` (tomlkit is for editing only), every value checked for the
kind uv takes, and a file that cannot be used a ProjectFileError naming the file, line and column, never an exception.
Also the safe TOML parse the other readers share (`parse_toml`)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from torchdoctor.family import BUILDS_AGAINST_TORCH, TORCH_FAMILY
from torchdoctor.probes.reading import FileProblem, position_of, read_text
from torchdoctor.redact import clean_data, redact_url
from torchdoctor.requirements import parse_requirement
from torchdoctor.snapshot import (
    DeclaredRequirement,
    ProjectFileError,
    PyprojectInfo,
    ToolSettings,
    UvIndex,
    UvSettings,
    UvSource,
)

try:  # tomli is tomllib's parser compiled with mypyc, about 3x faster on the long marker strings of uv.lock
    import tomli as tomllib
except ImportError:  # pragma: no cover - a platform without its wheel; the standard library's is the same parser
    import tomllib  # type: ignore[no-redef]  # the same API

# CUDA runtime wheels that torch pulls in on Linux; locked alongside it and part of its variant.
CUDA_WHEEL_PREFIXES = ("nvidia-", "cuda-")
MAX_PYPROJECT_BYTES = 4 * 1024 * 1024

def is_torch_family(name: str) -> bool:
    name = canonicalize_name(name)
    return name in TORCH_FAMILY or (name.startswith(CUDA_WHEEL_PREFIXES) and name != "nvidia-ml-py")



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

    tool_uv = table_at(data, "tool", "uv")
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
    settings = _tool_settings(table_at(data, "tool", "torchdoctor"), invalid_setting)
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
        dynamic=strings(project.get("dynamic")),
        workspace="workspace" in tool_uv,
        workspace_members=strings(table_at(tool_uv, "workspace").get("members")),
        workspace_exclude=strings(table_at(tool_uv, "workspace").get("exclude")),
        settings=settings,
        packaged=tool_uv["package"] if isinstance(tool_uv.get("package"), bool) else isinstance(data.get("build-system"), dict),
    )


CODE_PREFIX = re.compile(r"^TD\d{0,3}$")
SEVERITIES = ("info", "warning", "error")


def _tool_settings(table: dict, invalid) -> ToolSettings:
    """`[tool.torchdoctor]` select / ignore / fail-on / pytorch-index, checked as ruff checks its selectors: a code
    that cannot be one is an error, not silently nothing."""
    known = {"select", "ignore", "fail-on", "pytorch-index"}
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
    pytorch_index = table.get("pytorch-index")
    if pytorch_index is not None and not (isinstance(pytorch_index, str) and pytorch_index.startswith(("https://", "http://"))
                                          and " " not in pytorch_index and "@" not in pytorch_index.split("/")[2]):
        # No credentials in it: a fix writes it into pyproject.toml, and uv takes them from UV_INDEX_<NAME>_PASSWORD.
        invalid("[tool.torchdoctor] pytorch-index must be the URL of a copy of https://download.pytorch.org/whl "
                "(its CUDA lines beneath it), without credentials", "pytorch-index")
        pytorch_index = None
    return ToolSettings(select=codes("select"), ignore=codes("ignore"), fail_on=fail_on,
                        pytorch_index=pytorch_index.rstrip("/") if pytorch_index else None)


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


def as_written(value: Any) -> Any:
    """TOML kept as written in the snapshot, made JSON-safe: nan, inf, dates and times become their text (the
    rules that read these values find them of the wrong type, as they are)."""
    if isinstance(value, dict):
        return {str(key): as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_written(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def table_at(data: dict, *keys: str) -> dict:
    for key in keys:
        value = data.get(key) if isinstance(data, dict) else None
        data = value if isinstance(value, dict) else {}
    return data


def strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, (str, int, float)))
    return ()


def string_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _indexes(value: Any) -> tuple[UvIndex, ...]:
    if not isinstance(value, list):
        return ()
    found = []
    for position, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            continue
        url = string_or_none(entry.get("url"))
        found.append(
            UvIndex(
                position=position,
                name=string_or_none(entry.get("name")),
                url=redact_url(url) if url is not None else None,
                explicit=entry.get("explicit") is True,
                default=entry.get("default") is True,
                format=string_or_none(entry.get("format")),
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
                    marker=string_or_none(entry.get("marker")),
                    extra=string_or_none(entry.get("extra")),
                    group=string_or_none(entry.get("group")),
                )
            )
    return tuple(found)


def _uv_settings(tool_uv: dict) -> UvSettings:
    pip = table_at(tool_uv, "pip")
    backend = string_or_none(tool_uv.get("torch-backend")) or string_or_none(pip.get("torch-backend"))
    return UvSettings(
        index_url=redact_url(tool_uv["index-url"]) if isinstance(tool_uv.get("index-url"), str) else None,
        extra_index_url=tuple(redact_url(u) for u in strings(tool_uv.get("extra-index-url"))),
        find_links=tuple(redact_url(u) for u in strings(tool_uv.get("find-links"))),
        index_strategy=string_or_none(tool_uv.get("index-strategy")),
        prerelease=string_or_none(tool_uv.get("prerelease")),
        torch_backend=backend,
        environments=strings(tool_uv.get("environments")),
        required_environments=strings(tool_uv.get("required-environments")),
        no_build_isolation=tool_uv.get("no-build-isolation") is True,
        no_build_isolation_package=strings(tool_uv.get("no-build-isolation-package")),
        conflicts=as_written(tool_uv["conflicts"]) if _conflicts_shaped(tool_uv.get("conflicts")) else None,
        default_groups=("*all*",) if tool_uv.get("default-groups") == "all" else (
            strings(tool_uv["default-groups"]) if isinstance(tool_uv.get("default-groups"), list) else None),
        extra_build_dependencies=as_written(tool_uv.get("extra-build-dependencies"))
        if isinstance(tool_uv.get("extra-build-dependencies"), dict) else None,
    )


