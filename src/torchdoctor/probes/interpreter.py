"""Decide which Python is the project's, as its user runs it, and say why.

The order is: `--python` (a path, an environment folder, a command name, or a version such as `3.12`, as uv
takes them), then the active environment (`VIRTUAL_ENV`, or a conda environment other than `base`), then the
project environment (`UV_PROJECT_ENVIRONMENT`, else `.venv`), then `python3`/`python` on PATH; torchdoctor's own
interpreter only when none of these exists, and then the reason says so. torchdoctor is usually installed
apart from the project (pipx, `uv tool`, its own venv): its own interpreter is almost never the project's.
The `python` first on PATH is recorded too: when it differs from the project's, `python train.py` and
`uv run` see different torch builds, a common source of "it works in one terminal but not the other".
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchdoctor.snapshot import InterpreterInfo


class InterpreterNotFound(ValueError):
    """`--python` names something that is not a Python interpreter (a usage error)."""


def python_in(environment: Path) -> Path:
    """The interpreter inside a virtual or conda environment folder."""
    if sys.platform == "win32":
        candidates = [environment / "Scripts" / "python.exe", environment / "python.exe"]
    else:
        candidates = [environment / "bin" / "python", environment / "bin" / "python3"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[0]


def environment_of(python: Path) -> str | None:
    """The venv or conda prefix an interpreter belongs to, found from files beside it, not by running it."""
    for folder in (python.parent.parent, python.parent):
        if (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir():
            return str(folder)
    return None


def _usable(python: Path) -> bool:
    return python.is_file() and os.access(python, os.X_OK)


def choose_interpreter(
    project_root: Path,
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> InterpreterInfo:
    environ = os.environ if environ is None else environ
    search = _without_own_environment(environ.get("PATH"))
    path_python = shutil.which("python", path=search) or shutil.which("python3", path=search)
    path_env = environment_of(Path(path_python)) if path_python else None
    common: dict[str, Any] = {"path_python": path_python, "path_python_environment": path_env}

    if explicit:
        python = _explicit(explicit, environ)
        return InterpreterInfo(
            path=str(python), source="--python", reason=f"given with --python {explicit}",
            environment=environment_of(python), **common,
        )

    active = _active_environment(environ)
    project_env = environ.get("UV_PROJECT_ENVIRONMENT")
    project_folder = Path(project_env).expanduser() if project_env else project_root / ".venv"
    if not project_folder.is_absolute():
        project_folder = project_root / project_folder
    if active is not None and _same_folder(Path(active[1]), project_folder):
        active = None  # the project's own environment, activated: said as the project environment below
    if active is not None:
        variable, prefix, python = active
        elsewhere = f"; `uv run` would use the project's {project_folder} instead" if project_folder.is_dir() else ""
        return InterpreterInfo(
            path=str(python), source=variable, reason=f"{variable}={prefix} is the active environment{elsewhere}",
            environment=prefix, **common,
        )

    if project_env:
        folder = Path(project_env).expanduser()
        if not folder.is_absolute():
            folder = project_root / folder
        python = python_in(folder)
        return InterpreterInfo(
            path=str(python), source="UV_PROJECT_ENVIRONMENT",
            reason=f"UV_PROJECT_ENVIRONMENT={project_env} names the project environment, as `uv run` uses it",
            environment=str(folder), exists=_usable(python), **common,
        )

    venv = project_root / ".venv"
    if venv.is_dir():
        python = python_in(venv)
        return InterpreterInfo(
            path=str(python), source=".venv",
            reason="the project's .venv, which `uv run` and `uv sync` use",
            environment=str(venv), exists=_usable(python), **common,
        )

    on_path = first_python_on_path(search)
    skipped = search != environ.get("PATH")
    if on_path is not None:
        return InterpreterInfo(
            path=on_path, source="PATH",
            reason=f"no active environment and no project .venv; {on_path} is the first python3/python on PATH"
                   + (f" (past torchdoctor's own environment {sys.prefix}, which uvx and pipx put first)" if skipped else ""),
            environment=environment_of(Path(on_path)), **common,
        )

    return InterpreterInfo(
        path=sys.executable, source="current",
        reason="no active environment, no project .venv and no python on PATH; using the interpreter torchdoctor runs in",
        environment=environment_of(Path(sys.executable)), **common,
    )


VERSION = re.compile(r"^(?:python|cpython@?)?(\d+)(?:\.(\d+))?(?:\.\d+)?$", re.I)


def _explicit(given: str, environ: Mapping[str, str]) -> Path:
    """--python as uv takes it: a path to an interpreter, an environment folder, a command name on PATH, or a
    version (`3.12`, `python3.12`, `cpython@3.12`) found on PATH as pythonX.Y."""
    path = Path(os.path.abspath(Path(given).expanduser()))
    if path.exists():
        python = python_in(path) if path.is_dir() else path
        if _usable(python):
            return python
        raise InterpreterNotFound(f"--python {given}: no Python interpreter there")
    if os.sep not in given and "/" not in given:
        match = VERSION.match(given)
        names = [given] if match is None else [f"python{match.group(1)}.{match.group(2)}" if match.group(2) else
                                                f"python{match.group(1)}"]
        for name in names:
            found = shutil.which(name, path=environ.get("PATH"))
            if found:
                return Path(found)
        raise InterpreterNotFound(f"--python {given}: no {names[0]} on PATH")
    raise InterpreterNotFound(f"--python {given}: no such file or folder")


def _active_environment(environ: Mapping[str, str]) -> tuple[str, str, Path] | None:
    """The activated virtual environment, else an activated conda environment other than `base` (conda's base is
    active in every shell of many installations, and is rarely the project's)."""
    prefix = environ.get("VIRTUAL_ENV")
    if prefix and _usable(python_in(Path(prefix))) and not _same_folder(Path(prefix), Path(sys.prefix)):
        return "VIRTUAL_ENV", prefix, python_in(Path(prefix))  # torchdoctor's own venv, activated, is not the project's
    prefix = environ.get("CONDA_PREFIX")
    if prefix and environ.get("CONDA_DEFAULT_ENV", "") != "base" and _usable(python_in(Path(prefix))):
        return "CONDA_PREFIX", prefix, python_in(Path(prefix))
    return None


def _same_folder(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except (OSError, RuntimeError):
        return False


def _without_own_environment(search: str | None) -> str | None:
    """PATH without the folder of torchdoctor's own environment: `uvx torchdoctor` (and a tool install's shims) put it
    first, and its python is torchdoctor's, never the project's."""
    if search is None:
        return None
    own = Path(sys.prefix) / ("Scripts" if sys.platform == "win32" else "bin")
    if Path(sys.prefix).resolve() == Path(sys.base_prefix).resolve():
        return search  # torchdoctor runs in a base interpreter, not an environment of its own: nothing to skip
    if any(Path(sys.prefix).glob("lib*/python*/site-packages/torch-*.dist-info")) or any(
            Path(sys.prefix).glob("Lib/site-packages/torch-*.dist-info")):
        return search  # an environment with torch in it (an image's /opt/venv on PATH): the project's, shared
    return os.pathsep.join(folder for folder in search.split(os.pathsep) if not (folder and _same_folder(Path(folder), own)))


def first_python_on_path(search: str | None) -> str | None:
    """The first folder on PATH with a python3 or python in it, as a shell running `python3 train.py` finds it."""
    for folder in (search if search is not None else os.defpath).split(os.pathsep):
        for name in ("python3", "python") if sys.platform != "win32" else ("python.exe",):
            candidate = Path(folder or ".") / name
            if folder and _usable(candidate):
                return str(candidate)
    return None
