"""`fix --verify`: the fixed project is locked and synced in a scratch folder by the real uv (against the local index),
and a smoke test runs in that environment; nothing is written unless it passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pyindex import LocalIndex

from conftest import SNAPSHOTS, run_cli
from torchdoctor.fixes.verify import SMOKE_TEST, _verdict, cannot_verify
from torchdoctor.probes.project import probe_project
from torchdoctor.snapshot import Snapshot

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))


def cpu_project(served: LocalIndex) -> str:
    """torch from a CPU mirror of the PyTorch index that is not explicit: TD301 makes it explicit (a safe fix that
    keeps the URL, so the scratch lock uses the local index)."""
    return ('[project]\nname = "verify-me"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["torch==2.9.1"]\n\n'
            f'[[tool.uv.index]]\nname = "mirror-cpu"\nurl = "{served.whl}/cpu"\n\n'
            '[tool.uv.sources]\ntorch = { index = "mirror-cpu" }\n')


def environment(tmp_path: Path, served: LocalIndex) -> dict[str, str]:
    return {"TORCHDOCTOR_STATE_DIR": str(tmp_path / "state"), "UV_DEFAULT_INDEX": served.pypi,
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_PYTHON_DOWNLOADS": "never",
            "XDG_CONFIG_HOME": str(tmp_path / "config")}


def test_a_fix_whose_environment_fails_the_smoke_test_is_not_written(uv, index, tmp_path):
    """The local index's torch is a stand-in without `torch.version`: uv locks and syncs it in the scratch copy, the
    smoke test fails on it, and the user's file is left as it was."""
    project = tmp_path / "project"
    project.mkdir()
    text = cpu_project(index)
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    result = run_cli("fix", "TD301", "--yes", "--verify", "--project", str(project), "--snapshot",
                     str(SNAPSHOTS / "h100-pypi.json"), env=environment(tmp_path, index), timeout=300)
    assert result.code == 1, result.stderr
    assert "verify: uv lock (in a scratch copy)" in result.stderr and "verify: uv sync" in result.stderr
    assert "nothing written: the smoke test failed: AttributeError" in result.stderr
    assert (project / "pyproject.toml").read_text(encoding="utf-8") == text
    assert not (project / "uv.lock").exists()  # the scratch lock stays in the scratch folder


def test_a_fix_that_does_not_lock_is_not_written(uv, index, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    text = cpu_project(index).replace("torch==2.9.1", "torch==2.9.1", 1).replace(
        'dependencies = ["torch==2.9.1"]', 'dependencies = ["torch==2.9.1", "no-such-package-anywhere==1"]')
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    result = run_cli("fix", "TD301", "--yes", "--verify", "--project", str(project), "--snapshot",
                     str(SNAPSHOTS / "h100-pypi.json"), env=environment(tmp_path, index), timeout=300)
    assert result.code == 1, result.stderr
    assert "nothing written: uv lock failed in the scratch copy" in result.stderr
    assert (project / "pyproject.toml").read_text(encoding="utf-8") == text


def smoke(python: str) -> str:
    return subprocess.run([python, "-I", "-c", SMOKE_TEST], capture_output=True, text=True, timeout=300, cwd="/").stdout


def test_the_smoke_test_passes_with_real_torch_on_the_cpu_and_fails_where_a_gpu_should_be_used():
    """The smoke test itself, in an environment with the real CPU torch (this test environment's)."""
    output = smoke(sys.executable)
    found = json.loads(output.split("TORCHDOCTOR-SMOKE ", 1)[1])
    if "error" in found and "No module named 'torch'" in found["error"]:
        if os.environ.get("TORCHDOCTOR_REQUIRE_TORCH"):
            pytest.fail("torch is not installed in the test environment")
        pytest.skip("torch is not installed in the test environment")
    no_gpu = replace(H100, nvml=replace(H100.nvml, gpus=()))
    verdict = _verdict(no_gpu, output, None)
    assert verdict.passed, verdict.summary
    assert verdict.summary.startswith(f"torch {found['torch']} ran a matmul on cpu")
    # On the H100 the same environment would not use the GPU: that is a failure, not a pass.
    failed = _verdict(H100, output, None)
    assert not failed.passed and "CUDA is not available" in failed.summary


def test_projects_that_cannot_be_rebuilt_apart_are_not_verified(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndynamic = ["dependencies"]\n', encoding="utf-8")
    assert "dynamic" in cannot_verify(replace(H100, project=probe_project(tmp_path)))
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["torch", "mylib"]\n[tool.uv.sources]\nmylib = { path = "../mylib" }\n',
        encoding="utf-8")
    assert "paths, git or URLs" in cannot_verify(replace(H100, project=probe_project(tmp_path)))


def test_the_smoke_test_recorded_on_a_real_h100_reads_as_passed():
    """scripts/device-capture.sh ran the transaction's smoke test on the lent H100 (torch 2.11.0+cu130, 2026-12-06): a
    matmul on the GPU checked against the CPU and torchvision's nms. Its output, replayed, is the verdict 'cured'
    rests on; a CUDA-less answer on the same machine is not."""
    import json

    from conftest import FIXTURES, SNAPSHOTS
    from torchdoctor.fixes.verify import _verdict
    from torchdoctor.snapshot import Snapshot

    folder = FIXTURES / "captures" / "h100-live-2026-12-06"
    recorded = json.loads((folder / "smoke.txt").read_text(encoding="utf-8").split("\n", 1)[1])
    machine = Snapshot.from_json((SNAPSHOTS / "h100-live-2026-12-06.json").read_text(encoding="utf-8"))
    verdict = _verdict(machine, recorded["stdout"], None)
    assert verdict.passed and verdict.summary == ("torch 2.11.0+cu130 ran a matmul on NVIDIA H100 80GB HBM3; "
                                                  "torchvision 0.26.0+cu130 ran nms")
    no_cuda = recorded["stdout"].replace('"cuda_available": true', '"cuda_available": false')
    assert not _verdict(machine, no_cuda, None).passed
