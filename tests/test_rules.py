"""Every rule: documented, unique, and tested both ways on snapshots derived from a real H100 recording."""

from __future__ import annotations

from dataclasses import replace

import pytest

import tempfile
from pathlib import Path

from conftest import FIXTURES, REPO, SNAPSHOTS
from torchdoctor.checks import RULES, registry, run_checks
from torchdoctor.model import Severity
from torchdoctor.render.rules import render_rules_markdown
from torchdoctor.snapshot import (
    ShmInfo,
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


def test_recorded_healthy_h200_has_no_errors_or_warnings():
    h200 = Snapshot.from_json((SNAPSHOTS / "h200-pypi.json").read_text(encoding="utf-8"))
    assert h200.nvml.gpus[0].name == "NVIDIA H200"
    assert [d.code for d in run_checks(h200)] == ["TD316"]


def test_recorded_healthy_h100_has_no_errors_or_warnings():
    assert [d.code for d in run_checks(H100) if d.severity is not Severity.INFO] == []
    # Its project is what `uv add torch` writes: fine on this Linux machine, CPU-only for Windows users.
    assert [d.code for d in run_checks(H100)] == ["TD316"]


def test_a_crashing_rule_becomes_td000_and_the_others_still_run(monkeypatch):
    def broken(snapshot):
        raise KeyError("boom")

    monkeypatch.setitem(RULES, "TD999", registry.Rule("TD999", "broken-for-test", broken, ""))
    snapshot = with_torch(H100, status="not-installed", version=None)
    found = codes(snapshot)
    assert "TD000" in found and "TD102" in found


def test_a_fix_of_a_kind_its_rule_does_not_declare_is_reported_beside_the_finding(monkeypatch):
    from torchdoctor.checks.registry import SAFE, Finding
    from torchdoctor.edits import RemoveIndex
    from torchdoctor.model import Applicability, Fix

    def offers_unsafe(snapshot):
        yield Finding(Severity.WARNING, "an index nobody uses", "why",
                      fix=Fix("Remove it", Applicability.UNSAFE, RemoveIndex(name="x")))

    monkeypatch.setitem(RULES, "TD998", registry.Rule("TD998", "declares-safe", offers_unsafe, "", (SAFE,)))
    found = {d.code: d for d in run_checks(H100) if d.code in ("TD998", "TD000")}
    assert sorted(found) == ["TD000", "TD998"]  # the finding stays; the rule's own bug is said beside it
    assert "TD998 (declares-safe) offered a fix of a kind it does not declare: unsafe" in found["TD000"].message


@pytest.mark.parametrize("code, declared", [
    ("TD302", "Unsafe (applied only with --unsafe"),  # its docs said "safe" while its fix was unsafe
    ("TD304", "Safe (`fix --all` applies it)."),
    ("TD301", "Safe (`fix --all` applies it) or unsafe"),  # explicit: safe; explicit and no longer the default: unsafe
    ("TD202", "Display only (commands shown, never run)."),
    ("TD120", "No fix offered."),  # its docs said "fixed in pyproject.toml"
])
def test_the_catalogue_says_each_rules_declared_fix_safety_first(code, declared):
    from torchdoctor.render.rules import render_rules_markdown

    entry = render_rules_markdown(RULES).split(f"### {code}")[1].split("###")[0]
    assert f"**Fix safety.** {declared}" in entry


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


# Machine facts from real reports, laid over the recorded H100 machine ------------------------

def with_gpu(snapshot: Snapshot, name: str, capability: tuple[int, int], driver: str, cuda_encoded: int) -> Snapshot:
    gpu = replace(snapshot.nvml.gpus[0], name=name, compute_capability=capability, pci_device_id=None)
    nvml = replace(snapshot.nvml, gpus=(gpu,), driver_version=driver, cuda_driver_version=cuda_encoded)
    system = replace(snapshot.system, nvidia_kernel_driver=driver)
    return replace(snapshot, nvml=nvml, system=system)


CU126_LIST = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
# pytorch/pytorch#150733: an RTX 5090 with torch 2.6.0+cu126 ("sm_120 is not compatible with the current
# PyTorch installation ... supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"); a 572.xx
# driver supports CUDA 12.8.
RTX5090_CU126 = with_torch(
    with_gpu(H100, "NVIDIA GeForce RTX 5090", (12, 0), "572.83", 12080),
    version="2.6.0+cu126", local_tag="cu126", cuda="12.6", arch_list=CU126_LIST,
    packages={"torchvision": "0.21.0+cu126"},
)


def test_td220_blackwell_on_a_cu126_build_names_a_build_the_driver_supports():
    diagnosis = only(RTX5090_CU126, "TD220")
    assert diagnosis.severity is Severity.ERROR
    assert diagnosis.message == (
        "NVIDIA GeForce RTX 5090 (sm_120, Blackwell) is not supported by torch 2.6.0+cu126: the build has no code for it"
    )
    # torch 2.6 has no Blackwell build; a CUDA 12.8 driver rules out cu130/cu132, so 2.11's cu128 is the newest that fits.
    # The explanation names the very build the fix writes.
    assert diagnosis.fix.title == ("cu128: the oldest CUDA line of torch 2.11 with sm_120 that your 572.83 driver supports (the lowest driver floor "
                                "for everyone who shares the project)")
    assert f"The fix: {diagnosis.fix.title}." in diagnosis.explanation
    assert "TD221" not in codes(RTX5090_CU126)
    # Without a pyproject to fix, the explanation still names the build to use.
    no_project = replace(RTX5090_CU126, project=replace(RTX5090_CU126.project, pyproject=None))
    assert "Use torch 2.11.0 with cu128: the newest release with sm_120 that your 572.83 driver supports" in (
        only(no_project, "TD220").explanation
    )


def test_td220_silent_for_an_ada_gpu_on_the_same_build():
    rtx4090 = with_gpu(RTX5090_CU126, "NVIDIA GeForce RTX 4090", (8, 9), "572.83", 12080)
    assert "TD220" not in codes(rtx4090) and "TD221" not in codes(rtx4090)


def test_td220_uses_the_knowledge_base_when_torch_reports_no_arch_list():
    snapshot = with_torch(RTX5090_CU126, arch_list=())
    diagnosis = only(snapshot, "TD220")
    assert any(e.fact == "arch list of torch 2.6.0+cu126 wheels" for e in diagnosis.evidence)


# scenarios S3 (jhj0517/Whisper-WebUI#653): a GTX 1080 with torch 2.8's cu128 build.
GTX1080_CU128 = with_torch(
    with_gpu(H100, "NVIDIA GeForce GTX 1080", (6, 1), "570.133.07", 12080),
    version="2.8.0+cu128", local_tag="cu128", cuda="12.8",
    arch_list=("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"), packages={},
)


def test_td221_pascal_on_cu128_points_to_cu126_of_the_same_release():
    diagnosis = only(GTX1080_CU128, "TD221")
    assert diagnosis.message == "NVIDIA GeForce GTX 1080 (sm_61, Pascal) is too old for torch 2.8.0+cu128"
    assert diagnosis.fix.title == ("cu126: the oldest CUDA line of torch 2.11 with sm_61 that your 570.133.07 driver supports (the lowest "
                                "driver floor for everyone who shares the project)")
    assert f"The fix: {diagnosis.fix.title}." in diagnosis.explanation  # the project's range allows 2.11
    assert "TD220" not in codes(GTX1080_CU128)
    no_project = replace(GTX1080_CU128, project=replace(GTX1080_CU128.project, pyproject=None))
    assert "Use cu126: the first torch 2.8 variant with sm_61 that your 570.133.07 driver supports" in (
        only(no_project, "TD221").explanation  # no project to fix: the installed release's own variant
    )


def test_td221_silent_on_the_recorded_h100():
    assert "TD221" not in codes(H100)


def test_td230_cuda13_build_on_an_r575_driver_is_an_error():
    # RLinf/RLinf PR #1410: torch >= 2.11 from PyPI is a CUDA 13 build "that won't run on sub-580 drivers".
    snapshot = with_gpu(H100, "NVIDIA H100 80GB HBM3", (9, 0), "575.57.08", 12090)
    diagnosis = only(snapshot, "TD230")
    assert diagnosis.severity is Severity.ERROR
    assert diagnosis.message == (
        "the NVIDIA driver 575.57.08 supports CUDA up to 12.9, but torch 2.11.0+cu130 is a CUDA 13.0 build"
    )
    assert "580.65.06 or newer on Linux" in diagnosis.explanation


def test_td230_older_minor_runs_by_minor_version_compatibility_and_wsl_names_the_windows_driver():
    """A 535 driver (CUDA 12.2) with a cu128 torch (the shape of rapidsai/cugraph-gnn#410): CUDA's minor-version
    compatibility runs it, and the build has sm_86 machine code for the A6000, so no JIT of newer PTX is needed: a note
    that says so (issue 28: it was a warning that the driver was too old, beside a fix saying the line runs there)."""
    snapshot = with_torch(with_gpu(H100, "NVIDIA RTX A6000", (8, 6), "535.183.01", 12020),
                          version="2.10.0", local_tag=None, cuda="12.8")
    assert only(snapshot, "TD230").severity is Severity.INFO
    assert "by CUDA's minor-version compatibility" in only(snapshot, "TD230").message
    wsl = replace(snapshot, system=replace(snapshot.system, wsl="wsl2"))
    assert "(the Windows host's driver, which WSL uses)" in only(wsl, "TD230").message


def test_td230_silent_when_the_driver_is_new_enough():
    assert "TD230" not in codes(H100)


def test_td231_module_and_library_differ_after_an_update():
    native = replace(H100.system, container=None, container_evidence=None)
    snapshot = replace(H100, system=replace(native, nvidia_kernel_driver="580.95.05"))
    diagnosis = only(snapshot, "TD231")
    assert diagnosis.message.startswith("the running NVIDIA kernel module is 580.95.05 but the driver library is 580.159.04")
    assert "TD231" not in codes(H100)


def test_td231_fires_when_nvml_cannot_start_from_the_library_file_name_or_nvml_refusal():
    """A mismatch is what stops NVML, so NVML has no version to compare: the library's file name gives it, and NVML's
    own refusal (error 18) names the cause when no version is readable."""
    failed = replace(H100.nvml, status="failed", error="Driver/library version mismatch", error_code=18, driver_version=None,
                     gpus=())
    native = replace(H100.system, container=None, container_evidence=None, nvidia_kernel_driver="550.90.07",
                     system_driver_libraries=("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.107.02",))
    named = only(replace(H100, nvml=failed, system=native), "TD231")
    assert "kernel module is 550.90.07 but the driver library is 550.107.02" in named.message
    assert any(e.source == "the driver library's file name" for e in named.evidence)
    refused = only(replace(H100, nvml=failed, system=replace(native, nvidia_kernel_driver=None, system_driver_libraries=())), "TD231")
    assert "Driver/library version mismatch" in refused.message
    in_container = replace(H100, nvml=failed, system=replace(native, container="docker"))
    assert "TD231" not in codes(in_container) and "TD525" in codes(in_container)  # a reboot cures nothing there


def test_td523_small_or_unwritable_shared_memory_with_a_gpu():
    small = replace(H100, system=replace(H100.system, shm=ShmInfo(size_bytes=64 << 20, writable=True)))
    finding = only(small, "TD523")
    assert finding.severity is Severity.WARNING and "/dev/shm is 64 MiB" in finding.message
    assert "--ipc=host" in finding.fix.commands[0]
    assert "TD523" not in codes(replace(H100, system=replace(H100.system, shm=ShmInfo(size_bytes=16 << 30, writable=True))))
    assert "TD523" not in codes(replace(H100, system=replace(H100.system, shm=None))), "unread is unknown, not small"
    locked = replace(H100.system, container=None, shm=ShmInfo(size_bytes=32 << 30, writable=False))
    one_gpu = only(replace(H100, system=locked), "TD523")
    assert one_gpu.severity is Severity.WARNING and one_gpu.fix.commands[0].startswith("sudo chmod 1777 /dev/shm")
    eight = replace(H100.nvml, gpus=tuple(replace(H100.nvml.gpus[0], index=i) for i in range(8)))
    assert only(replace(H100, system=locked, nvml=eight), "TD523").severity is Severity.ERROR


def test_td524_error_804_names_the_images_forward_compatibility_library():
    said = with_torch(H100, cuda_available=False, cuda_init_warnings=(
        "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Error 804: forward compatibility was "
        "attempted on non supported HW",))
    finding = only(replace(said, system=replace(H100.system, cuda_compat_libraries=("/usr/local/cuda-12.4/compat/libcuda.so.1",))),
                   "TD524")
    assert finding.severity is Severity.ERROR and "/usr/local/cuda-12.4/compat" in finding.fix.commands[1]
    assert "TD524" not in codes(H100)


def test_td525_driver_libraries_in_the_image_beside_the_hosts_module():
    system = replace(H100.system, nvidia_kernel_driver="470.129.06", system_driver_libraries=(
        "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.470.129.06", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.525.105.17"))
    finding = only(replace(H100, system=system), "TD525")
    assert "(525.105.17) beside the host's kernel module 470.129.06" in finding.message
    mounted_only = replace(system, system_driver_libraries=("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.470.129.06",))
    assert "TD525" not in codes(replace(H100, system=mounted_only))


def test_td121_triton_against_the_pin_in_torchs_metadata_and_two_tritons():
    pinned = with_torch(H100, torch_requires=('triton==3.5.0; platform_system == "Linux" and platform_machine == "x86_64"',),
                        python_platform="linux-x86_64", packages={**H100.torch.packages, "triton": "3.4.0"})
    finding = only(pinned, "TD121")
    assert finding.message == f"triton 3.4.0 is installed, but torch {H100.torch.version} was built with triton 3.5.0"
    assert "TD121" not in codes(with_torch(pinned, packages={**H100.torch.packages, "triton": "3.5.0"}))
    assert "TD121" not in codes(with_torch(pinned, python_platform="win-amd64")), "the pin's marker keeps Windows out"
    assert "TD121" not in codes(with_torch(pinned, torch_requires=None)), "unread metadata is unknown"
    two = only(with_torch(pinned, packages={"triton": "3.5.0", "pytorch-triton": "3.5.0+git7416ffcb"}), "TD121")
    assert "2 triton distributions" in two.message and two.fix.commands[0] == "uv pip uninstall pytorch-triton"


def test_td122_two_torch_installs_or_cuda_wheels_in_another_folder():
    twice = only(with_torch(H100, torch_installs=("2.5.1 in /env/lib/python3.12/site-packages",
                                                  "2.4.0 in /home/u/.local/lib/python3.12/site-packages")), "TD122")
    assert "installed 2 times" in twice.message
    apart = only(with_torch(H100, package_folders={"torch": "/v/lib64/python3.12/site-packages",
                                                   "nvidia-cudnn-cu12": "/v/lib/python3.12/site-packages"}), "TD122")
    assert "its CUDA wheels are in /v/lib/python3.12/site-packages" in apart.message
    assert "TD122" not in codes(with_torch(H100, torch_installs=("2.5.1 in /env",), package_folders={"torch": "/env"}))


def test_td240_mig_is_noted_and_warned_when_no_instance_is_visible():
    gpu = replace(H100.nvml.gpus[0], mig_enabled=True)
    snapshot = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)))
    assert only(snapshot, "TD240").severity is Severity.INFO
    hidden = with_torch(snapshot, device_count=0, devices=())
    assert only(hidden, "TD240").severity is Severity.WARNING
    assert "TD240" not in codes(H100)


