"""Checks: pure functions from a Snapshot to diagnoses. Importing this package registers them all."""

from torchdoctor.checks import (  # noqa: F401  (importing registers the rules)
    build_env,
    dockerfiles,
    gpu_build,
    inputs,
    lock_env,
    machine,
    performance,
    project_config,
    torch_install,
    wsl_container,
)
from torchdoctor.checks.registry import RULES, run_checks

__all__ = ["RULES", "run_checks"]
