"""The app's one screen: the title, the verdict line and the tabs, redrawn by watchers from reactive state.

The app owns the work (probes, fixes, uv lock, the GEMM test) and sets what it learns here: `snapshot` and `report`
together when a snapshot is ready, `parts` as each probe answers, `bench_progress` while the GEMM test runs. Each
assignment redraws what depends on it; the app shows the rest (the probing spinner, uv lock's output, which tab is
on top) through this screen's methods, never by a widget's id. The panels' contents come from tui/panels.py
(imported when first drawn, after the first paint).

The screen is drawn in two steps: the title, the verdict line and the keys first, then the tabs (six panes, about
three times what the rest costs Textual to style and lay out: benchmarks/tui_first_paint.py). When the tabs are in
place the screen posts `Built`, and the app starts probing: nothing is drawn into a pane before it exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from torchdoctor.tui.texts import BENCH_HINT, WAITING

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.tui.app import TorchDoctorApp

PROVING = "# proving the fix (applying it to a copy and checking the result)…"
"""The detail view's diff until the fix's proof answers."""

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
        self.tabs_mounted = False
        """False while the tabs are being mounted: the app must not quit then (Textual's tab bar, torn down half
        mounted, raises), so a quit waits for them."""

    class Built(Message):
        """The tabs are in place: the panes can be drawn into."""

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text), id="title")
        yield Static("", id="summary")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self.build_tabs)  # after the first paint

    async def build_tabs(self) -> None:
        await self.mount(tabs(), before=self.query_one(Footer))
        self.tabs_mounted = True
        self.query_one("#diagnoses", OptionList).focus()  # ↑/↓ pick a finding from the start
        # Once the tabs are painted: what the app starts then imports the core on this thread, which would hold
        # the paint back.
        self.call_after_refresh(self.post_message, self.Built())

    # --- watchers ------------------------------------------------------------------------------------

    def drawable(self) -> bool:
        """False while the panes are not there (not built yet) or going (the app shuts down, and takes the widgets
        down leaf first, so a pane can be gone while the tabs are still there): nothing to redraw then."""
        return self.app.is_running and bool(self.query("#tabs"))

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

    def show_status(self, line: Text, *, keep_colour: bool = False) -> None:
        """The verdict line while there is no verdict yet (the probing spinner), or a provisional one, which keeps
        the colour of its worst finding."""
        summary = self.query_one("#summary", Static)
        summary.update(line, layout=False)
        if not keep_colour:
            summary.set_classes("")

    def show_tab(self, tab: str) -> bool:
        """Put `tab` on top; False where there is no such tab (a fleet tab without a fleet run) or no tabs yet.
        The findings list gives up the focus first, or its pane would take the tab back."""
        if not self.drawable() or not self.query(f"#{tab}"):
            return False
        self.set_focus(None)
        self.query_one("#tabs", TabbedContent).active = tab
        if tab == "tab-findings":
            self.query_one("#diagnoses", OptionList).focus()
        return True

    def lock_started(self, first_line: Text) -> None:
        """A new uv lock run: its tab on top, its log cleared and begun with the command."""
        self.show_tab("tab-lock")
        log = self.query_one("#lock-log", RichLog)
        log.clear()
        log.write(first_line)

    def lock_line(self, line: Text) -> None:
        self.query_one("#lock-log", RichLog).write(line)

    def lock_status(self, line: Text | str) -> None:
        """The line above uv lock's log: its spinner and elapsed time while it runs, empty after. Only its first and
        last update can change its height (empty, one line): the spinner's ticks in between redraw the line without
        a layout pass of the screen."""
        status = self.query_one("#lock-status", Static)
        status.update(line, layout=not (str(line) and str(status.content)))

    def lock_log_text(self) -> str:
        """What uv lock's log holds, as plain text."""
        return "\n".join(line.text for line in self.query_one("#lock-log", RichLog).lines)

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
                panel = Static(fleet_panel(self.snapshot), id="fleet")  # drawn as made: the pane mounts later
                tabs.add_pane(TabPane("Fleet", VerticalScroll(panel, classes="facts"), id="tab-fleet"))
            for panel in self.query("#fleet").results(Static):  # none while the new pane is still mounting
                panel.update(fleet_panel(self.snapshot))
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
        """The finding with its why, evidence and fix; a pyproject fix with its proven diff. The proof runs in the
        app's worker: until it answers, the fix says it is being proven."""
        from torchdoctor.tui.panels import diagnosis_view
        from torchdoctor.workflow import FixPreview, is_unsafe

        diff = None
        if diagnosis.fix is not None and diagnosis.fix.action:
            app = cast("TorchDoctorApp", self.app)
            preview = app.known_preview(diagnosis)
            if preview is None:
                app.prove_preview(diagnosis)
                diff = PROVING
            else:
                diff = preview.diff if isinstance(preview, FixPreview) else f"# {preview}"
        unsafe = UNSAFE_WARNING if is_unsafe(diagnosis) else None
        self.query_one("#detail-text", Static).update(diagnosis_view(diagnosis, diff, unsafe))

    def preview_proven(self, diagnosis: Diagnosis) -> None:
        """A proof the app finished: shown if its finding is still the one on screen."""
        if self.drawable() and self.selected() == diagnosis:
            self.show_detail(diagnosis)


def tabs() -> TabbedContent:
    """The six panes, built as compose would build them (each pane added to the TabbedContent before it mounts)."""
    panes = [
        TabPane("Findings", Horizontal(OptionList(id="diagnoses"), VerticalScroll(Static(WAITING, id="detail-text"),
                                                                                   id="detail"), id="findings-row"),
                id="tab-findings"),
        TabPane("Machine", VerticalScroll(Static(WAITING, id="machine"), classes="facts"), id="tab-machine"),
        TabPane("Torch", VerticalScroll(Static(WAITING, id="torch"), classes="facts"), id="tab-torch"),
        TabPane("Project", VerticalScroll(Static(WAITING, id="project"), classes="facts"), id="tab-project"),
        TabPane("GEMM", VerticalScroll(Static(BENCH_HINT, id="bench"), classes="facts"), id="tab-gemm"),
        TabPane("uv lock", Vertical(Static("", id="lock-status"),
                                    RichLog(id="lock-log", wrap=True, markup=False, highlight=False)), id="tab-lock"),
    ]
    content = TabbedContent(id="tabs", initial="tab-findings")
    for pane in panes:
        content.compose_add_child(pane)
    return content
