"""Reading a 2,000-package uv.lock: torchdoctor's reader against a full tomlkit parse, in one run.

Goal (issue 2): at most 150 ms for a 2,000-package lock. The generated lock has the layout uv writes
(header, then one `[[package]]` table per package with dependencies, an sdist and eight wheels), with
the torch family (torch, torchvision, triton and the nvidia-* wheels) among the packages.

    python benchmarks/lock_read.py [--packages 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lockgen import generate_lock  # noqa: E402
from torchdoctor.probes.project import read_lock  # noqa: E402


def best_of(function, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import tomlkit

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "uv.lock"
        path.write_text(generate_lock(args.packages), encoding="utf-8")
        size = path.stat().st_size
        lock = read_lock(path)
        print(f"{args.packages} packages, {size / 1e6:.1f} MB; torch-family entries read: {len(lock.packages)}")
        ours, ours_best = best_of(lambda: read_lock(path), args.repeat)
        reference, _ = best_of(lambda: tomlkit.parse(path.read_text(encoding="utf-8")), max(1, args.repeat // 3))
    print(f"read_lock: median {ours * 1000:.1f} ms (best {ours_best * 1000:.1f} ms; goal <= 150 ms)")
    print(f"tomlkit.parse (reference): median {reference * 1000:.0f} ms")
    print(f"ratio read_lock / tomlkit = {ours / reference:.4f}")


if __name__ == "__main__":
    main()
