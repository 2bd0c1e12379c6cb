"""The app's one screen: the title, the verdict line and the tabs, redrawn by watchers from reactive state.

The app owns the work (probes, fixes, uv lock, the GEMM test) and sets what it learns here: `snapshot` and `report`
together when a snapshot is ready, `parts` as each probe answers, `bench_progress` while the GEMM test runs. Each
assignment redraws what depends on it; nothing else here changes state. The panels' contents come from
tui/panels.py (imported when first drawn, after the first paint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from torchdoctor.tui.texts import BENCH_HINT, WAITING

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.tui.app import TorchDoctorApp

UNSAFE_WARNING = (
    "Unsafe: this fix changes what the project promises (its dependencies, extras or Python range), "
    "not only where packages come from. Read the diff before writing it."
)


class MainScreen(Screen[None]):
    # init=False: a watcher runs when the app assigns, never when Textual first initialises the value (which can be
    # while the screen is still being built, or already taken down when the app quits).
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)
    report: var[Report | None] = var(None, always_update=True, init=False)
    """Set right after `snapshot`, from it (workflow.diagnose): the findings, the verdict and every panel follow."""
    parts: var[dict[str, Any]] = var(dict, always_update=True, init=False)
    """The probes that answered so far, by name, while the snapshot is being taken."""
    bench_progress: var[str | None] = var(None, always_update=True, init=False)
    """The GEMM test's progress lines while it runs; None when it does not."""

    def __init__(self, title: str, *, recorded: bool) -> None:
        super().__init__()
        self.title_text = title
        self.recorded = recorded

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text), id="title")
        yield Static("", id="summary")
        with TabbedContent(id="tabs", initial="tab-findings"):
            with TabPane("Findings", id="tab-findings"), Horizontal(id="findings-row"):
                yield OptionList(id="diagnoses")
                with VerticalScroll(id="detail"):
                    yield Static(WAITING, id="detail-text")
            with TabPane("Machine", id="tab-machine"), VerticalScroll(classes="facts"):
                yield Static(WAITING, id="machine")
            with TabPane("Torch", id="tab-torch"), VerticalScroll(classes="facts"):
                yield Static(WAITING, id="torch")
            with TabPane("Project", id="tab-project"), VerticalScroll(classes="facts"):
                yield Static(WAITING, id="project")
            with TabPane("GEMM", id="tab-gemm"), VerticalScroll(classes="facts"):
                yield Static(BENCH_HINT, id="bench")
            with TabPane("uv lock", id="tab-lock"), Vertical():
                yield Static("", id="lock-status")
                yield RichLog(id="lock-log", wrap=True, markup=False, highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diagnoses", OptionList).focus()  # ↑/↓ pick a finding from the start

    # --- watchers ------------------------------------------------------------------------------------

    def drawable(self) -> bool:
        """False while the panels are not there (the app is quitting): nothing to redraw then."""
        return bool(self.query("#summary"))

    def watch_report(self) -> None:
        if self.report is None or not self.drawable():
            return
        self.refresh_facts()
        self.refresh_findings()
        self.show_summary()

    def watch_parts(self) -> None:
        if self.drawable():
            self.refresh_facts()

    def watch_bench_progress(self) -> None:
        if self.drawable():
            self.refresh_bench()

    # --- drawing -------------------------------------------------------------------------------------

    def show_summary(self) -> None:
        """The report's one-line verdict, coloured by its worst finding."""
        from torchdoctor.render.text import summary_line

        report = self.report
        if report is None:
            return
        source = "recorded machine" if self.recorded else report.snapshot.interpreter.path
        summary = self.query_one("#summary", Static)
        summary.update(Text(f"{summary_line(report)} · {source}"))
        errors = any(d.severity.value == "error" for d in report.diagnoses)
        warnings = any(d.severity.value == "warning" for d in report.diagnoses)
        summary.set_classes("errors" if errors else "warnings" if warnings else "healthy")

    def refresh_facts(self) -> None:
        from torchdoctor.tui.panels import fleet_panel, machine_panel, project_panel, torch_panel

        if self.snapshot is not None and self.snapshot.fleet is not None:
            tabs = self.query_one("#tabs", TabbedContent)
            if not tabs.query("#tab-fleet"):  # only a fleet run has this tab (`torchdoctor --snapshot fleet.json`)
                tabs.add_pane(TabPane("Fleet", VerticalScroll(Static(id="fleet"), classes="facts"), id="tab-fleet"))
                self.call_after_refresh(self.refresh_facts)
            else:
                self.query_one("#fleet", Static).update(fleet_panel(self.snapshot))
        self.query_one("#machine", Static).update(machine_panel(self.snapshot, self.parts))
        self.query_one("#torch", Static).update(torch_panel(self.snapshot, self.parts))
        self.query_one("#project", Static).update(project_panel(self.snapshot, self.parts))
        self.refresh_bench()

    def refresh_bench(self) -> None:
        from torchdoctor.tui.panels import bench_view

        self.query_one("#bench", Static).update(bench_view(self.report, self.bench_progress))

    def refresh_findings(self) -> None:
        from torchdoctor.render.text import ICONS
        from torchdoctor.tui.panels import STYLES

        options = self.query_one("#diagnoses", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        diagnoses = self.report.diagnoses if self.report else ()
        for number, diagnosis in enumerate(diagnoses):
            label = Text(f"{ICONS[diagnosis.severity]} {diagnosis.code} ", style=STYLES[diagnosis.severity])
            label.append(diagnosis.message, style="")
            options.add_option(Option(label, id=str(number)))
        if diagnoses:
            options.highlighted = min(highlighted or 0, len(diagnoses) - 1)
            self.show_detail(diagnoses[options.highlighted])
        else:
            self.query_one("#detail-text", Static).update(Text("No findings: this setup looks healthy.", style="green"))

    @on(OptionList.OptionHighlighted, "#diagnoses")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        diagnosis = self.selected()
        if diagnosis is not None:
            self.show_detail(diagnosis)

    def selected(self) -> Diagnosis | None:
        if self.report is None or not self.report.diagnoses:
            return None
        index = self.query_one("#diagnoses", OptionList).highlighted
        return self.report.diagnoses[index] if index is not None and index < len(self.report.diagnoses) else None

    def show_detail(self, diagnosis: Diagnosis) -> None:
        """The finding with its why, evidence and fix; a pyproject fix with its proven diff (the app previews it)."""
        from torchdoctor.tui.panels import diagnosis_view
        from torchdoctor.workflow import FixPreview, is_unsafe

        diff = None
        if diagnosis.fix is not None and diagnosis.fix.action:
            preview = cast("TorchDoctorApp", self.app).preview([diagnosis])
            diff = preview.diff if isinstance(preview, FixPreview) else f"# {preview}"
        unsafe = UNSAFE_WARNING if is_unsafe(diagnosis) else None
        self.query_one("#detail-text", Static).update(diagnosis_view(diagnosis, diff, unsafe))
