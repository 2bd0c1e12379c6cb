"""Fixes: pure pyproject transforms (transforms.py), applied safely (writer.py), chosen from a Report here."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from torchdoctor.fixes.transforms import FixError, apply_transform
from torchdoctor.model import Applicability, Diagnosis

__all__ = ["FixError", "apply_fixes", "fixable", "unified_diff"]


def fixable(diagnoses: Iterable[Diagnosis], codes: set[str] | None = None, unsafe: bool = False) -> list[Diagnosis]:
    """The diagnoses whose fixes edit pyproject.toml, filtered by code and by how safe they are."""
    chosen = []
    for diagnosis in diagnoses:
        fix = diagnosis.fix
        if fix is None or fix.edit is None:
            continue
        if codes and diagnosis.code not in codes:
            continue
        if fix.applicability is Applicability.UNSAFE and not unsafe:
            continue
        chosen.append(diagnosis)
    return chosen


def apply_fixes(text: str, diagnoses: Iterable[Diagnosis]) -> str:
    """Apply each diagnosis' fix in turn; fixes compose because each one only sets what it names."""
    for diagnosis in diagnoses:
        fix = diagnosis.fix
        if fix is None or fix.edit is None:
            raise FixError(f"{diagnosis.code} has no fix that edits pyproject.toml")
        text = apply_transform(text, fix.edit)
    return text


def unified_diff(before: str, after: str, name: str = "pyproject.toml") -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"))
