"""Which interpreter is the project's: the order `uv run` uses, with the reason said."""

from __future__ import annotations

import sys

import pytest

from conftest import make_venv
from torchdoctor.probes.interpreter import InterpreterNotFound, choose_interpreter


def test_project_venv_wins_over_an_active_environment(tmp_path):
    make_venv(tmp_path / "proj" / ".venv")
    other = make_venv(tmp_path / "other")
    info = choose_interpreter(tmp_path / "proj", environ={"VIRTUAL_ENV": str(other.parent.parent), "PATH": ""})
    assert info.source == ".venv"
    assert info.path == str(tmp_path / "proj" / ".venv" / "bin" / "python")
    assert info.exists


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
    with pytest.raises(InterpreterNotFound, match="no Python interpreter there"):
        choose_interpreter(tmp_path, str(tmp_path / "missing"), environ={"PATH": ""})


def test_broken_project_venv_is_reported_not_skipped(tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)  # its python is gone (base Python removed)
    info = choose_interpreter(tmp_path, environ={"PATH": ""})
    assert info.source == ".venv"
    assert info.exists is False
