"""`torchdoctor fleet`: run `fleet_script.py` in every rank of a torchrun job and read back what rank 0 gathered.

On one machine torchdoctor starts torchrun itself (`python -m torch.distributed.run` in the project's
interpreter, from an empty scratch folder holding only the script). For several machines it prints the command
to run on each (under srun, or by hand) and reads the results file afterwards: the script is one file of standard
library and torch, so it can be copied to nodes that have no torchdoctor.

A job can hang in many places (a rank stuck in `import torch`, a dead node, a collective that never completes):
the ranks meet in torchrun's key-value store with a deadline rather than in a collective, rank 0 writes its results
file after each phase, and torchdoctor stops the whole job once rank 0 is done or the time is up. What did not
report is a finding, not a hang.
"""

from __future__ import annotations

import json
import math
import shlex
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from torchdoctor.probes.reading import FileProblem, read_regular_file
from torchdoctor.probes.runner import StreamingCommand, marked_records, tail
from torchdoctor.redact import clean, clean_data, redact_variable
from torchdoctor.snapshot import CollectiveResult, FleetGemm, FleetGpu, FleetInfo, FleetRank

SCRIPT_NAME = "fleet_script.py"
STARTUP_ALLOWANCE_S = 90.0
"""`import torch` and CUDA initialisation in every rank at once, before the first deadline starts."""
DONE_GRACE_S = 5.0
"""How long the other ranks get to exit once rank 0 is done, before the job is stopped."""
RESULTS_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class FleetOptions:
    nproc_per_node: int
    timeout_s: float = 120.0
    gemm_seconds: float = 2.0
    max_bytes: int | None = None
    collective_seconds: float = 20.0

    def script_arguments(self, out: str) -> list[str]:
        arguments = ["--out", out, "--timeout", f"{self.timeout_s:g}", "--gemm-seconds", f"{self.gemm_seconds:g}",
                     "--collective-seconds", f"{self.collective_seconds:g}"]
        return arguments + (["--max-bytes", str(self.max_bytes)] if self.max_bytes is not None else [])

    def deadline_s(self) -> float:
        """The longest a healthy job can take: startup, three phases each waiting at most the timeout, the GEMM
        and the collectives' budget, and the grace for the other ranks."""
        return STARTUP_ALLOWANCE_S + 3 * self.timeout_s + self.gemm_seconds + 2 * self.collective_seconds + DONE_GRACE_S


def script_source() -> str:
    return resources.files("torchdoctor.probes").joinpath(SCRIPT_NAME).read_text(encoding="utf-8")


def torchrun_argv(python: str, options: FleetOptions, script: str, out: str, *, nnodes: int = 1,
                  endpoint: str | None = None) -> list[str]:
    """The torchrun command line: standalone on one machine, a c10d rendezvous at `endpoint` for several."""
    launcher = [python, "-m", "torch.distributed.run"]
    if nnodes == 1 and endpoint is None:
        launcher += ["--standalone"]
    else:
        launcher += [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint or 'HOST:29500'}",
                     "--rdzv-id=torchdoctor-fleet"]
    return [*launcher, f"--nproc-per-node={options.nproc_per_node}", "--max-restarts=0", script,
            *options.script_arguments(out)]


def multi_node_instructions(python: str, options: FleetOptions, nnodes: int, endpoint: str, script_copy: str,
                            out: str) -> str:
    """What to run on each node of a multi-node check (the same line everywhere), and how to read the results."""
    command = shlex.join(torchrun_argv(python, options, script_copy, out, nnodes=nnodes, endpoint=endpoint))
    return (
        f"The rank script is at {script_copy}: put it at that path on every node (it needs only Python and torch).\n"
        f"On each of the {nnodes} nodes (or once under `srun --nodes={nnodes} --ntasks-per-node=1`):\n\n"
        f"    {command}\n\n"
        f"Then, where {out} was written (by the node that got rank 0):\n\n"
        f"    torchdoctor fleet --results {shlex.quote(out)}\n"
    )