def test_td240_mig_mode_without_a_mig_device_is_an_error_when_no_gpu_is_left_to_cuda():
    """MIG mode survives a reboot, its devices do not (NVIDIA/k8s-device-plugin#225): CUDA has no device at all."""
    from torchdoctor.snapshot import MigDevice

    empty = replace(H100.nvml.gpus[0], mig_enabled=True, mig_devices=())
    alone = replace(H100, nvml=replace(H100.nvml, gpus=(empty,)), system=replace(H100.system, container=None))
    finding = only(alone, "TD240")
    assert finding.severity is Severity.ERROR and "no MIG device created" in finding.message
    assert any("-cgi <profile> -C" in c for c in finding.fix.commands)
    whole = replace(H100.nvml.gpus[0], index=1, mig_enabled=False)
    assert only(replace(alone, nvml=replace(H100.nvml, gpus=(empty, whole))), "TD240").severity is Severity.WARNING
    boxed = only(replace(alone, system=replace(alone.system, container="docker")), "TD240")
    assert "this docker container sees no MIG device" in boxed.message and "device=MIG-" in boxed.fix.commands[1]
    created = replace(empty, mig_devices=(MigDevice(uuid="MIG-3f1", memory_total=40 << 30),))
    assert only(replace(alone, nvml=replace(H100.nvml, gpus=(created,))), "TD240").severity is Severity.INFO


