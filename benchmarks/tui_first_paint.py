"""How soon does `torchdoctor` show its first screen? Goal: within 0.3 s, before any probe answers.

    python benchmarks/tui_first_paint.py [--project DIR] [--rounds 5]

All runs happen in a real terminal (tmux, 100×30) and are timed from launch until their text is on
the screen, read with capture-pane every 10 ms:
  * app:       `torchdoctor --project DIR` until its title line is painted (the first paint), and until its
               tab bar is (the whole layout: the screen draws its six tabs in a second step);
  * reference: the same interpreter importing Textual's App and printing one line (the floor: Python
               start-up plus Textual's import, which any Textual app pays), the issue's yardstick (goal: at
               most 1.5x);
  * minimal:   the smallest Textual app, one Static line, until it is painted: what any Textual app pays
               before its first screen (start-up, CSS, compose, the first render), for context.
It prints the medians and the ratios. A warm probe cache can finish the probes within the first
paint; the title is painted either way. Rounds alternate the three, so a busy machine slows each alike.

RESULTS (2026-12-02, the 2-core development machine, its CPU shared with the host's other work,
tests/fixtures/projects/h100-pypi, 15 launches each, bytecode compiled, the same interpreter):
    one-step screen (the title, the verdict line, six tabs and the keys composed together; the core imported
    after the first paint):
        app 0.639 s; reference 0.373 s; minimal app 0.394 s; ratio 1.71 (minimal app 1.62)
        again, later, with this script: title = tabs at 0.466-0.521 s (ratio 1.36-1.78 as the reference moved)
    two steps (the title, the verdict line and the keys; then the tabs, and probing once they are painted):
        title 0.302-0.404 s, tabs 0.445-0.594 s; reference 0.252-0.327 s; ratio 1.23-1.26 (goal met),
        app / minimal app 1.08-1.10. In the same hour the one-step screen painted everything at 0.466-0.491 s:
        the first paint comes about 0.15 s sooner and the whole layout about when it did.
    Headless, in process (the time from App.run to the first paint): the six tabs cost 0.2 s against 0.08 s
    without them (one tab 0.13 s, six empty tabs 0.17 s): Textual styling and laying out TabbedContent.
    Earlier, the one-step screen before the core moved after the first paint (the app module imported the rules,
    probes, fixes and the snapshot model, 0.2-0.3 s): app 0.906 s; reference 0.462 s; ratio 1.96.
Earlier (2026-11-23, the same machine unloaded, 5 launches):
    app 0.264 s median; reference 0.132 s; ratio 2.00 (goal met: first paint under 0.3 s).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def time_until(command: str, *markers: str, timeout: float = 20.0) -> list[float | None]:
    """Seconds from launch until each marker is first on the screen (None: never, within the timeout)."""
    folder = Path(tempfile.mkdtemp(prefix="torchdoctor-bench-"))  # tmux's socket here, never in the user's folders
    tmux = [shutil.which("tmux") or "tmux", "-S", str(folder / f"tmux-{uuid.uuid4().hex[:8]}")]
    seen: dict[str, float] = {}
    started = time.monotonic()
    subprocess.run([*tmux, "new-session", "-d", "-s", "b", "-x", "100", "-y", "30", command], check=True)
    try:
        while time.monotonic() - started < timeout and len(seen) < len(markers):
            screen = subprocess.run([*tmux, "capture-pane", "-t", "b", "-p"], capture_output=True, text=True).stdout
            now = time.monotonic() - started
            for marker in markers:
                if marker in screen:
                    seen.setdefault(marker, now)
            time.sleep(0.01)
        return [seen.get(marker) for marker in markers]
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=".")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("needs tmux", file=sys.stderr)
        return 2
    torchdoctor = Path(sys.executable).parent / "torchdoctor"
    app_command = f"{torchdoctor} --project {Path(args.project).resolve()}"
    reference_command = f"{sys.executable} -c \"import textual.app; print('ready'); import time; time.sleep(5)\""
    minimal_command = (f"{sys.executable} -c \"from textual.app import App; from textual.widgets import Static\n"
                       f"class A(App):\n    def compose(self):\n        yield Static('minimal app')\nA().run()\"")
    app, tabs, reference, minimal = [], [], [], []
    for _ in range(args.rounds):
        title_at, tabs_at = time_until(app_command, "torchdoctor 0.", "Findings  Machine")
        app.append(title_at or float("nan"))
        tabs.append(tabs_at or float("nan"))
        reference.append(time_until(reference_command, "ready")[0] or float("nan"))
        minimal.append(time_until(minimal_command, "minimal app")[0] or float("nan"))
    app_median, reference_median = statistics.median(app), statistics.median(reference)
    minimal_median = statistics.median(minimal)
    print(f"first paint of the app: median {app_median:.3f} s over {args.rounds} launches (goal: at most 0.3 s)")
    print(f"the app's tabs painted: median {statistics.median(tabs):.3f} s "
          f"(ratio to the reference {statistics.median(tabs) / reference_median:.2f})")
    print(f"reference (python + import textual.app): median {reference_median:.3f} s")
    print(f"minimal Textual app painted: median {minimal_median:.3f} s")
    print(f"ratio app / reference: {app_median / reference_median:.2f} (goal: at most 1.5); "
          f"app / minimal app: {app_median / minimal_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
