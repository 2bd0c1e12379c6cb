"""The TUI as a person sees it: `torchdoctor --demo` in a real terminal (tmux), driven with keys.

Pilot tests drive the app inside the test process; this runs the installed command in tmux at 80×24,
sends keys, and reads the screen back with capture-pane. Skipped only where tmux is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Terminal:
    def __init__(self, command: list[str], home: Path, width: int = 80, height: int = 24, path: str = "/usr/bin:/bin"):
        """`command` in a new tmux server of its own, with a home folder of its own: what the app keeps (the fix's
        backup, its caches) goes there, never into the user's, and no tmux.conf of the user's changes the screen."""
        self.socket = f"torchdoctor-test-{uuid.uuid4().hex[:8]}"
        self.tmux = [TMUX, "-L", self.socket]
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run([*self.tmux, "new-session", "-d", "-s", "td", "-x", str(width), "-y", str(height),
                        " ".join(command)], check=True, env={"TERM": "xterm-256color", "PATH": path, "HOME": str(home),
                                                            "TORCHDOCTOR_OFFLINE": "1"})  # as every test: no network

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-t", "td", "-p"], capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", "td", key], check=True)
            time.sleep(0.3)

    def alive(self) -> bool:
        return subprocess.run([*self.tmux, "has-session", "-t", "td"], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def test_the_demo_in_a_real_terminal_from_launch_to_fixed_and_quit(tmp_path):
    torchdoctor = Path(sys.executable).parent / "torchdoctor"
    terminal = Terminal([str(torchdoctor), "--demo"], home=tmp_path / "home")
    try:
        terminal.wait_for("a Fix all safe")  # the first paint: the title and the keys, then the tabs
        terminal.wait_for("problems found: 2 error(s)")
        screen = terminal.wait_for("TD304")  # the findings list draws its options a frame after the verdict line
        assert "f Fix" in screen and "l uv lock" in screen
        terminal.keys("a")
        screen = terminal.wait_for('+url = "https://download.pytorch.org/whl/nightly/cu128"')
        assert "write this change to" in screen
        terminal.keys("y")
        # The URLs repaired, no error is left; the demo project still routes Windows to the CPU index (TD316).
        screen = terminal.wait_for("problems found: 0 error(s), 1 warning(s)")
        terminal.keys("q")
        deadline = time.monotonic() + 10
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not terminal.alive()  # q quits, and the session ends with the process
    finally:
        terminal.close()


def test_at_80x24_the_footer_keeps_q_and_uv_lock_shows_its_progress_and_cancels(tmp_path):
    """`l` runs uv lock with a spinner, the time it has run and the key that cancels it; Escape cancels it (a uv
    that never answers stands in for a slow index); Ctrl+C quits."""
    slow = tmp_path / "bin" / "uv"
    slow.parent.mkdir()
    slow.write_text("#!/bin/sh\necho 'Resolving dependencies...'\nexec sleep 600\n")
    slow.chmod(0o755)
    torchdoctor = Path(sys.executable).parent / "torchdoctor"
    terminal = Terminal([str(torchdoctor), "--demo"], home=tmp_path / "home", path=f"{slow.parent}:/usr/bin:/bin")
    try:
        terminal.wait_for("a Fix all safe")
        screen = terminal.wait_for("TD304")  # keys act on the findings: wait for them, as a person would
        footer = screen.rstrip().splitlines()[-1]
        assert "q Quit" in footer, footer
        terminal.keys("l")
        terminal.wait_for("uv lock running")
        # uv's first line arrives after the spinner: under load, reading the screen at once may not show it yet.
        screen = terminal.wait_for("Resolving dependencies...")
        assert "uv lock running" in screen and "Escape cancels" in screen
        terminal.keys("Escape")
        terminal.wait_for("uv lock cancelled: uv.lock is as it was.")
        terminal.keys("C-c")
        deadline = time.monotonic() + 10
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not terminal.alive()  # Ctrl+C quits
    finally:
        terminal.close()
