"""The probe cache: reused only while files, environment and the live CUDA driver answer are unchanged."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from conftest import fake_cuda_torch, make_venv, run_cli, write_project
from torchdoctor.probes.torch_cache import cache_folder, probe_torch_cached

FAKE_CUDA_TORCH = fake_cuda_torch("2.4.0+cu121", "12.1", cudnn=90100)


@pytest.fixture
def cuda_env(tmp_path):
    python = make_venv(tmp_path / "env", {"torch": FAKE_CUDA_TORCH})
    return str(python), str(tmp_path)


def probe(python, cwd, **kwargs):
    return probe_torch_cached(python, cwd=cwd, timeout_s=30, **kwargs)


@pytest.mark.real_torch
def test_second_probe_of_real_torch_comes_from_the_cache(real_torch_python, tmp_path):
    first = probe(real_torch_python, str(tmp_path))
    second = probe(real_torch_python, str(tmp_path))
    assert first.cached_at is None
    assert second.cached_at is not None
    assert replace(second, cached_at=None) == first


def test_a_fresh_probe_skips_the_cache(cuda_env):
    python, cwd = cuda_env
    probe(python, cwd)
    assert probe(python, cwd).cached_at is not None
    assert probe(python, cwd, fresh=True).cached_at is None


def test_installing_any_package_invalidates(cuda_env):
    python, cwd = cuda_env
    first = probe(python, cwd)
    assert probe(python, cwd).cached_at is not None
    site = os.path.dirname(os.path.dirname(first.location))
    os.mkdir(os.path.join(site, "nvidia_cudnn_cu12-9.1.0.70.dist-info"))  # what an install adds
    assert probe(python, cwd).cached_at is None


def test_changing_cuda_visible_devices_invalidates(cuda_env, monkeypatch):
    python, cwd = cuda_env
    probe(python, cwd)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert probe(python, cwd).cached_at is None
    assert probe(python, cwd).cached_at is not None


def test_a_different_live_driver_answer_forces_the_full_probe(cuda_env):
    python, cwd = cuda_env
    probe(python, cwd)
    (entry,) = (cache_folder() / "torch-probe").glob("*.json")
    data = json.loads(entry.read_text())
    # As if the full probe had seen a working driver that now fails (a GPU lost after suspend).
    data["torch"]["cuda_driver"] = {"library": "libcuda.so.1", "error": None, "init_result": 0, "device_count": 1, "driver_version": 12080}
    entry.write_text(json.dumps(data))
    fresh = probe(python, cwd)
    assert fresh.cached_at is None
    assert fresh.cuda_driver.library is None  # what this machine really answers


def test_failed_probes_are_never_reused(tmp_path):
    python = make_venv(tmp_path / "env", {"torch": "raise ImportError('broken')\n"})
    probe(str(python), str(tmp_path))
    assert not (cache_folder() / "torch-probe").exists()
    assert probe(str(python), str(tmp_path)).status == "import-failed"


def test_cli_says_when_facts_come_from_the_cache(tmp_path):
    folder = write_project(tmp_path / "proj", '[project]\nname = "x"\nversion = "0"\n')
    make_venv(folder / ".venv", {"torch": FAKE_CUDA_TORCH})
    assert "(probed " not in run_cli("check", cwd=folder).stdout
    assert "files unchanged, CUDA driver re-checked now" in run_cli("check", cwd=folder).stdout
    assert "(probed " not in run_cli("check", "--fresh", cwd=folder).stdout
