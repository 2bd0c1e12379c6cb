"""How much CPU does the app take while it waits for the probes? It should leave the cores to them.

    python benchmarks/tui_probing_cpu.py [--seconds 4] [--rounds 3]

While the probes run (`import torch` in the project's interpreter: seconds of CPU on a small machine), the app shows
a spinner and the elapsed time on its verdict line, ten times a second. Each round measures, headless and in this
process, the app's own CPU time over a window of probing (a torch whose import never finishes keeps it probing),
against two references run in the same round: a one-line Textual app updating its line ten times a second without a
layout pass (the floor for any spinner), and the same app asking for a layout pass each time (Static.update's
default, what the verdict line did). It prints each as a share of one core, and the ratio of the app to the floor.

RESULTS (2026-12-02, the 2-core development machine, 100x30, 3 rounds of 4 s, one run right after the other):
    the verdict line updated with a layout pass each time: app 7.7% of a core; floor 3.4%; floor with layout
    passes 4.3%; ratio app / floor 2.29: every tick reflowed the whole screen (its tabs and panes).
    without (the line's size never changes: height 1, the screen's width): app 4.1%; ratio 1.19.
"""

from __future__ import annotations

import argparse
import asyncio
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
from torchdoctor.tui.app import TorchDoctorApp  # noqa: E402

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


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


async def share_of_a_core(app: App, seconds: float) -> float:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(1.5)  # past the first paint and the quick probes
        cpu, started = own_cpu(), time.monotonic()
        await pilot.pause(seconds)
        share = (own_cpu() - cpu) / (time.monotonic() - started)
        app.exit()  # the app kills its probe children as it closes
    return share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"app": [], "floor": [], "floor with layout passes": []}
    with tempfile.TemporaryDirectory(prefix="torchdoctor-probing-cpu-") as name:
        folder = Path(name)
        project = folder / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = ["torch"]\n')
        python = make_venv(project / ".venv", {"torch": HANGING_TORCH})
        for _ in range(args.rounds):
            app = TorchDoctorApp(project, python=str(python), output_dir=folder)
            results["app"].append(asyncio.run(share_of_a_core(app, args.seconds)))
            results["floor"].append(asyncio.run(share_of_a_core(OneLine(layout=False), args.seconds)))
            results["floor with layout passes"].append(asyncio.run(share_of_a_core(OneLine(layout=True), args.seconds)))
    medians = {name: statistics.median(shares) for name, shares in results.items()}
    for name, share in medians.items():
        print(f"{name}: {share * 100:.1f}% of a core while probing (median of {args.rounds})")
    print(f"ratio app / floor: {medians['app'] / medians['floor']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
