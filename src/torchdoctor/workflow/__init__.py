"""The one flow under both faces, one module per use case: diagnosing (the Report a selection keeps), fixing
(choose, prove, write, re-check, undo) with its proof, the fix transaction (write, lock, sync, verify, or put
everything back), probing (the snapshot a command works on, and the GEMM test), fleet and archs.

The CLI and the TUI call these and only show what they return, so `[tool.torchdoctor]`, --select / --ignore, which
fixes a request picks, the proof a fix must pass and what the re-check says are decided once, here. The steps are
plain functions over data (a Snapshot, Diagnoses, a FixPreview), so a face can run any of them in a worker thread.
"""

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
    write_fixes,
)
from torchdoctor.workflow.probing import CannotProbe

__all__ = ["CannotFix", "CannotProbe", "FixChoice", "FixPreview", "Recheck", "Selection", "choose_fixes", "diagnose",
           "fail_on", "fix_diagnoses", "is_unsafe", "preview_fixes", "recheck", "reread_project", "rule_codes", "rules",
           "selection_for", "undo", "undo_fix", "write_fixes"]
