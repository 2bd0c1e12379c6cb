"""`fix --verify`: the strongest proof a fix can get, before the user's files are touched.

The fixed pyproject.toml (and the project's uv.lock, as uv's starting point) is copied into a scratch folder;
`uv lock` and `uv sync --no-install-project` build an environment from it there, and a small smoke test runs in
that environment: torch imports, a matmul runs (on the GPU when this machine has one, which then must be usable),
and a torchvision operator runs where torchvision is installed. Only a pass lets the fix be written.

Nothing of the project runs: only pyproject.toml and uv.lock are copied, the project itself is not installed, and
a project whose metadata a build backend computes (`dynamic` dependencies) or whose sources point at paths,
git or workspace members cannot be rebuilt apart from its folder, so it is not verified (said, not guessed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torchdoctor.probes.runner import StreamingCommand
from torchdoctor.redact import clean
from torchdoctor.snapshot import Snapshot
from torchdoctor.probes.uv import find_uv

STEP_TIMEOUT_S = 900.0

SMOKE_TEST = r"""
import json, sys
result = {}
try:
    import torch
    result["torch"] = torch.__version__
    result["cuda"] = torch.version.cuda
    result["cuda_available"] = torch.cuda.is_available()
    device = "cuda" if result["cuda_available"] else "cpu"
    a = torch.randn(256, 256)
    product = (a.to(device) @ a.to(device)).cpu()
    if not torch.allclose(product, a @ a, rtol=1e-2, atol=1e-2):
        raise RuntimeError(f"a matmul on {device} disagrees with the CPU")
    result["device"] = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    try:
        import torchvision
    except ImportError:
        result["torchvision"] = None
    else:
        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]], device=device)
        kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8], device=device), 0.5)
        result["torchvision"] = torchvision.__version__ if kept.tolist() == [0] else "nms gave " + str(kept.tolist())
except BaseException as error:
    result["error"] = f"{type(error).__name__}: {error}"
print("TORCHDOCTOR-SMOKE " + json.dumps(result))
"""


@dataclass(frozen=True)
class Verification:
    passed: bool
    summary: str
    """One line: what ran and what it showed, or why it failed or could not run."""


def cannot_verify(snapshot: Snapshot) -> str | None:
    """Why the project cannot be rebuilt in a scratch folder, if it cannot."""
    pyproject = snapshot.project.pyproject
    if pyproject is None:
        return "there is no pyproject.toml"
    if "dependencies" in pyproject.dynamic or "optional-dependencies" in pyproject.dynamic:
        return "its dependencies are computed by the build backend (`dynamic`), which would run the project's code"
    if pyproject.workspace:
        return "it is a uv workspace: its members cannot be rebuilt apart from their folders"
    if any(source.kind in ("path", "git", "workspace", "url") for source in pyproject.sources):
        return "it takes packages from paths, git or URLs named in [tool.uv.sources]"
    return None


def verify_fix(snapshot: Snapshot, fixed_text: str, on_line: Callable[[str], None] | None = None,
               timeout_s: float = STEP_TIMEOUT_S) -> Verification:
    """Lock and sync the fixed project in a scratch folder and run the smoke test in it."""
    reason = cannot_verify(snapshot)
    if reason:
        return Verification(False, f"not verified: {reason}")
    uv = find_uv()
    if uv is None:
        return Verification(False, "not verified: `uv` is not installed (pip install uv)")
    root = Path(snapshot.project.root)
    say = (lambda line: on_line(clean(line))) if on_line is not None else (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="torchdoctor-verify-") as folder:
        scratch = Path(folder) / "project"
        scratch.mkdir()
        (scratch / "pyproject.toml").write_text(fixed_text.lstrip("\ufeff"), encoding="utf-8")
        if (root / "uv.lock").is_file():
            shutil.copyfile(root / "uv.lock", scratch / "uv.lock")
        environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(scratch / ".venv"), "NO_COLOR": "1"}
        environment.pop("VIRTUAL_ENV", None)
        python = _python_for(snapshot)
        steps = [("uv lock", [uv, "lock", *(["--python", python] if python else [])]),
                 ("uv sync", [uv, "sync", "--no-install-project", "--frozen", *(["--python", python] if python else [])])]
        for name, command in steps:
            say(f"verify: {name} (in a scratch copy)")
            result = StreamingCommand(command, on_line=say, cwd=str(scratch), merge_stderr=True, env=environment).wait(timeout_s)
            if not result.ok:
                return Verification(False, f"{name} failed in the scratch copy: {result.error or _uv_error(result.stdout)}")
        interpreter = scratch / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        say("verify: smoke test (import torch, a matmul, a torchvision operator)")
        return smoke_test(snapshot, interpreter, timeout_s=timeout_s)


def smoke_test(snapshot: Snapshot, interpreter: Path, on_line: Callable[[str], None] | None = None,
               timeout_s: float = STEP_TIMEOUT_S, cancel: threading.Event | None = None) -> Verification:
    """The smoke test in `interpreter`, isolated and in an empty folder: on this machine's GPU where it has one."""
    with tempfile.TemporaryDirectory(prefix="torchdoctor-smoke-") as folder:
        environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        shown = (lambda line: on_line(clean(line))) if on_line is not None else None
        result = StreamingCommand([str(interpreter), "-I", "-c", SMOKE_TEST], on_line=shown, cwd=folder,
                                  merge_stderr=True, env=environment).wait(timeout_s, cancel)
    return _verdict(snapshot, result.stdout, result.error)


def _python_for(snapshot: Snapshot) -> str | None:
    """The project's interpreter when it is on this machine; else uv chooses one, as `uv sync` would (a recorded
    snapshot names another machine's interpreter)."""
    if snapshot.interpreter.path and Path(snapshot.interpreter.path).is_file():
        return snapshot.interpreter.path
    return None


def _uv_error(output: str) -> str:
    """uv's own `error:` line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "no output")


def _verdict(snapshot: Snapshot, output: str, error: str | None) -> Verification:
    line = next((line for line in output.splitlines() if line.startswith("TORCHDOCTOR-SMOKE ")), None)
    if line is None:
        return Verification(False, f"the smoke test did not answer: {error or output.strip()[-200:] or 'no output'}")
    found = json.loads(line.removeprefix("TORCHDOCTOR-SMOKE "))
    if "error" in found:
        return Verification(False, f"the smoke test failed: {found['error']}")
    gpus = len(snapshot.nvml.gpus)
    if gpus and not found.get("cuda_available"):
        return Verification(False, f"torch {found['torch']} installed, but CUDA is not available with this machine's "
                                   f"{gpus} GPU(s)")
    vision = found.get("torchvision")
    if isinstance(vision, str) and vision.startswith("nms gave"):
        return Verification(False, f"torchvision's nms is wrong: {vision}")
    return Verification(True, f"torch {found['torch']} ran a matmul on {found['device']}"
                              + (f"; torchvision {vision} ran nms" if vision else ""))
