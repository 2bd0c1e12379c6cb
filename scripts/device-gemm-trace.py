"""Per-call rates of the GEMM test's windows and of the reference's, on a lent GPU (issue 32): where the short test
and the long reference part, call by call.
    PYTHONPATH=src python scripts/device-gemm-trace.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import time

from torchdoctor.probes.gemm import run_bench


def downsampled(values: list[float], points: int = 24) -> str:
    step = max(1, len(values) // points)
    return " ".join(f"{statistics.median(values[i:i + step]):.0f}" for i in range(0, len(values), step))


def reference_trace(torch, name: str, n: int, seconds: float) -> list[float]:
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32, "fp32": torch.float32}[name]
    torch.set_float32_matmul_precision("high" if name == "tf32" else "highest")
    a, b = (torch.randn(n, n, device="cuda", dtype=dtype) for _ in range(2))
    flush = torch.empty(256 * 1024 * 1024 // 4, dtype=torch.int32, device="cuda")
    flops, rates = 2.0 * n**3, []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        flush.zero_()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b)
        end.record()
        end.synchronize()
        rates.append(flops / (start.elapsed_time(end) / 1000.0) / 1e12)
    return rates


def main() -> int:
    import torch

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    for run in range(runs):
        records = []
        info = run_bench(sys.executable, seconds=1.5, options={"trace": True}, on_event=records.append)
        print(f"run {run + 1}: {info.status}, measured {info.measure_s:.3f} s")
        for record in records:
            if record.get("event") == "gemm" and record.get("trace"):
                trace = record["trace"]
                print(f"  short {record['dtype']:<5} n={record['n']} calls={len(trace)} median={record['median']:.1f} "
                      f"unsettled={record.get('unsettled_calls')} | {downsampled(trace)}")
        for name, n in (("fp16", 8192), ("tf32", 4096)):
            rates = reference_trace(torch, name, n, 1.5)
            print(f"  ref   {name:<5} n={n} calls={len(rates)} median={statistics.median(rates):.1f} | {downsampled(rates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
