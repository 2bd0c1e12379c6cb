"""Writing a fix: the file's conventions kept, and no write that loses or corrupts what the user has."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from conftest import FIXTURES
from torchdoctor.edits import MakeIndexExplicit
from torchdoctor.fixes import FixError, apply_fixes
from torchdoctor.fixes.transforms import apply_transform
from torchdoctor.fixes.writer import undo_last, write_fixed

CASE = (FIXTURES / "fix-cases" / "TD301.toml").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHDOCTOR_STATE_DIR", str(tmp_path / "state"))


def explicit(text: str) -> str:
    return apply_transform(text, MakeIndexExplicit(position=1, name="pytorch", map_packages=("torch",)))


def test_crlf_files_keep_crlf_on_every_line():
    crlf = CASE.replace("\n", "\r\n")
    fixed = explicit(crlf)
    assert fixed != crlf and "explicit = true\r\n" in fixed
    assert fixed.count("\r\n") == fixed.count("\n")  # no bare LF anywhere: nothing mixed
    assert explicit(fixed) == fixed


def test_a_byte_order_mark_stays_and_does_not_stop_the_fix():
    fixed = explicit("\ufeff" + CASE)
    assert fixed.startswith("\ufeff") and fixed.count("\ufeff") == 1 and "explicit = true" in fixed


def test_a_symlinked_pyproject_is_written_through_to_its_target(tmp_path):
    target = tmp_path / "shared" / "pyproject.toml"
    target.parent.mkdir()
    target.write_text(CASE, encoding="utf-8")
    link = tmp_path / "project" / "pyproject.toml"
    link.parent.mkdir()
    link.symlink_to(target)
    write_fixed(link, CASE.encode(), explicit(CASE))
    assert link.is_symlink() and "explicit = true" in target.read_text(encoding="utf-8")
    undo_last(link)
    assert link.is_symlink() and target.read_text(encoding="utf-8") == CASE


def test_backups_keep_the_files_mode(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(CASE, encoding="utf-8")
    os.chmod(path, 0o600)
    backup = write_fixed(path, CASE.encode(), explicit(CASE))
    assert stat.S_IMODE((backup / "pyproject.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_failed_write_leaves_no_backup_record(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "pyproject.toml"
    path.write_text(CASE, encoding="utf-8")
    os.chmod(folder, 0o500)
    try:
        with pytest.raises(FixError):
            write_fixed(path, CASE.encode(), explicit(CASE))
    finally:
        os.chmod(folder, 0o700)
    with pytest.raises(FixError, match="nothing to undo: no fix of"):
        undo_last(path)  # nothing recorded, so nothing to undo (not "edited after torchdoctor's fix")


def test_a_failed_write_leaves_no_backup_record_even_as_root(tmp_path, monkeypatch):
    """The same through a failing rename, which root cannot get around."""
    path = tmp_path / "pyproject.toml"
    path.write_text(CASE, encoding="utf-8")

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("torchdoctor.fixes.writer.replace_if_unchanged", full_disk)
    with pytest.raises(FixError, match="No space left"):
        write_fixed(path, CASE.encode(), explicit(CASE))
    assert path.read_text(encoding="utf-8") == CASE
    with pytest.raises(FixError, match="nothing to undo: no fix of"):
        undo_last(path)


def test_an_edit_saved_after_the_read_is_never_overwritten(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(CASE, encoding="utf-8")
    read = path.read_bytes()
    path.write_text(CASE + "\n# the user's edit\n", encoding="utf-8")
    with pytest.raises(FixError, match="changed since torchdoctor read it"):
        write_fixed(path, read, explicit(CASE))
    assert path.read_text(encoding="utf-8").endswith("# the user's edit\n")


def test_two_concurrent_fixes_of_one_file_serialise(tmp_path):
    """Both read the same file; exactly one writes, the other is refused: neither write is silently lost."""
    path = tmp_path / "pyproject.toml"
    path.write_text(CASE, encoding="utf-8")
    original = path.read_bytes()
    results: list[str] = []

    def fix(text: str) -> None:
        try:
            write_fixed(path, original, text)
            results.append("written")
        except FixError:
            results.append("refused")

    threads = [threading.Thread(target=fix, args=(t,)) for t in (explicit(CASE), apply_fixes(CASE, []) + "# other\n")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused", "written"]


def test_undo_on_a_full_disk_or_a_damaged_record_says_why_in_one_line(tmp_path, monkeypatch):
    import errno

    import torchdoctor.fixes.writer as writer

    monkeypatch.setenv("TORCHDOCTOR_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "pyproject.toml"
    path.write_bytes(b'[project]\nname = "x"\n')
    write_fixed(path, path.read_bytes(), '[project]\nname = "y"\n')

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "atomic_write", full)
    with pytest.raises(FixError, match="cannot restore .*: No space left on device"):
        undo_last(path)
    monkeypatch.undo()
    monkeypatch.setenv("TORCHDOCTOR_STATE_DIR", str(tmp_path / "state"))
    (record,) = (tmp_path / "state").rglob("backup.json")
    record.write_text("{not json")
    with pytest.raises(FixError, match="the backup record .* cannot be read"):
        undo_last(path)


@pytest.mark.parametrize("save", ["by rename", "in place"])
def test_an_edit_saved_while_the_fix_is_written_is_never_lost(tmp_path, save):
    """An editor saves at a random moment while the fix is written: whether the fix is refused (the edit came first)
    or written (the edit came after and replaces it), the file ends as the editor saved it. The last comparison
    runs after the new text is fsynced, at the swap itself."""
    import random
    import threading
    import time

    rng = random.Random(26)
    edited = CASE + "\n# the user's edit\n"
    lost = 0
    for trial in range(150):
        path = tmp_path / f"trial-{trial}" / "pyproject.toml"
        path.parent.mkdir()
        path.write_text(CASE, encoding="utf-8")
        delay = rng.uniform(0, 0.004)

        def editor() -> None:
            time.sleep(delay)
            if save == "by rename":
                temporary = path.with_name("pyproject.toml.editor")
                temporary.write_text(edited, encoding="utf-8")
                os.replace(temporary, path)
            else:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(edited)

        thread = threading.Thread(target=editor)
        thread.start()
        try:
            write_fixed(path, CASE.encode(), explicit(CASE))
        except FixError:
            pass
        thread.join()
        lost += path.read_text(encoding="utf-8") != edited
    assert lost == 0