def test_td240_several_mig_devices_need_one_process_each_named_by_uuid():
    """A CUDA process enumerates one MIG device: DDP over two in one process fails (pytorch/pytorch#130181)."""
    from torchdoctor.snapshot import MigDevice

    devices = (MigDevice(uuid="MIG-aaaa", memory_total=40 << 30), MigDevice(uuid="MIG-bbbb", memory_total=40 << 30))
    gpu = replace(H100.nvml.gpus[0], mig_enabled=True, mig_devices=devices)
    split = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)))
    finding = only(split, "TD240")
    assert finding.severity is Severity.WARNING and "2 MIG devices, but a CUDA process sees only one" in finding.message
    assert finding.fix.commands == ("CUDA_VISIBLE_DEVICES=MIG-aaaa python train.py",
                                    "CUDA_VISIBLE_DEVICES=MIG-bbbb python train.py")
    one = replace(split, system=replace(split.system, environment={"CUDA_VISIBLE_DEVICES": "MIG-bbbb"}))
    assert only(one, "TD240").severity is Severity.INFO
    both = replace(split, system=replace(split.system, environment={"CUDA_VISIBLE_DEVICES": "MIG-aaaa,MIG-bbbb"}))
    assert only(both, "TD240").severity is Severity.WARNING
    # A batch scheduler gives a one-slice job its MIG device by index: one process, one device, as meant.
    slurm = replace(split, system=replace(split.system, environment={"CUDA_VISIBLE_DEVICES": "0"}))
    assert only(slurm, "TD240").severity is Severity.INFO


def test_td120_torchvision_from_another_release():
    # The Docker case: torchvision 0.20.1 (torch 2.5 line) installed beside torch 2.9.1.
    snapshot = with_torch(H100, version="2.9.1+cu128", local_tag="cu128", cuda="12.8",
                          packages={"torchvision": "0.20.1+cu128"})
    diagnosis = only(snapshot, "TD120")
    assert "torchvision 0.20.1+cu128 belongs to another torch release (torch 2.9 goes with torchvision 0.24)" in diagnosis.message


def test_td120_variant_tags_differ():
    snapshot = with_torch(H100, version="2.9.1+cu128", local_tag="cu128", cuda="12.8",
                          packages={"torchvision": "0.24.1+cu126", "torchaudio": "2.9.1+cpu"})
    messages = [d.message for d in run_checks(snapshot) if d.code == "TD120"]
    assert any("torchvision is a cu126 build but torch is a cu128 build" in m for m in messages)
    assert any("torchaudio is a cpu build but torch is a cu128 build" in m for m in messages)


def test_td120_silent_on_the_recorded_h100_with_pypi_torchvision():
    assert H100.torch.packages["torchvision"] == "0.26.0"
    assert "TD120" not in codes(H100)


def test_td110_newer_torch_is_said_and_verdicts_rest_on_the_probe():
    snapshot = with_torch(H100, version="2.16.0.dev20261120+cu132", local_tag="cu132", cuda="13.2")
    diagnosis = only(snapshot, "TD110")
    assert diagnosis.severity is Severity.INFO
    assert "they know torch up to 2.15.0, as of 2026-11-23" in diagnosis.message
    assert "TD220" not in codes(snapshot)  # the probe's own arch list still covers sm_90
    assert "TD110" not in codes(H100)


def test_td200_cpu_laptop_and_mac_are_healthy_with_a_note():
    laptop = replace(with_torch(H100, version="2.13.0+cpu", local_tag="cpu", cuda=None, cuda_available=None, devices=(),
                                arch_list=(), cudnn_version=None, packages={}),
                     nvml=NO_NVML, system=NO_GPU_SYSTEM, project=replace(H100.project, pyproject=None, lock=None))
    assert [(d.code, d.severity) for d in run_checks(laptop)] == [("TD200", Severity.INFO)]
    mac = replace(laptop, torch=replace(laptop.torch, version="2.9.1", mps_available=True),
                  system=SystemInfo(os_name="Darwin", architecture="arm64"))
    (note,) = run_checks(mac)
    assert (note.code, note.severity) == ("TD200", Severity.INFO)
    assert "MPS" in note.message
    assert "TD200" not in codes(H100)


