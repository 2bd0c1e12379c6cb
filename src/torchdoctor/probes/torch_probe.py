"""Probe the project's torch by running `torch_script.py` in the project's own interpreter.

torch is never imported into torchdoctor's process: the torch that matters is the one `uv run python`
gets, importing it costs 2-5 s cold, and a broken install can hang or abort the importing process.
The script prints one JSON record per stage; whatever stages arrived before a crash or a timeout are
kept, so a report can say "torch 2.9.1+cu128 is installed, but `import torch` was killed by SIGABRT".
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

from torchdoctor.probes.runner import marked_records, python_argv, run_command, tail
from torchdoctor.snapshot import CudaDriverInfo, TorchDevice, TorchInfo, TorchStatus

DEFAULT_TIMEOUT_S = 60.0
# Seconds spent in each stage inside the probe: reading metadata, `import torch`, is_available(), all CUDA queries.
TIMING_KEYS = ("pre_s", "import_s", "is_available_s", "cuda_s")


def probe_script_source() -> str:
    return resources.files("torchdoctor.probes").joinpath("torch_script.py").read_text(encoding="utf-8")


def probe_torch(python: str, *, cwd: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                files_only: bool = False) -> TorchInfo:
    """Run the torch probe in `python` and turn what it printed, and how it ended, into a TorchInfo. `files_only`
    stops it before `import torch`: the build is then read from torch's files (probes/torch_files.py)."""
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # `cwd` names the project (the cache keys on it); the child itself runs in an empty folder of its own, so that
    # nothing in the project can be imported in place of what the probe imports.
    arguments = ("--files-only",) if files_only else ()
    result = run_command(python_argv(python, probe_script_source(), *arguments), timeout_s=timeout_s, env=env)
    stages = parse_stages(result.stdout)
    stderr_tail = tail(result.stderr)
    if result.error is not None:
        return TorchInfo(status="interpreter-failed", error=result.error, duration_s=result.duration_s)

    values: dict[str, Any] = {}
    for name in ("pre", "driver", "import", "cuda"):
        values.update({k: v for k, v in stages.get(name, {}).items() if k != "stage"})
    timings = {name: round(values.pop(name), 4) for name in TIMING_KEYS if isinstance(values.get(name), (int, float))}
    import_error = values.pop("import_error", None)
    traceback_text = values.pop("traceback", None)
    values["devices"] = tuple(
        TorchDevice(
            index=d["index"],
            name=d["name"],
            capability=(d["capability"][0], d["capability"][1]),
            total_memory=d["total_memory"],
            multiprocessors=d.get("multiprocessors"),
        )
        for d in values.get("devices", ())
    )
    values["cuda_driver"] = _driver_info(values.get("cuda_driver"))
    values["arch_list"] = tuple(values.get("arch_list", ()))
    values["cuda_init_warnings"] = tuple(values.get("cuda_init_warnings", ()))
    values["packages"] = dict(sorted(values.get("packages", {}).items()))
    for key in ("torch_installs", "torch_requires"):  # lists of strings, or None when not read
        listed = values.get(key)
        values[key] = tuple(str(item) for item in listed[:64]) if isinstance(listed, list) else None
    folders = values.get("package_folders")
    values["package_folders"] = ({str(k): str(v) for k, v in list(folders.items())[:512]}
                                 if isinstance(folders, dict) else None)
    known = set(TorchInfo.__dataclass_fields__)
    values = {k: v for k, v in values.items() if k in known}

    status: TorchStatus
    if "done" in stages and stages["done"].get("not_installed"):
        status, error = "not-installed", "torch is not installed in this interpreter"
    elif "done" in stages and stages["done"].get("files_only"):
        from torchdoctor.probes.torch_files import torch_from_files

        values.update({k: v for k, v in torch_from_files(values.get("location"), values["packages"]).items() if v is not None})
        values["imported"] = False
        status, error = "ok", None
    elif "pre" not in stages:
        status = "interpreter-failed"
        error = f"the interpreter {result.describe_failure()} before reporting anything"
        if result.timed_out:
            status = "timed-out"
    elif import_error is not None:
        status, error = "import-failed", import_error
        stderr_tail = tail((traceback_text or "") + "\n" + result.stderr)
    elif result.timed_out:
        status = "timed-out"
        error = f"{_stage_in_progress(stages)} did not finish within {timeout_s:g} s; the probe was stopped"
    elif "done" not in stages:
        status = "crashed"
        error = f"{_stage_in_progress(stages)} {result.describe_failure()}"
    else:
        status, error = "ok", None
    return TorchInfo(
        status=status,
        error=error,
        stderr_tail=stderr_tail,
        exit_code=result.returncode,
        duration_s=round(result.duration_s, 3),
        timings=timings,
        **values,
    )


def probe_cuda_driver(python: str, *, cwd: str | None = None, timeout_s: float = 15.0) -> CudaDriverInfo | None:
    """Only the CUDA driver facts, without importing torch: the cheap live check behind the probe cache."""
    result = run_command(python_argv(python, probe_script_source(), "--driver-only"), timeout_s=timeout_s)
    record = parse_stages(result.stdout).get("driver")
    return _driver_info(record.get("cuda_driver")) if record else None


def _driver_info(facts: Any) -> CudaDriverInfo | None:
    if not isinstance(facts, dict):
        return None
    known = set(CudaDriverInfo.__dataclass_fields__)
    return CudaDriverInfo(**{k: v for k, v in facts.items() if k in known})


def _stage_in_progress(stages: dict[str, dict[str, Any]]) -> str:
    """What the probe was doing when it stopped answering, for the one-line error."""
    if "driver" not in stages:
        return "the CUDA driver (cuInit)"
    if "import" not in stages:
        return "`import torch`"
    return "CUDA initialisation"


def parse_stages(stdout: str) -> dict[str, dict[str, Any]]:
    """The records the script printed, by stage."""
    return {record["stage"]: record for record in marked_records(stdout) if isinstance(record.get("stage"), str)}
