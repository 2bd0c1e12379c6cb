"""Modal screens: the fix confirmation (with the diff) and the help."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

HELP = """\
[b]torchdoctor[/b] checks the NVIDIA driver, CUDA, the torch build in your project's interpreter and the
project's uv configuration, and says what is wrong, why, and how to fix it.

[b]Findings[/b]   pick one with ↑/↓ or the mouse: its explanation, evidence and fix appear on the right.
[b]1[/b]-[b]6[/b]  the tabs: findings, machine, torch, project, GEMM, uv lock (or click them)
[b]f[/b]  fix the selected finding: shows the change to pyproject.toml and asks first
[b]a[/b]  apply every safe fix at once (asks first)
[b]u[/b]  undo torchdoctor's last change of pyproject.toml
[b]l[/b]  run `uv lock` and show its output (the proof that the fix works)
[b]g[/b]  run the GEMM throughput test on this GPU (g again cancels)
[b]r[/b]  probe and check again
[b]m[/b] / [b]j[/b]  write the report as Markdown (for a bug report; also copied) / JSON
[b]s[/b]  save the probed facts as a snapshot file others can replay with --snapshot
[b]q[/b]  quit (nothing keeps running)

Fixes marked [b]unsafe[/b] change what the project promises (its dependencies or Python range); the
confirmation says why. Commands shown as "run it yourself" are never run by torchdoctor.
"""


class ConfirmFix(ModalScreen[bool]):
    """Shows the unified diff of a fix and waits for yes or no."""

    BINDINGS = [Binding("y", "answer(True)", "Write it"), Binding("n,escape", "answer(False)", "Cancel")]

    def __init__(self, title: str, diff: str, path: str, warning: str | None = None) -> None:
        super().__init__()
        self.fix_title = title
        self.diff = diff
        self.path = path
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text.assemble((self.fix_title, "bold"), f"\nwrite this change to {self.path}?"), id="dialog-title")
            if self.warning:
                yield Static(Text(self.warning), id="dialog-warning")
            with VerticalScroll(id="dialog-diff"):
                yield Static(Syntax(self.diff, "diff", theme="ansi_dark", word_wrap=True))
            with Horizontal(id="dialog-buttons"):
                yield Button("Write it (y)", variant="success", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