def test_td260_system_cudnn_ahead_of_the_wheels():
    system = replace(H100.system, library_path_cuda={"/usr/local/cuda-12.4/lib64": ("libcublas", "libcudnn", "libnvJitLink")},
                     environment={**H100.system.environment, "LD_LIBRARY_PATH": "/usr/local/cuda-12.4/lib64"})
    diagnosis = only(replace(H100, system=system), "TD260")
    assert diagnosis.severity is Severity.WARNING
    assert "/usr/local/cuda-12.4/lib64" in diagnosis.message
    # The recorded machine's LD_LIBRARY_PATH holds driver libraries only, which is normal.
    assert "TD260" not in codes(H100)


def test_every_rule_has_tests_that_name_its_code():
    """A guard: a new rule without a positive and a negative test is caught here, by name."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    untested = [code for code in RULES if code != "TD000" and tests.lower().count(code.lower()) < 2]
    assert untested == []


def test_a_rule_that_reads_only_the_project_finds_the_same_on_any_machine():
    """`check --no-machine` (the CI lint, the pre-commit hook) runs the rules that declare `reads="project"`, chosen
    by that declaration, not by the module a rule lives in. The declaration must be true: on the real field
    projects, each such rule finds exactly the same with the recorded H100, the recorded WSL2 Blackwell machine or
    no machine at all."""
    import shutil

    from torchdoctor.checks import PROJECT_RULES
    from torchdoctor.probes.collect import project_only_snapshot, with_project

    assert PROJECT_RULES == {code for code, rule in RULES.items() if rule.reads == "project"}
    assert {"TD301", "TD401", "TD530"} <= PROJECT_RULES and not {"TD220", "TD404", "TD501"} & PROJECT_RULES
    machines = [Snapshot.from_json((SNAPSHOTS / name).read_text(encoding="utf-8"))
                for name in ("h100-pypi.json", "wsl2-rtx5060ti-nightly.json")]
    field = sorted((FIXTURES / "field").glob("*__pyproject.toml"))
    assert field
    for number, pyproject in enumerate(field):
        folder = Path(tempfile.mkdtemp()) / f"p{number}"
        folder.mkdir()
        shutil.copy(pyproject, folder / "pyproject.toml")
        lock = pyproject.with_name(pyproject.name.replace("__pyproject.toml", "__uv.lock"))
        if lock.exists():
            shutil.copy(lock, folder / "uv.lock")
        alone = project_only_snapshot(folder)
        said = {(d.code, d.message) for d in run_checks(alone, codes=PROJECT_RULES)}
        for machine in machines:
            on_machine = with_project(machine, folder)
            found = {(d.code, d.message) for d in run_checks(on_machine, codes=PROJECT_RULES)}
            assert found == said, (pyproject.name, found ^ said)
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_td527_a_gpu_whose_memory_other_processes_hold_is_said_with_how_to_see_them():
    """70 of 80 GiB in use while torchdoctor probes: a note naming the GPU, with the commands that show the processes
    (a stopped notebook kernel holding memory is a common cause of "CUDA out of memory"). The recorded H100, its
    memory free, says nothing."""
    gpu = replace(H100.nvml.gpus[0], memory_used=70 << 30, memory_total=80 << 30)
    held = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)))
    finding = only(held, "TD527")
    assert finding.severity is Severity.INFO and finding.message.startswith("GPU 0 (NVIDIA H100 80GB HBM3) has 70.0 of 80 GiB")
    assert any("--query-compute-apps" in c for c in finding.fix.commands)
    assert "TD527" not in codes(H100)


def test_td527_a_stopped_process_holding_the_gpu_is_named_with_the_command_that_ends_it():
    """A job stopped with Ctrl+Z (state T) keeps its memory and never gives it back: a warning naming its pid, with
    `kill`; a process of this user that nvidia-smi does not list but has /dev/nvidia0 open under init (a killed job's
    worker) is named from /proc."""
    from torchdoctor.snapshot import GpuHolder, GpuProcess

    stopped = GpuProcess(pid=4242, name="python", used_memory=60 << 30, state="T")
    gpu = replace(H100.nvml.gpus[0], memory_used=70 << 30, memory_total=80 << 30, processes=(stopped,), minor_number=0)
    worker = GpuHolder(pid=5151, name="pt_data_worker", command="python train.py", state="S", parent=1, devices=(0,))
    held = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)), system=replace(H100.system, gpu_holders=(worker,)))
    finding = only(held, "TD527")
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith("GPU 0 (NVIDIA H100 80GB HBM3): process 4242 (python) is stopped")
    assert finding.fix.commands[0].startswith("kill 4242; kill -CONT 4242")
    assert [e.fact for e in finding.evidence] == ["GPU 0 memory in use", "process 4242", "process 5151"]
    assert "/proc/5151/fd -> /dev/nvidia0" in [e.source for e in finding.evidence]
    assert "5151 (python train.py, sleeping; parent 1" in finding.explanation

    traced = replace(gpu, memory_used=2 << 30, processes=(replace(stopped, state="t", used_memory=1 << 30),))
    note = only(replace(H100, nvml=replace(H100.nvml, gpus=(traced,))), "TD527")
    assert note.severity is Severity.INFO and "is stopped by a debugger" in note.message
    assert note.fix.commands[0].startswith("kill -KILL 4242")

    running = replace(gpu, memory_used=2 << 30, processes=(replace(stopped, state="R"),))
    assert "TD527" not in codes(replace(H100, nvml=replace(H100.nvml, gpus=(running,)))), "a job that runs, little held"
    elsewhere = replace(worker, state="T", devices=(1,))  # another GPU's device file: not this one's holder
    assert "TD527" not in codes(replace(H100, system=replace(H100.system, gpu_holders=(elsewhere,))))


def test_td527_a_running_jobs_own_workers_and_a_gpu_monitor_are_not_left_behind():
    """A training job NVML lists (10 of 80 GiB) with its forked DataLoader workers, which keep /dev/nvidia0 open and
    which NVML does not list; and nvtop, which opens the device from a shell: nothing is left behind, nothing said."""
    from torchdoctor.snapshot import GpuHolder, GpuProcess

    job = GpuProcess(pid=1000, name="python", used_memory=10 << 30, state="S")
    gpu = replace(H100.nvml.gpus[0], memory_used=(10 << 30) + (300 << 20), memory_total=80 << 30, processes=(job,),
                  minor_number=0)
    workers = tuple(GpuHolder(pid=1001 + i, name="python", command="python train.py", state="S", parent=1000,
                              devices=(0,)) for i in range(4))
    monitor = GpuHolder(pid=2000, name="nvtop", command="nvtop", state="S", parent=777, devices=(0,))
    busy = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)), system=replace(H100.system, gpu_holders=(*workers, monitor)))
    assert "TD527" not in codes(busy)
    # The job killed: its workers live on under init, unlisted, with the memory NVML's list no longer accounts for.
    orphans = tuple(replace(w, parent=1) for w in workers)
    killed = replace(busy, nvml=replace(H100.nvml, gpus=(replace(gpu, processes=()),)),
                     system=replace(busy.system, gpu_holders=(*orphans, monitor)))
    finding = only(killed, "TD527")
    assert finding.severity is Severity.INFO and "left under init that nvidia-smi does not list: 1001" in finding.message


def test_td527_memory_held_where_nobody_visible_holds_it_says_where_else_it_can_be():
    gpu = replace(H100.nvml.gpus[0], memory_used=70 << 30, memory_total=80 << 30, processes=())
    finding = only(replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)), system=replace(H100.system, gpu_holders=())),
                   "TD527")
    assert finding.severity is Severity.INFO and "another container or on the host" in finding.explanation
    assert "NVML lists no process on it, and none of this user's processes has it open" in finding.explanation
    unread = only(replace(H100, nvml=replace(H100.nvml, gpus=(replace(gpu, processes=None),)),
                          system=replace(H100.system, gpu_holders=None)), "TD527")
    assert "NVML could not list its processes, and the scan for this user's processes" in unread.explanation


# AMD GPUs (KFD topology) against torch's ROCm or CUDA build -------------------------------------------------------

from torchdoctor.snapshot import AmdGpu  # noqa: E402

RX6600 = (AmdGpu(node=1, gfx_target="gfx1032", device_id=0x73FF),)
AMD_MACHINE = replace(H100, nvml=NO_NVML, system=replace(H100.system, amd_gpus=RX6600, nvidia_kernel_driver=None,
                                                         gpu_device_nodes=("/dev/kfd",), rocm_version="6.2.0-66"))
ROCM62 = ("gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100", "gfx1101", "gfx1102")


def test_td224_an_rdna2_card_missing_from_the_rocm_build_is_told_the_family_override():
    sick = with_torch(AMD_MACHINE, version="2.5.1+rocm6.2", hip="6.2.41133-dd7f95766", cuda=None, arch_list=ROCM62)
    found = only(sick, "TD224")
    assert found.severity is Severity.ERROR and "gfx1032" in found.message
    assert found.fix is not None and found.fix.commands == ("export HSA_OVERRIDE_GFX_VERSION=10.3.0",)
    overridden = replace(sick, system=replace(sick.system, environment={"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}))
    assert "TD224" not in codes(overridden)
    # An override to a target the build lacks is no cure, and the finding says what it made ROCm look for.
    wrong = replace(sick, system=replace(sick.system, environment={"HSA_OVERRIDE_GFX_VERSION": "10.3.2"}))
    assert "HSA_OVERRIDE_GFX_VERSION=10.3.2" in only(wrong, "TD224").message


def test_td224_silent_when_the_build_lists_the_target_or_nothing_was_read():
    listed = with_torch(AMD_MACHINE, version="2.5.1+rocm6.2", hip="6.2", cuda=None, arch_list=ROCM62 + ("gfx1032",))
    assert "TD224" not in codes(listed)
    unread = replace(listed, system=replace(listed.system, amd_gpus=None))
    assert "TD224" not in codes(with_torch(unread, arch_list=ROCM62))  # the GPU's target unknown: no finding
    assert "TD224" not in codes(with_torch(listed, arch_list=()))  # the build's list unknown: no finding


def test_td225_a_cuda_build_on_an_amd_only_machine_is_an_error_and_not_a_deliberate_cpu_setup():
    cuda_build = with_torch(AMD_MACHINE, cuda_available=False, devices=())
    found = run_checks(cuda_build)
    assert [d.code for d in found if d.code in ("TD225", "TD200")] == ["TD225"]
    assert "ROCm 6.2.0 is installed here" in only(cuda_build, "TD225").explanation
    assert "TD225" not in codes(replace(cuda_build, system=replace(cuda_build.system, amd_gpus=())))
    assert "TD225" not in codes(with_torch(cuda_build, hip="6.2"))
    assert "TD225" not in codes(replace(cuda_build, nvml=H100.nvml))  # an NVIDIA GPU too: the CUDA build may be meant


def test_td528_iommu_without_passthrough_is_a_note_with_several_gpus_only():
    """Recordings from real threads (tests/fixtures/reports/nccl-p2p-acs-*) test the cause; here its edges: one GPU,
    an IOMMU in passthrough, or facts not read keep it silent; NCCL_P2P_DISABLE set (the usual workaround) makes
    it a warning; a fleet's failed collective names it beside NCCL's own error."""
    from torchdoctor.snapshot import FleetInfo

    two = replace(H100, nvml=replace(H100.nvml, gpus=H100.nvml.gpus * 2),
                  system=replace(H100.system, iommu_groups=40, kernel_iommu_options=()))
    assert only(two, "TD528").severity is Severity.INFO
    assert "TD528" not in codes(replace(two, nvml=H100.nvml, torch=replace(H100.torch, devices=H100.torch.devices[:1])))
    assert "TD528" not in codes(replace(two, system=replace(two.system, kernel_iommu_options=("iommu=pt",))))
    assert "TD528" not in codes(replace(two, system=replace(two.system, kernel_iommu_options=None)))
    assert "TD528" not in codes(replace(two, system=replace(two.system, iommu_groups=0)))
    disabled = replace(two, system=replace(two.system, environment={"NCCL_P2P_DISABLE": "1"}))
    assert only(disabled, "TD528").severity is Severity.WARNING
    failed = replace(two, fleet=FleetInfo(world_size=2, errors=("NCCL error: unhandled system error",)))
    assert "TD528" in only(failed, "TD706").explanation


def test_td104_no_wheel_for_a_python_newer_than_the_tables_and_silent_where_one_exists():
    missing = with_torch(H100, status="not-installed", python_version="3.19.0", python_platform="linux-x86_64")
    found = only(missing, "TD104")
    assert found.severity is Severity.WARNING and "Python 3.19" in found.message
    assert "TD104" not in codes(with_torch(missing, python_version="3.12.3"))
    assert "TD104" not in codes(with_torch(missing, python_platform=None))  # the platform unread: unknown
    assert only(with_torch(missing, python_version="3.12.3", python_platform="linux-i686"), "TD104").severity is Severity.ERROR


def test_td210_inside_a_container_says_restart_the_container_not_reboot():
    """A reboot inside a container changes nothing of the host's kernel module (review of issue 29: TD210 offered
    `sudo reboot` beside TD525's driver-in-the-image)."""
    mismatch = replace(H100, nvml=NvmlInfo(status="rm-version-mismatch", error="Driver/library version mismatch"))
    host = replace(mismatch, system=replace(mismatch.system, container=None))
    assert only(host, "TD210").fix.commands == ("sudo reboot",)
    inside = replace(mismatch, system=replace(mismatch.system, container="docker"))
    assert "sudo reboot" not in only(inside, "TD210").fix.commands
    assert any(c.startswith("docker restart") for c in only(inside, "TD210").fix.commands)


