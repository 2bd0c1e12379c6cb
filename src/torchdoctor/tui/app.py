"""The Textual app: the same Report the CLI prints, on one screen, with the fixes one key away.

The app does the work: everything slow runs in thread workers (probes, the GEMM test, `uv lock`, the fix
transaction) that call the workflow, the CLI's own door, and only post messages; the app hands what they return to
the widgets (tui/widgets/), each of which owns what its tab shows and remembers. Nothing here decides anything the
CLI would decide differently.

The first screen is drawn before torchdoctor's core is imported: the workflow's door opens lazily (`workflow.diagnose`
imports the rules when first called, once data arrives). That keeps the first paint near the cost of Textual itself
(benchmarks/tui_first_paint.py).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import App, SystemCommand
from textual.worker import Worker, WorkerState

from torchdoctor import __version__, workflow
from torchdoctor.paths import shown
from torchdoctor.render import render_report
from torchdoctor.tui.main_screen import MainScreen
from torchdoctor.tui.messages import FixFinished, LockFinished, LockLine, PartProbed, SnapshotReady
from torchdoctor.tui.keys import BINDINGS, PALETTE
from torchdoctor.tui.screens import THEN_LOCK_AND_SYNC, ConfirmFix, HelpScreen, explained
from torchdoctor.tui.widgets import GemmPanel

if TYPE_CHECKING:
    from torchdoctor.model import Diagnosis, Report
    from torchdoctor.snapshot import Snapshot


class TorchDoctorApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "torchdoctor"
    BINDINGS = BINDINGS

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
        replay: bool = False,
        offline: bool = True,
    ) -> None:
        """`recorded` is a machine read from a snapshot (--snapshot, --demo): it is not probed, and the GEMM test is not
        offered; the project is always read from `project_dir`. `bench_seconds` is the GEMM test's measuring time, as
        `bench --seconds` (None: the same default). `offline`: no package index is asked (the command's choice)."""
        super().__init__()
        self.project_dir = project_dir
        self.python = python
        self.recorded = recorded
        self.replay = replay and recorded is not None
        """`--snapshot` without `--project`: the recorded project as it was, which no key edits (`fix` refuses it)."""
        self.label = label
        self.output_dir = output_dir or Path.cwd()
        self.torch_timeout_s = torch_timeout_s
        self.bench_seconds = bench_seconds
        self.offline = offline
        self.started = False
        """True once the screen's tabs are painted and probing has begun (MainScreen.Built)."""
        self.quit_when_built = False
        """A quit asked for while the tabs were mounting: done when they are (or in 5 s)."""
        self.probing = False
        self.lock_cancel = threading.Event()
        """Set to stop the `uv lock` or the fix that runs (Escape, quitting)."""
        self.previews = workflow.PreviewCache()
        """The proven fix previews: the findings tab shows them, the fix it confirms writes the same one."""

    # --- layout -------------------------------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        where = self.label or shown(self.project_dir)
        return MainScreen(f"torchdoctor {__version__} — {where}", recorded=self.recorded is not None,
                          previews=self.previews)

    def on_main_screen_built(self) -> None:
        self.started = True
        if self.quit_when_built:
            self.exit(0)
            return
        self.start_probe()  # after the first paint, into panes that exist: probing imports the core

    def get_system_commands(self, screen):
        """The command palette (Ctrl+P) offers torchdoctor's own actions, with the help's sentence for each, before
        Textual's; those a recorded machine cannot do are left out, as from the footer."""
        for action, title in PALETTE.items():
            if self.check_action(action, ()):
                yield SystemCommand(title, explained(self.BINDINGS)[action], getattr(self, f"action_{action}"))
        yield from super().get_system_commands(screen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A recorded machine cannot be measured or probed again: its `g` and `r` leave the footer; a replayed project
        is no project on this disk: the keys that edit or lock one leave it too."""
        if action in ("bench", "rescan") and self.recorded is not None:
            return False
        if action in ("fix_selected", "fix_all", "undo", "lock") and self.replay:
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
        self.main.parts = {}
        self.main.verdict.probing()
        self.probe()

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def probe(self) -> None:
        if self.recorded is not None:
            self.post_message(SnapshotReady(self.recorded if self.replay
                                            else workflow.with_project(self.recorded, self.project_dir, self.offline)))
            return
        snapshot = workflow.probe(self.project_dir, self.python, timeout_s=self.torch_timeout_s, on_part=self._part_probed,
                                  first_verdict=True, offline=self.offline)
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
                self.main.verdict.first_verdict = self.report
            return
        self.main.verdict.answer(message.name)
        self.main.parts = {**self.main.parts, message.name: message.value}

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if self.closing():
            return
        self.probing = False
        self.main.verdict.probed()
        snapshot = message.snapshot
        if self.snapshot is not None and self.snapshot.bench is not None and snapshot.bench is None:
            snapshot = replace(snapshot, bench=self.snapshot.bench)  # a rescan keeps the last GEMM result
        self.set_snapshot(snapshot)

    def set_snapshot(self, snapshot: Snapshot) -> None:
        """The snapshot and its report (workflow.diagnose): the screen's watchers redraw every tab from them. What a
        fix cured is said by the fix's own verdict (its re-check after `uv lock`), not here."""
        self.main.snapshot = snapshot
        self.main.report = workflow.diagnose(snapshot)

    # --- fixes ---------------------------------------------------------------------------------------

    def action_fix_selected(self) -> None:
        diagnosis = self.selected()
        if diagnosis is None or diagnosis.fix is None:
            self.notify("This finding has no fix.", severity="warning", markup=False)
            return
        if not diagnosis.fix.action:
            self.notify("This fix is outside pyproject.toml: run the commands shown yourself.", severity="warning", markup=False)
            return
        self.confirm_and_write([diagnosis], f"{diagnosis.code}: {diagnosis.fix.title}",
                               workflow.unsafe_warning(diagnosis))

    def action_fix_all(self) -> None:
        chosen = list(workflow.choose_fixes(self.report.diagnoses).chosen) if self.report else []
        if not chosen:
            self.notify("No safe pyproject.toml fix to apply.", markup=False)
            return
        codes = ", ".join(dict.fromkeys(d.code for d in chosen))
        self.confirm_and_write(chosen, f"every safe fix: {codes}", None, follow=True)

    def confirm_and_write(self, chosen: list[Diagnosis], title: str, warning: str | None, follow: bool = False) -> None:
        preview = self.previews.preview(self.snapshot, chosen, follow=follow)
        if isinstance(preview, str) or not preview.changes:
            self.notify(preview if isinstance(preview, str) else "Nothing to change.", severity="warning", markup=False)
            return

        def answered(write: bool | None) -> None:
            if not write:
                self.notify("Nothing written.", markup=False)
                return
            self.main.begin_run(Text(f"fixing {shown(preview.path)}: write, uv lock, uv sync, smoke test (uv may run "
                                     "the project's build backend)"), "the fix")
            self.lock_cancel.clear()
            self.carry_out_fix(preview)

        self.clear_notifications()  # a toast would cover the dialog's buttons
        self.push_screen(ConfirmFix(title, preview.diff, shown(preview.path), warning, THEN_LOCK_AND_SYNC), answered)

    @work(thread=True, exclusive=True, group="lock", exit_on_error=False)
    def carry_out_fix(self, preview: workflow.FixPreview) -> None:
        """The workflow's fix transaction (write, lock, sync, smoke test, or all put back), its lines in the uv lock
        tab; Escape cancels it, and cancelling puts everything back."""

        def say(step: str, line: str) -> None:
            self.post_message(LockLine(f"{step}: {line}"))

        assert self.snapshot is not None
        outcome = workflow.carry_out(self.snapshot, preview, say=say, cancel=self.lock_cancel)
        self.post_message(FixFinished(outcome))

    def on_fix_finished(self, message: FixFinished) -> None:
        outcome = message.outcome
        self.main.lock_log.end(Text(f"{outcome.verdict}: {outcome.summary}"))
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
        self.post_message(SnapshotReady(workflow.reread_project(snapshot)))

    def action_undo(self) -> None:
        try:
            workflow.undo(self.project_dir)
        except workflow.CannotFix as error:
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
        self.main.begin_run(Text(f"$ uv lock   (in {self.snapshot.project.root}; uv may run the project's build "
                                 "backend)"), "uv lock")
        self.lock_cancel.clear()
        self.lock(Path(self.snapshot.project.root))

    def action_cancel_lock(self) -> None:
        """Escape while uv lock runs: stop it (its whole process group); uv leaves uv.lock as it was."""
        if self.main.drawable() and self.main.lock_log.running:
            self.lock_cancel.set()

    @work(thread=True, exclusive=True, group="lock", exit_on_error=False)
    def lock(self, root: Path) -> None:
        def line(text: str) -> None:
            self.post_message(LockLine(text))

        result = workflow.lock(root, on_line=line, cancel=self.lock_cancel)
        self.post_message(LockFinished(result))

    def on_lock_line(self, message: LockLine) -> None:
        self.main.lock_log.write(Text(message.line))

    def on_lock_finished(self, message: LockFinished) -> None:
        result = message.result
        cancelled = self.lock_cancel.is_set() and not result.ok
        if result.ok:
            self.main.lock_log.end(Text("uv lock succeeded: uv.lock is written; `uv sync` installs it."))
            self.notify("uv lock succeeded.", title="Locked", markup=False)
        elif cancelled:
            self.main.lock_log.end(Text("uv lock cancelled: uv.lock is as it was."))
            self.notify("uv lock cancelled.", markup=False)
        else:
            reason = result.error or result.describe_failure()
            self.main.lock_log.end(Text(f"uv lock failed: {reason}"))
            self.notify(f"uv lock failed ({reason}); its output is in the uv lock tab.", severity="error", markup=False)
        self.recheck_project()

    # --- GEMM ----------------------------------------------------------------------------------------

    def action_bench(self) -> None:
        if self.main.drawable() and self.main.gemm.running:
            self.main.gemm.cancel.set()
            return
        if self.recorded is not None:
            self.notify("The GEMM test measures this machine; a recorded machine cannot be measured.", severity="warning", markup=False)
            return
        if self.snapshot is None:
            self.notify("Wait for the probes to finish.", severity="warning", markup=False)
            return
        self.action_show_tab("tab-gemm")
        self.main.gemm.measure(self.snapshot.interpreter.path, self.bench_seconds)

    def on_gemm_panel_measured(self, message: GemmPanel.Measured) -> None:
        bench = message.bench
        if bench.status == "cancelled":
            self.notify("GEMM test cancelled.", markup=False)
            return
        if self.snapshot is not None:
            self.set_snapshot(replace(self.snapshot, bench=bench))
        if bench.status != "ok":
            self.notify(f"The GEMM test did not finish: {bench.error}", severity="error", markup=False)

    # --- export --------------------------------------------------------------------------------------

    def export(self, name: str, text: str, said: str) -> None:
        """Write `text` to `name` in the output folder, and say so (`said` follows "Wrote PATH")."""
        path = self.output_dir / name
        try:
            workflow.save_text(path, text)
        except workflow.CannotSave as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.notify(f"Wrote {path}{said.format(name=path.name)}", title="Saved", markup=False)

    def action_export_markdown(self) -> None:
        if self.report is not None:
            text = render_report(self.report, "markdown")
            self.copy_to_clipboard(text)
            self.export("torchdoctor-report.md", text, " (also copied to the clipboard).")

    def action_export_json(self) -> None:
        if self.report is not None:
            self.export("torchdoctor-report.json", render_report(self.report, "json"), ".")

    def action_save_snapshot(self) -> None:
        if self.snapshot is not None:
            self.export("torchdoctor-snapshot.json", self.snapshot.to_json() + "\n",
                        "; replay it with `torchdoctor check --snapshot {name}`.")

    # --- the rest ------------------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch tabs; the findings list gives up the focus first, or its pane would take the tab back."""
        if not self.main.show_tab(tab) and tab == "tab-fleet" and self.main.drawable():
            self.notify("This snapshot has no fleet run: `torchdoctor fleet --save-snapshot FILE` records one.", markup=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        if not self.main.tabs_mounted:
            # The tabs are still mounting (a moment after launch): quit once they are, or in 5 s whatever happens.
            if not self.quit_when_built:
                self.quit_when_built = True
                self.set_timer(5.0, self.exit)
            return
        self.stop_work()
        workflow.stop_all_children()
        self.exit(0)

    def on_unmount(self) -> None:
        self.stop_work()
        workflow.stop_all_children()

    def stop_work(self) -> None:
        """Quitting: the uv lock or fix that runs and the GEMM test are told to stop (stop_all_children ends their
        processes)."""
        self.lock_cancel.set()
        for panel in (self.screen_stack[0].query(GemmPanel).results(GemmPanel) if self.screen_stack else ()):
            panel.cancel.set()

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "probe" and not self.closing():
                self.probing = False
                self.main.verdict.probed()
            if event.worker.group == "bench" and not self.closing():
                self.main.gemm.finished()
            self.notify(str(event.worker.error), title=f"{event.worker.group} failed", severity="error", timeout=10, markup=False)

