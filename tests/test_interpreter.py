"""Which interpreter is the project's, as its user runs it, with the reason said."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import fake_cuda_torch, make_venv
from torchdoctor.probes.interpreter import InterpreterNotFound, choose_interpreter


def test_an_active_environment_is_the_one_checked_and_the_project_venv_is_named(tmp_path):
    """`python train.py` in a shell with an environment activated runs that environment's torch."""
    make_venv(tmp_path / "proj" / ".venv")
    other = make_venv(tmp_path / "other")
    info = choose_interpreter(tmp_path / "proj", environ={"VIRTUAL_ENV": str(other.parent.parent), "PATH": ""})
    assert (info.source, info.path) == ("VIRTUAL_ENV", str(other))
    assert info.reason.endswith(f"`uv run` would use the project's {tmp_path / 'proj' / '.venv'} instead")


def test_torchdoctors_own_environment_activated_is_not_taken_for_the_project(tmp_path):
    project = make_venv(tmp_path / "proj" / ".venv")
    info = choose_interpreter(tmp_path / "proj", environ={"VIRTUAL_ENV": sys.prefix, "PATH": ""})
    assert (info.source, info.path) == (".venv", str(project))


def test_the_project_venv_activated_is_the_project_environment(tmp_path):
    python = make_venv(tmp_path / "proj" / ".venv")
    info = choose_interpreter(tmp_path / "proj", environ={"VIRTUAL_ENV": str(python.parent.parent), "PATH": ""})
    assert (info.source, info.path) == (".venv", str(python))


def test_conda_base_is_not_taken_for_the_project(tmp_path):
    base = make_venv(tmp_path / "conda")
    project = make_venv(tmp_path / "proj" / ".venv")
    info = choose_interpreter(tmp_path / "proj", environ={"CONDA_PREFIX": str(base.parent.parent), "CONDA_DEFAULT_ENV": "base", "PATH": ""})
    assert (info.source, info.path) == (".venv", str(project))


def test_without_any_environment_the_python_on_path_is_checked_not_torchdoctors_own(tmp_path):
    """torchdoctor installed with pipx or `uv tool`: the user's torch is in the python on PATH."""
    python = make_venv(tmp_path / "user-env")
    (tmp_path / "proj").mkdir()
    info = choose_interpreter(tmp_path / "proj", environ={"PATH": f"{tmp_path / 'empty'}:{python.parent}"})
    assert info.source == "PATH" and info.path == str(python.parent / "python3")


def test_under_uvx_torchdoctors_own_environment_first_on_path_is_skipped(tmp_path, monkeypatch):
    """`uvx torchdoctor` puts its tool environment's bin first on PATH: a project without .venv is the python after it,
    and the reason says what was skipped. An environment that has torch (an image's /opt/venv shared with the project)
    is not skipped: it is the project's too."""
    tool = make_venv(tmp_path / "uv-tool-env")  # torchdoctor's own environment, as uvx makes it: no torch
    user = make_venv(tmp_path / "user-env")
    (tmp_path / "proj").mkdir()
    monkeypatch.setattr(sys, "prefix", str(tool.parent.parent))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "base"))
    info = choose_interpreter(tmp_path / "proj", environ={"PATH": f"{tool.parent}:{user.parent}"})
    assert info.source == "PATH" and info.path == str(user.parent / "python3")
    assert "past torchdoctor's own environment" in info.reason
    assert info.path_python == str(user.parent / "python")
    site = next(tool.parent.parent.glob("lib*/python*/site-packages"))
    (site / "torch-2.13.0.dist-info").mkdir()
    shared = choose_interpreter(tmp_path / "proj", environ={"PATH": f"{tool.parent}:{user.parent}"})
    assert shared.path == str(tool.parent / "python3")


@pytest.mark.parametrize("given", ["3.11", "python3.11", "cpython@3.11"])
def test_explicit_python_as_a_version_is_found_on_path_as_uv_does(tmp_path, given):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python3.11").symlink_to(sys.executable)
    info = choose_interpreter(tmp_path, given, environ={"PATH": str(folder)})
    assert info.path == str(folder / "python3.11")
    with pytest.raises(InterpreterNotFound, match="--python 3.99: no python3.99 on PATH"):
        choose_interpreter(tmp_path, "3.99", environ={"PATH": str(folder)})


