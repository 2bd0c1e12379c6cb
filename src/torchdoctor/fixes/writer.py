"""Writing pyproject.toml safely, and undoing it.

A fix is written only if the file is byte-for-byte what it was when torchdoctor read it, through a
temporary file in the same folder and a rename (so a crash leaves the old file or the new one, never
half of either), with the file's permissions kept. The original goes to a per-user state folder first,
outside the project tree, where `torchdoctor undo` finds it; undo refuses to overwrite edits made after
the fix.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from torchdoctor.files import ChangedMeanwhile, atomic_write, replace_if_unchanged
from torchdoctor.fixes.transforms import FixError
from torchdoctor.paths import user_folder


def state_folder(environ: Mapping[str, str] | None = None) -> Path:
    return user_folder("state", environ)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _backups(path: Path) -> Path:
    key = _digest(str(path.resolve()).encode())[:16]
    return state_folder() / "backups" / key


def write_fixed(path: Path, original: bytes, new_text: str, lock: Path | None = None) -> Path:
    """Write `new_text` over `path` if it still holds `original`; returns the backup's folder.

    A symlinked pyproject.toml is written through to its target (the link stays a link). Concurrent
    torchdoctor writes of one file are serialised by a lock beside its backups, and the file is compared with
    what was read once more right before the rename, so an edit saved meanwhile is never overwritten. The
    backup keeps the file's mode; a write that fails leaves no backup record behind."""
    target = path.resolve()
    new = new_text.encode("utf-8")
    folder = _backups(target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FixError(f"cannot keep a backup in {folder}: {error.strerror}; nothing was written") from None
    with _locked(folder / ".lock"):
        _still(target, original)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        backup = folder / stamp
        try:
            backup.mkdir(exist_ok=False)
            kept = backup / target.name
            kept.write_bytes(original)
            os.chmod(kept, stat.S_IMODE(target.stat().st_mode))
            if lock is not None and lock.is_file():  # put back by undo once a lock step has replaced it
                shutil.copy2(lock, backup / lock.name)
        except OSError as error:
            shutil.rmtree(backup, ignore_errors=True)
            raise FixError(f"cannot keep a backup in {folder}: {error.strerror}; nothing was written") from None
        try:
            _still(target, original)
            replace_if_unchanged(target, new, original)
        except (OSError, FixError, ChangedMeanwhile) as error:
            shutil.rmtree(backup, ignore_errors=True)  # no record of a write that did not happen: undo stays usable
            if isinstance(error, FixError):
                raise
            if isinstance(error, ChangedMeanwhile):
                raise FixError(f"{target} was edited while torchdoctor wrote it; your edit is kept and nothing was "
                               "written (run the command again)") from None
            raise FixError(f"cannot write {target}: {error.strerror}; the file is unchanged") from None
        record: dict[str, object] = {"path": str(target), "written_sha256": _digest(new), "created": stamp}
        if lock is not None:
            record["lock"] = {"path": str(lock.resolve()), "existed": (backup / lock.name).is_file(), "written_sha256": None}
        (backup / "backup.json").write_text(json.dumps(record), encoding="utf-8")
    return backup


def record_lock_written(backup: Path, lock: Path) -> None:
    """After the fix's `uv lock`: remember the lock it wrote (`lock`, a workspace's for a member), so that undo puts
    the old one back, and only over that one: a lock written since is the user's."""
    meta_path = backup / "backup.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        record = meta.get("lock") if isinstance(meta.get("lock"), dict) else {}
        if Path(record.get("path") or "") != lock.resolve():
            # The lock uv wrote is not the one kept before the write: keep it now (it is still the old one only if
            # uv failed, which never reaches here), marked as not kept.
            record = {"path": str(lock.resolve()), "existed": False, "written_sha256": None}
        record["written_sha256"] = _digest(lock.read_bytes())
        meta["lock"] = record
        atomic_write(meta_path, json.dumps(meta).encode("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise FixError(f"cannot record the new uv.lock in {backup}: {error}") from None


def _still(path: Path, original: bytes) -> None:
    try:
        current = path.read_bytes()
    except OSError as error:
        raise FixError(f"cannot read {path}: {error.strerror}") from None
    if current != original:
        raise FixError(f"{path} changed since torchdoctor read it; nothing was written (run the command again)")


@contextlib.contextmanager
def _locked(lock: Path):
    """An exclusive lock on `lock` (POSIX flock; elsewhere nothing, and the compare-before-rename still holds)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def undo_last(path: Path) -> Path:
    """Restore the newest backup of `path` that has not been undone; returns that backup's folder."""
    path = path.resolve()
    try:
        folder = _backups(path)
        candidates = sorted((p for p in folder.glob("*") if (p / "backup.json").exists()), reverse=True) if folder.exists() else []
    except OSError as error:  # the state folder unreadable, or its disk gone
        raise FixError(f"cannot read torchdoctor's backups of {path}: {error.strerror or error}") from None
    if not candidates:
        raise FixError(f"nothing to undo: no fix of {path} was written by torchdoctor (or it was undone already)")
    backup = candidates[0]
    undo_backup(path, backup)
    return backup


def undo_backup(path: Path, backup: Path) -> None:
    """Put back what one fix's write (`backup`, returned by write_fixed) replaced: the fix transaction undoes its own
    write, never an older one, whatever happened to the backups since."""
    path = path.resolve()
    try:
        meta = json.loads((backup / "backup.json").read_text(encoding="utf-8"))
        meta["written_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FixError(f"the backup record {backup / 'backup.json'} cannot be read ({error}); the original is kept in "
                       f"{backup / path.name}") from None
    try:
        current = path.read_bytes()
    except OSError:
        current = b""
    if _digest(current) != meta["written_sha256"]:
        raise FixError(f"{path} was edited after torchdoctor's fix; not restoring over those edits (the original is "
                       f"kept in {backup / path.name})")
    _restore(path, backup, meta)


def _restore(path: Path, backup: Path, meta: dict) -> None:
    """pyproject.toml from the backup and the record marked undone; then the lock, said apart when it cannot be."""
    try:
        atomic_write(path, (backup / path.name).read_bytes())
        (backup / "backup.json").rename(backup / "undone.json")
    except OSError as error:
        raise FixError(f"cannot restore {path} from {backup}: {error.strerror}") from None
    try:
        _undo_lock(backup, meta.get("lock"))
    except OSError as error:
        raise FixError(f"restored {path}, but not uv.lock ({error.strerror}): the old one is in {backup}") from None


def _undo_lock(backup: Path, record: object) -> None:
    """The uv.lock the fix's lock step replaced, put back when the lock is still the one that step wrote."""
    if not isinstance(record, dict) or not record.get("written_sha256"):
        return
    lock = Path(str(record["path"]))
    try:
        current = lock.read_bytes()
    except OSError:
        return
    if _digest(current) != record["written_sha256"]:
        return  # locked again since: that lock is the user's
    if record.get("existed"):
        atomic_write(lock, (backup / lock.name).read_bytes())
    else:
        lock.unlink()
