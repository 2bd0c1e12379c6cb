"""Fleet: one process per GPU under torchrun, or the results a multi-node run wrote, as a snapshot to diagnose."""

from __future__ import annotations

from pathlib import Path

from torchdoctor.probes.fleet import FleetOptions
from torchdoctor.snapshot import InterpreterInfo, Snapshot
from torchdoctor.workflow.probing import CannotProbe

__all__ = ["FleetOptions", "from_results", "gpu_count", "interpreter", "multi_node_command", "run_job"]


def from_results(project_dir: Path, path: str) -> Snapshot:
    """The results file rank 0 of a multi-node job wrote, read with its bounds (probes/fleet.py)."""
    from torchdoctor.probes.collect import fleet_snapshot
    from torchdoctor.probes.fleet import FleetResultsError, read_results

    try:
        fleet = read_results(path)
    except FleetResultsError as error:
        raise CannotProbe(str(error)) from None
    return fleet_snapshot(project_dir, None, fleet)


def interpreter(project_dir: Path, python: str | None) -> InterpreterInfo:
    """The interpreter the ranks run in, chosen as for `check`."""
    from torchdoctor.probes.interpreter import InterpreterNotFound, choose_interpreter
    from torchdoctor.probes.project import find_project_root

    root, _ = find_project_root(project_dir)
    try:
        return choose_interpreter(root, python)
    except InterpreterNotFound as error:
        raise CannotProbe(str(error)) from None


def gpu_count() -> int:
    """This machine's NVIDIA GPUs, one rank each."""
    from torchdoctor.probes.nvml import probe_nvml

    nvml = probe_nvml()
    if nvml.status != "ok" or not nvml.gpus:
        raise CannotProbe("no NVIDIA GPU found (NVML: " + (nvml.error or nvml.status) + "); give --nproc-per-node N to "
                          "run N ranks on the CPU with gloo")
    return len(nvml.gpus)


def multi_node_command(python: str, options: FleetOptions, nnodes: int, endpoint: str) -> str:
    """What to run on every node of a multi-node job (nothing is run here)."""
    from importlib import resources

    from torchdoctor.probes.fleet import SCRIPT_NAME, multi_node_instructions

    script = str(resources.files("torchdoctor.probes").joinpath(SCRIPT_NAME))
    return multi_node_instructions(python, options, nnodes, endpoint, script, "fleet.json")


def run_job(project_dir: Path, chosen: InterpreterInfo, options: FleetOptions) -> Snapshot:
    """Run the job on this machine and gather what each rank reported."""
    from torchdoctor.probes.collect import fleet_snapshot
    from torchdoctor.probes.fleet import run_fleet

    return fleet_snapshot(project_dir, chosen, run_fleet(chosen.path, options))
