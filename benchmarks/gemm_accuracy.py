"""How close is torchdoctor's ~1.5 s GEMM test to a long, careful measurement of the same products?

Run on a GPU machine, from the repository root:

    PYTHONPATH=src python benchmarks/gemm_accuracy.py [--python PATH] [--repeat 3] [--reference-seconds 1.5]

In one run it measures, for each dtype (bf16, fp16, tf32, fp32):
  * short: `torchdoctor`'s test exactly as users run it (run_bench: a subprocess in --python, NVML
    watching), repeated --repeat times;
  * reference: the same n×n product timed the careful way, for at least --reference-seconds per dtype:
    triton's `do_bench` (per-call CUDA events, the L2 cache flushed before every call, median) when
    triton is importable, else the same method written out here.
It prints short/reference per dtype and run, and the short test's measurement time, which must stay
within 1.5 s. Goal: every ratio within 0.95-1.05.

With --pairs N it runs the interleaved protocol instead (issue 32): N pairs, each a short run and right after it
every dtype's reference, and per dtype the median ratio and its spread. `scripts/device-gemm-accuracy.sh` runs it at
the default measuring time and at 1.0 s.

RESULTS, interleaved (2026-12-06, a lent H100 80GB HBM3, driver 580.159.04, torch 2.11.0+cu130, 5 pairs each;
tests/fixtures/bench/gemm-accuracy-interleaved-h100-1.5s.txt and -1.0s.txt):
    --seconds 1.5 (the default; measured 1.33-1.35 s): bf16 median 0.998 (spread 1.0%), fp32 1.001 (0.1%), tf32 1.008
        (6.7%: one pair read 345 against 358), fp16 0.974 (8.3%): the short test read fp16 at 650 in four pairs of
        five and 706 in the first, against a reference of 650-670.
    --seconds 1.0 (measured 0.88-0.90 s): bf16 1.000 (2.8%), fp16 1.003 (4.8%), fp32 1.002 (1.3%), tf32 1.077
        (10.3%): tf32, second in the run, reads boosted clocks in a window this short (358 -> 369-401).
    The goal (every median within 2%, spread at most 3%, at most 1.0 s) is not met: bf16 and fp32 meet it at both
    times; fp16 and tf32 do not, and shortening to 1.0 s makes tf32 worse. The best trade-off measured is the
    default 1.5 s.
    Why (per-call traces, scripts/device-gemm-trace.py, tests/fixtures/bench/gemm-trace-h100.txt): past the boost at
    a window's start, the rate moves in plateaus that last a few hundred milliseconds and differ by 3-6% (tf32 at
    n=4096: 373, then 350, then 385 in one 0.45 s window; the 1.5 s reference itself dips from 373 to 327-336 and
    back; fp16 at n=8192 steps between 667 and 650, the reference dips to 538-614 for a moment). Both methods time
    the same calls the same way; a window of a few hundred milliseconds lands on one or two plateaus, so its median
    is within the plateaus' spread of a long one's, not within 2%. That is the GPU's power management, not the
    timing method: a shorter test cannot do better on these dtypes, and a longer one only narrows it slowly.

    A second lent H100 (same day, scripts/device-gemm-session.sh, tests/fixtures/bench/gemm-accuracy-interleaved-
    h100-second-1.5s.txt), 5 pairs at 1.5 s: bf16 0.977 (spread 0.9%), fp16 0.990 (1.5%), tf32 1.033 (6.0%), fp32
    1.001 (1.5%); measured 1.32-1.35 s. Here bf16 sits 2.3% under a reference that itself read 686-702 (679-684 on the
    first machine): the same plateaus, another GPU. The knowledge table's H100 row is now the median of the 15
    references of both machines' runs (bf16 681.5, fp16 668.3, tf32 358.7, fp32 51.6); no H200 was lent, so its row
    keeps the 2026-11-23 method and says so. Outcome for issue 32: the goal is not met and no method tried meets it;
    the default stays 1.5 s, the best trade-off measured, with bf16/fp32 medians within 2.3% and fp16/tf32 within 3.3%
    of the reference's median, their single pairs within 6%.

RESULTS (2026-11-23, driver 580.159.04, torch 2.11.0+cu130, triton do_bench reference 1.5 s per dtype;
the full output is in tests/fixtures/bench/gemm-accuracy-h100.txt and gemm-accuracy-h200.txt):
    H100 80GB HBM3, 5 short runs: bf16 0.990-1.023, fp16 0.958-1.000, tf32 1.012-1.034, fp32 1.000-1.008;
        largest deviation 4.2%; measurement 1.31-1.37 s after CUDA init (import 4.4-5.0 s, init 0.24-0.40 s).
    H200, 5 short runs: bf16 0.990-0.991, fp16 0.974-1.002, tf32 0.979-1.034, fp32 1.000-1.001;
        largest deviation 3.4%; measurement 1.32-1.36 s.
    How it got there (H100): timing back-to-back batches read fp16 8% above the reference (launch
    overlap) and tf32 5% below; per-call timing after an L2 flush (do_bench's method) fixed the
    method, not the spread: 16-bit products at n=4096 read 700-780 from run to run because a GPU fresh
    from idle runs at boost clocks for a few hundred milliseconds and then steps down under its power
    limit. Per-call traces showed it in every window. n=8192 for 16-bit on big GPUs, fp32 first,
    16-bit last with the longest windows, and leaving out a window's leading boosted eighths brought
    every dtype within 5%. The reference itself moves by about 2% between runs (fp16 662-679).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from torchdoctor.checks.performance import in_dtype_order
from torchdoctor.probes.gemm import run_bench


def reference_rate(torch, dtype_name: str, n: int, seconds: float) -> float:
    """Median TFLOP/s of single n×n products, each timed with CUDA events after an L2 flush."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32, "fp32": torch.float32}[dtype_name]
    torch.set_float32_matmul_precision("high" if dtype_name == "tf32" else "highest")
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    flops = 2.0 * n**3

    def product():
        return torch.matmul(a, b)

    try:
        from triton.testing import do_bench

        ms = do_bench(product, warmup=250, rep=int(seconds * 1000), return_mode="median")
        return flops / (ms / 1000.0) / 1e12
    except ImportError:
        pass
    flush = torch.empty(256 * 1024 * 1024 // 4, dtype=torch.int32, device="cuda")
    end_warmup = time.perf_counter() + 0.25
    while time.perf_counter() < end_warmup:
        product()
    torch.cuda.synchronize()
    times = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        flush.zero_()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        product()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000.0)
    return flops / statistics.median(times) / 1e12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter the short test runs in")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-seconds", type=float, default=1.5)
    parser.add_argument("--seconds", type=float, default=1.5, help="the short test's budget")
    parser.add_argument("--pairs", type=int, default=0,
                        help="the interleaved protocol (issue 32): N pairs, each a short run then every dtype's reference "
                             "at once, and per dtype the median ratio and its spread")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("needs a CUDA GPU; the CPU path is covered by tests/test_gemm.py", file=sys.stderr)
        return 2
    driver = "unknown"
    try:
        import pynvml

        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
    except Exception:
        pass
    print(f"device {torch.cuda.get_device_name(0)} · driver {driver} · torch {torch.__version__}")
    if args.pairs:
        return interleaved(torch, args)

    runs = []
    for number in range(args.repeat):
        info = run_bench(args.python, seconds=args.seconds)
        if info.status != "ok":
            print(f"short run {number + 1} failed: {info.status}: {info.error}", file=sys.stderr)
            return 1
        runs.append(info)
        print(
            f"short run {number + 1}: measured {info.measure_s:.3f} s after CUDA init "
            f"(import {info.import_s:.2f} s, CUDA init {info.cuda_init_s:.2f} s, wall {info.wall_s:.2f} s)"
        )

    print()
    print(f"{'dtype':<6}{'n':>6}{'reference':>12}" + "".join(f"{'short ' + str(i + 1):>11}{'ratio':>7}" for i in range(len(runs))))
    deviation = 0.0
    for result in in_dtype_order(runs[0].gemm):
        if result.tflops is None:
            continue
        reference = reference_rate(torch, result.dtype, result.n, args.reference_seconds)
        row = f"{result.dtype:<6}{result.n:>6}{reference:>12.1f}"
        for info in runs:
            short = next(r for r in info.gemm if r.dtype == result.dtype)
            ratio = short.tflops / reference
            deviation = max(deviation, abs(ratio - 1.0))
            row += f"{short.tflops:>11.1f}{ratio:>7.3f}"
        print(row)
    print()
    print(f"largest deviation from the reference: {deviation:.1%} (goal: within 5%)")
    print(f"longest short measurement: {max(i.measure_s for i in runs):.3f} s (goal: at most 1.5 s)")
    for copy in runs[0].copies:
        print(f"copy {copy.direction} {copy.memory}: {copy.gb_per_s:.1f} GB/s" if copy.gb_per_s else f"copy {copy.direction} {copy.memory}: {copy.error}")
    return 0


