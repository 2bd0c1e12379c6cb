"""How much CPU does the app take while it waits, for the probes or for uv lock? It should leave the cores to them.

    python benchmarks/tui_probing_cpu.py [--seconds 4] [--rounds 3]

While the probes run (`import torch` in the project's interpreter: seconds of CPU on a small machine) the app shows a
spinner and the elapsed time on its verdict line, and while `uv lock` runs (often tens of seconds against PyTorch's
indexes) on the line above uv's log, each ten times a second. Each round measures, headless and in this process, the
app's own CPU time over a window of each wait (a torch whose import never finishes keeps it probing; a `uv` that never
answers keeps it locking), against two references run in the same round: a one-line Textual app updating its line ten
times a second without a layout pass (the floor for any spinner), and the same app asking for a layout pass each time
(Static.update's default, what both lines did). It prints each as a share of one core, and the ratios to the floor.

RESULTS (2026-12-02, the 2-core development machine, 100x30, 3 rounds of 4 s, one run right after the other):
    both lines updated with a layout pass each time: probing 7.7% of a core (ratio to the floor 2.29; the floor 3.4%,
    the floor with layout passes 4.3%): every tick reflowed the whole screen, its tabs and panes. uv lock 16.6%
    (ratio 4.97).
    without (the verdict line is one row high and as wide as the screen; the lock's line changes its height only
    when it appears and when it is cleared): probing 4.1-4.2% (ratio 1.19-1.26); uv lock 6.9% (ratio 2.07: the
    RichLog of uv's output stays on the screen).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Static  # noqa: E402

from conftest import HANGING_TORCH, make_venv  # noqa: E402
from torchdoctor.demo import demo_snapshot, prepare_demo_project  # noqa: E402
from torchdoctor.tui.app import TorchDoctorApp  # noqa: E402

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SILENT_UV = "#!/bin/sh\necho 'Resolving dependencies...'\nexec sleep 600\n"


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OneLine(App):
    """The floor: one line rewritten ten times a second, as a spinner is."""

    def __init__(self, layout: bool) -> None:
        super().__init__()
        self.layout_each_time = layout
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Static("", id="line")

    def on_mount(self) -> None:
        self.set_interval(0.1, self.tick)

    def tick(self) -> None:
        elapsed = time.monotonic() - self.started
        line = f"{SPINNER[int(elapsed * 10) % len(SPINNER)]} probing {elapsed:4.1f} s — waiting for torch"
        self.query_one("#line", Static).update(line, layout=self.layout_each_time)


async def share_of_a_core(app: App, seconds: float, key: str | None = None) -> float:
    """The app's CPU over `seconds`, once it has painted (and, with `key`, once that key has started a wait)."""
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(1.5)  # past the first paint and the quick probes
        if key:
            await pilot.press(key)
            await pilot.pause(1.0)
            if getattr(app, "lock_started", None) is None:
                raise SystemExit(f"the key {key!r} did not start uv lock: nothing to measure")
        cpu, started = own_cpu(), time.monotonic()
        await pilot.pause(seconds)
        share = (own_cpu() - cpu) / (time.monotonic() - started)
        if key:
            await pilot.press("escape")  # cancels uv lock
            await pilot.pause(0.5)
        app.exit()  # the app kills its probe children as it closes
    return share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"probing": [], "uv lock": [], "floor": [], "floor with layout passes": []}
    with tempfile.TemporaryDirectory(prefix="torchdoctor-probing-cpu-") as name:
        folder = Path(name)
        # Offline (the demo's nightly index is not read) and with folders of its own, never the user's.
        os.environ.update(TORCHDOCTOR_OFFLINE="1", TORCHDOCTOR_CACHE_DIR=str(folder / "cache"),
                          TORCHDOCTOR_STATE_DIR=str(folder / "state"))
        project = folder / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = ["torch"]\n')
        python = make_venv(project / ".venv", {"torch": HANGING_TORCH})
        (folder / "bin").mkdir()
        (folder / "bin" / "uv").write_text(SILENT_UV)
        (folder / "bin" / "uv").chmod(0o755)
        os.environ["PATH"] = f"{folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"  # the uv the app runs
        for round_number in range(args.rounds):
            app = TorchDoctorApp(project, python=str(python), output_dir=folder)
            results["probing"].append(asyncio.run(share_of_a_core(app, args.seconds)))
            demo = prepare_demo_project(folder / f"demo-{round_number}")
            app = TorchDoctorApp(demo, recorded=demo_snapshot(), label="demo", output_dir=folder)
            results["uv lock"].append(asyncio.run(share_of_a_core(app, args.seconds, key="l")))
            results["floor"].append(asyncio.run(share_of_a_core(OneLine(layout=False), args.seconds)))
            results["floor with layout passes"].append(asyncio.run(share_of_a_core(OneLine(layout=True), args.seconds)))
    medians = {name: statistics.median(shares) for name, shares in results.items()}
    for name, share in medians.items():
        print(f"{name}: {share * 100:.1f}% of a core (median of {args.rounds})")
    for wait in ("probing", "uv lock"):
        print(f"ratio {wait} / floor: {medians[wait] / medians['floor']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
