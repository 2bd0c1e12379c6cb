"""The verdict line under the title: the report's summary coloured by its worst finding, or, while the probes run,
a spinner with the elapsed time and what is still awaited (over a first verdict from torch's files, when there is
one, while `import torch` confirms it)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from torchdoctor.render import summary_line
from torchdoctor.tui.widgets.lock_log import SPINNER

if TYPE_CHECKING:
    from torchdoctor.model import Report

PARTS = ("project", "system", "nvml", "torch")
"""The probes a verdict waits for, in the order they are named."""


class Verdict(Static):
    def __init__(self) -> None:
        super().__init__("", id="summary")
        self.probing_since: float | None = None
        self.answered: set[str] = set()
        self.first_verdict: Report | None = None
        """A verdict from torch's files while `import torch` still runs: shown with the spinner beside it."""
        self._ticks: Timer | None = None

    def probing(self) -> None:
        """The probes started: the spinner runs until `probed`."""
        self.probing_since, self.answered, self.first_verdict = time.monotonic(), set(), None
        if self._ticks is None:
            self._ticks = self.set_interval(0.1, self.tick)
        self.tick()

    def answer(self, part: str) -> None:
        self.answered.add(part)

    def probed(self) -> None:
        self.probing_since, self.first_verdict = None, None
        if self._ticks is not None:
            self._ticks.stop()
            self._ticks = None

    def tick(self) -> None:
        if self.probing_since is None:
            return
        elapsed = time.monotonic() - self.probing_since
        spin = SPINNER[int(elapsed * 10) % len(SPINNER)]
        if self.first_verdict is not None:
            self._status(Text(f"{summary_line(self.first_verdict)} · first verdict, from torch's files · {spin} "
                              f"import torch {elapsed:4.1f} s"), keep_colour=True)
            return
        waiting = [part for part in PARTS if part not in self.answered]
        detail = f"waiting for {', '.join(waiting)}" if waiting else "checking"
        if "torch" in waiting:
            detail += " (import torch in the project's interpreter)"
        self._status(Text(f"{spin} probing {elapsed:4.1f} s — {detail}"))

    def _status(self, line: Text, *, keep_colour: bool = False) -> None:
        """Redrawn without a layout pass: the spinner ticks ten times a second. A provisional verdict keeps the
        colour of its worst finding."""
        self.update(line, layout=False)
        if not keep_colour:
            self.set_classes("")

    def show_report(self, report: Report, source: str) -> None:
        """The report's one-line verdict and where the machine's facts come from."""
        self.update(Text(" · ".join(part for part in (summary_line(report), source) if part)))  # no dangling ·
        severities = {d.severity.value for d in report.diagnoses}
        self.set_classes("errors" if "error" in severities else "warnings" if "warning" in severities else "healthy")
