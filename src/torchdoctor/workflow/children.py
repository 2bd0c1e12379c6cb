"""The children torchdoctor started (probes, uv, the GEMM test): stopped at once when a command ends abnormally."""

from __future__ import annotations


def stop_all_children(for_good: bool = False) -> None:
    """Kill every child still running, and with `for_good` refuse new ones (the process is ending)."""
    from torchdoctor.probes.runner import stop_all_children as stop

    stop(for_good=for_good)
