"""TD7xx: the ranks of a multi-GPU or multi-node job against each other (`torchdoctor fleet`).

These rules read `snapshot.fleet`, which exists only after `torchdoctor fleet`. A job runs at the pace of its
slowest rank and fails with its weakest: the rules look for the odd one out (the rank with another build, driver
or variable, the GPU that computes slower than its twins, the rank that never answered) and for collectives
far below what the link between the GPUs carries. Bus bandwidth is computed as nccl-tests computes it
(PERFORMANCE.md of NVIDIA/nccl-tests): all-reduce moves 2(n-1)/n of the buffer over each rank's link, all-gather
(n-1)/n of the gathered buffer.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable, Iterator

from torchdoctor.checks.common import (
    SLOWDOWN_REASONS,
    geforce_peer_access,
    iommu_in_the_way,
    nccl_kept_off_pcie_p2p,
    peer_access_evidence,
    shm_too_small,
)
from torchdoctor.checks.registry import Finding, rule
from torchdoctor.collectives import LARGE_BYTES, bandwidths, expected_link
from torchdoctor.knowledge import knowledge
from torchdoctor.model import Evidence, Severity
from torchdoctor.snapshot import FleetGemm, FleetInfo, FleetRank, Snapshot

SLOW_GPU_BELOW = 0.85
"""A GPU whose GEMM rate is below this share of the median of the same model in the job is named. Two runs on
one idle H200 differ by under 2% (the single-GPU GEMM test's own spread); a GPU shared with another job, held at
its power cap or throttled falls far below this."""
REASON_SHARE = 0.1


def who(fleet: FleetInfo, number: int) -> str:
    rank = fleet.rank(number)
    if rank is None:
        return f"rank {number}"
    where = f"{rank.host}, node {rank.node_rank}" if rank.host else f"node {rank.node_rank}"
    return f"rank {number} ({where}, {rank.device})"


def ranks_text(numbers: list[int], most: int = 12) -> str:
    """"rank 3", "ranks 0-3, 7, 9-12": runs of consecutive ranks as ranges, at most `most` of them named, so that a job
    of thousands of ranks is one line, not thousands."""
    ordered = sorted(set(numbers))
    if len(ordered) <= 6:
        return ("rank " if len(ordered) == 1 else "ranks ") + ", ".join(str(n) for n in ordered)
    runs: list[tuple[int, int]] = []
    for number in ordered:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:most])
    rest = sum(b - a + 1 for a, b in runs[most:])
    return ("rank " if len(ordered) == 1 else "ranks ") + shown + (f" and {rest} more" if rest else "")


def fleet_source(fleet: FleetInfo) -> str:
    return f"torchdoctor fleet: {fleet.world_size} rank(s), {fleet.backend or 'no backend'}"


def odd_ones(fleet: FleetInfo, value: Callable[[FleetRank], object]) -> list[tuple[object, list[int]]] | None:
    """The ranks grouped by a value, most common first; None when every rank has the same value."""
    groups: dict[object, list[int]] = {}
    for rank in fleet.ranks:
        groups.setdefault(value(rank), []).append(rank.rank)
    if len(groups) < 2:
        return None
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[1]))


def _differences(fleet: FleetInfo, facts: list[tuple[str, Callable[[FleetRank], object]]]) -> Iterator[tuple[str, list]]:
    for name, value in facts:
        groups = odd_ones(fleet, value)
        if groups:
            yield name, groups


def _difference_findings(fleet: FleetInfo, facts: list[tuple[str, Callable[[FleetRank], object]]],
                         why: str) -> Iterator[Finding]:
    """A warning for each fact whose value differs between the ranks, naming the odd ones."""
    for name, groups in _differences(fleet, facts):
        message, evidence = _describe(name, groups)
        yield Finding(Severity.WARNING, message, why, evidence)


def _describe(name: str, groups: list) -> tuple[str, tuple[Evidence, ...]]:
    (common, majority), *others = groups
    odd = "; ".join(f"{ranks_text(numbers)}: {shown(value)}" for value, numbers in others)
    message = f"{name} differs between ranks: {odd}, where {ranks_text(majority)} have {shown(common)}"
    evidence = tuple(Evidence(f"{name} on {ranks_text(numbers)}", shown(value), "each rank's own report")
                     for value, numbers in groups)
    return message, evidence


def shown(value: object) -> str:
    return "not set" if value is None else str(value)


@rule("TD700", "fleet-job-failed")
def fleet_job_failed(snapshot: Snapshot) -> Iterator[Finding]:
    """The fleet job produced no results, or rank 0 did not finish.

    What it detects:
        torchrun could not start the ranks, every rank failed before rank 0 wrote anything, or the job was still
        running at its deadline and was stopped.
    Why it matters:
        A job launched the same way (same interpreter, same torchrun, same variables) fails the same way; the
        last lines of the job's output say where.
    Fix safety:
        The cause is in the job's output.
    """
    fleet = snapshot.fleet
    if fleet is None or fleet.launcher_error is None:
        return
    first, *rest = fleet.launcher_error.splitlines() or [""]
    evidence = [Evidence("the job", first, fleet.command or "torchrun")]
    if rest:
        evidence.append(Evidence("its last lines", "\n".join(rest[-10:]), "torchrun's output"))
    yield Finding(
        Severity.ERROR if not fleet.ranks else Severity.WARNING,
        f"The fleet job did not finish: {first}",
        "Without every rank's results the comparison is incomplete. A job launched the same way fails the same way:"
        " the job's last lines say where (a missing torch, a rank that crashed, a rendezvous that never completed).",
        tuple(evidence),
    )


@rule("TD701", "rank-did-not-report")
def rank_did_not_report(snapshot: Snapshot) -> Iterator[Finding]:
    """A rank did not report within the timeout.

    What it detects:
        A rank whose facts, GEMM result or collective timings were not in torchrun's store when the phase's
        timeout ended (the ranks meet in the store, not in a collective, so the others do not hang with it).
    Why it matters:
        A rank that hangs or dies in a short test hangs or dies in training, and every other rank then waits in
        its first collective until NCCL's timeout (10 minutes by default) kills the job.
    Fix safety:
        Look at that rank's node (its output above, `dmesg` for Xid errors, `nvidia-smi`).
    """
    fleet = snapshot.fleet
    if fleet is None or not fleet.missing:
        return
    phases = {"facts": "its facts (it hung or died before it could report: in `import torch`, CUDA initialisation "
                        "or NVML)", "gemm": "its GEMM test", "collectives": "its collectives"}
    by_phase: dict[str, list[int]] = {}
    for number, phase in fleet.missing.items():
        by_phase.setdefault(phase, []).append(int(number))
    for phase, numbers in sorted(by_phase.items(), key=lambda item: min(item[1])):
        numbers.sort()
        what = phases.get(phase, phase)
        evidence = (Evidence("missing from phase", phase, fleet_source(fleet)),
                    Evidence("timeout", f"{fleet.timeout_s:g} s", "torchdoctor fleet --timeout"))
        if len(numbers) > 3:  # one finding for many: a results file naming a million missing ranks stays one line
            yield Finding(
                Severity.ERROR,
                f"{len(numbers)} ranks did not report {what.split(' (')[0]} within {fleet.timeout_s:g} s: {ranks_text(numbers)}",
                f"They did not report {what}. The other ranks went on without them; in a training job they would wait "
                "for them in their first collective until the timeout killed the job.",
                evidence,
            )
            continue
        for rank in numbers:
            yield Finding(
                Severity.ERROR,
                f"{who(fleet, rank)} did not report {what.split(' (')[0]} within {fleet.timeout_s:g} s",
                f"It did not report {what}. The other ranks went on without it; in a training job"
                " they would wait for it in their first collective until the timeout killed the job.",
                evidence,
            )


@rule("TD702", "ranks-differ-in-software")
def ranks_differ_in_software(snapshot: Snapshot) -> Iterator[Finding]:
    """The ranks run different builds: torch, CUDA, NCCL, cuDNN or Python.

    What it detects:
        Any of these versions differing between the ranks of one job (usually one node with another image or
        environment).
    Why it matters:
        Different NCCL versions can disagree on protocols and hang or fail in a collective; different torch or
        CUDA builds compute differently and can fail to exchange objects; at best the job behaves unlike its
        tests on the odd node.
    Fix safety:
        Install the same environment on every node (the same uv.lock, `uv sync --frozen`).
    """
    fleet = snapshot.fleet
    if fleet is None or len(fleet.ranks) < 2:
        return
    facts = [("torch", lambda r: r.torch), ("CUDA (torch's)", lambda r: r.cuda), ("NCCL", lambda r: r.nccl),
             ("cuDNN", lambda r: r.cudnn), ("Python", lambda r: r.python)]
    yield from _difference_findings(fleet, facts, "A job should run one build everywhere: NCCL versions that differ can"
                                    " disagree in a collective and hang, and a rank with another torch or CUDA computes"
                                    " and fails unlike the others.")


@rule("TD703", "ranks-differ-in-hardware")
def ranks_differ_in_hardware(snapshot: Snapshot) -> Iterator[Finding]:
    """The ranks' GPUs or drivers differ, or a GPU's PCIe link is narrower than it can be.

    What it detects:
        The driver, GPU model, power limit or maximum SM clock differing between ranks; a GPU whose PCIe link
        trained below its maximum width.
    Why it matters:
        A synchronous job runs at the pace of its slowest GPU: one with a lower power limit or clock, another
        model, or a link at x8 slows every step; another driver behaves differently under load.
    Fix safety:
        The power limit is set with `nvidia-smi -pl` (root), a narrow link is a seating or riser
        problem, a driver is the node's image.
    """
    fleet = snapshot.fleet
    if fleet is None:
        return
    gpus = [r for r in fleet.ranks if r.gpu is not None]
    if len(gpus) >= 2:
        facts = [("driver", lambda r: r.driver), ("GPU model", lambda r: r.gpu.name if r.gpu else None),
                 ("power limit (W)", lambda r: round(r.gpu.power_limit_w) if r.gpu and r.gpu.power_limit_w else None),
                 ("maximum SM clock (MHz)", lambda r: r.gpu.sm_clock_max_mhz if r.gpu else None)]
        only_gpus = FleetInfo(world_size=fleet.world_size, ranks=tuple(gpus))
        yield from _difference_findings(only_gpus, facts, "A synchronous job waits for its slowest rank at every step: a"
                                        " GPU with a lower power limit or clock, or another model, sets the pace for all;"
                                        " another driver behaves differently.")
    for rank in gpus:
        gpu = rank.gpu
        if gpu and gpu.pcie_width and gpu.pcie_width_max and gpu.pcie_width < gpu.pcie_width_max:
            yield Finding(
                Severity.WARNING,
                f"The PCIe link of {who(fleet, rank.rank)} runs at x{gpu.pcie_width} of its x{gpu.pcie_width_max}",
                "A link that trained narrower than it can carries a fraction of the data: host copies and, without"
                " NVLink, every collective slow down. It is a seating, riser or BIOS problem of that slot.",
                (Evidence("PCIe width", f"x{gpu.pcie_width} now, x{gpu.pcie_width_max} at most",
                          f"NVML on rank {rank.rank}"),),
            )


@rule("TD704", "ranks-differ-in-environment")
def ranks_differ_in_environment(snapshot: Snapshot) -> Iterator[Finding]:
    """An NCCL, CUDA or torch-distributed variable differs between ranks.

    What it detects:
        A variable among NCCL_*, TORCH_NCCL_*, CUDA_*, GLOO_*, UCX_*, FI_*, OMP_NUM_THREADS, LD_LIBRARY_PATH and
        LD_PRELOAD that is set differently, or set on some ranks only.
    Why it matters:
        NCCL expects one configuration across a job: a rank with NCCL_P2P_DISABLE, NCCL_PROTO or NCCL_ALGO
        of its own can choose another path than its peers, run slower or hang; another LD_LIBRARY_PATH loads other
        CUDA libraries on that node.
    Fix safety:
        Set the variable the same way for every rank (the job script, not a node's profile).
    """
    fleet = snapshot.fleet
    if fleet is None or len(fleet.ranks) < 2:
        return
    names = sorted({name for rank in fleet.ranks for name in rank.environment})
    for name in names:
        groups = odd_ones(fleet, functools.partial(_variable, name=name))
        if not groups:
            continue
        message, evidence = _describe(name, groups)
        nccl = name.startswith(("NCCL_", "TORCH_NCCL_"))
        yield Finding(Severity.WARNING if nccl else Severity.INFO, message,
                      "NCCL expects one configuration across the job: a rank that chooses another transport, protocol"
                      " or algorithm can run slower than its peers or hang with them." if nccl else
                      "The ranks run with different settings; the odd one may load other libraries or use other"
                      " threads than its peers.",
                      evidence)


def _variable(rank: FleetRank, name: str) -> str | None:
    return rank.environment.get(name)


@rule("TD705", "slow-gpu")
def slow_gpu(snapshot: Snapshot) -> Iterator[Finding]:
    """A GPU computes slower than the others of its model in the same job.

    What it detects:
        The GEMM test, run on every rank at once, giving one GPU less than 85% of the median rate of the GPUs
        of the same model; the cause named from what NVML saw during the test: other processes on that GPU,
        clock-event reasons (power cap, thermal slowdown), a lower clock or power limit than its twins.
    Why it matters:
        Every step of a synchronous job waits for the slowest rank: one GPU at 60% makes the whole job run at
        60%.
    Fix safety:
        Stop what else runs on that GPU, or look at its cooling and power limit.
    """
    fleet = snapshot.fleet
    if fleet is None:
        return
    by_model: dict[str, list[tuple[FleetRank, FleetGemm]]] = {}
    for result in fleet.gemm:
        rank = fleet.rank(result.rank)
        if rank is not None and rank.gpu is not None and result.tflops:
            by_model.setdefault(f"{rank.gpu.name}/{result.dtype}", []).append((rank, result))
    for ranks in by_model.values():
        if len(ranks) < 2:
            continue
        for rank, result in ranks:
            others = [other for other in ranks if other[0].rank != rank.rank]
            median = statistics.median(other.tflops for _, other in others if other.tflops)
            if not result.tflops or result.tflops >= SLOW_GPU_BELOW * median:
                continue
            causes, evidence = _slow_causes(rank, result, others)
            evidence.insert(0, Evidence(f"{result.dtype} GEMM (n={result.n})",
                                        f"{result.tflops:.1f} TFLOP/s, the others' median {median:.1f}",
                                        fleet_source(fleet)))
            because = "; ".join(causes) if causes else "NVML saw no cause (no other process, no clock-event reason)"
            yield Finding(
                Severity.WARNING,
                f"{who(fleet, rank.rank)} computes at {result.tflops / median:.0%} of its twins: {because}",
                "All ranks ran the same matrix product at the same time. A synchronous job waits for the slowest rank"
                " at every step, so this GPU sets the pace of the whole job.",
                tuple(evidence),
            )


def _slow_causes(rank: FleetRank, result: FleetGemm, others: list[tuple[FleetRank, FleetGemm]]) -> tuple[list[str], list[Evidence]]:
    causes: list[str] = []
    evidence: list[Evidence] = []
    source = f"NVML on rank {rank.rank}, sampled during the GEMM test"
    if result.processes is not None:
        strangers = [pid for pid in result.processes if pid != rank.pid]
        typical = statistics.median(len([p for p in g.processes or () if p != r.pid]) for r, g in others) if others else 0
        if len(strangers) > typical:
            causes.append(f"{len(strangers) - int(typical)} other process(es) compute on its GPU")
            evidence.append(Evidence("processes on its GPU", ", ".join(str(p) for p in result.processes), source))
    for reason, share in sorted(result.clock_event_reasons.items(), key=lambda item: -item[1]):
        usual = statistics.median(g.clock_event_reasons.get(reason, 0.0) for _, g in others) if others else 0.0
        if reason in SLOWDOWN_REASONS and share >= usual + REASON_SHARE:  # a reason its twins share explains nothing
            causes.append(f"{SLOWDOWN_REASONS[reason].split(' (')[0]} {share:.0%} of the time (the others {usual:.0%})")
            evidence.append(Evidence(f"clock-event reason {reason}", f"{share:.0%} of the samples", source))
    clocks = [g.sm_clock_median_mhz for _, g in others if g.sm_clock_median_mhz]
    if result.sm_clock_median_mhz and clocks and result.sm_clock_median_mhz < 0.95 * statistics.median(clocks):
        causes.append(f"its SM clock ran at {result.sm_clock_median_mhz:.0f} MHz against {statistics.median(clocks):.0f}")
        evidence.append(Evidence("SM clock, median", f"{result.sm_clock_median_mhz:.0f} MHz", source))
    limits = [r.gpu.power_limit_w for r, _ in others if r.gpu and r.gpu.power_limit_w]
    if rank.gpu and rank.gpu.power_limit_w and limits and rank.gpu.power_limit_w < 0.95 * statistics.median(limits):
        causes.append(f"its power limit is {rank.gpu.power_limit_w:.0f} W against {statistics.median(limits):.0f} W")
        evidence.append(Evidence("power limit", f"{rank.gpu.power_limit_w:.0f} W", source))
    return causes, evidence


@rule("TD706", "collective-failed")
def collective_failed(snapshot: Snapshot) -> Iterator[Finding]:
    """A collective raised an error.

    What it detects:
        All-reduce or all-gather raising on a rank (a timeout, a connection reset, an NCCL error), after every
        rank had reported its facts and GEMM result.
    Why it matters:
        The training job uses the same collectives over the same network: it fails the same way.
    Fix safety:
        The error names the cause (NCCL_DEBUG=INFO shows more).
    """
    fleet = snapshot.fleet
    if fleet is None or not fleet.errors:
        return
    causes, evidence = substrate_causes(snapshot)
    yield Finding(
        Severity.ERROR,
        f"A collective failed: {fleet.errors[0]}",
        "The ranks were all alive, yet a collective between them raised: the training job's collectives fail the"
        " same way. Run the job again with NCCL_DEBUG=INFO to see which transport NCCL chose and where it stopped."
        + causes,
        tuple(Evidence("error", error, fleet_source(fleet)) for error in fleet.errors[:8]) + evidence,
    )


IOMMU_CAUSE = (" This machine's IOMMU translates the traffic between its GPUs (no iommu=pt), a known cause of NCCL hangs"
               " and failures between GPUs of one node (TD528): NCCL_P2P_DISABLE=1 tells.")
SHM_CAUSE = (" /dev/shm here is under NCCL's 1 GiB or not writable, where NCCL keeps its buffers between processes of one"
             " node (\"unhandled system error\"; TD523): --ipc=host or --shm-size cures it.")
GEFORCE_CAUSE = (" The driver reports peer access over PCIe between these GeForce GPUs, which they do not support: NCCL"
                 " hangs or copies zeros (TD529); NCCL_P2P_DISABLE=1 tells.")


def substrate_causes(snapshot: Snapshot) -> tuple[str, tuple[Evidence, ...]]:
    """What the machine's facts show under a failed or slow collective: the IOMMU, a small /dev/shm, peer access
    reported between GeForce cards; each sentence with its evidence, empty when none shows."""
    iommu, shm = iommu_in_the_way(snapshot), shm_too_small(snapshot)
    geforce = geforce_peer_access(snapshot) if not nccl_kept_off_pcie_p2p(snapshot) else ()
    text = (IOMMU_CAUSE if iommu else "") + (SHM_CAUSE if shm else "") + (GEFORCE_CAUSE if geforce else "")
    evidence = iommu + shm + (peer_access_evidence(snapshot) if geforce and not iommu else ())
    return text, evidence


@rule("TD707", "slow-collective")
def slow_collective(snapshot: Snapshot) -> Iterator[Finding]:
    """All-reduce on one node reaches far less bus bandwidth than the link between its GPUs carries.

    What it detects:
        On a single node with NCCL, the bus bandwidth of all-reduce at 64 MB or more (computed as nccl-tests
        does) below 40% of the slowest GPU's link: its active NVLink links times the per-link rate of its
        architecture, else its PCIe generation and width (knowledge/gpus.toml).
    Why it matters:
        Data-parallel training all-reduces its gradients every step: at a fraction of the link, communication
        dominates. Common causes: peer-to-peer disabled (NCCL_P2P_DISABLE, IOMMU/ACS in a VM), NCCL falling back
        to shared memory or sockets, a GPU on the other CPU socket.
    Fix safety:
        NCCL_DEBUG=INFO shows the transport NCCL chose ("via P2P/IPC", "via SHM", "via NET").
    """
    fleet = snapshot.fleet
    if fleet is None:
        return
    link = expected_link(fleet)
    large = [r for r in fleet.collectives if r.op == "all_reduce" and (r.size or r.bytes) >= LARGE_BYTES and r.seconds > 0]
    if link is None or not large:
        return
    best = max(large, key=lambda r: bandwidths(r, fleet.world_size)[1])
    bus = bandwidths(best, fleet.world_size)[1]
    slow_below = knowledge().nvlink_slow_below
    if bus >= slow_below * link[0]:
        return
    yield Finding(
        Severity.WARNING,
        f"all-reduce reaches {bus:.0f} GB/s bus bandwidth, {bus / link[0]:.0%} of the {link[0]:.0f} GB/s link between"
        " the GPUs",
        "Data-parallel training all-reduces every step; at this rate communication dominates. On one node NCCL"
        " should reach most of the link (nccl-tests' published runs: 70-90%). Check NCCL_P2P_DISABLE, the P2P"
        " matrix, and the transport NCCL_DEBUG=INFO names." + (causes := substrate_causes(snapshot))[0],
        (Evidence(f"all_reduce {(best.size or best.bytes) >> 20} MB", f"{bus:.1f} GB/s bus bandwidth ({best.iterations} calls)",
                  fleet_source(fleet)),
         Evidence("link", link[1], f"NVML on every rank; {knowledge().nvlink_source}")) + causes[1],
    )


@rule("TD708", "p2p-unavailable")
def p2p_unavailable(snapshot: Snapshot) -> Iterator[Finding]:
    """GPUs of one node cannot access each other's memory directly.

    What it detects:
        `torch.cuda.can_device_access_peer` answering False for a pair of GPUs of the same node.
    Why it matters:
        Without peer access NCCL copies through host memory between those GPUs: collectives slow down, often to
        a fraction. In a VM or container the cause is usually the IOMMU or PCIe ACS settings; on consumer cards
        the driver may not offer P2P at all.
    Fix safety:
        A host setting (IOMMU passthrough, ACS off) or a property of the GPU model.
    """
    fleet = snapshot.fleet
    if fleet is None:
        return
    for rank in fleet.ranks:
        pairs = [(i, j) for i, row in enumerate(rank.p2p) for j, ok in enumerate(row) if i != j and not ok]
        if pairs:
            shown_pairs = ", ".join(f"{i}→{j}" for i, j in pairs[:12])
            iommu = iommu_in_the_way(snapshot)
            yield Finding(
                Severity.WARNING,
                f"On node {rank.node_rank} ({rank.host}), {len(pairs)} GPU pair(s) have no peer access: {shown_pairs}",
                "Without peer access NCCL copies through host memory between these GPUs, and collectives slow down."
                " In a VM or container the IOMMU or PCIe ACS settings are the usual cause." + (IOMMU_CAUSE if iommu else ""),
                (Evidence("peer access matrix", "\n".join(" ".join("1" if ok else "0" for ok in row) for row in rank.p2p),
                          f"torch.cuda.can_device_access_peer on rank {rank.rank}"),) + iommu,
            )


@rule("TD709", "ranks-share-a-gpu")
def ranks_share_a_gpu(snapshot: Snapshot) -> Iterator[Finding]:
    """Two or more ranks run on the same GPU.

    What it detects:
        Ranks on one host whose GPUs have the same UUID: more ranks per node than GPUs, or a CUDA_VISIBLE_DEVICES
        that leaves each rank the same device.
    Why it matters:
        NCCL refuses a communicator with two ranks on one GPU (an "invalid usage" error, seen on an H200 with NCCL
        2.28), and before that the ranks halve each other's compute.
    Fix safety:
        Start one rank per GPU (`--nproc-per-node` at most the GPU count) and let each rank use
        `cuda:LOCAL_RANK`.
    """
    fleet = snapshot.fleet
    if fleet is None:
        return
    by_gpu: dict[tuple[str, str], list[int]] = {}
    for rank in fleet.ranks:
        if rank.gpu is not None and rank.gpu.uuid:
            by_gpu.setdefault((rank.host, rank.gpu.uuid), []).append(rank.rank)
    for (host, uuid), numbers in sorted(by_gpu.items()):
        if len(numbers) > 1:
            yield Finding(
                Severity.ERROR,
                f"{ranks_text(numbers).capitalize()} share one GPU on {host or 'one node'}",
                "NCCL refuses two ranks on one GPU (\"invalid usage\"), and before it does they halve each other's"
                " compute. Start one rank per GPU: --nproc-per-node at most the node's GPU count, each rank on"
                " cuda:LOCAL_RANK.",
                (Evidence("GPU UUID", f"GPU-{uuid} on {ranks_text(numbers)}", "torch.cuda.get_device_properties in each rank"),),
            )


@rule("TD710", "gpu-shared-with-another-process")
def gpu_shared_with_another_process(snapshot: Snapshot) -> Iterator[Finding]:
    """A rank's GPU was computing for a process outside the job while the fleet test ran.

    What it detects:
        The processes NVML saw computing on a rank's GPU during its GEMM test, less the job's own ranks. With several
        ranks TD705 compares them; this says it even for one rank, where there is nobody to compare with (a one-rank
        fleet on a GPU another process used said "healthy" at 308 against 672 TFLOP/s idle).
    Why it matters:
        The GPU's time is shared: the job's GEMMs and collectives run at a fraction of the GPU's rate, and its memory
        is shared too. A warning; `nvidia-smi` names the process.
    Fix safety:
        Which process may use the GPU is the owner's to decide; the command that lists them is shown.
    """
    fleet = snapshot.fleet
    if fleet is None:
        return
    ours = {rank.pid for rank in fleet.ranks if rank.pid is not None}
    by_rank = {rank.rank: rank for rank in fleet.ranks}
    counts = {g.rank: len([p for p in g.processes or () if p not in ours]) for g in fleet.gemm if g.processes is not None}
    for result in fleet.gemm:
        rank = by_rank.get(result.rank)
        strangers = [pid for pid in result.processes or () if pid not in ours]
        if rank is None or not strangers or not ours & set(result.processes or ()):
            continue  # none of the job's own pids in NVML's list: another PID namespace (a container), nothing to tell
        others = [n for r, n in counts.items() if r != result.rank]
        if others and len(strangers) > statistics.median(others):
            continue  # its twins ran alone: TD705 compares them and names this cause
        model = knowledge().gpu_model(rank.gpu.name if rank.gpu else None)
        expected = (model.measured or {}).get(result.dtype) if model is not None else None
        rate = (f"; its {result.dtype} GEMM reached {result.tflops:.0f} TFLOP/s" if result.tflops else "") + (
            f", {result.tflops / expected:.0%} of the {expected:.0f} this model reaches" if result.tflops and expected else "")
        yield Finding(
            Severity.WARNING,
            f"rank {rank.rank}'s GPU ({rank.gpu.name if rank.gpu else rank.device}) was also computing for another "
            f"process (pid {', '.join(str(p) for p in strangers)}){rate}",
            "A process outside the job ran on the same GPU during the test, so the job got only part of the GPU's time "
            "and memory: its training would run as slowly. End or move that process, or give the job another GPU.",
            (Evidence("processes on its GPU", ", ".join(str(p) for p in result.processes or ()),
                      f"NVML on rank {rank.rank}, sampled during the GEMM test"),
             Evidence("the job's ranks", ", ".join(f"pid {p}" for p in sorted(ours)), fleet_source(fleet))),
        )
