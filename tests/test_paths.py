"""Per-user folders and how paths are shown."""

from __future__ import annotations

import sys

import pytest

from torchdoctor.paths import shown, user_folder


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG layout is the Linux one")
def test_user_folders_follow_the_override_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_folder("state", {}) == tmp_path / ".local/state/torchdoctor"
    assert user_folder("cache", {"XDG_CACHE_HOME": "/x"}).as_posix() == "/x/torchdoctor"
    assert user_folder("cache", {"XDG_CACHE_HOME": "/x", "TORCHDOCTOR_CACHE_DIR": "/y"}).as_posix() == "/y"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_a_path_under_home_is_shown_with_a_tilde_and_only_then(tmp_path, monkeypatch):
    home = tmp_path / "me"
    monkeypatch.setenv("HOME", str(home))
    assert shown(home / "src" / "proj") == "~/src/proj"
    assert shown(home) == "~"
    assert shown(tmp_path / "me-too" / "proj") == str(tmp_path / "me-too" / "proj")  # a sibling sharing the prefix
    assert shown("/opt/proj") == "/opt/proj"
    monkeypatch.setenv("HOME", "/")
    assert shown("/opt/proj") == "/opt/proj"  # a root home shortens nothing
