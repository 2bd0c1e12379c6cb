"""Checks: pure functions from a Snapshot to diagnoses. Importing this package registers them all."""

from torchdoctor.checks import gpu_build, inputs, machine, torch_install  # noqa: F401  (registration)
from torchdoctor.checks.registry import RULES, run_checks

__all__ = ["RULES", "run_checks"]
