"""What a multi-GPU job's measurements mean, as facts: bus bandwidth as nccl-tests computes it, and the link each
rank's GPU reaches its peers on (NVML's NVLink and PCIe facts against knowledge/gpus.toml).

Both the TD7xx rules, which judge them, and the fleet reports, which show them, read these; neither computes them
itself. Bus bandwidth follows PERFORMANCE.md of NVIDIA/nccl-tests: all-reduce moves 2(n-1)/n of the buffer over each
rank's link, all-gather (n-1)/n of the gathered buffer.
"""

from __future__ import annotations

from torchdoctor.knowledge import knowledge
from torchdoctor.plans import CollectiveRate
from torchdoctor.snapshot import CollectiveResult, FleetInfo, FleetRank

LARGE_BYTES = 64 << 20
"""Bus bandwidth is judged at this size or more, where the link and not the latency decides."""


def bus_factor(op: str, world: int) -> float:
    """nccl-tests' factor from algorithm bandwidth (bytes / time) to bus bandwidth."""
    if world <= 1:
        return 0.0
    return 2 * (world - 1) / world if op == "all_reduce" else (world - 1) / world


def collective_rates(fleet: FleetInfo | None) -> tuple[CollectiveRate, ...]:
    """Each collective with the bandwidths nccl-tests prints; one timed at 0 s or moving nothing has no rate."""
    if fleet is None:
        return ()
    rates = []
    for result in fleet.collectives:
        if result.seconds <= 0 or result.bytes <= 0:
            continue
        algorithm, bus = bandwidths(result, fleet.world_size)
        rates.append(CollectiveRate(result.op, result.bytes, result.seconds, result.iterations, algorithm, bus))
    return tuple(rates)


def bandwidths(result: CollectiveResult, world: int) -> tuple[float, float]:
    """(algorithm, bus) bandwidth in GB/s."""
    algorithm = result.bytes / result.seconds / 1e9
    return algorithm, algorithm * bus_factor(result.op, world)


def link_rate(rank: FleetRank) -> tuple[float, str] | None:
    """(GB/s in one direction, description) of the link a rank's GPU reaches its peers on, from NVML's facts."""
    gpu = rank.gpu
    if gpu is None:
        return None
    facts = knowledge()
    nvlink = facts.nvlink_gb_per_s(gpu.capability[0] if gpu.capability else None, gpu.nvlink_active)
    if nvlink is not None:
        return nvlink, f"{gpu.nvlink_active} NVLink link(s), {nvlink:.0f} GB/s per direction"
    pcie = facts.pcie_link_gb_per_s(gpu.pcie_gen_max, gpu.pcie_width_max)
    if pcie is not None:
        return pcie, f"PCIe gen {gpu.pcie_gen_max} x{gpu.pcie_width_max}, {pcie:.0f} GB/s per direction"
    return None


def expected_link(fleet: FleetInfo) -> tuple[float, str] | None:
    """The slowest rank's link, when the job is on one node (between nodes the network decides, which NVML does
    not describe) and every rank's link is known."""
    if fleet.backend != "nccl" or len({r.host for r in fleet.ranks}) != 1 or len(fleet.ranks) < 2:
        return None
    rates = [link_rate(rank) for rank in fleet.ranks]
    known = [rate for rate in rates if rate is not None]
    if len(known) < len(rates):
        return None
    return min(known, key=lambda rate: rate[0])
