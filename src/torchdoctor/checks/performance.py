"""TD6xx: does the GPU deliver the speed it should, and compute the right numbers? (the GEMM test)

These rules read `snapshot.bench`, which exists only when the GEMM test ran (`torchdoctor bench`,
`check --bench`, or the TUI's key). Rates are compared with what cuBLAS reaches on the same model in a
careful measurement (knowledge/gpus.toml), not with the datasheet peak, which no library reaches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from torchdoctor.checks.common import SLOWDOWN_REASONS
from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.knowledge import GpuModel, knowledge
from torchdoctor.model import Applicability, Evidence, Fix, GemmAssessment, GemmRate, Severity
from torchdoctor.snapshot import BenchInfo, GemmResult, GpuActivity, NvmlGpu, Snapshot

NVML_DURING = "NVML, sampled every 20 ms during the GEMM test"
REASON_SHARE = 0.1  # a reason seen in at least this share of samples counts as a cause
DTYPE_ORDER = ["bf16", "fp16", "tf32", "fp32"]


def bench_source(snapshot: Snapshot) -> str:
    return f"GEMM test in {snapshot.interpreter.path}"


def tested_gpu(snapshot: Snapshot) -> NvmlGpu | None:
    bench = snapshot.bench
    if bench is None or bench.nvml_index is None:
        return None
    return next((g for g in snapshot.nvml.gpus if g.index == bench.nvml_index), None)


def tested_model(snapshot: Snapshot) -> GpuModel | None:
    """The knowledge base's model of the GPU the GEMM test ran on (by PCI id, then name); None on a CPU."""
    bench = snapshot.bench
    if bench is None or bench.device_type != "cuda":
        return None
    gpu = tested_gpu(snapshot)
    return knowledge().gpu_model(bench.device_name, gpu.pci_device_id if gpu else None)


def assess_gemm(snapshot: Snapshot) -> GemmAssessment | None:
    """Each dtype's rate against what its GPU model reaches, and the verdicts of TD601 and TD602 on it: decided here,
    once, so that the report's lines, the TUI's bars and the findings never disagree."""
    bench = snapshot.bench
    if bench is None:
        return None
    facts = knowledge()
    model = tested_model(snapshot)
    rates = []
    for result in in_dtype_order(bench.gemm):
        rate = delivered(result)
        expectation = facts.gemm_expectation(model, result.dtype) if model else None
        rates.append(GemmRate(
            result, rate,
            expected=expectation.expected if expectation else None,
            expected_basis=expectation.basis if expectation else "",
            peak=expectation.peak if expectation else None,
            slow=bool(expectation and rate is not None and rate < facts.gemm_slow_below * expectation.expected),
            accuracy="wrong" if computed_wrong(bench, result) else "tf32" if beyond_rounding(result) else "ok",
        ))
    return GemmAssessment(model.name if model else None, tuple(rates), facts.gpus_as_of)


def beyond_rounding(result: GemmResult) -> bool:
    """An error above what the dtype's rounding allows, or NaN/Inf, in a product that ran."""
    return bool(result.skipped is None and result.calls and (not result.finite or (
        result.relative_error is not None and result.error_limit is not None and result.relative_error > result.error_limit)))


def computed_wrong(bench: BenchInfo, result: GemmResult) -> bool:
    """Beyond rounding; fp32 under NVIDIA_TF32_OVERRIDE=1 is TD605's (computed as TF32), not wrong."""
    return beyond_rounding(result) and not (result.dtype == "fp32" and bench.tf32_override == "1" and result.finite)


def in_dtype_order(results: Iterable[GemmResult]) -> list[GemmResult]:
    """bf16, fp16, tf32, fp32: the order people read them in, whatever order the test ran them."""
    return sorted(results, key=lambda r: DTYPE_ORDER.index(r.dtype) if r.dtype in DTYPE_ORDER else len(DTYPE_ORDER))


