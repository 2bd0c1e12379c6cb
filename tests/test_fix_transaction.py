"""The fix transaction end to end, with the real uv against the local index: write → uv lock → uv sync → smoke test,
and everything put back when a step fails or the process is stopped (workflow/transaction.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from pyindex import LocalIndex
from test_uv_lock import python_for

from conftest import FIXTURES, SNAPSHOTS, interruptible, processes_with
from torchdoctor.fixes.verify import smoke_test
from torchdoctor.probes.collect import with_project
from torchdoctor.snapshot import InterpreterInfo, Snapshot
from torchdoctor.workflow import choose_fixes, fix_diagnoses, preview_fixes
from torchdoctor.workflow.transaction import Steps, carry_out

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
PLAIN = FIXTURES / "cases" / "uv-guide-extras" / "pyproject.plain.toml"


@pytest.fixture
def index(tmp_path, monkeypatch):
    served = LocalIndex(tmp_path / "index")
    monkeypatch.setenv("UV_DEFAULT_INDEX", served.pypi)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("TORCHDOCTOR_OFFLINE", raising=False)  # the index is on this machine: uv may reach it
    yield served
    served.close()


def on_the_local_index(folder: Path, pypi: str) -> None:
    """The plain project's fixes write PyTorch's index on the local server, as a project names its mirror."""
    with (folder / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write(f'\n[tool.torchdoctor]\npytorch-index = "{pypi.replace("/pypi/simple", "/whl")}"\n')


def synced_project(tmp_path: Path, uv: str) -> Path:
    """The plain `uv add torch torchvision` project, locked and synced into its own .venv from the local index."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(PLAIN, folder / "pyproject.toml")
    on_the_local_index(folder, os.environ["UV_DEFAULT_INDEX"])
    python = python_for(">=3.12")
    for command in ([uv, "lock", "--python", python], [uv, "sync", "--python", python]):
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return folder


def installed_torch(folder: Path, package: str = "torch") -> str:
    (record,) = (folder / ".venv").glob(f"lib/python*/site-packages/{package}-*.dist-info")
    return record.name.removeprefix(f"{package}-").removesuffix(".dist-info")


def on_this_machine(folder: Path) -> Snapshot:
    """The recorded H100 (driver 580: CUDA 13.0 at most), with the project's own .venv as the interpreter probed here
    and what it installed as torch: the local index's PyPI torch 2.15.0, whose Linux wheels are CUDA 13.2 builds, as
    PyPI's are. The report finds the driver too old for it and offers the CUDA 13.0 line."""
    snapshot = with_project(H100, folder, offline=False)  # the local index serves it: uv may lock
    interpreter = InterpreterInfo(path=str(folder / ".venv" / "bin" / "python"), source="project",
                                  reason="the project environment", exists=True)
    version = installed_torch(folder)
    packages = {**snapshot.torch.packages, "torchvision": installed_torch(folder, "torchvision")}
    return replace(snapshot, interpreter=interpreter,
                   torch=replace(snapshot.torch, installed_version=version, version=version, local_tag=None,
                                 cuda="13.2", packages=packages))


def test_a_failing_smoke_test_puts_back_both_files_and_the_environment(tmp_path, uv, index):
    """Locked and synced, the fixed environment's torch cannot run (the local index's wheels hold no code): the
    verdict names the step, and pyproject.toml, uv.lock and the installed torch are as they were."""
    folder = synced_project(tmp_path, uv)
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    torch_before = installed_torch(folder)
    snapshot = on_this_machine(folder)
    preview = preview_fixes(snapshot, choose_fixes(fix_diagnoses(snapshot)).chosen, follow=True)
    assert preview.changes
    steps: list[str] = []
    outcome = carry_out(snapshot, preview, say=lambda step, line: steps.append(step))
    assert outcome.verdict == "put back", outcome.summary
    assert outcome.failed_step == "verify" and "smoke test" in outcome.summary
    assert ("pyproject.toml and uv.lock are back as they were, and the environment is synced back to the old uv.lock"
            in outcome.summary)
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before
    assert installed_torch(folder) == torch_before
    assert [s for s in dict.fromkeys(steps)] == ["write", "lock", "sync", "verify", "put back"]


