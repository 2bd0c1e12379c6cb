"""Fix safety over layouts: ≥ 10,000 layout variants of real project files through `fix --all --yes --unsafe`
(twice: a fixed point writes nothing the second time) and `undo`, on two recorded machines. Prints one table.

Goal (issue 12): every defect column is zero. The variants and the defects counted are described in
tests/layouts.py; the run goes through the CLI's entry point in process, on the recorded machines, each variant in
a folder and state directory of its own.

    python benchmarks/fix_fuzz.py [--variants 10000] [--seed 12] [--jobs N]

Run on the development machine (2 cores) on 2026-12-02: 10,000 variants of 68 seeds in 521 s, 4,011 of them
written, every defect column 0 on both machines. Before the fixes of this issue the same variants lost comments
on kept source entries and glued added tables to the next header (tests/test_fix_layouts.py checks that the
counters do see such defects).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import layouts  # noqa: E402


def _offline_with_a_cache_of_its_own(cache: str) -> None:
    """Each worker as the tests run: offline (what the fuzz finds must not depend on the network, nor wait on it) and
    with a probe and index cache of its own, never the user's ~/.cache/torchdoctor."""
    os.environ.update(TORCHDOCTOR_OFFLINE="1", TORCHDOCTOR_CACHE_DIR=os.path.join(cache, str(os.getpid())))


def _work(job: tuple[int, int, str, int]) -> tuple[str, Counter, list[tuple[str, tuple[str, ...], list[str]]]]:
    start, count, machine, seed = job
    rng = random.Random(seed * 1_000_003 + start)
    seeds = layouts.seeds()
    total: Counter = Counter()
    examples = []
    for _ in range(count):
        item = layouts.variant(rng.choice(seeds), rng)
        with tempfile.TemporaryDirectory(prefix="torchdoctor-fuzz-") as folder:
            counts = layouts.measure(item, layouts.MACHINES[machine], Path(folder))
        total += counts
        defects = [name for name in layouts.DEFECTS if counts[name]]
        if defects and len(examples) < 5:
            examples.append((item.seed, item.operations, defects))
    return machine, total, examples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    machines = list(layouts.MACHINES)
    chunk = 100
    jobs = []
    for number, start in enumerate(range(0, args.variants, chunk)):
        jobs.append((start, min(chunk, args.variants - start), machines[number % len(machines)], args.seed))
    began = time.monotonic()
    totals = {machine: Counter() for machine in machines}
    examples = []
    with tempfile.TemporaryDirectory(prefix="torchdoctor-fuzz-cache-") as cache, multiprocessing.get_context(
            "spawn").Pool(args.jobs, initializer=_offline_with_a_cache_of_its_own, initargs=(cache,)) as pool:
        for machine, total, found in pool.imap_unordered(_work, jobs):
            totals[machine] += total
            examples += found
    columns = ("variants", "written", *layouts.DEFECTS)
    width = max(len(m) for m in machines) + 2
    print(f"{'machine':<{width}}" + "".join(f"{c:>{len(c) + 2}}" for c in columns))
    for machine in machines:
        print(f"{machine:<{width}}" + "".join(f"{totals[machine][c]:>{len(c) + 2}}" for c in columns))
    defects = sum(totals[m][c] for m in machines for c in layouts.DEFECTS)
    print(f"\n{sum(totals[m]['variants'] for m in machines)} variants of {len(layouts.seeds())} seeds in "
          f"{time.monotonic() - began:.0f} s: {defects} defects (goal: 0)")
    for seed, operations, found in examples[:10]:
        print(f"  {seed} with {', '.join(operations) or 'no change'}: {', '.join(found)}")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