def run_fleet(python: str, options: FleetOptions, *, cancel: threading.Event | None = None,
              on_line: Callable[[str], None] | None = None) -> FleetInfo:
    """Run the job on this machine and return what rank 0 gathered (or why nothing was)."""
    with tempfile.TemporaryDirectory(prefix="torchdoctor-fleet-") as scratch:
        script = Path(scratch) / SCRIPT_NAME
        script.write_text(script_source(), encoding="utf-8")
        out = str(Path(scratch) / "fleet.json")
        argv = torchrun_argv(python, options, str(script), out)
        stop = threading.Event()

        def line_seen(line: str) -> None:
            if any(record.get("kind") == "fleet-done" for record in marked_records(line)):
                grace = threading.Timer(DONE_GRACE_S, stop.set)  # the others may still be tearing down, or hung
                grace.daemon = True
                grace.start()
            if on_line is not None:
                on_line(line)

        def cancelled_or_stopped() -> None:
            while not stop.wait(0.2):
                if cancel is not None and cancel.is_set():
                    stop.set()

        watcher = threading.Thread(target=cancelled_or_stopped, daemon=True)
        watcher.start()
        command = StreamingCommand(argv, on_line=line_seen, cwd=scratch, merge_stderr=True)
        result = command.wait(options.deadline_s(), cancel=stop)
        stop.set()
        shown = shlex.join(torchrun_argv(python, options, SCRIPT_NAME, "fleet.json"))
        try:
            fleet = read_results(out)
        except FleetResultsError as error:
            why = result.error or (f"the job did not finish in {options.deadline_s():.0f} s" if result.timed_out else
                                   f"torchrun exited with {result.returncode}")
            last = tail(clean(result.stdout), lines=15)
            return FleetInfo(world_size=0, command=shown, launcher_error=f"{why}; {error}" + (f"\n{last}" if last else ""))
        if not fleet.done and result.timed_out:
            fleet = replace(fleet, launcher_error=f"rank 0 did not finish in {options.deadline_s():.0f} s: the job was stopped")
        return replace(fleet, command=shown)


class FleetResultsError(ValueError):
    """A results file that cannot be used; the message fits on one line."""


