"""Ask uv whether uv.lock is up to date: `uv lock --check --offline --no-build`.

uv is the authority on freshness; torchdoctor's own comparison (TD401's fallback) only approximates it. The
question is asked offline and without building anything, so it costs tens of milliseconds, touches no
network and runs no project code:
- a project whose metadata is dynamic (`[project] dynamic`), or that has path, workspace, git or URL
  sources, is not asked: uv would build those packages (run their build backends) to read their metadata;
- `--no-build` makes uv refuse to build any other source distribution.

uv is handed the interpreter: torchdoctor's own, or in a live check the one chosen for the probe (which runs
anyway). Left to itself uv discovers one, and it reads `.python-version`, which may name an executable in the
project (`./evilpy`): uv would run it to learn what it is. `--no-python-downloads` keeps it from fetching one. An
interpreter that the project's `requires-python` excludes makes uv refuse: "unknown", and TD401 compares.

Exit 0 is "fresh". uv says "needs to be updated" when it resolved and the lock would change: "stale".
Offline, uv often cannot resolve at all (metadata not in its cache): then the answer is "unknown", said
as such, and TD401 falls back to its own comparison.
"""

from __future__ import annotations

import os
import sys

from torchdoctor.probes.runner import run_command
from torchdoctor.snapshot import LockFreshness, ProjectInfo
from torchdoctor.probes.uv import find_uv

CHECK_TIMEOUT_S = 10.0
BUILDING_SOURCES = ("path", "workspace", "git", "url")


def why_not_asked(project: ProjectInfo) -> str | None:
    """Why uv is not asked about this project (it would build or fetch something), or None to ask it."""
    pyproject = project.pyproject
    if pyproject is None or project.lock is None:
        return "no pyproject.toml and uv.lock to compare"
    if not pyproject.has_project_table:
        return "pyproject.toml has no [project] table"
    if pyproject.dynamic:
        return f"[project] dynamic lists {', '.join(pyproject.dynamic)}: uv would run the build backend to read them"
    if any(s.kind in BUILDING_SOURCES for s in pyproject.sources):
        return "a path, workspace, git or URL source: uv would build or fetch it to read its metadata"
    if any(n.source_kind in ("editable", "directory", "virtual") and n.source not in (".", None) for n in project.lock.graph):
        return "the lock has workspace members or path dependencies: uv would build them to read their metadata"
    return None


def check_lock_freshness(project: ProjectInfo, python: str | None = None,
                         timeout_s: float = CHECK_TIMEOUT_S) -> LockFreshness | None:
    """uv's verdict on the project's lock, or None when uv is not installed or not asked (see why_not_asked).
    `python` is the interpreter uv may run (the probe's choice); torchdoctor's own when None."""
    uv = find_uv()
    if uv is None or why_not_asked(project) is not None:
        return None
    env = dict(os.environ, NO_COLOR="1", UV_NO_PROGRESS="1", UV_PYTHON_DOWNLOADS="never")
    result = run_command([uv, "lock", "--check", "--offline", "--no-build", "--no-python-downloads",
                          "--python", python or sys.executable, "--project", project.root],
                         timeout_s=timeout_s, env=env, cwd=project.root)
    lines = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
    if result.error or result.timed_out or result.returncode is None:
        return LockFreshness(None, result.error or f"uv did not answer in {timeout_s:.0f} s")
    if result.returncode == 0:
        return LockFreshness(True, lines[-1] if lines else "uv lock --check passed")
    needs_update = [line for line in lines if "needs to be updated" in line]
    if needs_update:
        return LockFreshness(False, needs_update[-1])
    detail = next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "no output")
    return LockFreshness(None, f"uv could not decide offline: {detail}")
