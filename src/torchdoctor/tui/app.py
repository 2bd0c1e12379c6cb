"""The Textual app: the same Report the CLI prints, on one screen, with the fixes one key away.

Everything slow runs in thread workers that only post messages (probes, the GEMM test, `uv lock`);
the app turns those into widgets. The logic is the CLI's, in torchdoctor.workflow (diagnose, choose_fixes,
preview_fixes, write_fixes, recheck, undo_fix) and the probes (take_snapshot, run_bench, run_uv_lock). Nothing
here decides anything the CLI would decide differently.

The first screen is drawn before torchdoctor's core is imported: this module imports Textual and light modules only,
and each method imports the core parts it uses (they run once data arrives, after the first paint; Python imports a
module once). That keeps the first paint near the cost of Textual itself (benchmarks/tui_first_paint.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from torchdoctor import __version__
from torchdoctor.paths import shown
from torchdoctor.tui.messages import BenchEvent, BenchFinished, LockFinished, LockLine, PartProbed, SnapshotReady
from torchdoctor.tui.texts import BENCH_HINT, WAITING

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.workflow import FixPreview

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
UNSAFE_WARNING = (
    "Unsafe: this fix changes what the project promises (its dependencies, extras or Python range), "
    "not only where packages come from. Read the diff before writing it."
)


class TorchDoctorApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "torchdoctor"
    BINDINGS = [
        # The tooltips are the help's sentences (screens.help_text) and the command palette's: one place for both.
        Binding("q", "quit", "Quit", tooltip="quit (nothing keeps running)"),  # first: a narrow footer still shows it
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("f", "fix_selected", "Fix",
                tooltip="fix the selected finding: shows the change to pyproject.toml and asks first"),
        Binding("a", "fix_all", "Fix all safe", tooltip="apply every safe fix at once (asks first)"),
        Binding("u", "undo", "Undo", tooltip="undo torchdoctor's last change of pyproject.toml"),
        Binding("l", "lock", "uv lock",
                tooltip="run `uv lock` and show its output (the proof that the fix works); Escape cancels it"),
        Binding("g", "bench", "GEMM", tooltip="run the GEMM throughput test on this GPU (g again cancels)"),
        Binding("r", "rescan", "Rescan", tooltip="probe and check again"),
        Binding("m", "export_markdown", "Markdown", show=False,
                tooltip="write the report as Markdown (for a bug report; also copied)"),
        Binding("j", "export_json", "JSON", show=False, tooltip="write the report as JSON"),
        Binding("s", "save_snapshot", "Save snapshot", show=False,
                tooltip="save the probed facts as a snapshot file others can replay with --snapshot"),
        Binding("question_mark", "help", "Help", tooltip="this help"),
        Binding("escape", "cancel_lock", "Cancel uv lock", show=False),
        *(Binding(str(number), f"show_tab('{tab}')", tab.removeprefix("tab-"), show=False)
          for number, tab in enumerate(("tab-findings", "tab-machine", "tab-torch", "tab-project", "tab-gemm", "tab-lock",
                                        "tab-fleet"), 1)),
    ]

    def __init__(
        self,
        project_dir: Path,
        *,
        python: str | None = None,
        recorded: Snapshot | None = None,
        label: str | None = None,
        output_dir: Path | None = None,
        torch_timeout_s: float = 60.0,
    ) -> None:
        """`recorded` is a machine read from a snapshot (--snapshot, --demo): it is not probed, and the
        GEMM test is not offered; the project is always read from `project_dir`."""
        super().__init__()
        self.project_dir = project_dir
        self.python = python
        self.recorded = recorded
        self.label = label
        self.output_dir = output_dir or Path.cwd()
        self.torch_timeout_s = torch_timeout_s
        self.snapshot: Snapshot | None = None
        self.report: Report | None = None
        self.parts: dict = {}
        self.probe_started = time.monotonic()
        self.probing = False
        self.provisional = False
        """The report on screen is the first verdict from torch's files, while `import torch` still runs."""
        self.bench_cancel = threading.Event()
        self.bench_running = False
        self.bench_progress: str | None = None
        self.bench_results: list[str] = []
        self.lock_cancel = threading.Event()
        self.lock_started: float | None = None
        self._plans: dict = {}
        """Proven fix plans by (the fixes, the file's bytes): the detail view asks on every highlight."""
        self.fixed_codes: set[tuple[str, str]] = set()

    # --- layout -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        where = self.label or shown(self.project_dir)
        yield Static(Text(f"torchdoctor {__version__} — {where}"), id="title")
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
        self.main.query_one("#diagnoses", OptionList).focus()  # ↑/↓ pick a finding from the start
        self.set_interval(0.1, self.tick)
        self.call_after_refresh(self.start_probe)  # after the first paint: probing imports the core

    def get_system_commands(self, screen):
        """The command palette (Ctrl+P) offers torchdoctor's own actions, with the help's sentence for each, before
        Textual's; those a recorded machine cannot do are left out, as from the footer."""
        from textual.app import SystemCommand

        from torchdoctor.tui.screens import explained

        titles = {"fix_selected": "Fix the selected finding", "fix_all": "Fix all safe", "undo": "Undo the last fix",
                  "lock": "Run uv lock", "bench": "Run the GEMM test", "rescan": "Probe and check again",
                  "export_markdown": "Write the Markdown report", "export_json": "Write the JSON report",
                  "save_snapshot": "Save a snapshot"}
        for action, title in titles.items():
            if self.check_action(action, ()):
                yield SystemCommand(title, explained(self.BINDINGS)[action], getattr(self, f"action_{action}"))
        yield from super().get_system_commands(screen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A recorded machine cannot be measured or probed again: its `g` and `r` leave the footer."""
        if action in ("bench", "rescan") and self.recorded is not None:
            return False
        return True

    @property
    def main(self):
        """The app's own screen: panels are found there even while a dialog or the help is on top."""
        return self.screen_stack[0]

    # --- probing --------------------------------------------------------------------------------------

    def start_probe(self) -> None:
        self.probing = True
        self.probe_started = time.monotonic()
        self.parts = {}
        self.probe()

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def probe(self) -> None:
        from torchdoctor.probes.collect import take_snapshot, with_project

        if self.recorded is not None:
            self.post_message(SnapshotReady(with_project(self.recorded, self.project_dir)))
            return
        snapshot = take_snapshot(
            self.project_dir, self.python, torch_timeout_s=self.torch_timeout_s,
            on_part=self._part_probed, first_verdict=True,
        )
        self.post_message(SnapshotReady(snapshot))

    def _part_probed(self, name: str, value: object) -> None:
        self.post_message(PartProbed(name, value))

    def closing(self) -> bool:
        """True once the panels are gone (the app is quitting): a probe that finishes then has nowhere to show
        its result. A re-read after a fix runs `uv lock --check`, so quitting right after a fix meets one."""
        return not self.screen_stack or not self.main.query("#summary")

    def on_part_probed(self, message: PartProbed) -> None:
        if self.closing():
            return
        if message.name == "provisional":  # the first verdict, from torch's files; the import still runs
            if self.probing:
                self.set_snapshot(message.value)
                self.provisional = True
            return
        self.parts[message.name] = message.value
        self.refresh_facts()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if self.closing():
            return
        self.probing = self.provisional = False
        snapshot = message.snapshot
        if self.snapshot is not None and self.snapshot.bench is not None and snapshot.bench is None:
            snapshot = replace(snapshot, bench=self.snapshot.bench)  # a rescan keeps the last GEMM result
        self.set_snapshot(snapshot)

    def set_snapshot(self, snapshot: Snapshot) -> None:
        from torchdoctor.workflow import diagnose, recheck

        before = self.report.diagnoses if self.report else ()
        self.snapshot = snapshot
        self.report = diagnose(snapshot)
        self.refresh_facts()
        self.refresh_findings()
        self.show_summary()
        if self.fixed_codes:
            said = recheck(self.fixed_codes, before, self.report.diagnoses)
            if said.cured:
                self.notify(f"re-checked: {', '.join(said.cured)} no longer reported", title="Fixed", markup=False)
            if said.still:
                self.notify(f"re-checked: still reported: {', '.join(said.still)}", severity="warning", markup=False)
            self.fixed_codes = set()

    def tick(self) -> None:
        """The spinners and elapsed times while probes or uv lock run; nothing once they are done."""
        if self.lock_started is not None and self.is_running:
            elapsed = time.monotonic() - self.lock_started
            self.main.query_one("#lock-status", Static).update(Text(
                f"{SPINNER[int(elapsed * 10) % len(SPINNER)]} uv lock running {elapsed:4.1f} s — Escape cancels", style="bold"))
        if not (self.probing or self.report is None) or not self.is_running:
            return  # done, or the app is closing
        elapsed = time.monotonic() - self.probe_started
        spin = SPINNER[int(elapsed * 10) % len(SPINNER)]
        waiting = [n for n in ("project", "system", "nvml", "torch") if n not in self.parts]
        detail = f"waiting for {', '.join(waiting)}" if waiting else "checking"
        if "torch" in waiting:
            detail += " (import torch in the project's interpreter)"
        summary = self.main.query_one("#summary", Static)
        if self.provisional and self.report is not None:
            from torchdoctor.render.text import summary_line
  # a first verdict from torch's files; the import confirms it
            summary.update(Text(f"{summary_line(self.report)} · first verdict, from torch's files · {spin} import torch "
                                f"{elapsed:4.1f} s"))
            return
        summary.update(Text(f"{spin} probing {elapsed:4.1f} s — {detail}"))
        summary.set_classes("")

    def show_summary(self) -> None:
        """The report's one-line verdict, coloured by its worst finding."""
        from torchdoctor.render.text import summary_line

        report = self.report
        if report is None:
            return
        source = "recorded machine" if self.recorded is not None else report.snapshot.interpreter.path
        summary = self.main.query_one("#summary", Static)
        summary.update(Text(f"{summary_line(report)} · {source}"))
        errors = any(d.severity.value == "error" for d in report.diagnoses)
        warnings = any(d.severity.value == "warning" for d in report.diagnoses)
        summary.set_classes("errors" if errors else "warnings" if warnings else "healthy")

    # --- panels --------------------------------------------------------------------------------------

    def refresh_facts(self) -> None:
        from torchdoctor.tui.panels import fleet_panel, machine_panel, project_panel, torch_panel

        if self.snapshot is not None and self.snapshot.fleet is not None:
            tabs = self.main.query_one("#tabs", TabbedContent)
            if not tabs.query("#tab-fleet"):  # only a fleet run has this tab (`torchdoctor --snapshot fleet.json`)
                tabs.add_pane(TabPane("Fleet", VerticalScroll(Static(id="fleet"), classes="facts"), id="tab-fleet"))
                self.call_after_refresh(self.refresh_facts)
            else:
                self.main.query_one("#fleet", Static).update(fleet_panel(self.snapshot))
        self.main.query_one("#machine", Static).update(machine_panel(self.snapshot, self.parts))
        self.main.query_one("#torch", Static).update(torch_panel(self.snapshot, self.parts))
        self.main.query_one("#project", Static).update(project_panel(self.snapshot, self.parts))
        self.refresh_bench()

    def refresh_bench(self) -> None:
        from torchdoctor.tui.panels import bench_view

        progress = self.bench_progress
        if self.bench_results:
            progress = "\n".join([*(self.bench_results), progress or ""]).strip()
        self.main.query_one("#bench", Static).update(bench_view(self.report, progress))

    def refresh_findings(self) -> None:
        from torchdoctor.render.text import ICONS
        from torchdoctor.tui.panels import STYLES

        options = self.main.query_one("#diagnoses", OptionList)
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
            self.main.query_one("#detail-text", Static).update(Text("No findings: this setup looks healthy.", style="green"))

    @on(OptionList.OptionHighlighted, "#diagnoses")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        diagnosis = self.selected()
        if diagnosis is not None:
            self.show_detail(diagnosis)

    def selected(self) -> Diagnosis | None:
        if self.report is None or not self.report.diagnoses:
            return None
        index = self.main.query_one("#diagnoses", OptionList).highlighted
        return self.report.diagnoses[index] if index is not None and index < len(self.report.diagnoses) else None

    def show_detail(self, diagnosis: Diagnosis) -> None:
        from torchdoctor.tui.panels import diagnosis_view
        from torchdoctor.workflow import FixPreview, is_unsafe

        diff = None
        if diagnosis.fix is not None and diagnosis.fix.action:
            preview = self.preview([diagnosis])
            diff = preview.diff if isinstance(preview, FixPreview) else f"# {preview}"
        unsafe = UNSAFE_WARNING if is_unsafe(diagnosis) else None
        self.main.query_one("#detail-text", Static).update(diagnosis_view(diagnosis, diff, unsafe))

    # --- fixes ---------------------------------------------------------------------------------------

    def preview(self, chosen: list[Diagnosis], follow: bool = False) -> FixPreview | str:
        """The proven preview of the chosen fixes, as the CLI writes it, or why there is none in one line.
        "Fix all" goes on to what the fixes reveal (their fixed point); "fix this one" applies that one only."""
        from torchdoctor.workflow import CannotFix, preview_fixes

        if self.snapshot is None:
            return "nothing probed yet"
        path = Path(self.snapshot.project.pyproject.path) if self.snapshot.project.pyproject else None
        try:
            original = path.read_bytes() if path else b""
        except OSError as error:
            return f"cannot preview: {error}"
        key = (tuple((d.code, d.message) for d in chosen), original, follow)
        preview = self._plans.get(key)  # proving reads the project again: once per fix and file state
        if preview is None:
            try:
                preview = preview_fixes(self.snapshot, chosen, follow=follow)
            except CannotFix as error:
                return str(error)
            self._plans = {**self._plans, key: preview} if len(self._plans) < 64 else {key: preview}
        if preview.refusal:
            return f"not applied: {preview.refusal}"
        return preview

    def action_fix_selected(self) -> None:
        from torchdoctor.workflow import is_unsafe

        diagnosis = self.selected()
        if diagnosis is None or diagnosis.fix is None:
            self.notify("This finding has no fix.", severity="warning", markup=False)
            return
        if not diagnosis.fix.action:
            self.notify("This fix is outside pyproject.toml: run the commands shown yourself.", severity="warning", markup=False)
            return
        self.confirm_and_write([diagnosis], f"{diagnosis.code}: {diagnosis.fix.title}",
                               UNSAFE_WARNING if is_unsafe(diagnosis) else None)

    def action_fix_all(self) -> None:
        from torchdoctor.workflow import choose_fixes

        chosen = list(choose_fixes(self.report.diagnoses).chosen) if self.report else []
        if not chosen:
            self.notify("No safe pyproject.toml fix to apply.", markup=False)
            return
        codes = ", ".join(dict.fromkeys(d.code for d in chosen))
        self.confirm_and_write(chosen, f"every safe fix: {codes}", None, follow=True)

    def confirm_and_write(self, chosen: list[Diagnosis], title: str, warning: str | None, follow: bool = False) -> None:
        from torchdoctor.fixes import FixError
        from torchdoctor.tui.screens import ConfirmFix
        from torchdoctor.workflow import write_fixes

        preview = self.preview(chosen, follow=follow)
        if isinstance(preview, str) or not preview.changes:
            self.notify(preview if isinstance(preview, str) else "Nothing to change.", severity="warning", markup=False)
            return

        def answered(write: bool | None) -> None:
            if not write:
                self.notify("Nothing written.", markup=False)
                return
            try:
                write_fixes(preview)
            except FixError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            self.fixed_codes = {(d.code, d.message) for d in chosen}
            self.notify(f"Wrote {preview.path.name}; u undoes it, l runs uv lock.", title="Written", markup=False)
            self.recheck_project()

        self.clear_notifications()  # a toast would cover the dialog's buttons
        self.push_screen(ConfirmFix(title, preview.diff, shown(preview.path), warning), answered)

    def recheck_project(self) -> None:
        if self.snapshot is not None:
            self.reread_project(self.snapshot)

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def reread_project(self, snapshot: Snapshot) -> None:
        """The project's files again (a nightly index's page may be read): off the main thread."""
        from torchdoctor.workflow import reread_project

        self.post_message(SnapshotReady(reread_project(snapshot)))

    def action_undo(self) -> None:
        from torchdoctor.fixes import FixError
        from torchdoctor.probes.project import find_project_root
        from torchdoctor.workflow import undo_fix

        root, _ = find_project_root(self.project_dir)
        try:
            undo_fix(root)
        except FixError as error:
            self.notify(str(error), severity="warning", markup=False)
            return
        self.notify("Restored pyproject.toml as it was before the last fix.", title="Undone", markup=False)
        self.recheck_project()

    def action_rescan(self) -> None:
        if not self.probing:
            self.start_probe()

    # --- uv lock -------------------------------------------------------------------------------------

    def action_lock(self) -> None:
        if self.snapshot is None:
            return
        self.action_show_tab("tab-lock")
        log = self.main.query_one("#lock-log", RichLog)
        log.clear()
        log.write(Text(f"$ uv lock   (in {self.snapshot.project.root})"))
        self.lock_cancel.clear()
        self.lock_started = time.monotonic()
        self.lock(Path(self.snapshot.project.root))

    def action_cancel_lock(self) -> None:
        """Escape while uv lock runs: stop it (its whole process group); uv leaves uv.lock as it was."""
        if self.lock_started is not None:
            self.lock_cancel.set()

    @work(thread=True, exclusive=True, group="lock", exit_on_error=False)
    def lock(self, root: Path) -> None:
        from torchdoctor.uvlock import run_uv_lock

        def line(text: str) -> None:
            self.post_message(LockLine(text))

        result = run_uv_lock(root, on_line=line, cancel=self.lock_cancel)
        self.post_message(LockFinished(result))

    def on_lock_line(self, message: LockLine) -> None:
        self.main.query_one("#lock-log", RichLog).write(Text(message.line))

    def on_lock_finished(self, message: LockFinished) -> None:
        result = message.result
        cancelled = self.lock_cancel.is_set() and not result.ok
        self.lock_started = None
        self.main.query_one("#lock-status", Static).update("")
        log = self.main.query_one("#lock-log", RichLog)
        if result.ok:
            log.write(Text("uv lock succeeded: uv.lock is written; `uv sync` installs it."))
            self.notify("uv lock succeeded.", title="Locked", markup=False)
        elif cancelled:
            log.write(Text("uv lock cancelled: uv.lock is as it was."))
            self.notify("uv lock cancelled.", markup=False)
        else:
            reason = result.error or result.describe_failure()
            log.write(Text(f"uv lock failed: {reason}"))
            self.notify(f"uv lock failed ({reason}); its output is in the uv lock tab.", severity="error", markup=False)
        self.recheck_project()

    # --- GEMM ----------------------------------------------------------------------------------------

    def action_bench(self) -> None:
        if self.bench_running:
            self.bench_cancel.set()
            return
        if self.recorded is not None:
            self.notify("The GEMM test measures this machine; a recorded machine cannot be measured.", severity="warning", markup=False)
            return
        if self.snapshot is None:
            self.notify("Wait for the probes to finish.", severity="warning", markup=False)
            return
        self.action_show_tab("tab-gemm")
        self.bench_cancel.clear()
        self.bench_running = True
        self.bench_results = []
        self.bench_progress = "starting the test in the project's interpreter (import torch)…"
        self.refresh_bench()
        self.bench(self.snapshot.interpreter.path)

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False)
    def bench(self, python: str) -> None:
        from torchdoctor.probes.gemm import run_bench

        def event(record: dict) -> None:
            self.post_message(BenchEvent(record))

        info = run_bench(python, on_event=event, cancel=self.bench_cancel)
        self.post_message(BenchFinished(info))

    def on_bench_event(self, message: BenchEvent) -> None:
        record = message.record
        event = record.get("event")
        if event == "progress":
            self.bench_progress = f"{record.get('dtype') or ''} {record.get('phase')}… (g cancels)".strip()
        elif event == "gemm" and record.get("median") is not None:
            self.bench_results.append(f"{record['dtype']:<5} {record['median']:.1f} TFLOP/s")
        elif event == "ready":
            self.bench_progress = "measuring…"
        self.refresh_bench()

    def on_bench_finished(self, message: BenchFinished) -> None:
        self.bench_running = False
        self.bench_progress = None
        self.bench_results = []
        bench = message.bench
        if bench.status == "cancelled":
            self.notify("GEMM test cancelled.", markup=False)
            self.refresh_bench()
            return
        if self.snapshot is not None:
            self.set_snapshot(replace(self.snapshot, bench=bench))
        if bench.status != "ok":
            self.notify(f"The GEMM test did not finish: {bench.error}", severity="error", markup=False)

    # --- export --------------------------------------------------------------------------------------

    def export(self, name: str, text: str) -> Path | None:
        from torchdoctor.files import atomic_write

        path = self.output_dir / name
        try:
            atomic_write(path, text.encode("utf-8"))
        except OSError as error:
            self.notify(f"cannot write {path}: {error.strerror or error}", severity="error", markup=False)
            return None
        return path

    def action_export_markdown(self) -> None:
        if self.report is None:
            return
        from torchdoctor.render.markdown import render_markdown

        text = render_markdown(self.report)
        path = self.export("torchdoctor-report.md", text)
        if path:
            self.copy_to_clipboard(text)
            self.notify(f"Wrote {path} (also copied to the clipboard).", title="Report", markup=False)

    def action_export_json(self) -> None:
        if self.report is None:
            return
        from torchdoctor.render.json_report import render_json

        path = self.export("torchdoctor-report.json", render_json(self.report))
        if path:
            self.notify(f"Wrote {path}.", title="Report", markup=False)

    def action_save_snapshot(self) -> None:
        if self.snapshot is None:
            return
        path = self.export("torchdoctor-snapshot.json", self.snapshot.to_json() + "\n")
        if path:
            self.notify(f"Wrote {path}; replay it with `torchdoctor check --snapshot {path.name}`.", title="Snapshot", markup=False)

    # --- the rest ------------------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch tabs; the findings list gives up the focus first, or its pane would take the tab back."""
        tabs = self.main.query_one("#tabs", TabbedContent)
        if not tabs.query(f"#{tab}"):
            self.notify("This snapshot has no fleet run: `torchdoctor fleet --save-snapshot FILE` records one.", markup=False)
            return
        self.set_focus(None)
        tabs.active = tab
        if tab == "tab-findings":
            self.main.query_one("#diagnoses", OptionList).focus()

    def action_help(self) -> None:
        from torchdoctor.tui.screens import HelpScreen

        self.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        from torchdoctor.probes.runner import stop_all_children

        self.bench_cancel.set()
        self.lock_cancel.set()
        stop_all_children()
        self.exit(0)

    def on_unmount(self) -> None:
        from torchdoctor.probes.runner import stop_all_children

        self.bench_cancel.set()
        self.lock_cancel.set()
        stop_all_children()

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "probe":
                self.probing = self.provisional = False
            if event.worker.group == "bench":
                self.bench_running = False
            self.notify(str(event.worker.error), title=f"{event.worker.group} failed", severity="error", timeout=10, markup=False)

