"""The first verdict without `import torch`: torch's build read from its files (`check --quick`, and the app's
provisional report while the import runs). A CUDA torch assembled from recorded library headers stands in (the real
CPU torch read from its files is held to its import in test_torch_probe); a torch whose import would write a marker
proves it is never imported."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from test_fatbin import LIBRARIES, RECORDING, rebuild_elf

from conftest import make_venv, run_cli
from torchdoctor.probes.torch_files import cudnn_number, version_file_values
from torchdoctor.probes.torch_probe import probe_torch

VERSION_PY = """\
__version__ = '2.8.0+cu128'
debug = False
cuda: Optional[str] = '12.8'
git_version = 'a1cb3cc05d46d198467bebbb6e8fba50a325d4e7'
hip: Optional[str] = None
xpu: Optional[str] = None
"""


def cuda_torch_without_import(folder: Path, marker: Path) -> Path:
    """An environment whose torch has the files of a cu128 wheel and an __init__ that leaves a marker if imported."""
    python = make_venv(folder, {"torch": f"open({str(marker)!r}, 'w').close()\nimport time\ntime.sleep(600)\n"})
    site = next(folder.glob("lib/python*/site-packages"))
    (site / "torch" / "version.py").write_text(VERSION_PY, encoding="utf-8")
    (site / "torch" / "lib").mkdir()
    library = next(name for name in LIBRARIES if name.endswith("libtorch_cuda.so"))
    rebuild_elf(RECORDING["headers"][library], site / "torch" / "lib" / "libtorch_cuda.so")
    for name, version in (("torch", "2.8.0+cu128"), ("nvidia_cudnn_cu12", "9.10.2.21"), ("nvidia_nccl_cu12", "2.27.3")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n")
    return python


def torch_project(folder: Path) -> Path:
    project = folder / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = ["torch==2.8.0"]\n')
    return project


def test_version_py_is_parsed_never_run():
    hostile = "import os\nos.system('touch /tmp/pwned')\n__version__ = '2.9.0'\ncuda = '12.' + '8'\nhip = None\n"
    assert version_file_values(hostile) == {"__version__": "2.9.0", "hip": None}  # the computed `cuda` is not taken
    assert version_file_values("def (:") == {}
    assert cudnn_number("9.10.2.21") == 91002 and cudnn_number("8.9.7.29") == 8907 and cudnn_number("x") is None


def test_a_cuda_build_is_read_from_its_files_without_importing_it(tmp_path):
    marker = tmp_path / "imported"
    python = cuda_torch_without_import(tmp_path / "env", marker)
    started = time.monotonic()
    info = probe_torch(str(python), files_only=True)
    assert time.monotonic() - started < 10 and not marker.exists()
    assert (info.status, info.version, info.local_tag, info.cuda, info.imported) == ("ok", "2.8.0+cu128", "cu128", "12.8", False)
    assert {"sm_90", "sm_90a", "sm_120"} <= set(info.arch_list) and not any(a.startswith("compute_") for a in info.arch_list)
    assert info.cudnn_version == 91002 and info.nccl_version == "2.27.3"


def test_check_quick_reports_without_importing_torch(tmp_path):
    marker = tmp_path / "imported"
    python = cuda_torch_without_import(tmp_path / "env", marker)
    project = torch_project(tmp_path)
    result = run_cli("check", "--quick", "--project", str(project), "--python", str(python), "--color", "never")
    assert result.code in (0, 1) and not marker.exists(), result.stderr
    torch_line = next(line for line in result.stdout.splitlines() if " torch " in line)
    assert "2.8.0+cu128 · CUDA 12.8 · cuDNN 9.10.2 · is_available not checked (read from torch's files" in torch_line


def test_the_app_shows_a_first_verdict_while_import_torch_runs(tmp_path):
    from textual.widgets import Static

    from torchdoctor.tui.app import TorchDoctorApp

    marker = tmp_path / "imported"
    python = cuda_torch_without_import(tmp_path / "env", marker)
    project = torch_project(tmp_path)

    async def drive() -> None:
        app = TorchDoctorApp(project, python=str(python), output_dir=tmp_path)
        async with app.run_test(size=(120, 30)) as pilot:
            for _ in range(100):
                await pilot.pause(0.1)
                if app.report is not None:
                    break
            assert app.probing and app.report is not None and not app.report.snapshot.torch.imported
            await pilot.pause(0.2)
            assert "first verdict, from torch's files" in str(app.query_one("#summary", Static).content)
            await pilot.press("q")

    asyncio.run(drive())
    assert marker.exists()  # the full probe did start importing it: the first verdict came before it answered
