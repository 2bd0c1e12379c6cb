"""Writing pyproject.toml safely, and undoing it.

A fix is written only if the file is byte-for-byte what it was when torchdoctor read it, through a
temporary file in the same folder and a rename (so a crash leaves the old file or the new one, never
half of either), with the file's permissions kept. The original goes to a per-user state folder first,
outside the project tree, where `torchdoctor undo` finds it; undo refuses to overwrite edits made after
the fix.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from torchdoctor.files import atomic_write
from torchdoctor.fixes.transforms import FixError
from torchdoctor.paths import user_folder


def state_folder(environ: Mapping[str, str] | None = None) -> Path:
    return user_folder("state", environ)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _backups(path: Path) -> Path:
    key = _digest(str(path.resolve()).encode())[:16]
    return state_folder() / "backups" / key


def write_fixed(path: Path, original: bytes, new_text: str) -> Path:
    """Write `new_text` over `path` if it still holds `original`; returns the backup's folder."""
    try:
        current = path.read_bytes()
    except OSError as error:
        raise FixError(f"cannot read {path}: {error.strerror}") from None
    if current != original:
        raise FixError(f"{path} changed since torchdoctor read it; nothing was written (run the command again)")
    new = new_text.encode("utf-8")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    backup = _backups(path) / stamp
    try:
        backup.mkdir(parents=True, exist_ok=False)
        (backup / path.name).write_bytes(original)
        (backup / "backup.json").write_text(
            json.dumps({"path": str(path.resolve()), "written_sha256": _digest(new), "created": stamp}), encoding="utf-8"
        )
    except OSError as error:
        raise FixError(f"cannot keep a backup in {backup.parent}: {error.strerror}; nothing was written") from None
    try:
        atomic_write(path, new)
    except OSError as error:
        raise FixError(f"cannot write {path}: {error.strerror}; the file is unchanged") from None
    return backup


def undo_last(path: Path) -> Path:
    """Restore the newest backup of `path` that has not been undone; returns that backup's folder."""
    folder = _backups(path)
    candidates = sorted((p for p in folder.glob("*") if (p / "backup.json").exists()), reverse=True) if folder.exists() else []
    if not candidates:
        raise FixError(f"torchdoctor has no change of {path} to undo")
    backup = candidates[0]
    meta = json.loads((backup / "backup.json").read_text(encoding="utf-8"))
    try:
        current = path.read_bytes()
    except OSError:
        current = b""
    if _digest(current) != meta["written_sha256"]:
        raise FixError(
            f"{path} was edited after torchdoctor's fix; not restoring over those edits "
            f"(the original is kept in {backup / path.name})"
        )
    atomic_write(path, (backup / path.name).read_bytes())
    (backup / "backup.json").rename(backup / "undone.json")
    return backup
