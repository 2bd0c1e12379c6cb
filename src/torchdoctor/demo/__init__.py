"""The bundled example `torchdoctor --demo` opens: the nightly case's machine and project.

The machine is an RTX 5060 Ti (Blackwell, sm_120) under WSL2 with Windows driver 572.83, assembled from
cited reports (scripts/assemble-wsl2-snapshot.py); the project is ../shared/cases/nightly-cu128-wsl2, an
ASR server whose nightly setup `uv lock` rejects. The project is copied into a fresh folder for each
demo, so a newcomer can press every key, fixes included, without touching their own files.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from torchdoctor.snapshot import Snapshot


def demo_snapshot() -> Snapshot:
    return Snapshot.from_json(resources.files(__name__).joinpath("snapshot.json").read_text(encoding="utf-8"))


def prepare_demo_project(folder: Path) -> Path:
    """Copy the demo project into `folder` (created if needed) and return the project folder."""
    project = folder / "asr-server"
    project.mkdir(parents=True, exist_ok=True)
    source = resources.files(__name__).joinpath("pyproject.toml")
    with resources.as_file(source) as path:
        shutil.copyfile(path, project / "pyproject.toml")
    return project