def test_a_failing_lock_puts_back_both_files(tmp_path, uv, index):
    """uv cannot reach the index the fix names: nothing is synced, both files are back byte for byte."""
    folder = synced_project(tmp_path, uv)
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    snapshot = on_this_machine(folder)
    preview = preview_fixes(snapshot, choose_fixes(fix_diagnoses(snapshot)).chosen, follow=True)
    index.close()  # the index is gone: uv lock fails
    outcome = carry_out(snapshot, preview)
    assert outcome.verdict == "put back" and outcome.failed_step == "lock", outcome.summary
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before


def test_without_sync_a_locked_fix_is_cured_and_undo_puts_back_both_files(tmp_path, uv, index):
    """--no-sync: the fix is written and locked, the re-check on the new lock finds it cured; `undo` restores
    pyproject.toml and the uv.lock the fix's lock replaced."""
    from torchdoctor.workflow import undo_fix

    folder = synced_project(tmp_path, uv)
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    snapshot = on_this_machine(folder)
    preview = preview_fixes(snapshot, choose_fixes(fix_diagnoses(snapshot)).chosen, follow=True)
    outcome = carry_out(snapshot, preview, Steps(sync=False))
    assert outcome.verdict == "cured", outcome.summary
    assert outcome.next_steps == ("uv sync",)
    assert (folder / "uv.lock").read_bytes() != before["uv.lock"]
    undo_fix(folder)
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before


def test_the_smoke_test_passes_on_a_real_torch(real_torch_python):
    """The same smoke test the transaction's last step runs, on the real CPU torch: a matmul checked against itself
    on the CPU (no GPU on the recorded laptop), and a pass."""
    laptop = replace(H100, nvml=replace(H100.nvml, gpus=()))
    verification = smoke_test(laptop, Path(real_torch_python))
    assert verification.passed, verification.summary
    assert "ran a matmul on cpu" in verification.summary


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_a_fix_stopped_while_uv_lock_waits_puts_everything_back_and_leaves_no_process(tmp_path, uv, sent):
    """An index that accepts and never answers keeps `uv lock` waiting; SIGTERM or Ctrl-C then: pyproject.toml and
    uv.lock are back, uv is gone with torchdoctor, and the exit is 130 with one line, no traceback."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(PLAIN, folder / "pyproject.toml")
    on_the_local_index(folder, f"http://127.0.0.1:{port}/pypi/simple")
    (folder / "uv.lock").write_bytes(b"version = 1\nrevision = 3\nrequires-python = \">=3.12\"\n# the lock as it was\n")
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    marker = f"torchdoctor-interrupt-{uuid.uuid4().hex}"  # unique across xdist workers (tmp_path.name is not)
    environment = {**os.environ,
                   "UV_DEFAULT_INDEX": f"http://127.0.0.1:{port}/pypi/simple", "UV_HTTP_TIMEOUT": "120",
                   "UV_PYTHON": python_for(">=3.12"), "MARKER": marker}
    environment.pop("VIRTUAL_ENV", None)
    process = subprocess.Popen([sys.executable, "-m", "torchdoctor", "fix", "--all", "--yes", "--lock", "--project",
                                str(folder), "--snapshot", str(SNAPSHOTS / "h100-pypi.json")],
                               env=environment, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               preexec_fn=interruptible)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "running: uv lock" not in seen and time.monotonic() < deadline:
            seen += process.stderr.readline()
        assert "running: uv lock" in seen, seen
        time.sleep(0.5)  # uv is resolving now, waiting on the silent index
        process.send_signal(sent)
        rest = process.communicate(timeout=60)[1]
    finally:
        process.kill()
        silent.close()
    assert process.returncode == 130, rest
    assert "Traceback" not in rest
    assert "interrupted; pyproject.toml and uv.lock are back as they were" in rest
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before
    assert not [pid for pid in processes_with(f"{uv} lock") if _has_marker(pid, marker)]


def _has_marker(pid: int, marker: str) -> bool:
    try:
        return marker.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def test_a_fault_of_torchdoctors_own_mid_way_is_put_back_and_said(tmp_path, uv, index, monkeypatch):
    """An exception after the lock (here, the re-read of the project) used to be reported as "interrupted" and end in
    an internal error, with the app's spinner left running: it is a put-back with the step and the fault named."""
    import torchdoctor.workflow.transaction as transaction

    folder = synced_project(tmp_path, uv)
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    snapshot = on_this_machine(folder)
    preview = preview_fixes(snapshot, choose_fixes(fix_diagnoses(snapshot)).chosen, follow=True)

    def broken(_snapshot):
        raise RuntimeError("the re-read broke")

    monkeypatch.setattr(transaction, "reread_project", broken)
    outcome = carry_out(snapshot, preview)
    assert outcome.verdict == "put back" and outcome.failed_step == "torchdoctor", outcome.summary
    assert "RuntimeError: the re-read broke" in outcome.summary
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before