def read_results(path: str) -> FleetInfo:
    """Read the file rank 0 wrote. What it says comes from the ranks' interpreters, so it is checked and cleaned
    like any input: a missing or mistyped field is dropped, not trusted."""
    try:
        text = read_regular_file(Path(path), RESULTS_LIMIT).decode("utf-8", "replace")
    except FileProblem as problem:
        raise FleetResultsError(f"{path}: {problem.error.message}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise FleetResultsError("the results file is not JSON") from None
    if not isinstance(data, dict) or data.get("kind") != "torchdoctor-fleet":
        raise FleetResultsError("not a torchdoctor fleet results file")
    try:
        return parse_results(data)
    except RecursionError:
        raise FleetResultsError("the results file nests its values hundreds of levels deep; torchdoctor does not read it") from None


def _int(value: Any) -> int | None:
    """An integer within what a float holds exactly: a rank file's 10**400 would overflow every rate computed from it."""
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53 else None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _rank_number(key: Any) -> int | None:
    return int(key) if isinstance(key, str) and key.isdigit() and len(key) < 8 else None


def _gpu(facts: dict, nvml: Any) -> FleetGpu | None:
    gpu = facts.get("gpu")
    if not isinstance(gpu, dict):
        return None
    nvml = nvml if isinstance(nvml, dict) else {}
    capability = gpu.get("capability")
    reasons = nvml.get("clock_event_reasons")

    def watts(key: str) -> float | None:
        value = _float(nvml.get(key))
        return value / 1000.0 if value is not None else None

    return FleetGpu(
        name=_str(gpu.get("name")),
        capability=(capability[0], capability[1]) if isinstance(capability, list) and len(capability) == 2
        and all(_int(c) is not None for c in capability) else None,
        memory=_int(gpu.get("memory")), uuid=_str(gpu.get("uuid")), pci_bus_id=_str(nvml.get("pci_bus_id")),
        numa_node=_int(facts.get("numa_node")), sm_clock_max_mhz=_int(nvml.get("sm_clock_max_mhz")),
        power_limit_w=watts("power_limit_mw"), power_default_limit_w=watts("power_default_limit_mw"),
        temperature_c=_int(nvml.get("temperature_c")), pcie_gen=_int(nvml.get("pcie_gen")),
        pcie_width=_int(nvml.get("pcie_width")), pcie_gen_max=_int(nvml.get("pcie_gen_max")),
        pcie_width_max=_int(nvml.get("pcie_width_max")), nvlink_active=_int(nvml.get("nvlink_active")),
        nvlink_version=_int(nvml.get("nvlink_version")),
        clock_event_reasons=tuple(r for r in reasons if isinstance(r, str)) if isinstance(reasons, list) else None,
        nvml_error=_str(nvml.get("error")) or _str(facts.get("nvml_error")),
    )


def _rank(number: int, facts: Any) -> FleetRank:
    facts = facts if isinstance(facts, dict) else {}
    environment = facts.get("environment")
    environment = {k: redact_variable(k, v) for k, v in environment.items() if isinstance(v, str)} \
        if isinstance(environment, dict) else {}
    p2p = facts.get("p2p")
    matrix = tuple(tuple(bool(v) for v in row) for row in p2p if isinstance(row, list)) if isinstance(p2p, list) else ()
    return FleetRank(
        rank=number, local_rank=_int(facts.get("local_rank")) or 0, node_rank=_int(facts.get("node_rank")) or 0,
        host=_str(facts.get("host")) or "", pid=_int(facts.get("pid")), python=_str(facts.get("python")),
        executable=_str(facts.get("executable")), torch=_str(facts.get("torch")), cuda=_str(facts.get("cuda")),
        nccl=_str(facts.get("nccl")), cudnn=_int(facts.get("cudnn")), driver=_str(facts.get("driver")),
        device=_str(facts.get("device")) or "cpu", cpu_affinity=_str(facts.get("cpu_affinity")),
        environment=environment, gpu=_gpu(facts, facts.get("nvml")), p2p=matrix, startup_s=_float(facts.get("startup_s")),
    )


def _gemm(number: int, result: Any) -> FleetGemm:
    result = result if isinstance(result, dict) else {}
    reasons = result.get("clock_event_reasons")
    processes = result.get("processes")
    return FleetGemm(
        rank=number, dtype=_str(result.get("dtype")) or "", n=_int(result.get("n")) or 0, tflops=_float(result.get("tflops")),
        sm_clock_median_mhz=_float(result.get("sm_clock_median_mhz")),
        clock_event_reasons={k: v for k, v in reasons.items() if isinstance(k, str) and _float(v) is not None}
        if isinstance(reasons, dict) else {},
        processes=tuple(p for p in processes if _int(p) is not None) if isinstance(processes, list) else None,
        error=_str(result.get("error")),
    )


def parse_results(data: dict) -> FleetInfo:
    """The results as a FleetInfo: every string cleaned (credentials, control characters), every field type-checked."""
    data = clean_data(data)
    def numbered(values: Any) -> list[tuple[int, Any]]:
        if not isinstance(values, dict):
            return []
        return sorted((n, v) for n, v in ((_rank_number(k), v) for k, v in values.items()) if n is not None)

    collectives = []
    listed = data.get("collectives")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and _str(entry.get("op")) and _int(entry.get("bytes")) and _float(entry.get("seconds")):
            collectives.append(CollectiveResult(op=entry["op"], bytes=entry["bytes"], seconds=float(entry["seconds"]),
                                                iterations=_int(entry.get("iterations")) or 0,
                                                size=_int(entry.get("size")) or entry["bytes"]))
    reported = data.get("errors")
    errors = tuple(f"rank {e.get('rank')} ({e.get('phase')}): {e.get('error')}"
                   for e in (reported if isinstance(reported, list) else [])[:1000] if isinstance(e, dict))
    missing = {str(n): phase for n, phase in numbered(data.get("missing")) if isinstance(phase, str)}
    return FleetInfo(
        world_size=_int(data.get("world_size")) or 0, backend=_str(data.get("backend")) or "",
        timeout_s=_float(data.get("timeout_s")) or 0.0,
        ranks=tuple(_rank(n, facts) for n, facts in numbered(data.get("ranks"))),
        gemm=tuple(_gemm(n, result) for n, result in numbered(data.get("gemm"))),
        collectives=tuple(collectives), missing=missing, errors=errors, done=data.get("done") is True,
    )


def copy_script(folder: Path) -> Path:
    """Write the rank script into `folder` (for a multi-node run, where every node needs it)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / SCRIPT_NAME
    target.write_text(script_source(), encoding="utf-8")
    return target

