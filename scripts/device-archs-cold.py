"""On a GPU machine, first thing after it starts: how long reading the fat binary headers of every shared library in
site-packages takes when nothing is in the page cache.

    PYTHONPATH=src python3 scripts/device-archs-cold.py [PYTHON]

The very first read of a fresh machine is the only one that is cold without help; after it, pages are evicted with
posix_fadvise (benchmarks/check_vs_collect_env.py's evict) and the read repeated with 1 to 32 reader threads, to show
the eviction gives the same time as a first read and to choose the number of threads.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from check_vs_collect_env import evict  # noqa: E402

from torchdoctor.probes import fatbin  # noqa: E402

python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                      capture_output=True, text=True, check=True).stdout.strip()
started = time.perf_counter()
libraries = sorted(p for p in Path(site).rglob("*") if p.is_file() and fatbin.is_library(p.name))
print(f"listing {len(libraries)} libraries under {site}: {time.perf_counter() - started:.2f} s")


def read(readers: int) -> float:
    fatbin._READ.clear()
    fatbin.READERS = readers
    started = time.perf_counter()
    codes = fatbin.read_many(libraries)
    elapsed = time.perf_counter() - started
    print(f"  {readers:2} readers: {elapsed:.3f} s, {len(codes)} with GPU code, "
          f"{sum(len(c.entries) for c in codes)} entries", flush=True)
    return elapsed


print(f"first read of this machine, {fatbin.READERS} readers (the shipped number):")
read(fatbin.READERS)
print("warm:")
for readers in (1, 4):
    read(readers)
for round_number in range(2):
    print(f"cold after eviction, round {round_number + 1}:")
    for readers in (1, 2, 4, 8, 16):
        evict(libraries)
        read(readers)

print("slowest libraries read cold one at a time:")
evict(libraries)
slow = []
for path in libraries:
    fatbin._READ.clear()
    started = time.perf_counter()
    try:
        code = fatbin.read_gpu_code(path)
        count = len(code.entries)
    except Exception as error:  # noqa: BLE001 - a measurement, every file is listed
        count = f"{type(error).__name__}"
    slow.append((time.perf_counter() - started, path.relative_to(site), count))
for elapsed, path, count in sorted(slow, reverse=True)[:12]:
    print(f"  {elapsed:.3f} s  {path}  ({count} entries)")
print(f"  all {len(slow)}: {sum(s[0] for s in slow):.2f} s")
