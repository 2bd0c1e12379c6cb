"""How long each of the system probe's machine readers takes, against issue 29's bound of well under 100 ms.

The readers added for what breaks GPU environments beyond the torch build (/dev/shm, the CUDA forward-compatibility
libraries, the AMD topology, the IOMMU, the processes holding a GPU) run on every `check`. Each is timed here on this
machine's real /proc and /sys, alone and then with `--load N` extra processes of this user alive (the scan for
processes holding a GPU reads every process's state and each of this user's open files), and the whole system probe
for reference. Printed: the median in milliseconds and its share of the 100 ms bound.

    python benchmarks/machine_probes.py [--rounds 20] [--load 400]

Recorded (see RESULTS at the bottom).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from torchdoctor.probes import system

BOUND_S = 0.1
ROOT = Path("/")


def readers() -> dict[str, Callable[[], object]]:
    return {
        "/dev/shm": lambda: system._shm(ROOT),
        "forward-compat libcuda": lambda: system._cuda_compat_libraries(ROOT),
        "AMD topology": lambda: system.amd_gpus(ROOT),
        "IOMMU groups + cmdline": lambda: (system._translating_groups(ROOT / "sys/kernel/iommu_groups"),
                                           system._iommu_options(ROOT)),
        "processes holding a GPU": lambda: system.gpu_holders(ROOT, budget_s=10.0),
        "whole system probe": lambda: system.probe_system(ROOT, project="."),
    }


def median_s(reader: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        reader()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def table(title: str, rounds: int) -> None:
    print(f"\n{title}")
    for name, reader in readers().items():
        seconds = median_s(reader, rounds)
        print(f"  {name:28} {seconds * 1000:8.2f} ms   {seconds / BOUND_S:6.2f} x the 100 ms bound")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--load", type=int, default=400, help="extra processes alive during the second table")
    args = parser.parse_args()
    processes = len([n for n in ROOT.joinpath("proc").iterdir() if n.name.isdigit()])
    table(f"this machine as it is ({processes} processes)", args.rounds)
    extra = [subprocess.Popen(["sleep", "600"]) for _ in range(args.load)]
    try:
        table(f"with {args.load} more processes of this user alive", args.rounds)
    finally:
        for process in extra:
            process.kill()
        for process in extra:
            process.wait()


if __name__ == "__main__":
    main()

RESULTS = """
2026-12-06, the development machine (no GPU, 67 processes), --rounds 10:
  processes holding a GPU   2.86 ms (0.03 x the bound); 16.67 ms (0.17 x) with 400 more processes alive
  /dev/shm, compat libcuda, AMD topology, IOMMU: under 0.1 ms each
  whole system probe        48.36 ms; 78.63 ms with 400 more processes (compilers and ldconfig are most of it)
The holder scan costs about 40 us a process; past 80 ms (some 2,000 processes) it answers "unknown".
After review (same day): the scan filters by owner first (a stat of /proc/PID, about 1 us), so kernel threads and other
users' processes cost little; only this user's are read: 2.64 ms as the machine is, 13.66 ms with 400 more of this
user's processes alive (0.03 and 0.14 x the bound).
The lent H100 (2026-12-06, 184 processes, in a Docker container; scripts/device-held-memory.sh): the holder scan
7.97 ms (0.08 x), 26.76 ms with 400 more (0.27 x); the other new readers under 0.2 ms. The whole system probe there
takes 207 ms (268 ms loaded), most of it the compilers' and ldconfig's own runs for the bug report, which the 100 ms
bound of issue 29 does not cover (it bounds each new reader).
"""
