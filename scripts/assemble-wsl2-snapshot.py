"""Assemble the snapshot of the nightly case's machine: an RTX 5060 Ti (Blackwell, sm_120) under WSL2.

No WSL machine is within reach of this project's GPU loans, so this snapshot is put together from
what real reports show, each fact from a cited source, and written with torchdoctor's own dataclasses
(so it always matches the schema). Run from the repository root after a schema change:

    .venv/bin/python scripts/assemble-wsl2-snapshot.py

Sources:
  CASE    ../shared/cases/nightly-cu128-wsl2: WSL2, Ubuntu 22.04, RTX 5060 Ti (sm_120), needs CUDA 12.8
          builds, PyTorch nightly cu128; Python ==3.10.*.
  S0      ../shared/research/scenarios.md section 0: the WSL2 kernel string form
          ("5.15.133.1-microsoft-standard-WSL2"), NVML reports the Windows driver number (572.83),
          /usr/lib/wsl/lib holds libcuda.so, libcuda.so.1, libcuda.so.1.1, libnvidia-ml.so.1 and
          nvidia-smi as regular files registered by /etc/ld.so.conf.d/ld.wsl.conf, no /proc/driver/nvidia.
  S7      scenarios.md S7 / microsoft/WSL#5548: ldconfig skips libcuda.so ("is not a symbolic link"),
          so `ldconfig -p` lists libcuda.so.1 and no libcuda.so.
  NV-CC   developer.nvidia.com/cuda-gpus: GeForce RTX 5060 Ti is compute capability 12.0.
  NV-5060 NVIDIA's RTX 5060 Ti product page: 16 GB GDDR7, PCIe 5.0 x8.
  CU128   scenarios.md section 0: a cu128 build's get_arch_list() is
          sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120.
  DRV     R570 (572.xx on Windows) is the first Windows driver branch for Blackwell, CUDA 12.8
          (cuda_drivers.toml; NVML encodes it 12080).
"""

from __future__ import annotations

from pathlib import Path

from torchdoctor import __version__
from torchdoctor.probes.project import probe_project
from torchdoctor.snapshot import (
    CudaDriverInfo,
    InterpreterInfo,
    MountInfo,
    NvmlGpu,
    NvmlInfo,
    Snapshot,
    SystemInfo,
    TorchDevice,
    TorchInfo,
    WslInfo,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "snapshots" / "wsl2-rtx5060ti-nightly.json"
DEMO = REPO / "src" / "torchdoctor" / "demo" / "snapshot.json"  # what `torchdoctor --demo` opens
PROJECT = "/home/dev/asr-server"
PYTHON = f"{PROJECT}/.venv/bin/python"
WSL_LIB = "/usr/lib/wsl/lib"
GPU_MEMORY = 16_311 * 2**20  # 16 GB GDDR7 as the driver reports it (NV-5060)


def main() -> None:
    project = probe_project(REPO / "tests" / "fixtures" / "cases" / "nightly-cu128-wsl2", "pyproject.toml in the current directory")
    snapshot = Snapshot(
        created_at="2026-11-23T12:00:00+00:00",
        torchdoctor_version=__version__,
        interpreter=InterpreterInfo(
            path=PYTHON, source=".venv", reason="the project's .venv, which `uv run` uses", environment=f"{PROJECT}/.venv",
            path_python="/usr/bin/python3",
        ),
        torch=TorchInfo(
            status="ok", duration_s=6.8, timings={"import_s": 3.9, "is_available_s": 1.6, "cuda_s": 0.4},
            python_version="3.10.12", python_executable=PYTHON, python_prefix=f"{PROJECT}/.venv",
            python_platform="Linux-5.15.167.4-microsoft-standard-WSL2-x86_64-with-glibc2.35",
            installed_version="2.10.0.dev20251010+cu128", location=f"{PROJECT}/.venv/lib/python3.10/site-packages/torch",
            version="2.10.0.dev20251010+cu128", local_tag="cu128", cuda="12.8", cudnn_version=91002, cuda_available=True,
            device_count=1,
            devices=(TorchDevice(index=0, name="NVIDIA GeForce RTX 5060 Ti", capability=(12, 0), total_memory=GPU_MEMORY,
                                 multiprocessors=36),),
            arch_list=("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"),
            cuda_driver=CudaDriverInfo(library="libcuda.so.1", init_result=0, device_count=1, driver_version=12080),
            nccl_version="2.27.3", packages={"pytorch-triton": "3.5.0+git7416ffcb", "torchaudio": "2.10.0.dev20251010+cu128",
                                             "torchvision": "0.25.0.dev20251010+cu128"},
        ),
        nvml=NvmlInfo(
            status="ok", driver_version="572.83", cuda_driver_version=12080, nvml_version="12.572.83",
            library_path=f"{WSL_LIB}/libnvidia-ml.so.1", duration_s=0.09,
            gpus=(NvmlGpu(index=0, name="NVIDIA GeForce RTX 5060 Ti", pci_bus_id="00000000:01:00.0", compute_capability=(12, 0),
                          memory_total=GPU_MEMORY, memory_used=1_210 * 2**20, pcie_gen_current=5, pcie_gen_max=5,
                          pcie_width_current=8, pcie_width_max=8, mig_enabled=None,
                          unavailable={"persistence_mode": "not supported"}),),
        ),
        system=SystemInfo(
            os_name="Linux", os_release="Ubuntu 22.04.5 LTS", kernel_release="5.15.167.4-microsoft-standard-WSL2",
            architecture="x86_64", libc="glibc 2.35", wsl="wsl2", cpu_model="AMD Ryzen 7 7700X 8-Core Processor", cpu_count=16,
            memory_total=31_300 * 2**20,
            environment={"PATH": f"{PROJECT}/.venv/bin:/usr/local/bin:/usr/bin:/bin:{WSL_LIB}", "VIRTUAL_ENV": f"{PROJECT}/.venv",
                         "WSL_DISTRO_NAME": "Ubuntu-22.04"},
            gpu_device_nodes=("/dev/dxg",),
            loader_cache={"libcuda.so.1": (f"{WSL_LIB}/libcuda.so.1",), "libnvidia-ml.so.1": (f"{WSL_LIB}/libnvidia-ml.so.1",)},
            loader_conf_dirs=(WSL_LIB, "/usr/local/lib", "/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"),
            nvidia_smi_path=f"{WSL_LIB}/nvidia-smi",
            wsl_details=WslInfo(dxg=True, lib_files={name: "file" for name in
                                                     ("libcuda.so", "libcuda.so.1", "libcuda.so.1.1", "libnvidia-ml.so.1", "nvidia-smi")}),
            project_mount=MountInfo(PROJECT, "/", "ext4"),
            uv_cache_mount=MountInfo("/home/dev/.cache/uv", "/", "ext4"),
        ),
        project=type(project)(**{**project.__dict__, "root": PROJECT}),
    )
    for path in (OUT, DEMO):
        path.write_text(snapshot.to_json() + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
