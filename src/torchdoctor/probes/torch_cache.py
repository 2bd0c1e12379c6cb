"""Reuse a torch probe while nothing it depends on has changed, and re-check the driver live.

Importing a CUDA build of torch takes 4-5 s on an H100 machine (most of it loading gigabytes of CUDA
libraries), more than half of what `python -m torch.utils.collect_env` takes, so a doctor that imports
torch on every run can never be quick to re-run after a fix. A successful probe is therefore kept,
together with a fingerprint of everything its answer depends on:

- the interpreter and the installed files: the interpreter binary, its site-packages folder (whose
  entries change whenever uv or pip installs, upgrades or removes any package), torch's package folder,
  `torch/__init__.py` and `torch/version.py`, and the environment's pyvenv.cfg;
- the process environment that changes what CUDA and torch see (CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH,
  PYTORCH_*, PYTHONPATH, ...), and the project folder (the probe runs there, and a local `torch/`
  folder would shadow the installed one);
- the machine: the boot id, the NVIDIA kernel module's version and the GPU device files;
- torchdoctor's version and the probe script itself.

When the fingerprint matches, the CUDA driver API is still asked live (cuInit and the device count,
about 0.2 s, no torch import): CUDA failures that change nothing on disk, such as the "unknown error"
after a suspend/resume or a GPU that fell off the bus, show up there, and any difference from what the
full probe saw sends torchdoctor back to the full probe. Failed probes are never reused, ROCm builds
are not cached (there is no equivalent live check here), and `--fresh` skips the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchdoctor import __version__, serde
from torchdoctor.paths import user_folder
from torchdoctor.probes.system import relevant_environment
from torchdoctor.probes.torch_probe import probe_cuda_driver, probe_script_source, probe_torch
from torchdoctor.snapshot import TorchInfo

CACHE_FORMAT = 1
EXTRA_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONSAFEPATH")


def cache_folder(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user cache folder (TORCHDOCTOR_CACHE_DIR overrides it)."""
    return user_folder("cache", environ)


def _stat(path: Path | str | None) -> list[int] | None:
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def _machine() -> dict[str, Any]:
    def read(path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read(4096)
        except OSError:
            return None

    try:
        nodes = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia") or n == "dxg")
    except OSError:
        nodes = []
    return {
        "boot_id": read("/proc/sys/kernel/random/boot_id"),
        "nvidia_module": read("/proc/driver/nvidia/version") or read("/sys/module/nvidia/version"),
        "device_nodes": nodes,
    }


def fingerprint(python: str, project_root: str, torch: TorchInfo, environ: Mapping[str, str]) -> dict[str, Any]:
    """Everything the probe's answer depends on, as plain data to compare."""
    location = Path(torch.location) if torch.location else None
    package = location.parent if location else None
    site = package.parent if package else None
    environment = dict(relevant_environment(environ))
    environment.update({name: environ[name] for name in EXTRA_VARIABLES if name in environ})
    prefix = torch.python_prefix
    return {
        "format": CACHE_FORMAT,
        "torchdoctor": __version__,
        "script": hashlib.sha256(probe_script_source().encode()).hexdigest(),
        "python": python,
        "python_binary": _stat(os.path.realpath(python)),
        "project": project_root,
        "files": {
            "site-packages": _stat(site),
            "torch": _stat(package),
            "torch/__init__.py": _stat(location),
            "torch/version.py": _stat(package / "version.py" if package else None),
            "pyvenv.cfg": _stat(Path(prefix) / "pyvenv.cfg" if prefix else None),
        },
        "environment": environment,
        "machine": _machine(),
    }


def _entry_path(folder: Path, python: str, project_root: str) -> Path:
    name = hashlib.sha256(f"{python}\0{project_root}".encode()).hexdigest()[:32]
    return folder / "torch-probe" / f"{name}.json"


def _cacheable(torch: TorchInfo) -> bool:
    return torch.status == "ok" and not torch.hip


def probe_torch_cached(
    python: str,
    *,
    cwd: str,
    timeout_s: float,
    environ: Mapping[str, str] | None = None,
    fresh: bool = False,
) -> TorchInfo:
    """The torch facts for `python`: from the cache when still valid, else from a full probe."""
    environ = os.environ if environ is None else environ
    entry_path = _entry_path(cache_folder(environ), python, cwd)
    if not fresh:
        cached = _load(entry_path)
        if cached is not None:
            torch, recorded_at, stored_fingerprint = cached
            if fingerprint(python, cwd, torch, environ) == stored_fingerprint and _driver_unchanged(python, cwd, torch):
                return replace(torch, cached_at=recorded_at)
    torch = probe_torch(python, cwd=cwd, timeout_s=timeout_s)
    if _cacheable(torch):
        _store(entry_path, torch, fingerprint(python, cwd, torch, environ))
    return torch


def _driver_unchanged(python: str, cwd: str, torch: TorchInfo) -> bool:
    """For CUDA builds, the driver must answer now exactly as it did during the full probe."""
    if not torch.cuda:
        return True
    return probe_cuda_driver(python, cwd=cwd) == torch.cuda_driver


def _load(path: Path) -> tuple[TorchInfo, str, dict[str, Any]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        recorded_at, fingerprint = data["recorded_at"], data["fingerprint"]
        if not isinstance(recorded_at, str) or not isinstance(fingerprint, dict):
            return None
        return serde.from_plain(TorchInfo, data["torch"]), recorded_at, fingerprint
    except Exception:  # noqa: BLE001 - no entry, one from another version, or a damaged file: probe again
        return None


def _store(path: Path, torch: TorchInfo, print_: dict[str, Any]) -> None:
    """Write the entry atomically; a cache that cannot be written only costs speed."""
    import datetime

    recorded_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    data = {"recorded_at": recorded_at, "fingerprint": print_, "torch": serde.to_plain(torch)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(data, handle)
        os.replace(handle.name, path)
    except OSError:
        pass
