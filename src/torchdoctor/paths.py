"""Where torchdoctor keeps its per-user files, following each platform's convention.

- cache: the torch probe cache (safe to delete; it only costs a slower next check);
- state: the backups `torchdoctor undo` restores (outside any project tree).
Both can be moved with a variable, which the tests use to stay out of the user's folders.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

_KINDS = {
    # kind: (override variable, XDG variable, XDG default under home, Windows subfolder, macOS folder under home)
    "cache": ("TORCHDOCTOR_CACHE_DIR", "XDG_CACHE_HOME", ".cache", "Cache", "Library/Caches"),
    "state": ("TORCHDOCTOR_STATE_DIR", "XDG_STATE_HOME", ".local/state", "State", "Library/Application Support"),
}


def user_folder(kind: str, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    override, xdg, xdg_default, windows, macos = _KINDS[kind]
    if environ.get(override):
        return Path(environ[override])
    if sys.platform == "win32":
        return Path(environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "torchdoctor" / windows
    if sys.platform == "darwin":
        return Path.home() / macos / "torchdoctor"
    return Path(environ.get(xdg) or Path.home() / xdg_default) / "torchdoctor"


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a person reads it on a narrow screen: under the home folder it starts with `~` (as shells
    and most tools print it), so the project's own folder names fit where the home prefix would not."""
    text = str(path)
    try:
        home = str(Path.home())
    except RuntimeError:  # no home folder can be determined
        return text
    if home in ("", os.sep) or not (text == home or text.startswith(home.rstrip(os.sep) + os.sep)):
        return text
    return "~" + text[len(home.rstrip(os.sep)):]
