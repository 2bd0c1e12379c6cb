"""Writing files safely. Kept apart from torchdoctor.fixes so that saving a snapshot does not import
tomlkit and the fix engine (the GPU recording scripts run `check` with only the probes' dependencies)."""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder and a rename: a crash leaves the old file or the new
    one, never half of either. An existing file keeps its permissions; a new one gets the user's umask."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


class ChangedMeanwhile(Exception):
    """The file was not what the caller read when the new text was to take its place: nothing was replaced."""


def replace_if_unchanged(path: Path, data: bytes, expected: bytes) -> None:
    """Write `data` over `path` only if it still holds `expected`, and never lose an edit saved meanwhile.

    The comparison must come after the new text is written and fsynced, at the moment of the swap. On Linux the
    swap is an exchange (renameat2 RENAME_EXCHANGE): the temporary name then holds exactly what stood at the path
    at that instant, so an edit saved up to then is seen, swapped back and the fix refused (ChangedMeanwhile).
    Elsewhere the file is compared right before the rename, and the old file, held open, right after it: an
    in-place edit that slipped between is put back too. An editor that saves by a rename of its own inside the
    few microseconds between that comparison and the rename is the one race left there."""
    target = path.resolve()
    mode = stat.S_IMODE(target.stat().st_mode)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        if _exchange(temporary, target):
            displaced = temporary.read_bytes()
            if displaced != expected:
                try:
                    _exchange(temporary, target)  # the edit goes back where it was saved
                except OSError:
                    kept = target.with_name(f"{target.name}.edited-meanwhile")
                    os.replace(temporary, kept)  # never deleted below: the user's edit is kept beside the file
                    raise ChangedMeanwhile(f"{target} (your edit is kept in {kept})") from None
                raise ChangedMeanwhile(str(target))
            return
        with open(target, "rb") as old:
            if old.read() != expected:
                raise ChangedMeanwhile(str(target))
            os.replace(temporary, target)
            old.seek(0)
            slipped = old.read()
        if slipped != expected:  # written in place into the file just replaced: put that edit back
            atomic_write(target, slipped)
            raise ChangedMeanwhile(str(target))
    finally:
        temporary.unlink(missing_ok=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot, with nothing done."""
    if not sys.platform.startswith("linux"):
        return False
    global _renameat2
    if _renameat2 is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            function = libc.renameat2
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            _renameat2 = function
        except (OSError, AttributeError):
            _renameat2 = False
    if _renameat2 is False:
        return False
    import ctypes

    at_fdcwd, rename_exchange = -100, 2
    if _renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system or kernel without exchange
        return False
    raise OSError(error, os.strerror(error), str(second))


_renameat2: Any = None
