"""The TUI: real Textual apps driven by Pilot, and SVG snapshots of its main states.

Machines come from recordings (the H100, the assembled WSL2 Blackwell of the demo), projects are real
files in a home folder of each test's own (the app shows paths under home as `~/…`, so the snapshots do not
depend on the temporary path, and two runs of the suite at once never share a folder), and the demo's
"fix, then `uv lock`" path runs the real uv against the local package index.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from test_uv_lock import localize, python_for
from textual.widgets import Static
from textual.worker import WorkerCancelled

from conftest import FIXTURES, SNAPSHOTS
from torchdoctor.demo import demo_snapshot, prepare_demo_project
from torchdoctor.paths import shown as shown_path
from torchdoctor.snapshot import NvmlInfo, Snapshot
from torchdoctor.tui.app import TorchDoctorApp
from torchdoctor.tui.screens import ConfirmFix, HelpScreen

DEMO_LABEL = "demo: RTX 5060 Ti under WSL2, the nightly project"


def run_async(function):
    """Run an async test with asyncio (Textual's Pilot is async; no pytest plugin needed)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return asyncio.run(function(*args, **kwargs))

    return wrapper


def recorded(name: str) -> Snapshot:
    return Snapshot.from_json((SNAPSHOTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    """A home folder for this test alone: projects go under it, and the app shows them as `~/name/…`."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    return home


def fixed_folder(name: str) -> Path:
    folder = Path.home() / name
    folder.mkdir(parents=True)
    return folder


def demo_app(name: str = "demo", offline: bool = True) -> TorchDoctorApp:
    """The demo as `torchdoctor --demo` opens it, offline as the tests run (`offline=False`: a test that serves the
    local index, where uv may lock)."""
    project = prepare_demo_project(fixed_folder(name))
    return TorchDoctorApp(project, recorded=demo_snapshot(), label=DEMO_LABEL, output_dir=project.parent,
                          offline=offline)


def h100_app(name: str = "h100", machine: str = "h100-pypi") -> TorchDoctorApp:
    project = fixed_folder(name) / "gpu-train"
    shutil.copytree(FIXTURES / "projects" / "h100-pypi", project)
    return TorchDoctorApp(project, recorded=recorded(machine), label=f"{shown_path(project)} (recorded H100)", output_dir=project.parent)


def cpu_laptop_app() -> TorchDoctorApp:
    """The recorded H100's project on a machine without an NVIDIA GPU and with torch's CPU build."""
    machine = recorded("h100-pypi")
    machine = replace(
        machine,
        nvml=NvmlInfo(status="library-not-found", error="NVML Shared Library Not Found"),
        torch=replace(machine.torch, version="2.11.0+cpu", installed_version="2.11.0+cpu", local_tag="cpu", cuda=None,
                      cuda_available=False, devices=(), arch_list=(), cudnn_version=None, nccl_version=None, cuda_driver=None),
        system=replace(machine.system, gpu_device_nodes=(), nvidia_kernel_driver=None, container=None),
    )
    project = fixed_folder("cpu") / "gpu-train"
    shutil.copytree(FIXTURES / "projects" / "h100-pypi", project)
    return TorchDoctorApp(project, recorded=machine, label=f"{shown_path(project)} (a laptop without an NVIDIA GPU)", output_dir=project.parent)


async def wait_until(condition, pause, timeout: float = 60.0) -> None:
    """Until `condition()` holds, awaiting `pause()` in between, for at most `timeout` s: a loaded machine takes
    a while to get where a test waits for it; the assertion that follows says if it never did."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await pause()


async def settle(pilot) -> None:
    """Until the screen is built and probing has begun, then until no worker runs and their messages are handled
    (a finished probe starts the fix preview's proof). A loaded machine takes a while for the first."""
    await wait_until(lambda: pilot.app.started, lambda: pilot.pause(0.05))
    for _ in range(10):
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            break
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # an exclusive worker replaced by a newer one: the proof of the finding chosen since
    for _ in range(3):  # a widget's worker posts to the widget, and its message bubbles to the app hop by hop
        await pilot.pause()


# --- driving the keys ------------------------------------------------------------------------------


@run_async
async def test_the_demo_shows_its_findings_and_the_fix_preview():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        codes = [d.code for d in app.report.diagnoses]
        assert codes[:2] == ["TD304", "TD304"]
        assert str(app.query_one("#summary").content).startswith("problems found: 2 error(s)")
        assert app.selected().code == "TD304"
        diff = app.previews.preview(app.snapshot, [app.selected()]).diff
        assert '+url = "https://download.pytorch.org/whl/nightly/cu128"' in diff  # what the detail pane previews
        await pilot.press("down")
        assert app.selected().message.startswith("the URL of index pytorch-cpu")


@run_async
async def test_moving_through_the_findings_never_waits_for_a_fix_proof(monkeypatch):
    """The detail view's proof runs in a worker thread: the finding shows at once, its diff when proven."""
    import threading

    import torchdoctor.workflow.fixing as fixing

    proving_threads: list[bool] = []
    preview_fixes = fixing.preview_fixes

    def recording_preview_fixes(*args, **kwargs):
        proving_threads.append(threading.current_thread() is threading.main_thread())
        return preview_fixes(*args, **kwargs)

    monkeypatch.setattr(fixing, "preview_fixes", recording_preview_fixes)
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        detail = shown(app.query_one("#detail-text", Static).content)
        assert "pytorch-cpu" in detail  # the finding chosen now, drawn before its proof answers
        await settle(pilot)
        detail = shown(app.query_one("#detail-text", Static).content)
        assert "+url = " in detail and "proving the fix" not in detail
    assert proving_threads and not any(proving_threads)


@run_async
async def test_a_proof_that_breaks_says_so_in_the_detail_view(monkeypatch):
    import torchdoctor.workflow.fixing as fixing

    def broken(*args, **kwargs):
        raise RuntimeError("a fault in the proof")

    monkeypatch.setattr(fixing, "preview_fixes", broken)
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        detail = shown(app.query_one("#detail-text", Static).content)
        assert "the proof failed (RuntimeError: a fault in the proof)" in detail and "proving the fix" not in detail


@run_async
async def test_fix_all_asks_first_and_writes_only_after_yes():
    app = demo_app("fix-no")
    path = app.project_dir / "pyproject.toml"
    before = path.read_bytes()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmFix) and "+url = \"https://download.pytorch.org/whl/nightly/cu128\"" in app.screen.diff
        await pilot.press("n")
        await pilot.pause()
        assert path.read_bytes() == before  # cancelled: nothing written
        await pilot.press("a", "y")
        await settle(pilot)
        assert b"[https://" not in path.read_bytes()
        assert "TD304" not in [d.code for d in app.report.diagnoses]  # re-checked: the diagnosis is gone
        await pilot.press("u")
        await settle(pilot)
        assert path.read_bytes() == before  # undone byte for byte
        assert "TD304" in [d.code for d in app.report.diagnoses]


@run_async
async def test_fix_selected_applies_only_that_finding():
    app = demo_app("fix-one")
    path = app.project_dir / "pyproject.toml"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "f")
        await pilot.pause()
        assert "pytorch-cpu" in app.screen.diff and "nightly/cu128](" not in app.screen.diff.split("+url")[1]
        await pilot.press("y")
        await settle(pilot)
        text = path.read_text(encoding="utf-8")
        assert 'url = "https://download.pytorch.org/whl/cpu"' in text and "[https://download.pytorch.org/whl/nightly" in text


@run_async
async def test_a_recorded_machine_offers_no_gemm_or_rescan_key_and_shows_its_recorded_results():
    """`g` and `r` would measure or probe this machine, not the recorded one: they leave the footer and do nothing."""
    app = h100_app("gemm", "h100-bench")
    said: list[str] = []
    app.notify = lambda message, **options: said.append(message)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shown = {binding.key for (_, binding, enabled, _) in app.active_bindings.values() if enabled and binding.show}
        assert "q" in shown and "f" in shown and not {"g", "r"} & shown
        await pilot.press("g", "r")
        await pilot.pause()
        assert not app.main.gemm.running and said == []
        assert app.snapshot.bench is not None and app.snapshot.bench.status == "ok"


@run_async
async def test_exports_write_markdown_json_and_a_snapshot_that_replays(tmp_path):
    app = h100_app("export")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("m", "j", "s")
        await pilot.pause()
    folder = app.output_dir
    assert (folder / "torchdoctor-report.md").read_text().startswith("## torchdoctor")
    assert '"schema_version": 1' in (folder / "torchdoctor-report.json").read_text()
    assert Snapshot.from_json((folder / "torchdoctor-snapshot.json").read_text()).nvml.driver_version == "580.159.04"


@run_async
async def test_the_command_palette_offers_torchdoctors_actions():
    app = demo_app("palette")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert titles[:3] == ["Fix the selected finding", "Fix all safe", "Undo the last fix"]
        assert "Run uv lock" in titles and "Run the GEMM test" not in titles  # the demo is a recorded machine


@run_async
async def test_help_lists_every_key():
    app = demo_app("help")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one(Static).render())
        for binding in app.BINDINGS:
            if binding.show and binding.action != "show_tab":
                key = binding.key.replace("question_mark", "?")
                assert any(line.startswith(key) or f"/ {key}" in line for line in shown.splitlines()), key
        assert "Escape" in shown and "Tab, Shift+Tab" in shown and "PgUp/PgDn" in shown
        # The sentences are the bindings' tooltips: every key with an action of its own has one, shown or not.
        for binding in app.BINDINGS:
            if not binding.action.startswith(("show_tab", "cancel_lock")) and binding.key != "ctrl+c":
                assert binding.tooltip and binding.tooltip in shown, binding.key
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@run_async
async def test_live_probing_fills_panels_and_the_gemm_key_measures_the_cpu_with_the_real_torch(tmp_path,
                                                                                               real_torch_python):
    """A real probe of this machine (CPU torch): the first screen paints before the probes answer; then `g` runs
    the GEMM test with that torch. One app holds both: each is a real `import torch`, the suite's heaviest step."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = ["torch"]\n')
    app = TorchDoctorApp(project, python=real_torch_python, output_dir=tmp_path, bench_seconds=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        # The screen is up before the probes answer (they start after the first paint): its title is there and no
        # report yet, whatever the load on the machine (a pause here would let a fast probe finish first).
        assert "torchdoctor" in str(app.query_one("#title").content) and app.report is None
        await settle(pilot)
        assert app.report is not None and app.snapshot.torch.status == "ok" and app.snapshot.torch.imported
        assert "TD200" in [d.code for d in app.report.diagnoses]
        assert "first verdict" not in str(app.query_one("#summary").content)  # the import's answer replaced it
        assert app.snapshot.bench is None
        await pilot.press("g")
        # Read as soon as the key is handled: a pause here, stretched by a loaded machine, let the test finish first.
        assert app.main.gemm.running and app.query_one("#tabs").active == "tab-gemm"
        await settle(pilot)
        assert app.snapshot.bench.status == "ok" and app.snapshot.bench.device_type == "cpu"
        assert [r.dtype for r in app.snapshot.bench.gemm] == ["fp32", "bf16"]


@run_async
async def test_the_first_paint_has_the_title_and_the_keys_and_probing_waits_for_the_tabs(monkeypatch):
    """The screen is drawn in two steps (the tabs cost Textual most of the first paint); probing starts only
    once the panes it draws into are on the screen."""
    app = demo_app()
    frames: list[tuple[bool, bool]] = []
    probe_saw_tabs: list[bool] = []
    start_probe = TorchDoctorApp.start_probe

    def recording_start_probe(self) -> None:
        probe_saw_tabs.append(bool(self.main.query("#tabs")))
        start_probe(self)

    monkeypatch.setattr(TorchDoctorApp, "start_probe", recording_start_probe)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.main
        frames.append((bool(screen.query("#title")) and bool(screen.query("Footer")), bool(screen.query("#tabs"))))
        await settle(pilot)
        assert frames == [(True, False)]  # the first frame: title, verdict line and keys, no tabs yet
        assert probe_saw_tabs == [True] and app.report is not None
        assert screen.focused is screen.query_one("#diagnoses")  # ↑/↓ pick a finding from the start


@run_async
async def test_quitting_while_the_tabs_mount_waits_for_them_and_quits_cleanly(monkeypatch):
    """A quit in the first moment, before the tabs are in place: the app quits once they are, never mounting into a
    screen that is gone nor tearing down Textual's half-mounted tab bar, which raise (run_test re-raises them)."""
    from torchdoctor.tui.main_screen import MainScreen

    gate = asyncio.Event()
    build_tabs = MainScreen.build_tabs

    async def held_build_tabs(self) -> None:  # the mount held until the quit is asked for: the moment made certain
        await gate.wait()
        await build_tabs(self)

    monkeypatch.setattr(MainScreen, "build_tabs", held_build_tabs)
    app = demo_app()
    async with app.run_test(size=(100, 30)):
        await app.run_action("quit")  # what q and Ctrl+C do (a key press would wait for the held screen)
        assert app.quit_when_built and app.is_running and not app.main.tabs_mounted
        gate.set()
        await wait_until(lambda: not app.is_running, lambda: asyncio.sleep(0.05))
        assert not app.is_running and app.main.tabs_mounted
    assert app.return_code == 0