def test_review_amd_the_cpus_own_gpu_hidden_or_beside_a_card_and_no_override_across_families():
    """The GPU built into a Ryzen (gfx1036) beside a CPU torch is a healthy CPU setup, not TD225; beside an RX 7900
    (gfx1100, in the build) it is what fails the build, and hiding it is the cure, not an override that would apply
    to the card too; hidden already by HIP_VISIBLE_DEVICES, nothing is said. gfx90a never gets gfx900's code."""
    apu = AmdGpu(node=1, gfx_target="gfx1036", integrated=True)
    card = AmdGpu(node=2, gfx_target="gfx1100", integrated=False)
    laptop = replace(AMD_MACHINE, system=replace(AMD_MACHINE.system, amd_gpus=(apu,)))
    cpu_build = with_torch(laptop, version="2.5.1+cpu", local_tag="cpu", cuda=None, cuda_available=False, devices=())
    found = codes(cpu_build)
    assert "TD225" not in found and "TD200" in found
    desk = replace(AMD_MACHINE, system=replace(AMD_MACHINE.system, amd_gpus=(card, apu)))
    rocm = with_torch(desk, version="2.5.1+rocm6.2", hip="6.2", cuda=None, arch_list=ROCM62)
    fix = only(rocm, "TD224").fix
    assert fix is not None and fix.commands == ("export HIP_VISIBLE_DEVICES=0",)
    hidden = replace(rocm, system=replace(rocm.system, environment={"HIP_VISIBLE_DEVICES": "0"}))
    assert "TD224" not in codes(hidden)
    mi250 = replace(AMD_MACHINE, system=replace(AMD_MACHINE.system, amd_gpus=(AmdGpu(node=1, gfx_target="gfx90a"),)))
    old_build = with_torch(mi250, version="1.8.1+rocm4.0.1", hip="4.0", cuda=None, arch_list=("gfx900", "gfx906", "gfx908"))
    assert "HSA_OVERRIDE" not in " ".join(only(old_build, "TD224").fix.commands)
    odd = replace(rocm, system=replace(rocm.system, environment={"HSA_OVERRIDE_GFX_VERSION": "1\u00b2.3.0"}))
    assert "TD000" not in codes(odd)  # a Unicode digit is no version: no crash


