"""Decide which Python is the project's, the way `uv run` would, and say why.

The order is: `--python`, then the project environment (`UV_PROJECT_ENVIRONMENT`, else `.venv`),
then an active virtual or conda environment, then torchdoctor's own interpreter. The `python` first
on PATH is recorded too: when it differs from the project's, `python train.py` and `uv run` see
different torch builds, a common source of "it works in one terminal but not the other".
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

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
    path_python = shutil.which("python", path=environ.get("PATH")) or shutil.which("python3", path=environ.get("PATH"))
    path_env = environment_of(Path(path_python)) if path_python else None
    common = {"path_python": path_python, "path_python_environment": path_env}

    if explicit:
        given = Path(os.path.abspath(Path(explicit).expanduser()))  # the probe runs in the project folder
        python = python_in(given) if given.is_dir() else given
        if not _usable(python):
            raise InterpreterNotFound(f"--python {explicit}: no Python interpreter there")
        return InterpreterInfo(
            path=str(python), source="--python", reason=f"given with --python {explicit}",
            environment=environment_of(python), **common,
        )

    project_env = environ.get("UV_PROJECT_ENVIRONMENT")
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

    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = environ.get(variable)
        if prefix:
            python = python_in(Path(prefix))
            if _usable(python):
                return InterpreterInfo(
                    path=str(python), source=variable,
                    reason=f"no project .venv; {variable}={prefix} is the active environment",
                    environment=prefix, **common,
                )

    return InterpreterInfo(
        path=sys.executable, source="current",
        reason="no project .venv and no active environment; using the interpreter torchdoctor runs in",
        environment=environment_of(Path(sys.executable)), **common,
    )
