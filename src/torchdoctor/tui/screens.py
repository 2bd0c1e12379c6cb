"""Modal screens: the fix confirmation (with the diff) and the help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

INTRODUCTION = ("torchdoctor checks the NVIDIA driver, CUDA, the torch build in your project's interpreter and the "
                "project's uv configuration, and says what is wrong, why, and how to fix it.")
MOVING = [
    ("↑/↓, mouse", "pick a finding: its explanation, evidence and fix appear beside it"),
    ("1-6, click", "the tabs: findings, machine, torch, project, GEMM, uv lock"),
    ("Tab, Shift+Tab", "move between the list, the panels and the tabs"),
    ("PgUp/PgDn, wheel", "scroll a panel or this help"),
    ("Escape", "close this help or a dialog; cancel a running uv lock"),
    ("Ctrl+P", "the command palette"),
]


def explained(bindings) -> dict[str, str]:
    """What each action does, in a sentence: the tooltip of its binding (the bindings are the one source)."""
    found: dict[str, str] = {}
    for binding in bindings:
        if binding.tooltip:
            found.setdefault(binding.action, binding.tooltip)
    return found


def help_text(bindings) -> Text:
    """The help, built from the bindings the app has (so it cannot list a key that does not exist, or miss one)."""
    text = Text(INTRODUCTION + "\n\n")
    sentences = explained(bindings)
    rows: dict[str, list[str]] = {}
    for binding in bindings:
        if binding.action in sentences:
            rows.setdefault(binding.action, []).append(binding.key.replace("question_mark", "?").replace("ctrl+c", "Ctrl+C"))
    for action, names in rows.items():
        text.append(f"{' / '.join(names):<18}", style="bold")
        text.append(f"{sentences[action]}\n")
    text.append("\n")
    for keys, explanation in MOVING:
        text.append(f"{keys:<18}", style="bold")
        text.append(f"{explanation}\n")
    text.append("\nFixes marked ")
    text.append("unsafe", style="bold")
    text.append(" change what the project promises (its dependencies or Python range); the confirmation says why. "
                "Commands shown as \"run it yourself\" are never run by torchdoctor.")
    return text


THEN_LOCK_AND_SYNC = (", then run uv lock and uv sync and a smoke test, putting everything back if one fails "
                      "(uv may run the project's build backend)")


class ConfirmFix(ModalScreen[bool]):
    """Shows the unified diff of a fix and waits for yes or no."""

    BINDINGS = [Binding("y", "answer(True)", "Write it"), Binding("n,escape", "answer(False)", "Cancel")]

    def __init__(self, title: str, diff: str, path: str, warning: str | None = None, then: str = "") -> None:
        super().__init__()
        self.fix_title = title
        self.diff = diff
        self.path = path
        self.warning = warning
        self.then = then

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text.assemble((self.fix_title, "bold"), f"\nwrite this change to {self.path}{self.then}?"),
                         id="dialog-title")
            if self.warning:
                yield Static(Text(self.warning), id="dialog-warning")
            with VerticalScroll(id="dialog-diff"):
                from rich.syntax import Syntax  # Pygments: imported when a diff is shown, not before the first paint

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

    def __init__(self, bindings=()) -> None:
        super().__init__()
        self.bindings = list(bindings)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(self.bindings))

    def action_close(self) -> None:
        self.dismiss(None)