def test_uv_project_environment_is_relative_to_the_project(tmp_path):
    make_venv(tmp_path / "proj" / "envs" / "gpu")
    info = choose_interpreter(tmp_path / "proj", environ={"UV_PROJECT_ENVIRONMENT": "envs/gpu", "PATH": ""})
    assert info.source == "UV_PROJECT_ENVIRONMENT"
    assert info.environment == str(tmp_path / "proj" / "envs" / "gpu")
    assert info.exists


def test_active_conda_environment_is_used_without_a_project_venv(tmp_path):
    conda = tmp_path / "conda" / "envs" / "ml"
    (conda / "conda-meta").mkdir(parents=True)
    (conda / "bin").mkdir()
    (conda / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "proj").mkdir()
    info = choose_interpreter(tmp_path / "proj", environ={"CONDA_PREFIX": str(conda), "PATH": str(conda / "bin")})
    assert info.source == "CONDA_PREFIX"
    assert info.path_python == str(conda / "bin" / "python")
    assert info.path_python_environment == str(conda)


def test_current_interpreter_is_the_last_resort(tmp_path):
    info = choose_interpreter(tmp_path, environ={"PATH": ""})
    assert info.source == "current"
    assert info.path == sys.executable
    assert info.path_python is None


def test_explicit_python_may_be_an_environment_folder(tmp_path):
    python = make_venv(tmp_path / "env")
    info = choose_interpreter(tmp_path, str(tmp_path / "env"), environ={"PATH": ""})
    assert (info.source, info.path) == ("--python", str(python))


def test_explicit_python_that_does_not_exist_is_a_usage_error(tmp_path):
    with pytest.raises(InterpreterNotFound, match="no such file or folder"):
        choose_interpreter(tmp_path, str(tmp_path / "missing"), environ={"PATH": ""})
    (tmp_path / "not-python").write_text("")
    with pytest.raises(InterpreterNotFound, match="no Python interpreter there"):
        choose_interpreter(tmp_path, str(tmp_path / "not-python"), environ={"PATH": ""})


def test_broken_project_venv_is_reported_not_skipped(tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)  # its python is gone (base Python removed)
    info = choose_interpreter(tmp_path, environ={"PATH": ""})
    assert info.source == ".venv"
    assert info.exists is False


def test_installed_apart_like_pipx_the_check_probes_the_python_on_path(tmp_path):
    """torchdoctor in a venv of its own (as pipx or `uv tool` install it), a Python with a torch first on PATH, a
    project without .venv and no environment active: the check probes that Python, not its own. Its own sees the
    real torch of the tests' environment (the .pth below), the one on PATH a torch of another version: the version
    in the report says which was probed."""
    import json
    import os
    import site
    import subprocess

    own = make_venv(tmp_path / "pipx-venv")  # torchdoctor's own interpreter, apart from the user's
    own_site = next((own.parent.parent / "lib").glob("python3*/site-packages"))
    source = Path(__file__).resolve().parent.parent / "src"
    (own_site / "torchdoctor-under-test.pth").write_text(f"{source}\n" + "\n".join(site.getsitepackages()) + "\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["torch"]\n')
    user_bin = make_venv(tmp_path / "user-venv", {"torch": fake_cuda_torch(
        "2.9.1+cu128", "12.8", arch_flags="sm_80 sm_90", cudnn=91002)}).parent
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT")}
    environment["PATH"] = f"{user_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"
    done = subprocess.run([str(own), "-m", "torchdoctor", "check", "--project", str(project), "--format", "json"],
                          capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=180)
    assert done.returncode in (0, 1), done.stderr
    interpreter = json.loads(done.stdout)["snapshot"]["interpreter"]
    assert interpreter["source"] == "PATH" and Path(interpreter["path"]).parent == user_bin
    torch = json.loads(done.stdout)["snapshot"]["torch"]
    assert torch["status"] == "ok" and torch["version"] == "2.9.1+cu128"