def rate_text(result: GemmResult) -> str:
    text = f"{result.tflops:.1f} TFLOP/s median per product"
    if result.tflops_sustained is not None:
        text += f", {result.tflops_sustained:.1f} sustained over the window"
    return text + f" (n={result.n})"


def delivered(result: GemmResult) -> float | None:
    """What the user got: the lower of the median per product and the sustained rate."""
    if result.tflops is None:
        return None
    return min(result.tflops, result.tflops_sustained or result.tflops)


@rule("TD600", "gemm-test-failed")
def gemm_test_failed(snapshot: Snapshot) -> Iterator[Finding]:
    """The GEMM test did not finish.

    What it detects:
        The test process raised (out of memory, "no kernel image is available", a CUDA error), crashed,
        or did not finish within its time.
    Why it matters:
        A GPU that cannot run a matrix multiply cannot train or infer either; the error is the one a
        real workload would hit, and the other findings usually say why.
    Fix safety:
        The cause is in the other findings or in the error text shown.
    """
    bench = snapshot.bench
    if bench is None or bench.status in ("ok", "cancelled"):
        return
    evidence = [Evidence("test status", f"{bench.status}: {bench.error}", bench_source(snapshot))]
    if bench.stderr_tail:
        evidence.append(Evidence("last error output", bench.stderr_tail.splitlines()[-1], bench_source(snapshot)))
    why = "The GEMM test stopped before measuring every dtype, so the GPU's speed is unknown."
    error = bench.error or ""
    if "out of memory" in error.lower():
        why += (
            " CUDA ran out of memory although the test asks for at most half of the free memory:"
            " another process probably took the GPU's memory while it ran."
        )
    elif "no kernel image" in error.lower():
        why += " The torch build has no kernel for this GPU's architecture; see the TD220 finding."
    yield Finding(Severity.WARNING, f"The GEMM test did not finish: {bench.error}", why, tuple(evidence))


@rule("TD601", "gemm-wrong-results", fix=DISPLAY_ONLY)
def gemm_wrong_results(snapshot: Snapshot) -> Iterator[Finding]:
    """The GPU computed a matrix product wrong.

    What it detects:
        A slice of a timed product, compared with the float64 product of the same inputs, has a
        relative error above what the dtype's rounding allows (bf16/fp16 1e-2, TF32 2e-3, fp32 1e-4),
        or contains NaN/Inf.
    Why it matters:
        Wrong numbers are worse than slow ones: training diverges or silently degrades. The cause is a
        faulty GPU (memory errors, an unstable overclock), a broken driver/library, or a setting that
        changes the arithmetic.
    Fix safety:
        Commands that show ECC errors and reset clocks; nothing is changed for you.
    """
    bench = snapshot.bench
    if bench is None:
        return
    wrong = [r for r in bench.gemm if computed_wrong(bench, r)]
    if not wrong:
        return
    evidence = tuple(
        Evidence(
            f"{r.dtype} relative error (n={r.n})",
            "not finite (NaN or Inf)" if not r.finite else f"{r.relative_error:.2e}, limit {r.error_limit:.0e}",
            bench_source(snapshot),
        )
        for r in wrong
    )
    names = ", ".join(r.dtype for r in wrong)
    device = "CPU" if bench.device_type == "cpu" else (bench.device_name or "GPU")
    yield Finding(
        Severity.ERROR,
        f"The {device} computed wrong {names} matrix products",
        "The product of random matrices differs from the exact (float64) product of the same inputs by more"
        " than the dtype's rounding explains. Suspect the hardware first (ECC or memory errors, an"
        " overclock or undervolt), then the driver and the torch build.",
        evidence,
        Fix(
            "Look for memory errors and undo overclocking, then run `torchdoctor bench` again",
            Applicability.DISPLAY_ONLY,
            commands=("nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER", "sudo nvidia-smi --reset-gpu-clocks"),
        ) if bench.device_type == "cuda" else None,
    )


