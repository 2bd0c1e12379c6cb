"""Every rule: documented, unique, and tested both ways on snapshots derived from a real H100 recording."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import REPO, SNAPSHOTS
from torchdoctor.checks import RULES, registry, run_checks
from torchdoctor.model import Severity
from torchdoctor.render.rules import render_rules_markdown
from torchdoctor.snapshot import (
    DeclaredRequirement,
    NvmlInfo,
    ProjectFileError,
    PyprojectInfo,
    Snapshot,
    SystemInfo,
)

H100 = Snapshot.from_json((SNAPSHOTS / "h100-pypi.json").read_text(encoding="utf-8"))
NO_GPU_SYSTEM = SystemInfo(os_name="Linux", architecture="x86_64")
NO_NVML = NvmlInfo(status="library-not-found", error="NVML Shared Library Not Found", error_code=12)


def codes(snapshot: Snapshot) -> list[str]:
    return [d.code for d in run_checks(snapshot)]


def only(snapshot: Snapshot, code: str):
    found = [d for d in run_checks(snapshot) if d.code == code]
    assert len(found) == 1, run_checks(snapshot)
    return found[0]


def with_torch(snapshot: Snapshot, **changes) -> Snapshot:
    return replace(snapshot, torch=replace(snapshot.torch, **changes))


def test_codes_are_unique_and_documented():
    slugs = [rule.slug for rule in RULES.values()]
    assert len(slugs) == len(set(slugs))
    for rule in RULES.values():
        for section in registry.SECTIONS:
            assert rule.section(section), f"{rule.code} has an empty '{section}' section"


def test_docs_rules_md_is_generated_from_the_registry():
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == render_rules_markdown(RULES), (
        "docs/rules.md is stale: run `torchdoctor rules --format markdown > docs/rules.md`"
    )


def test_recorded_healthy_h100_has_no_findings():
    assert run_checks(H100) == ()


def test_a_crashing_rule_becomes_td000_and_the_others_still_run(monkeypatch):
    def broken(snapshot):
        raise KeyError("boom")

    monkeypatch.setitem(RULES, "TD999", registry.Rule("TD999", "broken-for-test", broken, ""))
    snapshot = with_torch(H100, status="not-installed", version=None)
    found = codes(snapshot)
    assert "TD000" in found and "TD102" in found


# TD001 ---------------------------------------------------------------------------------------

def test_td001_unreadable_lock_is_an_error_with_its_place():
    error = ProjectFileError("/p/uv.lock", "malformed", "invalid TOML: Unclosed array", 12, 3)
    snapshot = replace(H100, project=replace(H100.project, errors=(error,)))
    diagnosis = only(snapshot, "TD001")
    assert diagnosis.severity is Severity.ERROR
    assert diagnosis.evidence[0].source == "/p/uv.lock:12:3"


def test_td001_silent_when_files_read():
    assert "TD001" not in codes(H100)


# TD101 ---------------------------------------------------------------------------------------

def test_td101_missing_interpreter():
    snapshot = replace(H100, interpreter=replace(H100.interpreter, exists=False),
                       torch=replace(H100.torch, status="interpreter-failed", error="could not start python"))
    assert only(snapshot, "TD101").severity is Severity.ERROR


def test_td101_silent_for_a_working_interpreter():
    assert "TD101" not in codes(H100)


# TD102 ---------------------------------------------------------------------------------------

def test_td102_severity_follows_what_the_project_declares():
    missing = with_torch(H100, status="not-installed", version=None)
    assert only(missing, "TD102").severity is Severity.ERROR  # h100-pypi declares torch==2.11.0
    extra_only = replace(missing, project=replace(missing.project, pyproject=PyprojectInfo(
        path="pyproject.toml", torch_requirements=(DeclaredRequirement("optional:cu128", "torch>=2.9", "torch"),))))
    assert only(extra_only, "TD102").severity is Severity.WARNING
    undeclared = replace(missing, project=replace(missing.project, pyproject=PyprojectInfo(path="pyproject.toml")))
    assert only(undeclared, "TD102").severity is Severity.INFO


def test_td102_silent_when_torch_imports():
    assert "TD102" not in codes(H100)


# TD103 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["import-failed", "crashed", "timed-out"])
def test_td103_import_failures(status):
    snapshot = with_torch(H100, status=status, error="ImportError: libcudnn.so.9: cannot open shared object file")
    diagnosis = only(snapshot, "TD103")
    assert diagnosis.severity is Severity.ERROR
    assert "libcudnn.so.9" in diagnosis.message


def test_td103_silent_when_torch_imports():
    assert "TD103" not in codes(H100)


# TD201 ---------------------------------------------------------------------------------------

def test_td201_cpu_build_on_the_recorded_h100():
    # The H100 machine as recorded, with the torch a plain `uv add torch` gives on Windows (uv#17236).
    snapshot = with_torch(H100, version="2.9.1+cpu", local_tag="cpu", cuda=None, cuda_available=False, devices=(),
                          arch_list=(), cudnn_version=None)
    diagnosis = only(snapshot, "TD201")
    assert diagnosis.severity is Severity.ERROR
    assert "NVIDIA H100 80GB HBM3" in [e.value for e in diagnosis.evidence][2]


def test_td201_silent_on_a_machine_without_nvidia_gpu():
    snapshot = replace(with_torch(H100, version="2.13.0+cpu", cuda=None, devices=()), nvml=NO_NVML, system=NO_GPU_SYSTEM)
    assert "TD201" not in codes(snapshot)


# TD202 ---------------------------------------------------------------------------------------

def test_td202_recorded_with_every_gpu_hidden():
    snapshot = Snapshot.from_json((SNAPSHOTS / "h100-no-visible-devices.json").read_text(encoding="utf-8"))
    diagnosis = only(snapshot, "TD202")
    assert diagnosis.severity is Severity.ERROR
    assert diagnosis.message.endswith("CUDA_VISIBLE_DEVICES='' hides every GPU from CUDA")


def test_td202_maps_the_driver_too_old_warning():
    # Warning text from scenarios.md S4 (torch on a driver that only supports CUDA 12.2).
    warning = ("CUDA initialization: The NVIDIA driver on your system is too old (found version 12020). "
               "Please update your GPU driver by downloading and installing a new version from the URL: "
               "http://www.nvidia.com/Download/index.aspx")
    snapshot = with_torch(H100, cuda_available=False, cuda_init_warnings=(warning,), devices=())
    assert "older than the CUDA version this torch build needs" in only(snapshot, "TD202").message


def test_td202_is_only_a_note_without_any_gpu():
    snapshot = replace(with_torch(H100, cuda_available=False, devices=()), nvml=NO_NVML, system=NO_GPU_SYSTEM)
    assert only(snapshot, "TD202").severity is Severity.INFO


def test_td202_silent_when_cuda_works():
    assert "TD202" not in codes(H100)


# TD210 ---------------------------------------------------------------------------------------

def test_td210_version_mismatch_after_driver_update():
    nvml = NvmlInfo(status="rm-version-mismatch", error="RM has detected an NVML/RM version mismatch.", error_code=18)
    snapshot = replace(with_torch(H100, cuda_available=False, devices=()), nvml=nvml)
    diagnosis = only(snapshot, "TD210")
    assert diagnosis.severity is Severity.ERROR
    assert "a driver update without a reboot" in diagnosis.message


def test_td210_missing_nvml_where_there_is_no_gpu_is_normal():
    snapshot = replace(H100, nvml=NO_NVML, system=NO_GPU_SYSTEM, torch=replace(H100.torch, devices=()))
    assert "TD210" not in codes(snapshot)


def test_td210_silent_when_nvml_works():
    assert "TD210" not in codes(H100)


def test_td202_names_the_cuinit_failure_when_torch_gives_no_reason():
    recorded = Snapshot.from_json((SNAPSHOTS / "h100-no-visible-devices.json").read_text(encoding="utf-8"))
    # The recorded machine with the variable gone but cuInit still failing (as after a suspend/resume).
    environment = {k: v for k, v in recorded.system.environment.items() if k != "CUDA_VISIBLE_DEVICES"}
    driver = replace(recorded.torch.cuda_driver, init_result=999)
    snapshot = replace(recorded, system=replace(recorded.system, environment=environment),
                       torch=replace(recorded.torch, cuda_driver=driver))
    diagnosis = only(snapshot, "TD202")
    assert diagnosis.message.endswith("the CUDA driver itself fails: cuInit returned CUDA_ERROR_UNKNOWN")
    assert any(e.fact == "cuInit(0) via libcuda.so.1" and e.value.startswith("999") for e in diagnosis.evidence)
