"""The app's one screen: the title, the verdict line and the tabs, each tab a widget that owns what it shows.

The app owns the work (probes, fixes, uv lock, the GEMM test) and sets what it learns here: `snapshot` and `report`
together when a snapshot is ready, `parts` as each probe answers. Each assignment redraws what depends on it; the
widgets (tui/widgets/) are reached by their type, and the app talks to them through this screen's properties.

The screen is drawn in two steps: the title, the verdict line and the keys first, then the tabs (six panes, about
three times what the rest costs Textual to style and lay out: benchmarks/tui_first_paint.py). When the tabs are in
place the screen posts `Built`, and the app starts probing: nothing is drawn into a pane before it exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static, TabbedContent, TabPane

from torchdoctor.tui.widgets import FactsPanel, Findings, GemmPanel, LockLog, Verdict

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.workflow import PreviewCache

FACTS = ("machine", "torch", "project")


class MainScreen(Screen[None]):
    # init=False: a watcher runs when the app assigns, never when Textual first initialises the value (which can be
    # while the screen is still being built, or already taken down when the app quits).
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)
    report: var[Report | None] = var(None, always_update=True, init=False)
    """Set right after `snapshot`, from it (workflow.diagnose): the findings, the verdict and every panel follow."""
    parts: var[dict[str, Any]] = var(dict, always_update=True, init=False)
    """The probes that answered so far, by name, while the snapshot is being taken."""

    def __init__(self, title: str, *, recorded: bool, previews: PreviewCache | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.recorded = recorded
        self.previews = previews
        self.tabs_mounted = False
        """False while the tabs are being mounted: the app must not quit then (Textual's tab bar, torn down half
        mounted, raises), so a quit waits for them."""

    class Built(Message):
        """The tabs are in place: the panes can be drawn into."""

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text), id="title")
        yield Verdict()
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self.build_tabs)  # after the first paint

    async def build_tabs(self) -> None:
        await self.mount(self.tabs(), before=self.query_one(Footer))
        self.tabs_mounted = True
        self.query_one("#diagnoses", OptionList).focus()  # ↑/↓ pick a finding from the start
        # Once the tabs are painted: what the app starts then imports the core on this thread, which would hold
        # the paint back.
        self.call_after_refresh(self.post_message, self.Built())

    def tabs(self) -> TabbedContent:
        """The six panes, built as compose would build them (each pane added to the TabbedContent before it mounts)."""
        panes = [
            TabPane("Findings", Findings(self.previews), id="tab-findings"),
            *(TabPane(kind.capitalize(), VerticalScroll(FactsPanel(kind), classes="facts"), id=f"tab-{kind}")
              for kind in FACTS),
            TabPane("GEMM", VerticalScroll(GemmPanel(), classes="facts"), id="tab-gemm"),
            TabPane("uv lock", LockLog(), id="tab-lock"),
        ]
        content = TabbedContent(id="tabs", initial="tab-findings")
        for pane in panes:
            content.compose_add_child(pane)
        return content

    # --- the widgets, by type --------------------------------------------------------------------------

    @property
    def verdict(self) -> Verdict:
        return self.query_one(Verdict)

    @property
    def findings(self) -> Findings:
        return self.query_one(Findings)

    @property
    def gemm(self) -> GemmPanel:
        return self.query_one(GemmPanel)

    @property
    def lock_log(self) -> LockLog:
        return self.query_one(LockLog)

    def selected(self) -> Diagnosis | None:
        return self.findings.selected() if self.drawable() else None

    # --- watchers ------------------------------------------------------------------------------------

    def drawable(self) -> bool:
        """False while the panes are not there (not built yet) or going (the app shuts down, and takes the widgets
        down leaf first, so a pane can be gone while the tabs are still there): nothing to redraw then."""
        return self.app.is_running and bool(self.query("#tabs"))

    def watch_report(self) -> None:
        if self.report is None or not self.drawable():
            return
        self.refresh_facts()
        self.findings.show(self.report)
        self.verdict.show_report(self.report, "recorded machine" if self.recorded else self.report.snapshot.interpreter.path)

    def watch_parts(self) -> None:
        if self.drawable():
            self.refresh_facts()

    def refresh_facts(self) -> None:
        if self.snapshot is not None and self.snapshot.fleet is not None and not self.query("#tab-fleet"):
            # Only a fleet run has this tab (`torchdoctor --snapshot fleet.json`); drawn as made: it mounts later.
            panel = FactsPanel("fleet")
            panel.show(self.snapshot, self.parts)
            self.query_one(TabbedContent).add_pane(TabPane("Fleet", VerticalScroll(panel, classes="facts"),
                                                           id="tab-fleet"))
        for panel in self.query(FactsPanel).results(FactsPanel):  # a new fleet pane may still be mounting
            panel.show(self.snapshot, self.parts, self.report.model if self.report else None)
        self.gemm.show(self.report)

    # --- what the app shows ----------------------------------------------------------------------------

    def show_tab(self, tab: str) -> bool:
        """Put `tab` on top; False where there is no such tab (a fleet tab without a fleet run) or no tabs yet.
        The findings list gives up the focus first, or its pane would take the tab back."""
        if not self.drawable() or not self.query(f"#{tab}"):
            return False
        self.set_focus(None)
        self.query_one(TabbedContent).active = tab
        if tab == "tab-findings":
            self.query_one("#diagnoses", OptionList).focus()
        return True

    def begin_run(self, first_line: Text, label: str) -> None:
        """A new `uv lock` or fix: the uv lock tab on top, its log begun with what runs."""
        self.show_tab("tab-lock")
        self.lock_log.begin(first_line, label)