@rule("TD602", "gemm-slower-than-expected", fix=DISPLAY_ONLY)
def gemm_slower_than_expected(snapshot: Snapshot) -> Iterator[Finding]:
    """The GPU's matrix-multiply rate is well below what this GPU model reaches.

    What it detects:
        A dtype's rate (the median single product, or the sustained rate over the whole window when
        that is lower) is under 80% of what cuBLAS reaches on this model (our own measurement where
        we have one, else a typical share of the datasheet peak), and what the GPU was doing
        meanwhile: another process already using it, clock-event reasons (power cap, thermal, hardware
        slowdown) and the SM clock sampled during the run, MIG, WSL, and how steady the rate was.
    Why it matters:
        "Is my GPU actually fast?" A shared GPU, a power-capped laptop or a throttling card loses a
        third of its speed or more without any error message.
    Fix safety:
        The commands that show or clear the cause found; nothing runs for you.
    """
    bench = snapshot.bench
    if bench is None or bench.device_type != "cuda":
        return
    gpu = tested_gpu(snapshot)
    assessment = assess_gemm(snapshot)
    if assessment is None or assessment.model is None:
        return
    slow: list[tuple[GemmResult, float]] = []
    evidence: list[Evidence] = []
    for judged in assessment.rates:
        if not judged.slow or judged.delivered is None or judged.expected is None:
            continue
        result, rate = judged.result, judged.delivered
        slow.append((result, judged.expected))
        peak = f", {rate / judged.peak:.0%} of the datasheet peak {judged.peak:g}" if judged.peak else ""
        evidence.append(Evidence(
            f"{result.dtype} rate",
            f"{rate_text(result)}: {rate / judged.expected:.0%} of the {judged.expected:.0f}"
            f" TFLOP/s expected on {assessment.model} ({judged.expected_basis}){peak}",
            bench_source(snapshot),
        ))
    if not slow:
        return
    causes, cause_evidence, commands = slowdown_causes(snapshot, bench, gpu, [r for r, _ in slow])
    names = ", ".join(r.dtype for r, _ in slow)
    worst = min((delivered(r) or 0.0) / expected for r, expected in slow)
    if causes:
        why = "What the facts show: " + "; ".join(causes) + "."
    else:
        why = (
            "No cause shows in the facts torchdoctor reads: no other process on the GPU, no clock-event"
            " reason, the SM clock at its maximum. Run the test again; if it stays slow, check the"
            " cooling, the power supply and the GPU's power limit (`nvidia-smi -q -d POWER`)."
        )
        commands = commands or ("nvidia-smi -q -d POWER,CLOCK,PERFORMANCE",)
    yield Finding(
        Severity.WARNING,
        f"{bench.device_name} runs {names} matrix products at {worst:.0%} of what this GPU reaches",
        why,
        (*evidence, *cause_evidence),
        Fix("Clear the cause, then run `torchdoctor bench` again", Applicability.DISPLAY_ONLY, commands=commands),
    )