def test_td225_a_cpu_build_beside_a_discrete_amd_gpu_is_not_a_deliberate_cpu_setup():
    cpu_build = with_torch(AMD_MACHINE, version="2.5.1+cpu", local_tag="cpu", cuda=None, cuda_available=False, devices=())
    found = codes(cpu_build)
    assert "TD225" in found and "TD200" not in found


def test_td528_passthrough_said_as_a_kernel_boolean_is_passthrough():
    two = replace(H100, nvml=replace(H100.nvml, gpus=H100.nvml.gpus * 2),
                  system=replace(H100.system, iommu_groups=40, kernel_iommu_options=("iommu.passthrough=y",)))
    assert "TD528" not in codes(two)
    assert "TD528" in codes(replace(two, system=replace(two.system, kernel_iommu_options=("iommu.passthrough=0",))))


def test_td710_silent_when_nvml_lists_pids_of_another_namespace():
    from torchdoctor.snapshot import FleetGemm, FleetInfo, FleetRank

    fleet = FleetInfo(world_size=1, ranks=(FleetRank(rank=0, pid=12),),
                      gemm=(FleetGemm(rank=0, dtype="bf16", n=8192, tflops=670.0, processes=(900000,)),))
    assert "TD710" not in codes(replace(H100, fleet=fleet))
    shared = replace(fleet, gemm=(FleetGemm(rank=0, dtype="bf16", n=8192, tflops=300.0, processes=(12, 900000)),))
    assert "TD710" in codes(replace(H100, fleet=shared))


def test_td260_wheel_with_its_own_cudnn_against_a_system_one_and_a_source_build_left_alone():
    """A +cu113 wheel (cuDNN inside torch/lib) with a system Python (prefix /usr): /usr/local/cuda/lib64's cuDNN still
    shadows it (only <prefix>/lib is the interpreter's own). A source build linked against the cluster's cuDNN is
    what it was built with: nothing said."""
    wheel = with_torch(H100, version="1.12.1+cu113", cuda="11.3", cudnn_version=8302, packages={"torch": "1.12.1+cu113"},
                       python_prefix="/usr")
    wheel = replace(wheel, system=replace(wheel.system, library_path_cuda={"/usr/local/cuda/lib64": ("libcudnn",)},
                                          environment={"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"}))
    assert only(wheel, "TD260").severity is Severity.WARNING
    source = with_torch(wheel, version="2.4.0a0+git1234", packages={"torch": "2.4.0a0+git1234"})
    assert "TD260" not in codes(source)


def test_td104_a_requirements_file_pinning_a_torch_without_this_pythons_wheel(tmp_path):
    """`pip install -r requirements.txt` with torch==2.2.0 on Python 3.13 finds no version (torch 2.2 has wheels for
    3.8-3.12, PYPI-JSON in the tables): the file and line are named; on 3.12 nothing is said; a range is no pin."""
    from torchdoctor.probes.project import probe_project

    (tmp_path / "requirements.txt").write_text("numpy<2\ntorch==2.2.0\n", encoding="utf-8")
    project = probe_project(tmp_path)
    missing = replace(with_torch(H100, status="not-installed", python_version="3.13.1", python_platform="linux-x86_64"),
                      project=project)
    found = only(missing, "TD104")
    assert found.severity is Severity.ERROR and "requirements.txt:2 pins torch 2.2.0" in found.message
    assert "TD104" not in codes(with_torch(missing, python_version="3.12.3"))
    (tmp_path / "requirements.txt").write_text("torch>=2.2\n", encoding="utf-8")
    assert "TD104" not in codes(replace(missing, project=probe_project(tmp_path)))


