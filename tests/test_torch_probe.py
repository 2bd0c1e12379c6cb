"""The torch probe, run for real: a real CPU torch, no torch, and torch packages that hang or crash."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HANGING_TORCH, fake_cuda_torch, make_venv
from torchdoctor.probes.torch_probe import probe_script_source, probe_torch


@pytest.mark.real_torch
def test_real_cpu_torch_is_described_as_the_interpreter_sees_it_from_its_import_and_from_its_files(real_torch_python):
    """The probe's child imports torch and says what the import gave; read from torch's files alone (`check --quick`,
    the app's first verdict) it gives the same build, and leaves unknown what only the import can tell."""
    import torch

    info, quick = probe_torch(real_torch_python), probe_torch(real_torch_python, files_only=True)

    assert info.status == "ok", info.error
    assert info.version == torch.__version__
    assert info.installed_version == torch.__version__
    assert info.cuda == torch.version.cuda
    assert info.git_version == torch.version.git_version
    assert info.local_tag == (torch.__version__.split("+")[1] if "+" in torch.__version__ else None)
    assert info.cuda_available is torch.cuda.is_available()
    assert info.device_count == torch.cuda.device_count()
    assert info.python_executable == real_torch_python
    assert Path(info.location).parent.name == "torch"
    assert info.timings["import_s"] > 0
    assert quick.status == "ok" and not quick.imported and info.imported
    for field in ("version", "local_tag", "cuda", "hip", "git_version", "debug", "installed_version", "location"):
        assert getattr(quick, field) == getattr(info, field), field
    assert quick.cuda_available is None and info.cuda_available is False  # unknown, not "no"


def test_interpreter_without_torch_reports_not_installed(tmp_path):
    python = make_venv(tmp_path / "env")
    info = probe_torch(str(python))
    assert info.status == "not-installed"
    assert info.version is None
    assert info.python_version  # the interpreter itself still answered


def test_import_that_hangs_is_stopped_at_the_timeout(tmp_path):
    python = make_venv(tmp_path / "env", {"torch": HANGING_TORCH})
    started = time.monotonic()
    info = probe_torch(str(python), timeout_s=3)
    elapsed = time.monotonic() - started
    assert info.status == "timed-out"
    assert "`import torch` did not finish within 3 s" in info.error
    assert elapsed < 10
    assert info.location.endswith("torch/__init__.py")  # what was learnt before the hang is kept


def test_import_that_aborts_is_reported_with_the_signal_and_stderr(tmp_path):
    python = make_venv(
        tmp_path / "env",
        {"torch": "import os, sys\nsys.stderr.write('fatal: libcudart.so.13 is corrupt\\n')\nsys.stderr.flush()\nos.abort()\n"},
    )
    info = probe_torch(str(python))
    assert info.status == "crashed"
    assert info.error == "`import torch` was killed by SIGABRT"
    assert "libcudart.so.13 is corrupt" in info.stderr_tail
    assert info.exit_code < 0


def test_import_error_keeps_the_exception_text(tmp_path):
    python = make_venv(tmp_path / "env", {"torch": "raise ImportError('libtorch_cuda.so: cannot open shared object file')\n"})
    info = probe_torch(str(python))
    assert info.status == "import-failed"
    assert info.error == "ImportError: libtorch_cuda.so: cannot open shared object file"
    assert "Traceback" in info.stderr_tail


def test_crash_during_cuda_initialisation_keeps_the_imported_facts(tmp_path):
    fake = fake_cuda_torch("2.9.1+cu128", "12.8", is_available="os.abort()", imports="import os")
    python = make_venv(tmp_path / "env", {"torch": fake})
    info = probe_torch(str(python))
    assert info.status == "crashed"
    assert info.error == "CUDA initialisation was killed by SIGABRT"
    assert info.version == "2.9.1+cu128"
    assert info.local_tag == "cu128"
    assert info.cuda == "12.8"


def test_cuda_warning_is_captured(tmp_path):
    warning = "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040)."
    fake = fake_cuda_torch(
        "2.4.0+cu121", "12.1", is_available=f"warnings.warn({warning!r}); return False",
        arch_flags="sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90", cudnn=90100, imports="import warnings",
    )
    python = make_venv(tmp_path / "env", {"torch": fake})
    info = probe_torch(str(python))
    assert info.status == "ok"
    assert info.cuda_available is False
    assert info.cuda_init_warnings == ("CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).",)
    assert info.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
    assert info.cudnn_version == 90100


def test_missing_interpreter_is_data_not_an_exception(tmp_path):
    info = probe_torch(str(tmp_path / "no-such-python"))
    assert info.status == "interpreter-failed"
    assert "could not start" in info.error


def test_probe_script_parses_as_python_3_8():
    ast.parse(probe_script_source(), feature_version=(3, 8))


@pytest.mark.parametrize("version", ["3.8", "3.9"])
def test_probe_script_runs_on_old_interpreters(version, tmp_path):
    from conftest import installed_pythons

    python = next((path for path, found in reversed(installed_pythons()) if found.startswith(f"{version}.")), None)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    info = probe_torch(str(python))
    assert info.status == "not-installed"
    assert info.python_version.startswith(version)


def test_warnings_printed_by_import_torch_are_a_finding(tmp_path):
    """TD140: torch's "Failed to initialize NumPy" on stderr becomes a warning with the line as evidence."""
    from dataclasses import replace

    from conftest import SNAPSHOTS
    from torchdoctor.checks import run_checks
    from torchdoctor.snapshot import Snapshot

    fake = fake_cuda_torch("2.9.1+cu128", "12.8", cudnn=91002, imports=(
        "import warnings\nwarnings.warn(\"Failed to initialize NumPy: No module named 'numpy' (Triggered internally)\")"))
    info = probe_torch(str(make_venv(tmp_path / "env", {"torch": fake})))
    assert info.status == "ok" and "Failed to initialize NumPy" in info.stderr_tail
    h100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
    (td140,) = [d for d in run_checks(replace(h100, torch=replace(h100.torch, stderr_tail=info.stderr_tail))) if d.code == "TD140"]
    assert td140.severity.value == "warning" and td140.message.startswith("`import torch` failed to initialise NumPy")
    assert "Failed to initialize NumPy" in td140.evidence[0].value
    (quiet,) = [d for d in run_checks(replace(h100, torch=replace(h100.torch, stderr_tail="x.py:1: UserWarning: TF32 off")))
                if d.code == "TD140"]
    assert quiet.severity.value == "info"


def test_package_versions_from_folder_names_equal_what_importlib_metadata_reads(real_torch_python):
    """The probe reads names and versions from `*.dist-info` folder names (fast); importlib.metadata parses every
    METADATA file. In the test environment (torch and its family, nvidia-* wheels where installed) both agree."""
    import subprocess

    from torchdoctor.probes.torch_probe import probe_script_source

    source = probe_script_source().replace('if __name__ == "__main__":\n    main()', "")
    code = source + "\nimport json\nprint(json.dumps([installed_packages(), installed_packages_from_metadata()]))\n"
    fast, slow = json.loads(subprocess.run([real_torch_python, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert fast == slow and fast[1]  # torch's version found both ways


def test_the_probe_script_lists_every_package_of_the_torch_family():
    """The script runs in the project's interpreter and cannot import torchdoctor.family: its list must cover it."""
    from torchdoctor.family import TORCH_FAMILY
    from torchdoctor.probes.torch_probe import probe_script_source

    namespace: dict = {}
    exec(compile(probe_script_source().replace('if __name__ == "__main__":\n    main()', ""), "torch_script", "exec"), namespace)
    assert TORCH_FAMILY - {"torch"} <= namespace["FAMILY"]


def test_every_torch_install_its_folders_and_its_triton_pin_are_read_from_metadata(tmp_path):
    """Two torch dist-infos on sys.path (the environment's, and one in a folder a .pth file adds after it, as a second
    install leaves them), the folder of each package, and the triton torch's METADATA pins: read without importing
    anything of them."""
    python = make_venv(tmp_path / "venv", {"torch": fake_cuda_torch("2.5.1+cu124", "12.4")})
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "torch-2.5.1+cu124.dist-info").mkdir()
    (site / "torch-2.5.1+cu124.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1+cu124\nRequires-Dist: filelock\n"
        'Requires-Dist: triton==3.1.0; platform_system == "Linux" and platform_machine == "x86_64"\n'
        'Requires-Dist: nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux"\n\nRequires-Dist: not-a-header\n',
        encoding="utf-8")
    for name in ("triton-3.2.0.dist-info", "nvidia_cudnn_cu12-9.1.0.70.dist-info"):
        (site / name).mkdir()
    other = tmp_path / "second-install"
    (other / "torch-2.4.0.dist-info").mkdir(parents=True)
    (site / "second.pth").write_text(f"{other}\n", encoding="utf-8")

    info = probe_torch(str(python))

    assert info.torch_installs == (f"2.5.1+cu124 in {site}", f"2.4.0 in {other}")
    assert info.torch_requires == ('triton==3.1.0; platform_system == "Linux" and platform_machine == "x86_64"',
                                   'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux"')
    assert info.package_folders == {"torch": str(site), "triton": str(site), "nvidia-cudnn-cu12": str(site)}
    assert info.packages["triton"] == "3.2.0"


def test_an_import_that_leaves_a_process_holding_the_pipes_is_a_finished_probe_not_a_hung_one(tmp_path):
    """A torch whose import starts a process that keeps the probe's stdout and stderr open (a compiler daemon, a
    helper): the probe itself finishes at once. Waiting for the pipes to close read it as "import torch did not finish"
    at the timeout; the probe ends with its own process, and what it started is stopped with it."""
    import os

    marker = f"held-{os.getpid()}-{time.monotonic_ns()}"
    python = make_venv(tmp_path / "env", {"torch": (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', '{marker}'])\n"  # inherits the pipes
        "__version__ = '2.9.1+cpu'\n"
        "class cuda:\n"
        "    @staticmethod\n"
        "    def is_available(): return False\n"
        "version = type('v', (), {'cuda': None, 'hip': None, 'git_version': ''})\n")})
    started = time.monotonic()
    info = probe_torch(str(python), timeout_s=20)
    assert time.monotonic() - started < 10
    assert info.status != "timed-out", info.error
    assert info.version == "2.9.1+cpu"
    time.sleep(0.3)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).stdout == b""


def test_a_torch_that_prints_without_end_leaves_the_memory_bounded(tmp_path):
    """Output is kept to its bound as it is read (96 MB of printed lines once held 1.4 GB): the first 16 Mi characters
    of stdout, the last 1 Mi of stderr, and a line saying how much was not kept."""
    from torchdoctor.probes.runner import MAX_STDERR_CHARS, MAX_STDOUT_CHARS, run_command

    script = ("import sys\nline = 'x' * 1023 + '\\n'\n"
              "for _ in range(20 * 1024): sys.stdout.write(line); sys.stderr.write(line)\n"
              "sys.stderr.write('the end\\n')\n")
    result = run_command([sys.executable, "-c", script], timeout_s=60)
    assert result.returncode == 0 and not result.timed_out
    assert len(result.stdout) <= MAX_STDOUT_CHARS + 200 and result.stdout.rstrip().endswith("were not kept]")
    assert len(result.stderr) <= MAX_STDERR_CHARS + (1 << 16) + 200 and result.stderr.endswith("the end\n")
    assert result.stderr.startswith("[torchdoctor: ")
