"""The app's widgets, one per module, each owning its state and found by its type (never by id from outside):

- Verdict: the one-line verdict (or the probing spinner) under the title;
- Findings: the findings list and the selected one's detail, with its fix proven in the widget's own worker;
- FactsPanel: the machine, torch, project and fleet facts;
- GemmPanel: the GEMM test's results and, while it runs, its progress;
- LockLog: the steps of `uv lock` or of a fix, with the spinner while one runs.

The widgets import Textual, Rich and the panels' text (tui/panels.py) only: drawing them before the first data
arrives imports nothing of torchdoctor's core.
"""

from torchdoctor.tui.widgets.facts import FactsPanel
from torchdoctor.tui.widgets.findings import Findings
from torchdoctor.tui.widgets.gemm import GemmPanel
from torchdoctor.tui.widgets.lock_log import LockLog
from torchdoctor.tui.widgets.verdict import Verdict

__all__ = ["FactsPanel", "Findings", "GemmPanel", "LockLog", "Verdict"]
