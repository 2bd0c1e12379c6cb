"""The GEMM tab: the test's results against the datasheet peak, and while it runs, what it has measured so far and
the phase it is in. The widget runs the test in its own worker (the workflow's bench, its steps typed there once)
and posts `Measured` with the result, which the app adds to the snapshot."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.widgets import Static

from torchdoctor import workflow
from torchdoctor.tui.texts import BENCH_HINT

if TYPE_CHECKING:
    from torchdoctor.model import Report
    from torchdoctor.snapshot import BenchInfo


class GemmPanel(Static):
    @dataclass
    class Measured(Message):
        """The test ended: its result (status "ok", "cancelled", or why it failed)."""

        bench: BenchInfo

    @dataclass
    class Stepped(Message):
        """A step of the running test; a phase may replace the one before it in the queue."""

        step: workflow.BenchStep

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, GemmPanel.Stepped) and message.step.kind == self.step.kind == "progress"

    def __init__(self) -> None:
        super().__init__(BENCH_HINT, id="bench")
        self.cancel = threading.Event()
        self.running = False
        self.results: list[str] = []
        self.phase: str | None = None
        self.report: Report | None = None

    def measure(self, python: str, seconds: float | None) -> None:
        """Run the test in `python` (None seconds: the default measuring time); `cancel` stops it."""
        self.cancel.clear()
        self.running, self.results = True, []
        self.phase = "starting the test in the project's interpreter (import torch)…"
        self.redraw()
        self._measure(python, workflow.BENCH_SECONDS if seconds is None else seconds)

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False)
    def _measure(self, python: str, seconds: float) -> None:
        def stepped(step: workflow.BenchStep) -> None:
            self.post_message(self.Stepped(step))

        result = workflow.bench(python, seconds=seconds, on_step=stepped, cancel=self.cancel)
        self.post_message(self.Measured(result))

    @on(Stepped)
    def stepped(self, message: Stepped) -> None:
        self.step(message.step)

    @on(Measured)
    def measured(self) -> None:
        self.finished()  # the message goes on to the app, which keeps the result

    def step(self, step: workflow.BenchStep) -> None:
        """A step of the running test: a dtype's result is kept, a phase replaces the last."""
        if step.kind == "result":
            self.results.append(step.said)
        elif step.kind == "progress":
            self.phase = f"{step.said}… (g cancels)"
        elif step.kind == "ready":
            self.phase = "measuring…"
        self.redraw()

    def finished(self) -> None:
        self.running, self.results, self.phase = False, [], None
        self.redraw()

    def show(self, report: Report | None) -> None:
        self.report = report
        self.redraw()

    def redraw(self) -> None:
        from torchdoctor.tui.panels import bench_view

        lines = [*self.results, self.phase or ""]
        progress = "\n".join(lines).strip() if self.running or self.results else None
        self.update(bench_view(self.report, progress))