def test_a_workspace_members_fix_backs_up_and_puts_back_the_workspaces_lock(tmp_path):
    """uv keeps one uv.lock per workspace, at its root: a member's fix must keep and put back that one (it kept the
    member's folder's, which does not exist, and the workspace's lock stayed changed)."""
    from torchdoctor.fixes.writer import record_lock_written, undo_backup, write_fixed
    from torchdoctor.workflow.transaction import lock_file

    root = tmp_path / "ws"
    member = root / "packages" / "core"
    member.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "ws"\nversion = "0"\n\n[tool.uv.workspace]\n'
                                         'members = ["packages/*"]\n', encoding="utf-8")
    (root / "uv.lock").write_text("version = 1\n# the workspace's lock\n", encoding="utf-8")
    (member / "pyproject.toml").write_text('[project]\nname = "core"\nversion = "0"\n', encoding="utf-8")
    assert lock_file(member) == root / "uv.lock"
    assert lock_file(root) == root / "uv.lock"
    original = (member / "pyproject.toml").read_bytes()
    backup = write_fixed(member / "pyproject.toml", original, original.decode() + "# fixed\n", lock=lock_file(member))
    (root / "uv.lock").write_text("version = 1\n# relocked by the fix\n", encoding="utf-8")
    record_lock_written(backup, lock_file(member))
    undo_backup(member / "pyproject.toml", backup)
    assert (member / "pyproject.toml").read_bytes() == original
    assert (root / "uv.lock").read_text(encoding="utf-8") == "version = 1\n# the workspace's lock\n"


def test_putting_back_one_fix_never_reaches_an_older_one(tmp_path):
    """Two fixes written one after the other; putting back the second twice (a signal that arrived during the first
    put-back re-ran it) restored the state before the first, a fix the user had kept. The put-back undoes its own
    write only: the second attempt is refused and the first fix stays."""
    from torchdoctor.fixes import FixError
    from torchdoctor.fixes.writer import undo_backup, write_fixed

    path = tmp_path / "pyproject.toml"
    path.write_text("# v0\n", encoding="utf-8")
    write_fixed(path, b"# v0\n", "# v1\n")
    second = write_fixed(path, b"# v1\n", "# v2\n")
    undo_backup(path, second)
    assert path.read_text(encoding="utf-8") == "# v1\n"
    with pytest.raises(FixError):
        undo_backup(path, second)
    assert path.read_text(encoding="utf-8") == "# v1\n"


def _moments() -> list[tuple[str, float, int]]:
    """Where to stop `fix --yes`: after the line that starts each step, plus a seeded random delay (0 to 0.3 s), by
    SIGINT or SIGTERM in turn; seeded so that a failure can be run again."""
    import random

    chance = random.Random(26)
    starts = ["wrote ", "running: uv lock", "running: uv sync", "smoke test:"]
    return [(start, round(chance.uniform(0.0, 0.3), 3), (signal.SIGINT, signal.SIGTERM)[n % 2])
            for n, start in enumerate(starts * 2)]


