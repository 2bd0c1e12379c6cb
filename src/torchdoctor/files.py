"""Writing files safely. Kept apart from torchdoctor.fixes so that saving a snapshot does not import
tomlkit and the fix engine (the GPU recording scripts run `check` with only the probes' dependencies)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


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