def slowdown_causes(
    snapshot: Snapshot, bench: BenchInfo, gpu: NvmlGpu | None, slow: list[GemmResult]
) -> tuple[list[str], list[Evidence], tuple[str, ...]]:
    """Causes of a slow GEMM that the facts show, with their evidence and the commands to look closer.

    A shared GPU comes first and alone: the other process also drives the power and clocks, so
    naming the power cap as well would send the user after the wrong thing. (An H100 under full
    GEMM load reports the power-cap reason even when healthy; it is a cause only when nothing else is.)
    """
    causes: list[str] = []
    evidence: list[Evidence] = []
    commands: list[str] = []
    baseline = bench.baseline
    if baseline is not None and ((baseline.utilization_pct or 0) >= 10 or baseline.processes):
        listed = ", ".join(
            f"pid {p.pid}" + (f" {p.name}" if p.name else "") + (f" ({p.used_memory / 2**30:.1f} GiB)" if p.used_memory else "")
            for p in baseline.processes
        )
        causes.append(
            "another process was already using the GPU when the test started"
            + (f" ({listed})" if listed else "")
            + ", so the GPU's time was shared"
        )
        evidence.append(Evidence(
            "GPU before the test",
            f"utilization {baseline.utilization_pct}%" + (f", processes: {listed}" if listed else ", no process listed"
                                                            " (processes in other containers are not visible)"),
            "NVML, just before the GEMM test started",
        ))
        commands.append("nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv")
    shared = [r for r in slow if r.tflops and r.tflops_sustained and r.tflops_sustained < 0.8 * r.tflops]
    if shared:
        share = max(1 - r.tflops_sustained / r.tflops for r in shared if r.tflops_sustained and r.tflops)
        names = ", ".join(r.dtype for r in shared)
        causes.append(
            f"{names} products ran at nearly full speed one by one, but over the whole window the GPU was"
            f" ours only {1 - share:.0%} of the time: something else ran on it between and during our products"
        )
        evidence.extend(
            Evidence(f"{r.dtype} median vs sustained", f"{r.tflops:.0f} vs {r.tflops_sustained:.0f} TFLOP/s", bench_source(snapshot))
            for r in shared
        )
        if not commands:
            commands.append("nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv")
    if causes:
        return causes, evidence, tuple(commands)

    activities = [r.activity for r in slow if r.activity is not None and r.activity.samples]
    reasons = merged_reasons(activities)
    power = max((a.power_max_w for a in activities if a.power_max_w), default=None)
    limit = next((a.power_limit_w for a in activities if a.power_limit_w), None)
    for reason, share in sorted(reasons.items(), key=lambda item: -item[1]):
        if reason in SLOWDOWN_REASONS and share >= REASON_SHARE:
            drawn = f" (drawing up to {power:.0f} W of a {limit:.0f} W limit)" if reason == "sw_power_cap" and power and limit else ""
            causes.append(f"the clocks were held down by {SLOWDOWN_REASONS[reason]} in {share:.0%} of the samples{drawn}")
            evidence.append(Evidence(f"clock-event reason {reason}", f"in {share:.0%} of the samples", NVML_DURING))
    if any(reasons.get(r, 0) >= REASON_SHARE for r in ("sw_power_cap", "hw_power_brake_slowdown")):
        commands.append("nvidia-smi -q -d POWER")
    if any(reasons.get(r, 0) >= REASON_SHARE for r in ("sw_thermal_slowdown", "hw_thermal_slowdown", "hw_slowdown")):
        commands.append("nvidia-smi -q -d TEMPERATURE,PERFORMANCE")
    clocks = [a.sm_clock_median_mhz for a in activities if a.sm_clock_median_mhz]
    maximum = next((a.sm_clock_max_mhz for a in activities if a.sm_clock_max_mhz), None)
    if clocks and maximum and min(clocks) < 0.9 * maximum:
        causes.append(f"the SM clock ran at {min(clocks):.0f} MHz, {min(clocks) / maximum:.0%} of its {maximum} MHz maximum")
        evidence.append(Evidence("SM clock during the test", f"median {min(clocks):.0f} MHz of max {maximum} MHz", NVML_DURING))
    if gpu is not None and gpu.mig_enabled:
        causes.append("MIG is on: torch sees one slice of the GPU, with a fraction of its SMs")
        evidence.append(Evidence("MIG mode", "enabled", "NVML"))
    if snapshot.system.wsl == "wsl2":
        causes.append("under WSL2 work goes through the Windows driver (dxgkrnl); GEMMs usually lose only a few percent")
        evidence.append(Evidence("WSL", "wsl2", "/proc/sys/kernel/osrelease"))
    unsteady = [r for r in slow if r.tflops_p10 and r.tflops_p90 and r.tflops_p10 < 0.7 * r.tflops_p90]
    if unsteady:
        causes.append("the time of single products swung widely, the mark of something else taking the GPU at times")
        evidence.extend(
            Evidence(f"{r.dtype} spread", f"10th-90th percentile {r.tflops_p10:.0f}-{r.tflops_p90:.0f} TFLOP/s", bench_source(snapshot))
            for r in unsteady
        )
    return causes, evidence, tuple(dict.fromkeys(commands))


