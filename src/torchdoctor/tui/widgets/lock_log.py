"""The uv lock tab: the lines of `uv lock` (the `l` key) or of a fix's steps (write, lock, sync, smoke test, put
back), and above them, while one runs, a spinner with the elapsed time and how to cancel."""

from __future__ import annotations

import time

from rich.text import Text
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import RichLog, Static

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class LockLog(Vertical):
    def __init__(self) -> None:
        super().__init__()
        self.started_at: float | None = None
        """When the run on screen began; None when none runs."""
        self.label = "uv lock"
        self._ticks: Timer | None = None

    def compose(self):
        yield Static("", id="lock-status")
        yield RichLog(id="lock-log", wrap=True, markup=False, highlight=False)

    @property
    def running(self) -> bool:
        return self.started_at is not None

    def begin(self, first_line: Text, label: str) -> None:
        """A new run: the log cleared and begun with what runs, the spinner started."""
        log = self.query_one(RichLog)
        log.clear()
        log.write(first_line)
        self.label, self.started_at = label, time.monotonic()
        if self._ticks is None:
            self._ticks = self.set_interval(0.1, self.tick)

    def write(self, line: Text) -> None:
        self.query_one(RichLog).write(line)

    def end(self, last_line: Text | None = None) -> None:
        """The run is over: the spinner goes, and its last line (the verdict) is written."""
        self.started_at = None
        if self._ticks is not None:
            self._ticks.stop()
            self._ticks = None
        self._status("")
        if last_line is not None:
            self.write(last_line)

    def tick(self) -> None:
        if self.started_at is not None:
            elapsed = time.monotonic() - self.started_at
            self._status(Text(f"{SPINNER[int(elapsed * 10) % len(SPINNER)]} {self.label} running {elapsed:4.1f} s — "
                              "Escape cancels", style="bold"))

    def _status(self, line: Text | str) -> None:
        """Only the first and last update can change the status's height (empty, one line): the ticks in between
        redraw the line without a layout pass of the screen."""
        status = self.query_one("#lock-status", Static)
        status.update(line, layout=not (str(line) and str(status.content)))

    def text(self) -> str:
        """What the log holds, as plain text."""
        return "\n".join(line.text for line in self.query_one(RichLog).lines)
