"""The one flow under both faces, one module per use case: diagnosing (the Report a selection keeps), fixing
(choose, prove, write, re-check, undo) with its proof, the fix transaction (write, lock, sync, verify, or put
everything back), probing (the snapshot a command works on, and the GEMM test), fleet, archs, triage, and saving
what the user asked to keep.

The CLI and the TUI call these and only show what they return, so `[tool.torchdoctor]`, --select / --ignore, which
fixes a request picks, the proof a fix must pass and what the re-check says are decided once, here. The steps are
plain functions over data (a Snapshot, Diagnoses, a FixPreview), so a face can run any of them in a worker thread.

This package is the faces' one door, and it opens lazily: `from torchdoctor import workflow` costs nothing, and
`workflow.diagnose` imports diagnosing (and through it the rules) when it is first used. So a face imports the
workflow once, at the top, and still draws its first screen before the core is loaded (the app's first paint,
benchmarks/tui_first_paint.py); the names are the submodules' own, typed as they are there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "diagnosing": ("Selection", "diagnose", "fail_on", "rules", "selection_for"),
    "previews": ("PreviewCache",),
    "fixing": ("CannotFix", "FixChoice", "FixPreview", "Recheck", "choose_fixes", "fix_diagnoses",
               "is_unsafe", "preview_fixes", "recheck", "reread_project", "rule_codes", "undo", "undo_fix",
               "unsafe_warning", "write_fixes"),
    "probing": ("BENCH_SECONDS", "BenchStep", "CannotProbe", "bench", "demo", "probe", "project_only", "read_recording",
                "recording_text",
                "with_bench", "with_project"),
    "transaction": ("Outcome", "Steps", "carry_out", "lock", "verify_in_scratch"),
    "children": ("stop_all_children",),
    "archs": ("gpu_code",),
    "saving": ("CannotSave", "save_text"),
    "triage": ("with_symptom",),
}
_MODULES = ("fleet", "triage")
"""Use cases reached as modules (`workflow.triage.triage(text)`): their names are taken by the modules themselves."""
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:
    from torchdoctor.workflow import fleet, triage
    from torchdoctor.workflow.archs import gpu_code
    from torchdoctor.workflow.children import stop_all_children
    from torchdoctor.workflow.diagnosing import Selection, diagnose, fail_on, rules, selection_for
    from torchdoctor.workflow.fixing import (
        CannotFix,
        FixChoice,
        FixPreview,
        Recheck,
        choose_fixes,
        fix_diagnoses,
        is_unsafe,
        preview_fixes,
        recheck,
        reread_project,
        rule_codes,
        undo,
        undo_fix,
        unsafe_warning,
        write_fixes,
    )
    from torchdoctor.workflow.previews import PreviewCache
    from torchdoctor.workflow.probing import (
        BENCH_SECONDS,
        BenchStep,
        CannotProbe,
        bench,
        demo,
        probe,
        project_only,
        read_recording,
        recording_text,
        with_bench,
        with_project,
    )
    from torchdoctor.workflow.saving import CannotSave, save_text
    from torchdoctor.workflow.transaction import Outcome, Steps, carry_out, lock, verify_in_scratch
    from torchdoctor.workflow.triage import with_symptom


def __getattr__(name: str) -> Any:
    """A name of the flow, from its submodule, imported on first use (PEP 562)."""
    if name in _MODULES:
        return importlib.import_module(f"torchdoctor.workflow.{name}")
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module 'torchdoctor.workflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"torchdoctor.workflow.{home}"), name)
    globals()[name] = value
    return value


__all__ = ["BENCH_SECONDS", "BenchStep", "CannotFix", "CannotProbe", "CannotSave", "FixChoice", "FixPreview", "Outcome",
           "PreviewCache", "Recheck", "Selection", "Steps", "bench", "carry_out", "choose_fixes", "demo", "diagnose",
           "fail_on", "fix_diagnoses", "fleet", "gpu_code", "is_unsafe", "lock", "preview_fixes", "probe",
           "project_only", "read_recording", "recheck", "recording_text", "reread_project", "rule_codes", "rules",
           "save_text", "selection_for", "stop_all_children", "triage", "undo", "undo_fix", "unsafe_warning",
           "verify_in_scratch", "with_bench",
           "with_project", "with_symptom", "write_fixes"]
