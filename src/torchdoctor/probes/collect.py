"""Run every probe and assemble the Snapshot.

The probes run at the same time: the torch probe takes seconds (importing torch and initialising
CUDA), NVML and the system probe a fraction of that, and the project files are read while they wait.
The wall time of a first check is therefore about the time of `import torch` plus CUDA initialisation;
later checks reuse that probe while nothing it depends on has changed (probes/torch_cache.py).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchdoctor import __version__
from torchdoctor.probes.interpreter import choose_interpreter
from torchdoctor.probes.lock_check import check_lock_freshness
from torchdoctor.probes.nvml import probe_nvml
from torchdoctor.probes.project import find_project_root, probe_project
from torchdoctor.probes.runner import stop_all_children
from torchdoctor.probes.system import probe_system
from torchdoctor.probes.torch_cache import probe_torch_cached
from torchdoctor.probes.torch_probe import DEFAULT_TIMEOUT_S, probe_torch
from torchdoctor.snapshot import ProjectInfo, Snapshot, TorchInfo


def read_project(directory: Path, offline: bool = True) -> ProjectInfo:
    root, found_by = find_project_root(directory)
    return probe_project(root, found_by, offline)


def take_snapshot(
    directory: Path, python: str | None = None, *, torch_timeout_s: float = DEFAULT_TIMEOUT_S, fresh: bool = False,
    on_part: Callable[[str, Any], None] | None = None, quick: bool = False, first_verdict: bool = False,
    offline: bool = True,
) -> Snapshot:
    """Probe this machine and the project in `directory`. `python` overrides the interpreter choice;
    `fresh` ignores the torch probe cache. `on_part(name, value)` is called as each part is ready
    ("interpreter", "project", "system", "nvml", "torch"), from the probing threads, so a screen can
    fill its panels while the slow torch probe still runs; with `first_verdict`, while `import torch` still runs,
    once with "provisional" and a whole Snapshot whose torch was read from its files (a first verdict in a fraction
    of a second). `quick` stops there: torch is never imported (`check --quick`). `offline` (the default of every
    caller but a face that was not told otherwise): no package index is asked.

    Raises InterpreterNotFound only for an unusable --python (a usage error); everything else that
    goes wrong is recorded in the snapshot.
    """
    root, found_by = find_project_root(directory)
    interpreter = choose_interpreter(root, python)
    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="torchdoctor-probe")

    def reported(name: str, probe: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        value = probe(*args, **kwargs)
        if on_part is not None:
            on_part(name, value)
        return value

    try:
        if on_part is not None:
            on_part("interpreter", interpreter)
        from_files = pool.submit(probe_torch, interpreter.path, cwd=str(root), timeout_s=min(torch_timeout_s, 15.0),
                                 files_only=True) if quick or (first_verdict and on_part) else None
        torch = None if quick else pool.submit(reported, "torch", probe_torch_cached, interpreter.path, cwd=str(root),
                                                timeout_s=torch_timeout_s, fresh=fresh)
        nvml = pool.submit(reported, "nvml", probe_nvml)
        system = pool.submit(reported, "system", probe_system, project=str(root))
        chosen = interpreter.path if interpreter.exists else None
        project = with_lock_freshness(reported("project", probe_project, root, found_by, offline), chosen)

        def assembled(torch_info: TorchInfo) -> Snapshot:
            nvml_info = nvml.result()
            return Snapshot(
                created_at=created,
                torchdoctor_version=__version__,
                interpreter=interpreter,
                torch=torch_info,
                nvml=nvml_info,
                system=system.result(),
                project=project,
                gpu_code=gpu_code_beside(torch_info) if nvml_info.gpus else (),
            )

        if torch is None:
            assert from_files is not None
            return assembled(reported("torch", from_files.result))
        if from_files is not None and on_part is not None and not torch.done():
            first = from_files.result()
            if first.status == "ok" and not torch.done():
                on_part("provisional", assembled(first))
        return assembled(torch.result())
    except BaseException:
        # Interrupted (Ctrl-C): stop the children now rather than wait out a 60 s torch timeout.
        stop_all_children()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def with_project(snapshot: Snapshot, directory: Path, on_read: Callable[[ProjectInfo], None] | None = None,
                 offline: bool = True) -> Snapshot:
    """A recorded machine with the project files read anew from `directory`. `on_read` hears the project as soon as
    its files are read, before uv's verdict on the lock (a subprocess) is waited for."""
    return replace(snapshot, project=_read_then_freshness(directory, on_read, offline))


def _read_then_freshness(directory: Path, on_read: Callable[[ProjectInfo], None] | None,
                         offline: bool = True) -> ProjectInfo:
    project = read_project(directory, offline)
    if on_read is not None:
        on_read(project)
    return with_lock_freshness(project)


def with_lock_freshness(project: ProjectInfo, python: str | None = None) -> ProjectInfo:
    """The project with uv's own verdict on its lock, when uv can give one without running project code. uv runs
    `python` (the interpreter chosen for the live probe), else torchdoctor's own: never one the project names."""
    if project.lock is None:
        return project
    freshness = check_lock_freshness(project, python)
    return replace(project, lock=replace(project.lock, freshness=freshness)) if freshness else project


def project_only_snapshot(directory: Path, on_read: Callable[[ProjectInfo], None] | None = None,
                          offline: bool = True) -> Snapshot:
    """`check --no-machine`: the project files read, nothing of the machine probed (no interpreter run, no NVML,
    no system files); the machine's parts say "not probed" and only the project rules are reported. `on_read`: as
    for `with_project`."""
    import platform

    from torchdoctor.snapshot import InterpreterInfo, NvmlInfo, SystemInfo, TorchInfo

    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    reason = "--no-machine: the machine was not probed"
    return Snapshot(
        created_at=created,
        torchdoctor_version=__version__,
        interpreter=InterpreterInfo(path="", source="none", reason=reason, exists=False),
        torch=TorchInfo(status="not-probed", error=reason),
        nvml=NvmlInfo(status="not-probed", error=reason),
        system=SystemInfo(os_name=platform.system()),
        project=_read_then_freshness(directory, on_read, offline),
    )


def fleet_snapshot(directory: Path, interpreter, fleet) -> Snapshot:
    """`torchdoctor fleet`: the project's files and the job's results. Each rank probed itself (its torch, GPU and
    variables are in `fleet`); this machine's own parts say so instead of being probed again."""

    snapshot = project_only_snapshot(directory)
    reason = "torchdoctor fleet: each rank reported its own torch and GPU"
    return replace(
        snapshot, fleet=fleet,
        interpreter=interpreter or replace(snapshot.interpreter, reason=reason),
        torch=replace(snapshot.torch, error=reason), nvml=replace(snapshot.nvml, error=reason),
    )


def gpu_code_beside(torch) -> tuple:
    """The GPU code of torch and its extensions in the environment torch was found in (read from file headers)."""
    from torchdoctor.probes.fatbin import environment_gpu_code

    if not torch.location:
        return ()
    location = Path(torch.location)
    package = location.parent if location.name == "__init__.py" else location
    return environment_gpu_code(package.parent)
