"""Hostile input: ≥ 30,000 mutated project files, ≥ 10,000 mutated snapshots and ≥ 300 runs of the real CLI,
through the same path the CLI uses. Prints one table: inputs, tracebacks, hangs, memory blow-ups, secrets seen in
any output, terminal escapes that reached the text report.

Goal (issue 13): every column but "inputs" is zero. The mutations and what is counted are described in
tests/hostile.py. Each in-process input runs under a 20 s alarm and a 3 GiB address-space cap (a hang or a memory
blow-up is counted, not suffered); uv's own freshness check (`uv lock --check`, a subprocess) is left out of the
in-process parts, where it would be most of the time and fuzz uv rather than torchdoctor, and kept in the real
CLI runs. The CLI runs add what only a real process shows: FIFOs, /dev/zero, symlink loops, an ARG bomb.

    python benchmarks/input_fuzz.py [--files 30000] [--snapshots 10000] [--cli 300] [--seed 13] [--jobs N]

Run on the development machine (2 cores) on 2026-12-02: see the table at the end of the issue-13 note;
before this issue's fixes a tenth of the sample crashed (TOML nested 400+ levels, nan in [tool.uv], wrong
types), the ARG bomb ran out of memory and credentials from requirements files and Dockerfiles were printed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402

COLUMNS = ("inputs", "traceback", "hang", "memory", "secret", "escapes")
ALARM_S = 20
MEMORY_CAP = 3 * 1024**3


class _Hang(Exception):
    pass


def _alarm(*_: object) -> None:
    raise _Hang


def _worker_setup(cache: str) -> None:
    """Each worker as the tests run: offline, with a probe and index cache of its own (never the user's), uv's lock
    check off, and memory and time capped per input."""
    import torchdoctor.probes.lock_check as lock_check

    os.environ.update(TORCHDOCTOR_OFFLINE="1", TORCHDOCTOR_CACHE_DIR=os.path.join(cache, str(os.getpid())))
    lock_check.find_uv = lambda: None
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    signal.signal(signal.SIGALRM, _alarm)


def _one(project: Path, snapshot: Path, folder: Path, form: str) -> tuple[Counter, str | None]:
    """One `check` under the alarm; a hang or a memory blow-up is counted."""
    signal.alarm(ALARM_S)
    try:
        return hostile.check_outputs(project, snapshot, folder, (form,))
    except _Hang:
        return Counter(hang=1), "hang"
    except MemoryError:
        return Counter(memory=1), "MemoryError"
    finally:
        signal.alarm(0)


def _files(job: tuple[int, int, int]) -> tuple[str, Counter, list[str]]:
    start, count, seed = job
    rng = random.Random(seed * 1_000_003 + start)
    seeds = hostile.seeds()
    total, examples = Counter(), []
    for _ in range(count):
        with tempfile.TemporaryDirectory(prefix="torchdoctor-fuzz-") as folder:
            project = Path(folder) / "project"
            name = hostile.mutated_project(project, seeds, rng)
            form = rng.choice(["text", "json", "markdown"])
            counts, failure = _one(project, hostile.MACHINE, Path(folder), form)
        total += counts + Counter(inputs=1)
        if failure and len(examples) < 3:
            examples.append(f"{name}: {failure.strip().splitlines()[-1][:200]}")
    return "project files", total, examples


def _snapshots(job: tuple[int, int, int]) -> tuple[str, Counter, list[str]]:
    start, count, seed = job
    rng = random.Random(seed * 7_000_003 + start)
    texts = [p.read_text(encoding="utf-8") for p in sorted(hostile.SNAPSHOTS.glob("*.json")) if "report" not in p.name]
    total, examples = Counter(), []
    with tempfile.TemporaryDirectory(prefix="torchdoctor-fuzz-") as folder:
        project = Path(folder) / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["torch"]\n')
        for _ in range(count):
            snapshot = Path(folder) / "snapshot.json"
            snapshot.write_text(hostile.mutated_snapshot(rng.choice(texts), rng), encoding="utf-8", errors="surrogatepass")
            form = rng.choice(["text", "json", "markdown"])
            counts, failure = _one(project, snapshot, Path(folder), form)
            total += counts + Counter(inputs=1)
            if failure and len(examples) < 3:
                examples.append(f"snapshot: {failure.strip().splitlines()[-1][:200]}")
    return "snapshots", total, examples


def _special(folder: Path, number: int, rng: random.Random, seeds: dict) -> str:
    """One project for a real CLI run: a special-file scenario, or a mutated project."""
    project = folder / "project"
    kind = number % 8
    if kind == 0 and hasattr(os, "mkfifo"):
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
        os.mkfifo(project / rng.choice(["uv.lock", "requirements.txt", "Dockerfile"]))
        return "a FIFO"
    if kind == 1:
        project.mkdir()
        (project / "pyproject.toml").symlink_to("/dev/zero")
        return "pyproject.toml -> /dev/zero"
    if kind == 2:
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
        (project / "uv.lock").symlink_to(project / "uv.lock")
        (project / "Dockerfile").symlink_to(project / "Dockerfile.b")
        (project / "Dockerfile.b").symlink_to(project / "Dockerfile")
        return "symlink loops"
    if kind == 3:
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
        lines = ["FROM python:3.12", "ARG A0=xxxxxxxx"] + [f"ARG A{i + 1}=${{A{i}}}${{A{i}}}" for i in range(rng.randint(30, 80))]
        (project / "Dockerfile").write_text("\n".join(lines) + "\nRUN pip install torch==${A30}\n")
        return "an ARG bomb"
    hostile.mutated_project(project, seeds, rng)
    return "a mutated project"


def _cli(job: tuple[int, int, int]) -> tuple[str, Counter, list[str]]:
    start, count, seed = job
    rng = random.Random(seed * 3_000_017 + start)
    seeds = hostile.seeds()
    total, examples = Counter(), []
    for number in range(start, start + count):
        with tempfile.TemporaryDirectory(prefix="torchdoctor-fuzz-") as folder:
            scenario = _special(Path(folder), number, rng, seeds)
            form = rng.choice(["text", "json", "markdown"])
            environment = {**os.environ, "TORCHDOCTOR_STATE_DIR": str(Path(folder) / "state"),
                           "TORCHDOCTOR_CACHE_DIR": str(Path(folder) / "cache"), "TORCHDOCTOR_OFFLINE": "1",
                           "UV_CACHE_DIR": str(Path(folder) / "uv-cache"), "XDG_CONFIG_HOME": str(Path(folder) / "config")}
            counts = Counter(inputs=1)
            try:
                done = subprocess.run([sys.executable, "-m", "torchdoctor", "check", "--project", str(Path(folder) / "project"),
                                       "--snapshot", str(hostile.MACHINE), "--format", form, "--color", "never",
                                       *(["-v"] if form == "text" else [])],
                                      capture_output=True, text=True, timeout=60, env=environment, errors="replace")
                if done.returncode not in (0, 1, 2) or "Traceback" in done.stderr or "internal error" in done.stderr:
                    counts["traceback"] += 1
                    examples.append(f"{scenario}: exit {done.returncode}: {done.stderr.strip()[-200:]}")
                if "ran out of memory" in done.stderr:
                    counts["memory"] += 1
                if hostile.LEAK.search(done.stdout) or hostile.LEAK.search(done.stderr):
                    counts["secret"] += 1
                if form == "text" and hostile.ESCAPES.search(done.stdout.replace("\n", "").replace("\t", "")):
                    counts["escapes"] += 1
            except subprocess.TimeoutExpired:
                counts["hang"] += 1
                examples.append(f"{scenario}: no answer in 60 s")
        total += counts
    return "real CLI runs", total, examples[:3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=30_000)
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--cli", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    jobs = []
    for work, amount, chunk in ((_files, args.files, 250), (_snapshots, args.snapshots, 1000), (_cli, args.cli, 25)):
        jobs += [(work, (start, min(chunk, amount - start), args.seed)) for start in range(0, amount, chunk)]
    began = time.monotonic()
    totals: dict[str, Counter] = {}
    examples: list[str] = []
    with tempfile.TemporaryDirectory(prefix="torchdoctor-fuzz-cache-") as cache, multiprocessing.get_context(
            "spawn").Pool(args.jobs, initializer=_worker_setup, initargs=(cache,)) as pool:
        for part, total, found in pool.imap_unordered(_call, jobs):
            totals[part] = totals.get(part, Counter()) + total
            examples += found
    width = max(len(part) for part in totals) + 2
    print(f"{'':<{width}}" + "".join(f"{c:>{len(c) + 3}}" for c in COLUMNS))
    for part in ("project files", "snapshots", "real CLI runs"):
        if part in totals:
            print(f"{part:<{width}}" + "".join(f"{totals[part][c]:>{len(c) + 3}}" for c in COLUMNS))
    problems = sum(totals[p][c] for p in totals for c in COLUMNS[1:])
    print(f"\n{sum(totals[p]['inputs'] for p in totals)} inputs in {time.monotonic() - began:.0f} s: {problems} problems (goal: 0)")
    for example in examples[:10]:
        print(f"  {example}")
    return 1 if problems else 0


def _call(job):
    work, arguments = job
    return work(arguments)


if __name__ == "__main__":
    sys.exit(main())
