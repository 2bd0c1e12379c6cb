"""How long `torchdoctor check` takes against `python -m torch.utils.collect_env`, measured in one run.

Goal (issue 2): check takes at most half the time of collect_env on the same machine. Both import
torch in the project's interpreter, so the first round pays the cold-cache cost for both; rounds
alternate which command goes first so neither always benefits from the other's warm page cache.

    python benchmarks/check_vs_collect_env.py [--python PY] [--project DIR] [--rounds 5]

Recorded results (keep the newest first):
- see NOTES at the bottom of this file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(argv: list[str], cwd: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(f"{argv[:4]} failed with status {result.returncode}:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the project interpreter (has torch)")
    parser.add_argument("--project", default=str(Path.cwd()))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    args.python = os.path.abspath(args.python)  # the commands run in the project folder
    args.project = os.path.abspath(args.project)

    check = [sys.executable, "-m", "torchdoctor", "check", "--format", "json", "--project", args.project, "--python", args.python]
    collect = [args.python, "-m", "torch.utils.collect_env"]
    times: dict[str, list[float]] = {"check": [], "collect_env": []}
    for round_number in range(args.rounds):
        order = [("check", check), ("collect_env", collect)]
        if round_number % 2:
            order.reverse()
        for name, argv in order:
            times[name].append(timed(argv, args.project))
        print(f"round {round_number + 1}: check {times['check'][-1]:.2f} s, collect_env {times['collect_env'][-1]:.2f} s", flush=True)

    check_median = statistics.median(times["check"])
    collect_median = statistics.median(times["collect_env"])
    print(f"median over {args.rounds} rounds: check {check_median:.2f} s, collect_env {collect_median:.2f} s")
    print(f"ratio check / collect_env = {check_median / collect_median:.2f} (goal: <= 0.50)")


if __name__ == "__main__":
    main()

NOTES = """
(filled in from real runs; see the module docstring)
"""