def merged_reasons(activities: list[GpuActivity]) -> dict[str, float]:
    """For each reason, the largest share of samples it held in any one window."""
    merged: dict[str, float] = {}
    for activity in activities:
        for reason, share in activity.clock_event_reasons.items():
            merged[reason] = max(merged.get(reason, 0.0), share)
    return merged


@rule("TD603", "host-copies-slow", fix=DISPLAY_ONLY)
def host_copies_slow(snapshot: Snapshot) -> Iterator[Finding]:
    """Copies between host memory and the GPU are far slower than the PCIe link allows.

    What it detects:
        The pinned host-to-device bandwidth is under half of the link's raw rate (generation x width
        from NVML), and whether the link was running below its maximum generation or width while the
        copies ran.
    Why it matters:
        Data loading, CPU offload and multi-GPU transfers over PCIe slow down in proportion. A link
        trained at a lower generation or width points at the slot, a riser, the BIOS or a damaged card.
    Fix safety:
        The command that shows the link's state.
    """
    bench = snapshot.bench
    if bench is None or bench.device_type != "cuda":
        return
    pinned = next((c for c in bench.copies if c.direction == "h2d" and c.memory == "pinned" and c.gb_per_s), None)
    gpu = tested_gpu(snapshot)
    baseline = bench.baseline
    generation = (baseline.pcie_gen_max if baseline else None) or (gpu.pcie_gen_max if gpu else None)
    width = (baseline.pcie_width_max if baseline else None) or (gpu.pcie_width_max if gpu else None)
    facts = knowledge()
    link = facts.pcie_link_gb_per_s(generation, width)
    if pinned is None or link is None or pinned.gb_per_s is None or pinned.gb_per_s >= facts.pcie_slow_below * link:
        return
    evidence = [
        Evidence("pinned host→device copy", f"{pinned.gb_per_s:.1f} GB/s (32 MiB copies)", bench_source(snapshot)),
        Evidence("PCIe link maximum", f"gen {generation} x{width}: {link:.0f} GB/s raw per direction", "NVML"),
    ]
    causes = []
    activity = pinned.activity
    if activity and activity.pcie_gen_min and activity.pcie_width_min and generation and width and (
        activity.pcie_gen_min < generation or activity.pcie_width_min < width
    ):
        causes.append(
            f"the link ran at gen {activity.pcie_gen_min} x{activity.pcie_width_min} during the copies, below its"
            f" gen {generation} x{width}: check the slot (a x16 slot wired x4/x8), risers and the BIOS PCIe setting"
        )
        evidence.append(Evidence("PCIe link during the copies", f"gen {activity.pcie_gen_min} x{activity.pcie_width_min}", NVML_DURING))
    if snapshot.system.wsl:
        causes.append("under WSL2 host memory reaches the GPU through the Windows driver, which costs bandwidth")
    if not causes:
        causes.append("the link itself ran at full speed, so look at the host: NUMA placement (the GPU's CPU socket), an IOMMU in translation mode, or a virtual machine's device passthrough")
    yield Finding(
        Severity.WARNING,
        f"Host→GPU copies reach {pinned.gb_per_s:.1f} GB/s, {pinned.gb_per_s / link:.0%} of the PCIe link's {link:.0f} GB/s",
        "Pinned copies normally reach about 85% of the link's raw rate. " + "; ".join(causes).capitalize() + ".",
        tuple(evidence),
        Fix("Look at the PCIe link's state", Applicability.DISPLAY_ONLY, commands=("nvidia-smi -q -d PCI",)),
    )


