"""The Textual app: the same Report the CLI prints, on one screen, with the fixes one key away.

Everything slow runs in thread workers that only post messages (probes, the GEMM test, `uv lock`);
the app turns those into widgets. The logic is the CLI's, in torchdoctor.workflow (diagnose, choose_fixes,
preview_fixes, the fix transaction carry_out, undo_fix) and the probes (take_snapshot, run_bench, run_uv_lock). Nothing
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
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from torchdoctor import __version__
from torchdoctor.paths import shown
from torchdoctor.tui.main_screen import UNSAFE_WARNING, MainScreen
from torchdoctor.tui.messages import (
    BenchEvent,
    BenchFinished,
    FixFinished,
    LockFinished,
    LockLine,
    PartProbed,
    PreviewProven,
    SnapshotReady,
)

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report
    from torchdoctor.snapshot import Snapshot
    from torchdoctor.workflow import FixPreview

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


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
        bench_seconds: float | None = None,
    ) -> None:
        """`recorded` is a machine read from a snapshot (--snapshot, --demo): it is not probed, and the
        GEMM test is not offered; the project is always read from `project_dir`. `bench_seconds` is the GEMM
        test's measuring time, as `torchdoctor bench --seconds` (None: the same default)."""
        super().__init__()
        self.project_dir = project_dir
        self.python = python
        self.recorded = recorded
        self.label = label
        self.output_dir = output_dir or Path.cwd()
        self.torch_timeout_s = torch_timeout_s
        self.bench_seconds = bench_seconds
        self.probe_started = time.monotonic()
        self.started = False
        """True once the screen's tabs are painted and probing has begun (MainScreen.Built)."""
        self.quit_when_built = False
        """A quit asked for while the tabs were mounting: done when they are (or in 5 s)."""
        self.probing = False
        self.provisional = False
        """The report on screen is the first verdict from torch's files, while `import torch` still runs."""
        self.bench_cancel = threading.Event()
        self.bench_running = False
        self.bench_progress: str | None = None
        self.bench_results: list[str] = []
        self.lock_cancel = threading.Event()
        self.lock_started: float | None = None
        self.lock_label = "uv lock"
        self._plans: dict = {}
        """Proven fix plans by (the fixes, the file's bytes): the detail view asks on every highlight."""
        self.fixed_codes: set[tuple[str, str]] = set()

    # --- layout -------------------------------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        where = self.label or shown(self.project_dir)
        return MainScreen(f"torchdoctor {__version__} — {where}", recorded=self.recorded is not None)

    def on_mount(self) -> None:
        self.set_interval(0.1, self.tick)

    def on_main_screen_built(self) -> None:
        self.started = True
        if self.quit_when_built:
            self.exit(0)
            return
        self.start_probe()  # after the first paint, into panes that exist: probing imports the core

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
    def main(self) -> MainScreen:
        """The app's own screen: panels are found there even while a dialog or the help is on top."""
        return cast(MainScreen, self.screen_stack[0])

    @property
    def snapshot(self) -> Snapshot | None:
        return self.main.snapshot if self.screen_stack else None

    @property
    def report(self) -> Report | None:
        return self.main.report if self.screen_stack else None

    def selected(self) -> Diagnosis | None:
        return self.main.selected()

    # --- probing --------------------------------------------------------------------------------------

    def start_probe(self) -> None:
        self.probing = True
        self.probe_started = time.monotonic()
        self.main.parts = {}
        self.probe()

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def probe(self) -> None:
        from torchdoctor.workflow.probing import probe, with_project

        if self.recorded is not None:
            self.post_message(SnapshotReady(with_project(self.recorded, self.project_dir)))
            return
        snapshot = probe(self.project_dir, self.python, timeout_s=self.torch_timeout_s, on_part=self._part_probed,
                         first_verdict=True)
        self.post_message(SnapshotReady(snapshot))

    def _part_probed(self, name: str, value: object) -> None:
        self.post_message(PartProbed(name, value))

    def closing(self) -> bool:
        """True once the panels are gone (the app is quitting): a probe that finishes then has nowhere to show
        its result. A re-read after a fix runs `uv lock --check`, so quitting right after a fix meets one."""
        return not self.screen_stack or not self.main.drawable()  # drawable() is False once the app shuts down

    def on_part_probed(self, message: PartProbed) -> None:
        if self.closing():
            return
        if message.name == "provisional":  # the first verdict, from torch's files; the import still runs
            if self.probing:
                self.set_snapshot(message.value)
                self.provisional = True
            return
        self.main.parts = {**self.main.parts, message.name: message.value}

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
        report = diagnose(snapshot)
        self.main.snapshot = snapshot
        self.main.report = report  # the screen's watcher redraws the findings, the verdict and the panels
        if self.fixed_codes:
            said = recheck(self.fixed_codes, before, report.diagnoses)
            if said.cured:
                self.notify(f"re-checked: {', '.join(said.cured)} no longer reported", title="Fixed", markup=False)
            if said.still:
                self.notify(f"re-checked: still reported: {', '.join(said.still)}", severity="warning", markup=False)
            self.fixed_codes = set()

    def tick(self) -> None:
        """The spinners and elapsed times while probes or uv lock run; nothing once they are done."""
        if self.lock_started is not None and self.is_running:
            elapsed = time.monotonic() - self.lock_started
            self.main.lock_status(Text(
                f"{SPINNER[int(elapsed * 10) % len(SPINNER)]} {self.lock_label} running {elapsed:4.1f} s — Escape cancels",
                style="bold"))
        if not (self.probing or self.report is None) or not self.is_running:
            return  # done, or the app is closing
        elapsed = time.monotonic() - self.probe_started
        spin = SPINNER[int(elapsed * 10) % len(SPINNER)]
        waiting = [n for n in ("project", "system", "nvml", "torch") if n not in self.main.parts]
        detail = f"waiting for {', '.join(waiting)}" if waiting else "checking"
        if "torch" in waiting:
            detail += " (import torch in the project's interpreter)"
        if self.provisional and self.report is not None:  # a first verdict from torch's files; the import confirms it
            from torchdoctor.render.text import summary_line

            self.main.show_status(Text(f"{summary_line(self.report)} · first verdict, from torch's files · {spin} "
                                       f"import torch {elapsed:4.1f} s"), keep_colour=True)
            return
        self.main.show_status(Text(f"{spin} probing {elapsed:4.1f} s — {detail}"))

    # --- fixes ---------------------------------------------------------------------------------------

    def preview(self, chosen: list[Diagnosis], follow: bool = False) -> FixPreview | str:
        """The proven preview of the chosen fixes, as the CLI writes it, or why there is none in one line.
        "Fix all" goes on to what the fixes reveal (their fixed point); "fix this one" applies that one only.
        Proving reads the project again and walks the resolution model: each answer is kept per fix and file state."""
        from torchdoctor.workflow import CannotFix, preview_fixes

        key = self._preview_key(chosen, follow)
        if isinstance(key, str):
            return key
        answer = self._plans.get(key)
        if answer is None:
            assert self.snapshot is not None  # a key is only made for a probed project
            try:
                proven = preview_fixes(self.snapshot, chosen, follow=follow)
                answer = f"not applied: {proven.refusal}" if proven.refusal else proven
            except CannotFix as error:
                answer = str(error)
            self._plans = {**self._plans, key: answer} if len(self._plans) < 64 else {key: answer}
        return answer

    def known_preview(self, diagnosis: Diagnosis) -> FixPreview | str | None:
        """The detail view's preview if it was proven already; None while it is not (`prove_preview` proves it)."""
        key = self._preview_key([diagnosis], False)
        return key if isinstance(key, str) else self._plans.get(key)

    def _preview_key(self, chosen: list[Diagnosis], follow: bool) -> tuple | str:
        """What a proven preview depends on (the fixes and pyproject.toml's bytes), or why there can be none."""
        if self.snapshot is None:
            return "nothing probed yet"
        path = Path(self.snapshot.project.pyproject.path) if self.snapshot.project.pyproject else None
        try:
            original = path.read_bytes() if path else b""
        except OSError as error:
            return f"cannot preview: {error}"
        return (tuple((d.code, d.message) for d in chosen), original, follow)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def prove_preview(self, diagnosis: Diagnosis) -> None:
        """The detail view's proof, off the main thread: moving through the findings never waits for it. Only the
        newest highlight's proof runs to the end (exclusive); the screen shows it if that finding is still chosen."""
        try:
            self.preview([diagnosis])
        except Exception as error:  # a fault in the proof must not leave the view saying "proving" for good
            key = self._preview_key([diagnosis], False)
            if not isinstance(key, str):
                self._plans = {**self._plans, key: f"the proof failed ({type(error).__name__}: {error})"}
        self.post_message(PreviewProven(diagnosis))

    def on_preview_proven(self, message: PreviewProven) -> None:
        if not self.closing():
            self.main.preview_proven(message.diagnosis)

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
        from torchdoctor.tui.screens import THEN_LOCK_AND_SYNC, ConfirmFix

        preview = self.preview(chosen, follow=follow)
        if isinstance(preview, str) or not preview.changes:
            self.notify(preview if isinstance(preview, str) else "Nothing to change.", severity="warning", markup=False)
            return

        def answered(write: bool | None) -> None:
            if not write:
                self.notify("Nothing written.", markup=False)
                return
            self.main.lock_started(Text(f"fixing {shown(preview.path)}: write, uv lock, uv sync, smoke test "
                                        "(uv may run the project's build backend)"))
            self.lock_cancel.clear()
            self.lock_started = time.monotonic()
            self.lock_label = "the fix"
            self.carry_out_fix(preview)

        self.clear_notifications()  # a toast would cover the dialog's buttons
        self.push_screen(ConfirmFix(title, preview.diff, shown(preview.path), warning, THEN_LOCK_AND_SYNC), answered)

    @work(thread=True, exclusive=True, group="lock", exit_on_error=False)
    def carry_out_fix(self, preview: FixPreview) -> None:
        """The workflow's fix transaction (write, lock, sync, smoke test, or all put back), its lines in the uv lock
        tab; Escape cancels it, and cancelling puts everything back."""
        from torchdoctor.workflow.transaction import carry_out

        def say(step: str, line: str) -> None:
            self.post_message(LockLine(f"{step}: {line}"))

        assert self.snapshot is not None
        outcome = carry_out(self.snapshot, preview, say=say, cancel=self.lock_cancel)
        self.post_message(FixFinished(outcome))

    def on_fix_finished(self, message: FixFinished) -> None:
        outcome = message.outcome
        self.lock_started = None
        self.main.lock_status("")
        self.main.lock_line(Text(f"{outcome.verdict}: {outcome.summary}"))
        if outcome.ok:
            # Back to the findings, which the re-read below redraws without the cured ones; the steps stay in the
            # uv lock tab. A failure keeps that tab on top: its lines say which step failed and why.
            self.main.show_tab("tab-findings")
            self.notify(f"{outcome.summary}. u undoes it.", title=outcome.verdict.capitalize(), markup=False)
        else:
            self.notify(outcome.summary, title="Not fixed", severity="error", markup=False)
        self.recheck_project()

    def recheck_project(self) -> None:
        if self.snapshot is not None:
            self.reread_project(self.snapshot)

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def reread_project(self, snapshot: Snapshot) -> None:
        """The project's files again (a nightly index's page may be read): off the main thread."""
        from torchdoctor.workflow import reread_project

        self.post_message(SnapshotReady(reread_project(snapshot)))

    def action_undo(self) -> None:
        from torchdoctor.workflow import CannotFix, undo

        try:
            undo(self.project_dir)
        except CannotFix as error:
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
        self.main.lock_started(Text(f"$ uv lock   (in {self.snapshot.project.root}; uv may run the project's build backend)"))
        self.lock_cancel.clear()
        self.lock_started = time.monotonic()
        self.lock_label = "uv lock"
        self.lock(Path(self.snapshot.project.root))

    def action_cancel_lock(self) -> None:
        """Escape while uv lock runs: stop it (its whole process group); uv leaves uv.lock as it was."""
        if self.lock_started is not None:
            self.lock_cancel.set()

    @work(thread=True, exclusive=True, group="lock", exit_on_error=False)
    def lock(self, root: Path) -> None:
        from torchdoctor.workflow.transaction import lock

        def line(text: str) -> None:
            self.post_message(LockLine(text))

        result = lock(root, on_line=line, cancel=self.lock_cancel)
        self.post_message(LockFinished(result))

    def on_lock_line(self, message: LockLine) -> None:
        self.main.lock_line(Text(message.line))

    def on_lock_finished(self, message: LockFinished) -> None:
        result = message.result
        cancelled = self.lock_cancel.is_set() and not result.ok
        self.lock_started = None
        self.main.lock_status("")
        if result.ok:
            self.main.lock_line(Text("uv lock succeeded: uv.lock is written; `uv sync` installs it."))
            self.notify("uv lock succeeded.", title="Locked", markup=False)
        elif cancelled:
            self.main.lock_line(Text("uv lock cancelled: uv.lock is as it was."))
            self.notify("uv lock cancelled.", markup=False)
        else:
            reason = result.error or result.describe_failure()
            self.main.lock_line(Text(f"uv lock failed: {reason}"))
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
        self.show_bench_progress()
        self.bench(self.snapshot.interpreter.path)

    @work(thread=True, exclusive=True, group="bench", exit_on_error=False)
    def bench(self, python: str) -> None:
        from torchdoctor.workflow.probing import BENCH_SECONDS, bench

        def event(record: dict) -> None:
            self.post_message(BenchEvent(record))

        seconds = BENCH_SECONDS if self.bench_seconds is None else self.bench_seconds
        info = bench(python, seconds=seconds, on_event=event, cancel=self.bench_cancel)
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
        self.show_bench_progress()

    def on_bench_finished(self, message: BenchFinished) -> None:
        self.bench_running = False
        self.bench_progress = None
        self.bench_results = []
        self.show_bench_progress()
        bench = message.bench
        if bench.status == "cancelled":
            self.notify("GEMM test cancelled.", markup=False)
            return
        if self.snapshot is not None:
            self.set_snapshot(replace(self.snapshot, bench=bench))
        if bench.status != "ok":
            self.notify(f"The GEMM test did not finish: {bench.error}", severity="error", markup=False)

    def show_bench_progress(self) -> None:
        """The results so far and the phase, on the GEMM tab (None once the test is over)."""
        lines = [*self.bench_results, self.bench_progress or ""]
        self.main.bench_progress = "\n".join(lines).strip() if self.bench_running or self.bench_results else None

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
        if not self.main.show_tab(tab) and tab == "tab-fleet" and self.main.drawable():
            self.notify("This snapshot has no fleet run: `torchdoctor fleet --save-snapshot FILE` records one.", markup=False)

    def action_help(self) -> None:
        from torchdoctor.tui.screens import HelpScreen

        self.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        from torchdoctor.workflow.children import stop_all_children

        if not self.main.tabs_mounted:
            # The tabs are still mounting (a moment after launch): quit once they are, or in 5 s whatever happens.
            if not self.quit_when_built:
                self.quit_when_built = True
                self.set_timer(5.0, self.exit)
            return
        self.bench_cancel.set()
        self.lock_cancel.set()
        stop_all_children()
        self.exit(0)

    def on_unmount(self) -> None:
        from torchdoctor.workflow.children import stop_all_children

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