def interleaved(torch, args) -> int:
    """N pairs, each the short test as users run it and, right after it, the reference of every dtype it measured:
    the GPU's state (clocks, temperature, power) drifts over a run, so each ratio compares two measurements taken
    within seconds of each other. Per dtype: the median ratio and its spread (largest minus smallest)."""
    ratios: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    measured = []
    for number in range(args.pairs):
        info = run_bench(args.python, seconds=args.seconds)
        if info.status != "ok":
            print(f"short run {number + 1} failed: {info.status}: {info.error}", file=sys.stderr)
            return 1
        measured.append(info.measure_s or 0.0)
        row = [f"pair {number + 1}: short measured {info.measure_s:.3f} s after CUDA init;"]
        for result in in_dtype_order(info.gemm):
            if result.tflops is None or result.n is None:
                continue
            reference = reference_rate(torch, result.dtype, result.n, args.reference_seconds)
            ratio = result.tflops / reference
            ratios.setdefault(result.dtype, []).append(ratio)
            sizes[result.dtype] = result.n
            row.append(f"{result.dtype} {result.tflops:.1f}/{reference:.1f}={ratio:.3f}")
        print(" ".join(row), flush=True)
    print()
    print(f"{'dtype':<6}{'n':>6}{'pairs':>7}{'median':>9}{'spread':>9}{'min':>8}{'max':>8}")
    worst_median = worst_spread = 0.0
    for dtype, values in ratios.items():
        median, spread = statistics.median(values), max(values) - min(values)
        worst_median, worst_spread = max(worst_median, abs(median - 1.0)), max(worst_spread, spread)
        print(f"{dtype:<6}{sizes[dtype]:>6}{len(values):>7}{median:>9.3f}{spread:>9.3f}{min(values):>8.3f}{max(values):>8.3f}")
    print()
    print(f"largest median deviation: {worst_median:.1%} (goal: within 2%); largest spread: {worst_spread:.1%} "
          f"(goal: at most 3%); longest measurement {max(measured):.3f} s (goal: at most 1.0 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
