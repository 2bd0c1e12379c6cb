"""The app's keys: each with the help's sentence for it, which is also its tooltip and its command palette entry
(screens.help_text, TorchDoctorApp.get_system_commands): one place for all three."""

from __future__ import annotations

from textual.binding import Binding, BindingType

TABS = ("tab-findings", "tab-machine", "tab-torch", "tab-project", "tab-gemm", "tab-lock", "tab-fleet")

BINDINGS: list[BindingType] = [
    Binding("q", "quit", "Quit", tooltip="quit (nothing keeps running)"),  # first: a narrow footer still shows it
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    Binding("f", "fix_selected", "Fix", tooltip="fix the selected finding: shows the change to pyproject.toml and asks first"),
    Binding("a", "fix_all", "Fix all safe", tooltip="apply every safe fix at once (asks first)"),
    Binding("u", "undo", "Undo", tooltip="undo torchdoctor's last change of pyproject.toml"),
    Binding("l", "lock", "uv lock", tooltip="run `uv lock` and show its output (the proof that the fix works); Escape cancels it"),
    Binding("g", "bench", "GEMM", tooltip="run the GEMM throughput test: on the GPU, or on the CPU where there is none (g again cancels)"),
    Binding("r", "rescan", "Rescan", tooltip="probe and check again"),
    Binding("m", "export_markdown", "Markdown", show=False, tooltip="write the report as Markdown (for a bug report; also copied)"),
    Binding("j", "export_json", "JSON", show=False, tooltip="write the report as JSON"),
    Binding("s", "save_snapshot", "Save snapshot", show=False,
            tooltip="save the probed facts as a snapshot file others can replay with --snapshot"),
    Binding("question_mark", "help", "Help", tooltip="this help"),
    Binding("escape", "cancel_lock", "Cancel uv lock", show=False),
    *(Binding(str(number), f"show_tab('{tab}')", tab.removeprefix("tab-"), show=False) for number, tab in enumerate(TABS, 1)),
]

PALETTE = {"fix_selected": "Fix the selected finding", "fix_all": "Fix all safe", "undo": "Undo the last fix",
           "lock": "Run uv lock", "bench": "Run the GEMM test", "rescan": "Probe and check again",
           "export_markdown": "Write the Markdown report", "export_json": "Write the JSON report",
           "save_snapshot": "Save a snapshot"}
"""torchdoctor's own actions in the command palette (Ctrl+P), before Textual's."""
