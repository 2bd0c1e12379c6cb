"""Saving what the user asked for (a snapshot, a report) into a file of their choosing, the same way from both faces:
written whole or not at all (a temporary file renamed over it), and a failure said in one line."""

from __future__ import annotations

from pathlib import Path

from torchdoctor.files import atomic_write


class CannotSave(Exception):
    """The file was not written; the message says why, in one line."""


def save_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically. Raises CannotSave."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CannotSave(f"cannot write {path}: the folder {folder} does not exist")
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as error:
        raise CannotSave(f"cannot write {path}: {error.strerror or error}") from None