def test_td529_peer_access_reported_between_geforce_cards_over_pcie_is_warned_until_nccl_is_kept_off_it():
    """Two RTX 3090s on driver 545.23.08, which reported peer access: DDP hung (Lightning-AI/pytorch-lightning#19425)."""
    from torchdoctor.snapshot import PeerLink

    cards = tuple(replace(H100.nvml.gpus[0], index=i, name="NVIDIA GeForce RTX 3090", compute_capability=(8, 6))
                  for i in range(2))
    reported = (PeerLink(gpus=(0, 1), read="ok", nvlink="not-supported"),)
    sick = replace(H100, nvml=replace(H100.nvml, gpus=cards, peer_links=reported, driver_version="545.23.08"))
    finding = only(sick, "TD529")
    assert finding.severity is Severity.WARNING and "545.23.08" in finding.message
    assert ("peer access GPU 0 <-> GPU 1", "ok") in [(e.fact, e.value) for e in finding.evidence]
    assert finding.fix.commands[0].startswith("export NCCL_P2P_DISABLE=1")
    for environment in ({"NCCL_P2P_DISABLE": "1"}, {"NCCL_P2P_LEVEL": "NVL"}, {"NCCL_P2P_LEVEL": "LOC"}):
        kept_off = only(replace(sick, system=replace(sick.system, environment=environment)), "TD529")
        assert kept_off.severity is Severity.INFO and "not direct copies between the GPUs" in kept_off.message
    assert only(replace(sick, system=replace(sick.system, environment={"NCCL_P2P_LEVEL": "PHB"})),
                "TD529").severity is Severity.WARNING  # PHB still lets NCCL use PCIe peer-to-peer
    refused = (PeerLink(gpus=(0, 1), read="not-supported", nvlink="not-supported"),)  # driver 535: no peer access
    assert "TD529" not in codes(replace(sick, nvml=replace(sick.nvml, peer_links=refused)))
    bridged = (PeerLink(gpus=(0, 1), read="ok", nvlink="ok"),)  # an NVLink bridge carries it
    assert "TD529" not in codes(replace(sick, nvml=replace(sick.nvml, peer_links=bridged)))
    datacenter = replace(sick, nvml=replace(sick.nvml, gpus=tuple(replace(g, name="NVIDIA A100-PCIE-40GB") for g in cards)))
    assert "TD529" not in codes(datacenter)
    assert "TD529" not in codes(replace(sick, nvml=replace(sick.nvml, peer_links=None)))  # unknown: silent


def test_td226_rocm_cannot_open_the_gpus_device_files_outside_their_group_or_in_a_container_without_them():
    from torchdoctor.snapshot import DeviceFile

    rocm = with_torch(AMD_MACHINE, version="2.5.1+rocm6.2", hip="6.2", cuda=None, arch_list=ROCM62 + ("gfx1032",))
    locked = (DeviceFile("/dev/kfd", group="render", accessible=False),
              DeviceFile("/dev/dri/renderD128", group="render", accessible=False))
    sick = replace(rocm, system=replace(rocm.system, amd_device_files=locked, user_groups=("alice", "sudo"),
                                        container=None))
    finding = only(sick, "TD226")
    assert finding.severity is Severity.ERROR
    assert finding.message == ("this user may not open /dev/kfd, /dev/dri/renderD128 (group render, which this session "
                               "is not in): ROCm cannot use the AMD GPU")
    assert finding.fix.commands[0].startswith("sudo usermod -aG render $USER")
    joined = (DeviceFile("/dev/kfd", group="render", accessible=True),
              DeviceFile("/dev/dri/renderD128", group="render", accessible=True))
    assert "TD226" not in codes(replace(sick, system=replace(sick.system, amd_device_files=joined)))
    bare = replace(rocm, system=replace(rocm.system, amd_device_files=(), container="docker"))
    assert "--device=/dev/kfd" in only(bare, "TD226").fix.commands[0]
    assert "TD226" not in codes(replace(bare, system=replace(bare.system, amd_device_files=None)))  # not read
    assert "TD226" not in codes(with_torch(sick, hip=None, cuda="12.4"))  # not a ROCm build: TD225's case
    # In a container the host's render group has a number the container does not name (ROCm/k8s-device-plugin#39).
    numeric = tuple(replace(f, group="106") for f in locked)
    inside = replace(sick, system=replace(sick.system, amd_device_files=numeric, container="docker"))
    assert "--group-add $(stat -c %g /dev/kfd)" in only(inside, "TD226").fix.commands[0]
    # /dev/kfd at 0600 root:root admits no group (ROCm/ROCT-Thunk-Interface#36): a udev rule, not usermod.
    root_only = (DeviceFile("/dev/kfd", group="root", accessible=False, group_rw=False),) + locked[1:]
    udev = only(replace(sick, system=replace(sick.system, amd_device_files=root_only)), "TD226")
    assert "admits root alone" in udev.message and "udev/rules.d" in udev.fix.commands[0]


def test_td123_an_nvidia_wheel_moved_away_from_torchs_pin_is_named_by_what_it_breaks():
    """torch 2.4.1 pins nvidia-cudnn-cu12==9.1.0.70; a TensorFlow install beside it moves cuDNN to 8.9."""
    pins = ('nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"',
            'nvidia-nvjitlink-cu12==12.4.127; platform_system == "Linux" and platform_machine == "x86_64"',
            'nvidia-nccl-cu12==2.20.5; platform_system == "Linux" and platform_machine == "x86_64"')
    fine = {"nvidia-cudnn-cu12": "9.1.0.70", "nvidia-nvjitlink-cu12": "12.4.127", "nvidia-nccl-cu12": "2.20.5"}
    pinned = with_torch(H100, version="2.4.1+cu124", torch_requires=pins, packages=fine,
                        python_platform="Linux-6.8.0-x86_64-with-glibc2.35", python_version="3.11.9")
    assert "TD123" not in codes(pinned)
    moved = with_torch(pinned, packages={**fine, "nvidia-cudnn-cu12": "8.9.2.26"})
    finding = only(moved, "TD123")
    assert finding.severity is Severity.ERROR and finding.message == (
        "nvidia-cudnn-cu12 8.9.2.26 is installed, but torch 2.4.1+cu124 was built with nvidia-cudnn-cu12 9.1.0.70: torch "
        "refuses a cuDNN of another major or an older minor")
    assert finding.fix.commands[0].startswith("uv pip install 'nvidia-cudnn-cu12==9.1.0.70'")
    # A patch apart, or a newer minor of the same major, keeps the ABI: silent. An older minor: a warning.
    assert "TD123" not in codes(with_torch(pinned, packages={**fine, "nvidia-nccl-cu12": "2.20.3"}))
    assert "TD123" not in codes(with_torch(pinned, packages={**fine, "nvidia-nccl-cu12": "2.21.5"}))
    assert only(with_torch(pinned, packages={**fine, "nvidia-nccl-cu12": "2.18.1"}), "TD123").severity is Severity.WARNING
    # libcusparseLt failing is not libcusparse's doing: the error names the wheel whose file it is.
    lt = with_torch(pinned, status="import-failed", error="OSError: libcusparseLt.so.0: cannot open shared object file",
                    torch_requires=pins + ('nvidia-cusparse-cu12==12.3.1.170; platform_system == "Linux"',),
                    packages={**fine, "nvidia-cusparse-cu12": "12.1.0.106"})
    assert "fails on" not in only(lt, "TD123").message
    # Gone, and `import torch` fails on its library: an error naming it.
    gone = with_torch(pinned, status="import-failed", packages={k: v for k, v in fine.items() if "nvjitlink" not in k},
                      error="ImportError: libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version "
                            "libnvJitLink.so.12")
    assert only(gone, "TD123").severity is Severity.ERROR and "fails on libnvJitLink" in only(gone, "TD123").message
    # A marker that does not hold here (macOS, aarch64) or an unknown platform: silent.
    assert "TD123" not in codes(with_torch(moved, python_platform="macOS-14.5-arm64-arm-64bit"))
    assert "TD123" not in codes(with_torch(moved, python_platform=None))


