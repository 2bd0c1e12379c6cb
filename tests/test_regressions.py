"""The regression cases (tests/fixtures/cases/regressions, copied from shared/cases): small projects, each
showing one way torchdoctor was wrong on real projects. Each behaves as its row of the cases' README says.

Cases that need a uv.lock get one made here by the real uv against the local index (tests/pyindex.py);
the lock is then written back with the public index URLs, so the model reads it as it would a real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import CASES, SNAPSHOTS
from torchdoctor.checks import run_checks
from torchdoctor.edits import UsePytorchIndex
from torchdoctor.model import Severity
from torchdoctor.probes.project import probe_project
from torchdoctor.resolution import project_model
from torchdoctor.snapshot import Snapshot

REGRESSIONS = CASES / "regressions"
H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
RTX5060TI = Snapshot.from_json((SNAPSHOTS / "wsl2-rtx5060ti-nightly.json").read_text(encoding="utf-8"))
"""An RTX 5060 Ti (sm_120) under WSL2 with a 572.83 driver: CUDA up to 12.8."""
DRIVER_128 = replace(H100, nvml=replace(H100.nvml, driver_version="570.172.08", cuda_driver_version=12080),
                     torch=replace(H100.torch, status="not-installed", version=None, cuda=None))
"""The H100 machine with a driver that supports CUDA 12.8, before the first `uv sync`."""
WINDOWS = replace(H100, system=replace(H100.system, os_name="Windows"))


@pytest.fixture(scope="module")
def locked(index, tmp_path_factory, request):
    """Lock a case with the real uv, once per module; returns its folder."""
    from test_uv_lock import python_for

    uv = shutil.which("uv") or str(Path(os.sys.executable).parent / "uv")
    folders: dict[str, Path] = {}

    def lock(case: str) -> Path:
        if case in folders:
            return folders[case]
        folder = tmp_path_factory.mktemp(case)
        text = (REGRESSIONS / case / "pyproject.toml").read_text(encoding="utf-8")
        (folder / "pyproject.toml").write_text(text.replace("https://download.pytorch.org/whl", index.whl), encoding="utf-8")
        env = dict(os.environ, UV_DEFAULT_INDEX=index.pypi, UV_CACHE_DIR=str(folder.parent / f"{case}-uv-cache"),
                   UV_PYTHON_DOWNLOADS="never", XDG_CONFIG_HOME=str(folder.parent / f"{case}-config"))
        env.pop("VIRTUAL_ENV", None)
        requires = probe_project(folder).pyproject.requires_python or ">=3.10"
        result = subprocess.run([uv, "lock", "--python", python_for(requires)], cwd=folder, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        lock_text = (folder / "uv.lock").read_text(encoding="utf-8")
        (folder / "uv.lock").write_text(lock_text.replace(index.whl, "https://download.pytorch.org/whl")
                                        .replace(index.pypi, "https://pypi.org/simple"), encoding="utf-8")
        (folder / "pyproject.toml").write_text(text, encoding="utf-8")
        folders[case] = folder
        return folder

    return lock


def diagnose(folder: Path, machine: Snapshot = H100):
    snapshot = replace(machine, project=probe_project(folder))
    return snapshot, run_checks(snapshot)


def findings(diagnoses, code: str):
    return [d for d in diagnoses if d.code == code]


def project_errors(diagnoses) -> list[str]:
    return [f"{d.code} {d.message}" for d in diagnoses if d.severity is Severity.ERROR and d.code[2] in "234"
            and d.code not in ("TD220", "TD221", "TD230")]  # those speak of the torch installed on the recording


# r1 / r1b: the build the lock will install is checked against this GPU and driver ------------------

def test_r1_locked_cu126_has_no_code_for_sm_120(locked):
    _, found = diagnose(locked("r1-lock-arch"), RTX5060TI)
    (td222,) = findings(found, "TD222")
    assert td222.severity is Severity.ERROR
    assert td222.message == "`uv sync` installs torch 2.6.0+cu126, which cannot run on this GPU"
    assert "sm_120" in td222.explanation and "cu128" in td222.explanation  # names the variant that has it
    _, on_h100 = diagnose(locked("r1-lock-arch"))
    assert not findings(on_h100, "TD222")  # sm_90 is in the cu126 build


def test_r1b_locked_cu130_needs_a_580_driver(locked):
    _, found = diagnose(locked("r1b-lock-driver"), DRIVER_128)
    (td232,) = findings(found, "TD232")
    assert td232.severity is Severity.ERROR
    assert "CUDA 13.0 build; the driver here supports CUDA up to 12.8 (CUDA 13 needs 580" in td232.explanation
    _, on_new_driver = diagnose(locked("r1b-lock-driver"))
    assert not findings(on_new_driver, "TD232")


# r2 / r2b: lock entries are chosen by markers and extras, as uv chooses them ---------------------

def test_r2_lock_markers_give_linux_x86_64_the_cuda_build(locked):
    snapshot, found = diagnose(locked("r2-lock-markers"))
    machine = project_model(snapshot).machine_default
    assert machine.torch.version == "2.8.0+cu128"
    assert not findings(found, "TD402") and project_errors(found) == []


def test_r2b_cpu_extra_is_reported_per_extra_not_as_an_error(locked):
    snapshot, found = diagnose(locked("r2b-lock-extras"))
    model = project_model(snapshot)
    by_selection = {r.selection: r.torch.version if r.torch else None for r in model.machine}
    assert by_selection == {"default": None, "extra cpu": "2.9.1+cpu", "extra gpu": "2.9.1+cu128"}
    assert project_errors(found) == []


# r3a / r3b: ranges per selection; a gap in the tables is "unknown" -----------------------------------

def test_r3a_cu129_beyond_the_tables_is_not_an_error(tmp_path):
    shutil.copy(REGRESSIONS / "r3a-cu129" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, found = diagnose(tmp_path)
    assert project_errors(found) == []
    notes = [d for d in findings(found, "TD310") if d.severity is Severity.INFO]
    assert notes and "torchdoctor's tables" in notes[0].message


def test_r3b_ranges_are_not_intersected_across_conflicting_extras(tmp_path):
    shutil.copy(REGRESSIONS / "r3b-extras" / "pyproject.toml", tmp_path / "pyproject.toml")
    snapshot, found = diagnose(tmp_path)
    assert project_errors(found) == []
    (note,) = [d for d in findings(found, "TD310") if "cu124" in d.message]
    assert note.severity is Severity.INFO and "2.6" in note.message  # cu124's last release
    model = project_model(snapshot)
    cu124 = next(r for r in model.machine if r.selection == "extra cu124")
    assert cu124.torch.build == "cu124" and cu124.torch.series == "2.6"


# r6: a machine without a GPU never moves a CUDA project to CPU --------------------------------------

def test_r6_cpu_machine_fix_keeps_the_declared_cuda_line(tmp_path):
    shutil.copy(REGRESSIONS / "r6-cpu-fix" / "pyproject.toml", tmp_path / "pyproject.toml")
    laptop = replace(H100, nvml=replace(H100.nvml, status="driver-not-loaded", gpus=()),
                     torch=replace(H100.torch, devices=()), system=replace(H100.system, gpu_device_nodes=(),
                                                                             nvidia_kernel_driver=None))
    _, found = diagnose(tmp_path, laptop)
    urls = [d.fix.edit.url for d in found if d.fix and isinstance(d.fix.edit, UsePytorchIndex)]
    assert urls and all(url.endswith("/cu126") for url in urls), urls


# r7 / r8: per-platform asymmetry and PyPI companions ------------------------------------------------

def test_r7_windows_routed_to_the_cpu_index_is_a_warning(tmp_path):
    shutil.copy(REGRESSIONS / "r7-windows-cpu" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, found = diagnose(tmp_path)
    (td316,) = findings(found, "TD316")
    assert td316.severity is Severity.WARNING and "Windows" in td316.message


def test_r8_pypi_torchvision_is_the_same_cuda_build_on_linux(locked):
    _, found = diagnose(locked("r8-pypi-companion"))
    mixed = findings(found, "TD403") + findings(found, "TD309")
    assert [d for d in mixed if d.severity is Severity.ERROR] == []
    windows = [d for d in mixed if "Windows" in d.message]
    assert windows and all(d.severity is Severity.WARNING for d in windows)


# r9a / r9b: staleness as uv records requirements ------------------------------------------------------

def test_r9a_source_of_a_package_that_is_not_required_is_not_staleness(locked):
    _, found = diagnose(locked("r9a-unused-source"))
    assert not findings(found, "TD401")


def test_r9b_git_requirement_has_no_recorded_specifier(tmp_path):
    folder = tmp_path / "r9b"
    shutil.copytree(REGRESSIONS / "r9b-git-specifier", folder)
    # What uv 0.13.9 writes for this project (uv cannot fetch the repository here); uv records no specifier.
    (folder / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.10"\n\n[[package]]\nname = "nvidia-depx"\nversion = "0.6.0"\n'
        'source = { git = "https://github.com/example/nvidia-depx?tag=v0.6.0#0123456789abcdef0123456789abcdef01234567" }\n\n'
        '[[package]]\nname = "proj"\nversion = "0.1.0"\nsource = { virtual = "." }\ndependencies = [\n'
        '    { name = "nvidia-depx" },\n]\n\n[package.metadata]\nrequires-dist = [{ name = "nvidia-depx", git = '
        '"https://github.com/example/nvidia-depx?tag=v0.6.0" }]\n', encoding="utf-8")
    _, found = diagnose(folder)
    assert not findings(found, "TD401")


# r10 / r11: indexes that are not what they seemed -------------------------------------------------------

def test_r10_a_publish_index_is_not_unused(tmp_path):
    shutil.copy(REGRESSIONS / "r10-publish-index" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, found = diagnose(tmp_path)
    assert not findings(found, "TD305")


def test_r11_non_explicit_nightly_index_serves_pytorch_triton(tmp_path):
    shutil.copy(REGRESSIONS / "r11-nightly-nonexplicit" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, found = diagnose(tmp_path)
    assert not findings(found, "TD308")  # uv locks pytorch-triton from a non-explicit index
    (td303,) = findings(found, "TD303")  # the real risk: the index competes with PyPI for every package
    assert td303.severity is Severity.WARNING
    explicit = (REGRESSIONS / "r11-nightly-nonexplicit" / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(explicit.replace("explicit = false", "explicit = true"), encoding="utf-8")
    _, found = diagnose(tmp_path)
    assert findings(found, "TD308")


# Causes without a case folder, each in a small project ----------------------------------------------------

def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(text, encoding="utf-8")
    return folder


def test_a_url_requirement_with_a_marker_right_after_it_is_usable(tmp_path):
    """uv accepts `pkg @ URL; marker`; packaging does not. The file is not "unusable": one note, nothing hidden."""
    folder = write(tmp_path, '[project]\nname = "u"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = [\n'
                   '  "torch==2.9.1",\n  "depx @ git+https://github.com/example/depx.git; platform_machine == \'x86_64\'",\n]\n'
                   '[tool.uv.sources]\ntorch = [{ index = "pytorch-cu126" }]\n'
                   '[[tool.uv.index]]\nname = "pytorch-cu126"\nurl = "https://download.pytorch.org/whl/cu126"\nexplicit = true\n')
    _, found = diagnose(folder, RTX5060TI)
    (td001,) = findings(found, "TD001")
    assert td001.severity is Severity.INFO and "accepted by uv" in td001.message
    assert findings(found, "TD222")  # the other findings still appear: cu126 has no sm_120


def test_td318_the_root_of_the_nightly_index_names_no_build(tmp_path):
    folder = write(tmp_path, '[project]\nname = "n"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = ["torch"]\n'
                   '[tool.uv.sources]\ntorch = [{ index = "nightly" }]\n'
                   '[[tool.uv.index]]\nname = "nightly"\nurl = "https://download.pytorch.org/whl/nightly/"\nexplicit = true\n')
    laptop = replace(H100, nvml=replace(H100.nvml, status="library-not-found", gpus=()), torch=replace(H100.torch, devices=()))
    for machine in (H100, laptop):  # a fact of the file, said with or without a GPU
        (td318,) = findings(diagnose(folder, machine)[1], "TD318")
        assert td318.severity is Severity.WARNING and "whl/nightly/cu130" in td318.explanation
    named = write(tmp_path / "named", (folder / "pyproject.toml").read_text().replace("whl/nightly/", "whl/nightly/cu130"))
    assert not findings(diagnose(named)[1], "TD318")


def test_a_vendor_wheel_index_is_not_a_pytorch_mirror(tmp_path):
    folder = write(tmp_path, '[project]\nname = "v"\nversion = "0"\nrequires-python = ">=3.10"\n'
                   'dependencies = ["torch==2.9.1", "flashinfer-python"]\n'
                   '[tool.uv.sources]\nflashinfer-python = [{ index = "flashinfer" }]\n'
                   '[[tool.uv.index]]\nname = "flashinfer"\nurl = "https://flashinfer.ai/whl/cu130"\nexplicit = true\n'
                   '[[tool.uv.index]]\nname = "nju"\nurl = "https://mirrors.nju.edu.cn/pytorch/whl/cu126"\nexplicit = true\n')
    mirrors = [d.message for d in findings(diagnose(folder)[1], "TD315")]
    assert mirrors == ["index nju (mirrors.nju.edu.cn) is a mirror of the PyTorch cu126 index"]


def test_td271_a_locked_universal_wheel_is_never_built(tmp_path):
    """A locked version that ships a py3-none-any wheel is installed as it is: uv builds nothing."""
    folder = write(tmp_path, '[project]\nname = "d"\nversion = "0"\nrequires-python = ">=3.10"\n'
                   'dependencies = ["torch==2.9.1", "deepspeed==0.18.0"]\n')
    assert findings(diagnose(folder)[1], "TD271")
    (folder / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.10"\n\n[[package]]\nname = "d"\nversion = "0"\n'
        'source = { virtual = "." }\ndependencies = [\n    { name = "deepspeed" },\n    { name = "torch" },\n]\n\n'
        '[[package]]\nname = "deepspeed"\nversion = "0.18.0"\nsource = { registry = "https://pypi.org/simple" }\n'
        'sdist = { url = "https://files.pythonhosted.org/d/deepspeed-0.18.0.tar.gz", hash = "sha256:00" }\nwheels = [\n'
        '    { url = "https://files.pythonhosted.org/d/deepspeed-0.18.0-py3-none-any.whl", hash = "sha256:01" },\n]\n\n'
        '[[package]]\nname = "torch"\nversion = "2.9.1"\nsource = { registry = "https://pypi.org/simple" }\n', encoding="utf-8")
    assert not findings(diagnose(folder)[1], "TD271")


# The missing rules ------------------------------------------------------------------------------------

def test_td319_local_version_pins(tmp_path):
    def pin(requirement: str, extra: str = "") -> list:
        text = (f'[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = ["{requirement}"]\n' + extra)
        return findings(diagnose(write(tmp_path / str(abs(hash(requirement + extra))), text))[1], "TD319")

    (nonexistent,) = pin("torch==2.5.1+rocm")
    assert nonexistent.severity is Severity.ERROR and "+rocm is no PyTorch build tag" in nonexistent.message
    (ended,) = pin("torch==2.7.1+cu124")
    assert ended.severity is Severity.ERROR and "cu124 ended with torch 2.6" in ended.message
    (gap,) = pin("torch==2.9.1+cu129")
    assert gap.severity is Severity.INFO and "beyond torchdoctor's tables" in gap.message
    (mac,) = pin("torch==2.5.1+cu124")
    assert mac.severity is Severity.WARNING and "macOS" in mac.message
    assert pin("torch==2.5.1+cu124 ; sys_platform != 'darwin'") == []
    assert pin("torch==2.5.1+cu124", "[tool.uv]\nenvironments = [\"sys_platform == 'linux'\"]\n") == []


def test_td320_environments_that_leave_out_this_machine(tmp_path):
    text = ('[project]\nname = "e"\nversion = "0"\nrequires-python = ">=3.12"\ndependencies = ["torch==2.9.1"]\n'
            '[tool.uv]\nenvironments = ["{}"]\n')
    windows_only = write(tmp_path / "w", text.format("sys_platform == 'win32'"))
    (td320,) = findings(diagnose(windows_only)[1], "TD320")
    assert td320.severity is Severity.WARNING and "this machine (Linux x86_64, Python 3.12.3)" in td320.message
    linux_only = write(tmp_path / "l", text.format("sys_platform == 'linux'"))
    assert not findings(diagnose(linux_only)[1], "TD320")  # Linux only, on purpose: nothing to say here


def test_td321_sources_in_a_file_that_is_not_a_project(tmp_path):
    text = ('[tool.uv.sources]\ntorch = [{ index = "cu128" }]\n'
            '[[tool.uv.index]]\nname = "cu128"\nurl = "https://download.pytorch.org/whl/cu128"\nexplicit = true\n')
    (td321,) = findings(diagnose(write(tmp_path / "a", text))[1], "TD321")
    assert td321.severity is Severity.WARNING
    workspace = write(tmp_path / "w", '[tool.uv.workspace]\nmembers = ["packages/*"]\n' + text)
    assert not findings(diagnose(workspace)[1], "TD321")  # a workspace root's sources apply to its members


def test_td130_numpy_2_beside_a_torch_built_for_numpy_1(tmp_path):
    old = replace(H100, torch=replace(H100.torch, version="2.2.2+cu121", packages={**H100.torch.packages, "numpy": "2.1.3"}))
    (td130,) = findings(diagnose(write(tmp_path, '[project]\nname = "n"\nversion = "0"\n'), old)[1], "TD130")
    assert td130.severity is Severity.ERROR and "NumPy 2.1.3" in td130.message
    assert "pytorch/pytorch#107302" in td130.evidence[-1].source
    fine = replace(old, torch=replace(old.torch, version="2.3.1+cu121"))
    assert not findings(diagnose(tmp_path, fine)[1], "TD130")
    windows_240 = replace(old, torch=replace(old.torch, version="2.4.0+cu121"), system=replace(old.system, os_name="Windows"))
    assert findings(diagnose(tmp_path, windows_240)[1], "TD130")  # 2.4.0's Windows wheels (pytorch/pytorch#131668)


def test_r4_a_fix_never_writes_a_key_that_dynamic_lists(tmp_path):
    folder = tmp_path / "r4"
    shutil.copytree(REGRESSIONS / "r4-dynamic", folder)
    (td308,) = findings(diagnose(folder)[1], "TD308")
    assert td308.severity is Severity.ERROR
    assert td308.fix.action is None and td308.fix.applicability.value == "display-only"
    assert any("pytorch-triton" in command for command in td308.fix.commands)


def test_td308_rocm_and_xpu_indexes_carry_their_own_triton(tmp_path):
    text = ('[project]\nname = "r"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = ["torch==2.9.1"]\n'
            '[tool.uv.sources]\ntorch = [{{ index = "accel", marker = "sys_platform == \'linux\'" }}]\n{extra}'
            '[[tool.uv.index]]\nname = "accel"\nurl = "https://download.pytorch.org/whl/{variant}"\nexplicit = true\n')
    for variant, triton in (("rocm6.4", "pytorch-triton-rocm"), ("xpu", "pytorch-triton-xpu")):
        (td308,) = findings(diagnose(write(tmp_path / variant, text.format(variant=variant, extra="")))[1], "TD308")
        assert f"but {triton} is not mapped to it" in td308.message and td308.fix.edit.package == triton
        mapped = text.format(variant=variant, extra=f'{triton} = [{{ index = "accel", marker = "sys_platform == \'linux\'" }}]\n')
        assert not findings(diagnose(write(tmp_path / f"{variant}-mapped", mapped))[1], "TD308")
    stable_cuda = text.format(variant="cu128", extra="")
    assert not findings(diagnose(write(tmp_path / "cu128", stable_cuda))[1], "TD308")


def test_a_project_that_maps_torch_only_to_the_cpu_index_chose_cpu(tmp_path):
    """On a GPU machine that is a note ("the GPU stays unused"), not an error: with or without a lock."""
    text = ('[project]\nname = "c"\nversion = "0"\nrequires-python = ">=3.10"\ndependencies = ["torch==2.9.1"]\n'
            '[tool.uv.sources]\ntorch = [{ index = "pytorch-cpu" }]\n'
            '[[tool.uv.index]]\nname = "pytorch-cpu"\nurl = "https://download.pytorch.org/whl/cpu"\nexplicit = true\n')
    (td402,) = findings(diagnose(write(tmp_path, text))[1], "TD402")
    assert td402.severity is Severity.INFO and "the GPU here stays unused" in td402.message
    assert project_errors(diagnose(tmp_path)[1]) == []


def test_requires_python_admitting_a_python_the_pinned_torch_has_no_wheels_for(tmp_path):
    text = '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.8"\ndependencies = ["torch==2.5.1"]\n'
    (td310,) = findings(diagnose(write(tmp_path, text))[1], "TD310")
    assert td310.severity is Severity.ERROR
    assert td310.message == "requires-python >=3.8 admits Python 3.8, but no torch matching ==2.5.1 has wheels for it"


def test_uv_itself_says_whether_the_lock_is_fresh(index, tmp_path, monkeypatch):
    """`uv lock --check --offline --no-build`, asked at probe time: fresh after `uv lock`, stale after an edit."""
    from test_uv_lock import python_for

    from torchdoctor.probes.lock_check import check_lock_freshness, why_not_asked

    uv = shutil.which("uv") or str(Path(os.sys.executable).parent / "uv")
    monkeypatch.setenv("UV_DEFAULT_INDEX", index.pypi)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    folder = tmp_path / "p"
    text = (REGRESSIONS / "r9a-unused-source" / "pyproject.toml").read_text(encoding="utf-8").replace(
        "https://download.pytorch.org/whl", index.whl)
    write(folder, text)
    subprocess.run([uv, "lock", "--python", python_for(">=3.10,<3.14")], cwd=folder, check=True, capture_output=True)
    project = probe_project(folder)
    assert why_not_asked(project) is None
    assert check_lock_freshness(project).fresh is True
    snapshot = replace(H100, project=replace(project, lock=replace(project.lock, freshness=check_lock_freshness(project))))
    assert not findings(run_checks(snapshot), "TD401")
    write(folder, text.replace("torch==2.8.*", "torch==2.9.*"))
    edited = probe_project(folder)
    assert check_lock_freshness(edited).fresh is not True  # stale, or undecidable offline: never "fresh"
    dynamic = write(tmp_path / "d", text.replace('version = "0.1.0"\n', 'dynamic = ["version"]\n'))
    shutil.copy(folder / "uv.lock", dynamic / "uv.lock")
    assert "dynamic" in why_not_asked(probe_project(dynamic))  # uv would run the build backend: not asked


def test_the_fix_reads_the_range_of_a_plain_install_never_the_intersection_of_extras(tmp_path):
    """r3b's extras ask >=2.6 (cu124) and >=2.7 (cu128); the fix's range is one selection's, not both at once."""
    from torchdoctor.checks.common import torch_specifier

    shutil.copy(REGRESSIONS / "r3b-extras" / "pyproject.toml", tmp_path / "pyproject.toml")
    assert str(torch_specifier(probe_project(tmp_path).pyproject)) == ">=2.6.0"
