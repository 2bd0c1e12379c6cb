"""Checks: pure functions from a Snapshot to diagnoses. Importing this package registers them all."""

from torchdoctor.checks import (  # noqa: F401  (importing registers the rules)
    amd,
    build_env,
    dockerfiles,
    fleet,
    gpu_build,
    indexes,
    inputs,
    install_consistency,
    lock_env,
    lock_wheels,
    machine,
    performance,
    project_config,
    substrate,
    symptoms,
    torch_install,
    wsl_container,
)
from torchdoctor.checks.performance import assess_gemm
from torchdoctor.checks.registry import RULES, run_checks

PROJECT_RULES = frozenset(code for code, rule in RULES.items() if rule.reads == "project")
"""The rules `check --no-machine` reports: what the project's files say, on any machine."""

__all__ = ["PROJECT_RULES", "RULES", "assess_gemm", "run_checks"]