def test_td123_one_librarys_wheels_for_two_cuda_lines_overwrite_each_other():
    """pytorch/pytorch#186591: nvidia-nccl-cu12 beside nvidia-nccl-cu13, "undefined symbol ncclCommResume"."""
    pins = ('nvidia-nccl-cu13==2.28.9; platform_system == "Linux"',)
    both = with_torch(H100, torch_requires=pins, python_platform="linux-x86_64", python_version="3.12.3",
                      packages={"nvidia-nccl-cu12": "2.29.3", "nvidia-nccl-cu13": "2.28.9"})
    finding = only(both, "TD123")
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith("nvidia-nccl-cu12 2.29.3 and nvidia-nccl-cu13 2.28.9 are both installed")
    assert finding.fix.commands == ("uv pip uninstall nvidia-nccl-cu12", "uv pip install --reinstall nvidia-nccl-cu13")
    failing = with_torch(both, status="import-failed", error="ImportError: .../libtorch_cuda.so: undefined symbol: "
                                                            "ncclCommResume")
    assert only(failing, "TD123").severity is Severity.ERROR
    assert "TD123" not in codes(with_torch(both, packages={"nvidia-nccl-cu13": "2.28.9"}))
    # cuBLAS of two CUDA lines: libcublas.so.11 and libcublas.so.12, two files beside each other: nothing to say.
    assert "TD123" not in codes(with_torch(both, packages={"nvidia-cublas-cu11": "11.11.3.6", "nvidia-cublas-cu12": "12.4.5.8",
                                                           "nvidia-nccl-cu13": "2.28.9"}))


def test_a_fleets_failed_collective_names_a_small_shm_and_geforce_peer_access_beside_ncc_ls_error():
    """NCCL's "unhandled system error" says nothing of why; the machine's facts do: /dev/shm at Docker's 64 MB
    (NVIDIA/nccl#342) or the driver reporting peer access between GeForce cards (Lightning-AI/pytorch-lightning#19425)."""
    from torchdoctor.snapshot import FleetInfo, PeerLink, ShmInfo

    cards = tuple(replace(H100.nvml.gpus[0], index=i, name="NVIDIA GeForce RTX 4090", compute_capability=(8, 9))
                  for i in range(2))
    failed = replace(H100, fleet=FleetInfo(world_size=2, errors=("NCCL error: unhandled system error",)),
                     nvml=replace(H100.nvml, gpus=cards),
                     system=replace(H100.system, shm=ShmInfo(size_bytes=64 << 20, writable=True), iommu_groups=0))
    explanation = only(failed, "TD706").explanation
    assert "TD523" in explanation and "TD529" not in explanation
    reported = replace(failed, nvml=replace(failed.nvml, peer_links=(PeerLink(gpus=(0, 1), read="ok", nvlink="not-supported"),)),
                       system=replace(failed.system, shm=ShmInfo(size_bytes=16 << 30, writable=True)))
    finding = only(reported, "TD706")
    assert "TD529" in finding.explanation and "TD523" not in finding.explanation
    assert ("peer access GPU 0 <-> GPU 1", "ok") in [(e.fact, e.value) for e in finding.evidence]


def test_td537_a_gpu_host_with_docker_but_no_container_toolkit():
    """eduidl/ElasticFusion-Dockerfile#11: `--gpus` failed until the toolkit was installed; a warning where the project
    builds an image, a note otherwise; inside a container, or with any part of the toolkit, silent."""
    from torchdoctor.snapshot import DockerfileInfo

    host = replace(H100, system=replace(H100.system, container=None, container_tools={"docker": "/usr/bin/docker"}))
    note = only(host, "TD537")
    assert note.severity is Severity.INFO and note.message.startswith("docker is installed but the NVIDIA Container")
    assert any("nvidia-ctk runtime configure --runtime=docker" in c for c in note.fix.commands)
    built = replace(host, project=replace(host.project, dockerfile_details=(DockerfileInfo(path="Dockerfile"),)))
    assert only(built, "TD537").severity is Severity.WARNING
    with_toolkit = {"docker": "/usr/bin/docker", "nvidia-container-cli": "/usr/bin/nvidia-container-cli"}
    assert "TD537" not in codes(replace(built, system=replace(built.system, container_tools=with_toolkit)))
    assert "TD537" not in codes(replace(built, system=replace(built.system, container_tools={"podman": "/usr/bin/podman",
                                                                                             "cdi": "/etc/cdi/nvidia.yaml"})))
    assert "TD537" not in codes(replace(built, system=replace(built.system, container="docker")))
    assert "TD537" not in codes(replace(built, system=replace(built.system, container_tools=None)))  # not read
    assert "TD537" not in codes(replace(built, system=replace(built.system, container_tools={})))  # no engine


def test_td527_inside_a_container_a_stopped_job_nvml_names_by_its_host_pid_is_still_said():
    """NVML in a container may list the host's pid (not confirmed here: no state) with the memory; /proc finds the
    same job under its container pid, stopped. The memory is not taken as accounted for by the unconfirmed entry."""
    from torchdoctor.snapshot import GpuHolder, GpuProcess

    host_pid = GpuProcess(pid=3172554, name=None, used_memory=48 << 30, state=None)
    gpu = replace(H100.nvml.gpus[0], memory_used=(48 << 30) + (500 << 20), memory_total=80 << 30,
                  processes=(host_pid,), minor_number=0)
    job = GpuHolder(pid=57, name="python3", command="python3 -c …", state="T", parent=12, devices=(0,))
    boxed = replace(H100, nvml=replace(H100.nvml, gpus=(gpu,)), system=replace(H100.system, gpu_holders=(job,)))
    finding = only(boxed, "TD527")
    assert finding.severity is Severity.WARNING and "process 57 (python3 -c …) is stopped" in finding.message


def test_td537_a_compose_file_asking_for_the_gpu_makes_it_a_warning(tmp_path):
    """Read from real files: a compose.yaml with Compose's documented GPU request, and one without."""
    from torchdoctor.probes.project import compose_gpu_files

    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    deploy:\n      resources:\n        reservations:\n"
                                          "          devices:\n            - driver: nvidia\n              count: all\n"
                                          "              capabilities: [gpu]\n")
    (tmp_path / "docker-compose.yml").write_text("services:\n  db:\n    image: postgres\n")
    assert compose_gpu_files(tmp_path) == ("compose.yaml",)
    host = replace(H100, system=replace(H100.system, container=None, container_tools={"docker": "/usr/bin/docker"}),
                   project=replace(H100.project, compose_gpu_files=("compose.yaml",)))
    finding = only(host, "TD537")
    assert finding.severity is Severity.WARNING and "(compose.yaml asks for the GPU)" in finding.message
