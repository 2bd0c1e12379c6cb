"""What torch's own files say about its build, without importing it: the first verdict of `check --quick` and of the
app while `import torch` still runs (a cold import takes seconds; these reads take milliseconds).

- `torch/version.py` is a generated file of plain assignments (`__version__ = '2.11.0+cu130'`, `cuda = '13.0'`,
  `git_version = '…'`, `hip = None`, `debug = False`): it is parsed, never executed, and only literal values are
  taken.
- The arch list comes from the fat binary headers of torch's CUDA library (probes/fatbin.py), in the names
  `torch.cuda.get_arch_list()` uses (sm_90, compute_90); the arch-specific sm_90a-style code it does not list is
  kept, since it is what actually runs there.
- cuDNN and NCCL versions come from the nvidia-cudnn-cu* and nvidia-nccl-cu* wheels torch depends on (a torch that
  bundles its own, as the download.pytorch.org wheels of old did, leaves them unknown).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from torchdoctor.probes.fatbin import NotABinary, read_gpu_code

VERSION_FILE_LIMIT = 64 * 1024
CUDA_LIBRARIES = ("lib/libtorch_cuda.so", "lib/torch_cuda.dll")


def version_file_values(text: str) -> dict[str, Any]:
    """The literal assignments of torch/version.py; anything else in it is ignored."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and node.value is not None:
                try:
                    values[targets[0].id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    continue
    return values


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def cudnn_number(version: str | None) -> int | None:
    """`9.10.2.21` (the wheel's version) as torch.backends.cudnn.version() reports it: 91002."""
    parts = (version or "").split(".")
    if len(parts) < 3 or not all(p.isdigit() for p in parts[:3]):
        return None
    major, minor, patch = (int(p) for p in parts[:3])
    return major * 10000 + minor * 100 + patch if major >= 9 else major * 1000 + minor * 100 + patch


def torch_from_files(location: str | None, packages: dict[str, str]) -> dict[str, Any]:
    """TorchInfo fields read from the installed torch at `location` (its package folder or __init__.py)."""
    if not location:
        return {}
    package = Path(location)
    package = package.parent if package.name == "__init__.py" else package
    try:
        with open(package / "version.py", "rb") as handle:
            values = version_file_values(handle.read(VERSION_FILE_LIMIT).decode("utf-8", "replace"))
    except OSError:
        values = {}
    version = _text(values.get("__version__"))
    cuda = _text(values.get("cuda"))
    facts: dict[str, Any] = {
        "version": version, "local_tag": version.partition("+")[2] or None if version else None, "cuda": cuda,
        "hip": _text(values.get("hip")), "git_version": _text(values.get("git_version")),
        "debug": values.get("debug") if isinstance(values.get("debug"), bool) else None,
    }
    if cuda:
        for relative in CUDA_LIBRARIES:
            try:
                code = read_gpu_code(package / relative)
            except (OSError, NotABinary):
                continue
            facts["arch_list"] = (*code.sass, *(f"compute_{arch.removeprefix('sm_')}" for arch in code.ptx))
            break
        cudnn = next((v for k, v in sorted(packages.items()) if k.startswith("nvidia-cudnn-cu")), None)
        nccl = next((v for k, v in sorted(packages.items()) if k.startswith("nvidia-nccl-cu")), None)
        facts["cudnn_version"] = cudnn_number(cudnn)
        facts["nccl_version"] = ".".join(nccl.split(".")[:3]) if nccl else None
    return facts