@run_async
async def test_quitting_mid_probe_leaves_no_child_process(tmp_path):
    from conftest import HANGING_TORCH, make_venv
    from torchdoctor.probes import runner

    python = make_venv(tmp_path / "venv", {"torch": HANGING_TORCH})
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    app = TorchDoctorApp(project, python=str(python), output_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: bool(runner._running), lambda: pilot.pause(0.1))  # until the probe's child runs
        await pilot.pause(0.5)
        children = list(runner._running)
        assert children and app.probing  # `import torch` hangs in a child
        await pilot.press("q")
    for child in children:
        child.wait(timeout=5)  # killed with its process group, not left for its 60 s timeout
        assert child.returncode is not None


@run_async
async def test_the_demo_goes_from_launch_to_a_successful_uv_lock_with_the_keys_on_screen(monkeypatch, tmp_path):
    """The issue's promise: `--demo`, then `a` (fix all safe), `y`, then `l` (uv lock), against the local
    index that stands in for PyPI and download.pytorch.org."""
    from pyindex import LocalIndex

    served = LocalIndex(tmp_path / "index")
    try:
        app = demo_app("lock")
        path = app.project_dir / "pyproject.toml"
        path.write_text(localize(path.read_text(encoding="utf-8"), served), encoding="utf-8")
        monkeypatch.setenv("UV_DEFAULT_INDEX", served.pypi)
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
        monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
        monkeypatch.setenv("UV_PYTHON", python_for("==3.10.*"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        monkeypatch.delenv("VIRTUAL_ENV", raising=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            footer_keys = {b.key for b in app.BINDINGS if b.show}
            assert {"a", "l"} <= footer_keys
            await pilot.press("l")
            await settle(pilot)
            assert not (app.project_dir / "uv.lock").exists()  # as published, the lock fails
            await pilot.press("a", "y")
            await settle(pilot)
            await pilot.press("l")
            await settle(pilot)
            log = app.main.lock_log.text()
            assert "uv lock succeeded" in log, log
        assert (app.project_dir / "uv.lock").exists()
    finally:
        served.close()


@pytest.mark.parametrize("index_up", [True, False])
@run_async
async def test_one_key_carries_the_fix_through_uv_lock_or_puts_it_all_back(monkeypatch, tmp_path, index_up):
    """`a`, `y` in the demo, online against the local index: the fix is written and locked in one go, and the uv
    lock tab says "cured" with what is left to run (a recorded machine is not synced). With the index gone, the
    lock fails and pyproject.toml is put back, said in the tab and a toast."""
    from pyindex import LocalIndex

    served = LocalIndex(tmp_path / "index")
    try:
        app = demo_app("one-key", offline=False)
        path = app.project_dir / "pyproject.toml"
        path.write_text(localize(path.read_text(encoding="utf-8"), served), encoding="utf-8")
        before = path.read_bytes()
        for name, value in {"UV_DEFAULT_INDEX": served.pypi, "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
                            "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": python_for("==3.10.*"),
                            "XDG_CONFIG_HOME": str(tmp_path / "config")}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("VIRTUAL_ENV", raising=False)
        monkeypatch.delenv("TORCHDOCTOR_OFFLINE", raising=False)
        if not index_up:
            served.close()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("a", "y")
            await settle(pilot)
            await wait_until(lambda: not app.main.lock_log.running, lambda: pilot.pause(0.1))
            log = app.main.lock_log.text()
            if index_up:
                assert "lock: running: uv lock" in log and "cured: cured in pyproject.toml and uv.lock (TD304)" in log, log
                assert (app.project_dir / "uv.lock").exists() and path.read_bytes() != before
            else:
                assert "put back: lock failed" in log and "pyproject.toml and uv.lock are back as they were" in log, log
                assert path.read_bytes() == before and not (app.project_dir / "uv.lock").exists()
    finally:
        served.close()


# --- pictures --------------------------------------------------------------------------------------

SIZE = (100, 30)


class TestPictures:
    """SVG snapshots of the main states; `pytest --snapshot-update` regenerates them after a review."""

    def test_demo(self, snap_compare):
        assert snap_compare(demo_app("snap-demo"), terminal_size=SIZE, run_before=settle)

    def test_demo_at_80x24(self, snap_compare):
        assert snap_compare(demo_app("snap-small"), terminal_size=(80, 24), run_before=settle)

    def test_healthy_h100(self, snap_compare):
        assert snap_compare(h100_app("snap-h100"), terminal_size=SIZE, run_before=settle)

    def test_cpu_only_laptop(self, snap_compare):
        assert snap_compare(cpu_laptop_app(), terminal_size=SIZE, run_before=settle)

    def test_fix_confirmation(self, snap_compare):
        async def confirm(pilot):
            await settle(pilot)
            await pilot.press("a")
            await pilot.pause()

        assert snap_compare(demo_app("snap-confirm"), terminal_size=SIZE, run_before=confirm)

    def test_after_fix(self, snap_compare):
        async def fixed(pilot):
            await settle(pilot)
            await pilot.press("a", "y")
            await settle(pilot)

        assert snap_compare(demo_app("snap-fixed"), terminal_size=SIZE, run_before=fixed)

    def test_torch_panel_highlights_the_gpus_arch(self, snap_compare):
        async def torch_tab(pilot):
            await settle(pilot)
            await pilot.press("3")
            await pilot.pause()

        assert snap_compare(demo_app("snap-torch"), terminal_size=SIZE, run_before=torch_tab)

    def test_project_panel_shows_what_each_platform_gets(self, snap_compare):
        async def project_tab(pilot):
            await settle(pilot)
            await pilot.press("4")
            await pilot.pause()

        assert snap_compare(demo_app("snap-project"), terminal_size=SIZE, run_before=project_tab)

    def test_light_theme(self, snap_compare):
        async def light(pilot):
            await settle(pilot)
            pilot.app.theme = "textual-light"
            await pilot.pause()

        assert snap_compare(demo_app("snap-light"), terminal_size=SIZE, run_before=light)

    def test_no_color(self, snap_compare, monkeypatch):
        monkeypatch.setenv("NO_COLOR", "1")
        app = demo_app("snap-no-color")
        assert app.no_color  # Textual reads NO_COLOR when the app is made; the app never overrides it
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)

    def test_gemm_results(self, snap_compare):
        async def gemm_tab(pilot):
            await settle(pilot)
            await pilot.press("5")
            await pilot.pause()

        assert snap_compare(h100_app("snap-gemm", "h100-bench-contended"), terminal_size=SIZE, run_before=gemm_tab)

    @pytest.mark.parametrize("index_up", [True, False], ids=["cured", "put-back"])
    def test_the_fix_transaction_step_by_step(self, snap_compare, monkeypatch, tmp_path, index_up):
        """`a`, `y` in the demo against the local index: the uv lock tab with each step of the transaction and its
        verdict, "cured" or everything put back (the index gone). The real uv runs; only what changes from run to run
        in its lines (the index's port, the temporary folders, uv's timings) is written steadily."""
        from pyindex import LocalIndex

        served = LocalIndex(tmp_path / "index")
        try:
            app = demo_app("snap-transaction", offline=False)
            path = app.project_dir / "pyproject.toml"
            path.write_text(localize(path.read_text(encoding="utf-8"), served), encoding="utf-8")
            for name, value in {"UV_DEFAULT_INDEX": served.pypi, "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
                                "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": python_for("==3.10.*"),
                                "XDG_CONFIG_HOME": str(tmp_path / "config")}.items():
                monkeypatch.setenv(name, value)
            monkeypatch.delenv("VIRTUAL_ENV", raising=False)
            monkeypatch.delenv("TORCHDOCTOR_OFFLINE", raising=False)
            steady_lines(monkeypatch, {str(tmp_path): "<tmp>"})
            if not index_up:
                served.close()

            async def transaction(pilot):
                await settle(pilot)
                await pilot.press("a", "y")
                await settle(pilot)
                await wait_until(lambda: not app.main.lock_log.running, lambda: pilot.pause(0.1))
                await settle(pilot)  # the project read again after the verdict
                await pilot.press("6")  # the uv lock tab, where the steps are (a cured fix goes back to the findings)
                app.clear_notifications()  # the toast says the verdict again, with uv's timing in it
                await pilot.pause()

            assert snap_compare(app, terminal_size=SIZE, run_before=transaction)
        finally:
            served.close()


def steady_lines(monkeypatch, replacements: dict[str, str]) -> None:
    """The uv lock tab's lines with what differs between runs replaced: the given texts (a temporary folder), uv's
    timings ("in 31ms"), the interpreter uv found, and pages of the local index (its port; which one fails first).
    A line so changed keeps its style."""
    import re

    from rich.text import Text

    from torchdoctor.tui.widgets.lock_log import LockLog

    timing = re.compile(r"\b(in|after) \d+(\.\d+)?(ms|s)\b")
    interpreter = re.compile(r"Using CPython \S+ interpreter at: \S+")
    local_index = re.compile(r"http://127\.0\.0\.1:\d+/[^\s)]*")  # uv fetches at once: which fails first varies

    def steady(line: Text) -> Text:
        plain = line.plain
        for volatile, fixed in replacements.items():
            plain = plain.replace(volatile, fixed)
        plain = interpreter.sub("Using CPython <version> interpreter at: <python>", timing.sub(r"\1 <time>", plain))
        plain = local_index.sub("<a page of the local index>", plain)
        return line if plain == line.plain else Text(plain, style=line.style)

    write, begin, end = LockLog.write, LockLog.begin, LockLog.end
    monkeypatch.setattr(LockLog, "write", lambda self, line: write(self, steady(line)))
    monkeypatch.setattr(LockLog, "begin", lambda self, first, label: begin(self, steady(first), label))
    monkeypatch.setattr(LockLog, "end", lambda self, last=None: end(self, None if last is None else steady(last)))




def test_the_demo_machine_is_the_assembled_fixture():
    """`--demo` opens the same machine the tests check (scripts/assemble-wsl2-snapshot.py writes both)."""
    bundled = Path(__file__).resolve().parent.parent / "src" / "torchdoctor" / "demo" / "snapshot.json"
    assert bundled.read_bytes() == (SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_bytes()


@run_async
async def test_a_rescan_that_finishes_under_the_help_screen_updates_the_panels():
    app = demo_app("rescan-help")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        app.action_rescan()  # the rescan's answer arrives while the help screen is on top
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen) and app.report is not None
        await pilot.press("escape")
        await pilot.pause()
        assert str(app.query_one("#summary").content).startswith("problems found")


@run_async
async def test_a_probe_that_finishes_while_the_app_quits_is_dropped_not_a_crash():
    """After a fix the project is read again in a worker (uv lock --check included); quitting before it ends
    must not end in a traceback."""
    from torchdoctor.tui.messages import SnapshotReady

    app = demo_app("quit-mid-reread")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        snapshot = app.snapshot
    app.on_snapshot_ready(SnapshotReady(snapshot))  # the panels are gone: nothing to update, nothing raised


def shown(renderable) -> str:
    """What a Rich renderable prints, as text."""
    from rich.console import Console

    console = Console(record=True, width=300, color_system=None)
    console.print(renderable)
    return console.export_text()


@run_async
async def test_a_path_and_urls_full_of_markup_are_shown_literally(tmp_path):
    """`exp[/v2]` as the project folder and `[/red]`, `[bold]` in index URLs and names: shown as written, no crash."""
    project = tmp_path / "exp[/v2]" / "[bold]train"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x[/red]"\nversion = "0"\ndependencies = ["torch"]\n\n'
        '[[tool.uv.index]]\nname = "pt[/red]"\nurl = "https://download.pytorch.org/whl/cu128?x=[/red]"\n\n'
        '[tool.uv.sources]\ntorch = { index = "pt[/red]" }\n', encoding="utf-8")
    app = TorchDoctorApp(project, recorded=recorded("h100-pypi"), output_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "exp[/v2]/[bold]train" in shown(app.query_one("#title", Static).content)
        assert "pt[/red]: https://download.pytorch.org/whl/cu128?x=[/red]" in shown(app.query_one("#project", Static).content)
        assert app.report is not None and any("pt[/red]" in d.message for d in app.report.diagnoses)


@run_async
async def test_a_recorded_fleet_run_gets_a_fleet_tab_with_its_ranks():
    recording = FIXTURES / "fleet" / "h200-assembled-two-nodes-one-slow.json"
    project = fixed_folder("fleet")
    app = TorchDoctorApp(project, recorded=Snapshot.from_json(recording.read_text(encoding="utf-8")), label="fleet")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert [d.code for d in app.report.diagnoses] == ["TD705"]
        await pilot.press("7")
        await settle(pilot)
        assert app.query_one("#tabs").active == "tab-fleet"
        shown = str(app.query_one("#fleet", Static).content)
        assert "308.5 TFLOP/s bf16" in shown and "several nodes" in shown


@run_async
async def test_without_a_fleet_run_its_key_says_so_and_adds_no_tab():
    app = h100_app("no-fleet")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await pilot.pause()
        assert app.query_one("#tabs").active == "tab-findings" and not app.query("#tab-fleet")


@run_async
async def test_the_app_runs_nothing_the_project_names_before_a_fix_is_confirmed(tmp_path):
    """A `.python-version` naming an executable and an in-tree build backend (test_hostile_input's planted project):
    the app reads the project, asks uv about its lock, proves and previews fixes, and runs neither."""
    from test_hostile_input import planted_project

    project, ran = planted_project(Path.home(), "relative")
    app = TorchDoctorApp(project, recorded=recorded("h100-pypi"), label="planted", output_dir=project.parent)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.report.diagnoses
        for _ in app.report.diagnoses:
            await pilot.press("down")
            await settle(pilot)
        await pilot.press("f")  # the confirmation is shown; nothing is applied until it is answered
        await settle(pilot)
        assert isinstance(app.screen, ConfirmFix)
    assert not ran.exists(), ran.read_text()


@run_async
async def test_a_snapshot_without_a_project_is_a_replay_whose_project_no_key_edits(tmp_path):
    """Issue 31 item 3: one rule for --snapshot in check, fix and the app. Without --project the app replays the
    project recorded in the snapshot (not the folder it was started in), and the keys that edit or lock a project
    leave the footer and do nothing; `fix` refuses such a replay the same way."""
    machine = demo_snapshot()
    elsewhere = tmp_path / "unrelated"
    elsewhere.mkdir()
    app = TorchDoctorApp(elsewhere, recorded=machine, label="a replay", replay=True, output_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.snapshot is not None and app.snapshot.project.root == machine.project.root
        footer_keys = {key for key, b in app.active_bindings.items() if app.check_action(b.binding.action, ()) is not False}
        assert not {"f", "a", "u", "l"} & footer_keys
        await pilot.press("a")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmFix)
    assert not list(elsewhere.iterdir())


@run_async
async def test_the_verdict_line_ends_with_its_last_word_when_there_is_no_interpreter_to_name():
    """A live check that found no interpreter has no path to name after the verdict: no dangling `·`."""
    from textual.app import App

    from torchdoctor.model import Report
    from torchdoctor.tui.widgets.verdict import Verdict

    class One(App[None]):
        def compose(self):
            yield Verdict()

    async with One().run_test() as pilot:
        verdict = pilot.app.query_one(Verdict)
        verdict.show_report(Report(snapshot=recorded("h100-pypi")), "")
        await pilot.pause()
        text = str(verdict.content)
        assert text.startswith("healthy") and not text.rstrip().endswith("·"), text
        verdict.show_report(Report(snapshot=recorded("h100-pypi")), "/usr/bin/python3")
        await pilot.pause()
        assert str(verdict.content).endswith(" · /usr/bin/python3")
