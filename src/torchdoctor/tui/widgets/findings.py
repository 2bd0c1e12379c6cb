"""The findings tab: the list, and the selected finding's why, evidence and fix. A pyproject.toml fix is shown as
its proven diff: the proof runs in this widget's own worker (moving through the list never waits for it), and the
answers are kept in the app's PreviewCache, which the fix it then writes reuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from torchdoctor import workflow
from torchdoctor.tui.texts import WAITING

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report

PROVING = "# proving the fix (applying it to a copy and checking the result)…"
"""The detail view's diff until the fix's proof answers."""

class Findings(Horizontal):
    @dataclass
    class Proven(Message):
        """The proof of this finding's fix answered (the cache keeps it): shown if it is still the one selected."""

        diagnosis: Diagnosis

    def __init__(self, previews: workflow.PreviewCache | None) -> None:
        super().__init__(id="findings-row")
        self.previews = previews
        self.report: Report | None = None

    def compose(self):
        yield OptionList(id="diagnoses")
        with VerticalScroll(id="detail"):
            yield Static(WAITING, id="detail-text")

    def show(self, report: Report) -> None:
        """The report's findings, the highlighted one kept where it can be."""
        from torchdoctor.tui import panels  # after the first paint: the panels import the renderers

        self.report = report
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        for number, diagnosis in enumerate(report.diagnoses):
            label = Text(f"{panels.ICONS[diagnosis.severity]} {diagnosis.code} ", style=panels.STYLES[diagnosis.severity])
            label.append(diagnosis.message, style="")
            options.add_option(Option(label, id=str(number)))
        if report.diagnoses:
            options.highlighted = min(highlighted or 0, len(report.diagnoses) - 1)
            self.show_detail(report.diagnoses[options.highlighted])
        else:
            self.query_one("#detail-text", Static).update(Text("No findings: this setup looks healthy.", style="green"))

    def selected(self) -> Diagnosis | None:
        if self.report is None or not self.report.diagnoses:
            return None
        index = self.query_one(OptionList).highlighted
        return self.report.diagnoses[index] if index is not None and index < len(self.report.diagnoses) else None

    @on(OptionList.OptionHighlighted)
    def highlighted(self) -> None:
        diagnosis = self.selected()
        if diagnosis is not None:
            self.show_detail(diagnosis)

    def show_detail(self, diagnosis: Diagnosis) -> None:
        """The finding with its why, evidence and fix; a pyproject fix with its proven diff, or that it is being
        proven while the proof runs."""
        from torchdoctor.tui import panels

        diff = None
        if diagnosis.fix is not None and diagnosis.fix.action and self.previews is not None and self.report is not None:
            preview = self.previews.known(self.report.snapshot, [diagnosis])
            if preview is None:
                self.prove(diagnosis)
                diff = PROVING
            else:
                diff = preview.diff if isinstance(preview, workflow.FixPreview) else f"# {preview}"
        unsafe = workflow.unsafe_warning(diagnosis)
        self.query_one("#detail-text", Static).update(panels.diagnosis_view(diagnosis, diff, unsafe))

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def prove(self, diagnosis: Diagnosis) -> None:
        """Only the newest highlight's proof runs to the end (exclusive)."""
        if self.previews is not None and self.report is not None:
            self.previews.preview(self.report.snapshot, [diagnosis])
        self.post_message(self.Proven(diagnosis))

    @on(Proven)
    def proven(self, message: Proven) -> None:
        if self.is_attached and self.selected() == message.diagnosis:
            self.show_detail(message.diagnosis)