@rule("TD604", "pinned-memory-unavailable", fix=DISPLAY_ONLY)
def pinned_memory_unavailable(snapshot: Snapshot) -> Iterator[Finding]:
    """Page-locked (pinned) host memory could not be allocated.

    What it detects:
        `torch.empty(..., pin_memory=True)` of 32 MiB raised in the GEMM test.
    Why it matters:
        `DataLoader(pin_memory=True)`, non-blocking copies and many training loops rely on pinned
        memory; without it they fail or fall back to slow pageable copies. Under WSL2 the VM's memory
        limit and its pinned-memory restrictions are the usual cause; on Linux, the locked-memory limit
        (`ulimit -l`) inside containers.
    Fix safety:
        The commands that show and raise the limits.
    """
    bench = snapshot.bench
    if bench is None:
        return
    failed = next((c for c in bench.copies if c.memory == "pinned" and c.error), None)
    if failed is None:
        return
    commands: tuple[str, ...] = ("ulimit -l",)
    why = "Pinned memory is what fast host-device copies and DataLoader(pin_memory=True) use."
    if snapshot.system.wsl:
        why += " Under WSL2 the VM's memory limit (.wslconfig `memory=`) bounds it; raise it and restart WSL."
        commands = ("ulimit -l", "wsl.exe --shutdown   # after raising memory= in %UserProfile%\\.wslconfig")
    elif snapshot.system.container:
        why += " In a container the locked-memory limit is often small: start it with `--ulimit memlock=-1`."
    yield Finding(
        Severity.WARNING,
        "Pinned host memory cannot be allocated",
        why,
        (Evidence("torch.empty(8Mi floats, pin_memory=True)", failed.error or "failed", bench_source(snapshot)),),
        Fix("Raise the locked-memory limit", Applicability.DISPLAY_ONLY, commands=commands),
    )


@rule("TD605", "fp32-matmul-as-tf32", fix=DISPLAY_ONLY)
def fp32_matmul_as_tf32(snapshot: Snapshot) -> Iterator[Finding]:
    """NVIDIA_TF32_OVERRIDE makes every fp32 matrix product use TF32.

    What it detects:
        NVIDIA_TF32_OVERRIDE=1 in the test's environment, shown by an fp32 product whose error is at
        TF32's level (about 1e-4 to 1e-3) instead of fp32's (about 1e-6).
    Why it matters:
        The variable overrides `torch.backends.cuda.matmul.allow_tf32 = False` and
        `torch.set_float32_matmul_precision("highest")`: code that needs full fp32 accuracy silently
        gets 10 bits of mantissa. (NVIDIA_TF32_OVERRIDE=0 is the opposite: TF32 never used.)
    Fix safety:
        Unset the variable where it is set (shell profile, container image, job script).
    """
    bench = snapshot.bench
    if bench is None or bench.tf32_override != "1":
        return
    fp32 = next((r for r in bench.gemm if r.dtype == "fp32" and r.relative_error is not None), None)
    evidence = [Evidence("NVIDIA_TF32_OVERRIDE", "1", "environment of the GEMM test")]
    if fp32 is not None:
        evidence.append(Evidence("fp32 relative error", f"{fp32.relative_error:.1e} (fp32 alone: about 1e-6)", bench_source(snapshot)))
    yield Finding(
        Severity.WARNING,
        "fp32 matrix products run in TF32 because NVIDIA_TF32_OVERRIDE=1",
        "cuBLAS reads NVIDIA_TF32_OVERRIDE before anything torch sets, so fp32 accuracy cannot be asked for"
        " in code while it is set.",
        tuple(evidence),
        Fix("Unset NVIDIA_TF32_OVERRIDE", Applicability.DISPLAY_ONLY, commands=("unset NVIDIA_TF32_OVERRIDE",)),
    )