def _run_until(argv: list[str], start: str, delay: float, sent: int, environment: dict[str, str]) -> tuple[int, str]:
    """Run torchdoctor, wait for `start` on its stderr, then `delay` seconds, then send `sent` (unless it is done)."""
    process = subprocess.Popen([sys.executable, "-m", "torchdoctor", *argv], env=environment, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True, preexec_fn=interruptible)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while start not in seen and process.poll() is None and time.monotonic() < deadline:
            seen += process.stderr.readline()
        assert start in seen, seen
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(sent)
        rest = seen + process.communicate(timeout=120)[1]
    finally:
        process.kill()
    return process.returncode, rest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("start", "delay", "sent"), _moments())
def test_a_fix_stopped_at_any_moment_leaves_files_and_environment_all_old_or_all_new(tmp_path, uv, index, start,
                                                                                     delay, sent):
    """`fix --all --yes` (write, uv lock, uv sync, smoke test) stopped by Ctrl-C or SIGTERM at a moment of every step:
    pyproject.toml and uv.lock are both the old ones, the environment holds the old torch again, no uv is left
    running, nothing is left in the temp folder, and no traceback is printed. (The local index's wheels hold no code,
    so even an uninterrupted run ends in the smoke test's put-back: all old is the only right end here; the test below
    reaches all new.)"""
    folder = synced_project(tmp_path, uv)
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    torch_before = installed_torch(folder)
    recorded = tmp_path / "machine.json"
    recorded.write_text(on_this_machine(folder).to_json(), encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    marker = f"torchdoctor-moment-{uuid.uuid4().hex}"
    code, said = _run_until(["fix", "--all", "--yes", "--project", str(folder), "--snapshot", str(recorded)], start,
                            delay, sent, {**os.environ, "TMPDIR": str(temp), "MARKER": marker})
    # A signal that comes as the process exits, its work done, ends it there (-signal): the verdict was said.
    assert code in (1, 130) or (code == -sent and "are back as they were" in said), said
    assert "Traceback" not in said
    assert {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")} == before, said
    assert installed_torch(folder) == torch_before, said
    left = [pid for pid in processes_with(f"{uv} ") if _has_marker(pid, marker)]
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    assert [p.name for p in temp.iterdir() if not p.name.startswith("uv-")] == []  # uv-*.lock: uv's own, every run
    if code == 130:
        assert "interrupted; pyproject.toml and uv.lock are back as they were" in said


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("delay", "sent"), [(0.0, signal.SIGINT), (0.02, signal.SIGTERM), (0.1, signal.SIGINT),
                                             (0.25, signal.SIGTERM), (0.6, signal.SIGINT)])
def test_a_locking_fix_stopped_at_any_moment_leaves_both_files_old_or_both_new(tmp_path, uv, index, delay, sent):
    """`fix --all --yes --no-sync` ends cured with both files new; stopped at any moment after the write, it leaves
    both old or both new, never a fixed pyproject.toml beside the old uv.lock."""
    folder = synced_project(tmp_path, uv)
    before = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    recorded = tmp_path / "machine.json"
    recorded.write_text(on_this_machine(folder).to_json(), encoding="utf-8")
    code, said = _run_until(["fix", "--all", "--yes", "--no-sync", "--project", str(folder), "--snapshot",
                             str(recorded)], "wrote ", delay, sent, dict(os.environ))
    assert "Traceback" not in said
    after = {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    changed = {name for name in after if after[name] != before[name]}
    assert changed in (set(), {"pyproject.toml", "uv.lock"}), said
    if changed:
        assert "cured: cured in pyproject.toml and uv.lock" in said, said
    else:
        assert code != 0 and ("interrupted; pyproject.toml and uv.lock are back" in said
                              or "torchdoctor: interrupted" in said), said
