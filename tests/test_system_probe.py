"""The system probe reads a filesystem root it is given: fake layouts stand in for WSL and containers."""

from __future__ import annotations

import json
from pathlib import Path

from torchdoctor.probes.runner import CommandResult
from torchdoctor.probes.system import probe_system
from torchdoctor.redact import REDACTED


def lay_out(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def no_commands(argv, **kwargs):
    raise AssertionError(f"unexpected command {argv}")


def test_wsl2_kernel_is_recognised(tmp_path):
    # Kernel string as WSL2 reports it (microsoft/WSL issue reports, e.g. 5.15.133.1-microsoft-standard-WSL2).
    root = lay_out(tmp_path, {"proc/sys/kernel/osrelease": "5.15.133.1-microsoft-standard-WSL2\n", "dev/dxg": ""})
    info = probe_system(root, environ={"WSL_DISTRO_NAME": "Ubuntu-22.04"}, run=no_commands, which=lambda name: None)
    assert info.wsl == "wsl2"
    assert info.kernel_release == "5.15.133.1-microsoft-standard-WSL2"
    assert info.gpu_device_nodes == ("/dev/dxg",)


def test_wsl1_kernel_is_recognised(tmp_path):
    root = lay_out(tmp_path, {"proc/sys/kernel/osrelease": "4.4.0-19041-Microsoft\n"})
    info = probe_system(root, environ={}, run=no_commands, which=lambda name: None)
    assert info.wsl == "wsl1"


def test_native_linux_driver_and_toolkits(tmp_path):
    # /proc/driver/nvidia/version as the H100 capture in shared/fixtures shows it.
    root = lay_out(
        tmp_path,
        {
            "proc/sys/kernel/osrelease": "6.8.0-45-generic\n",
            "proc/driver/nvidia/version": "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (nixbld@)\nGCC version:  gcc version 14.3.0\n",
            "dev/nvidia0": "",
            "dev/nvidiactl": "",
            "usr/local/cuda-12.8/version.json": json.dumps({"cuda": {"name": "CUDA SDK", "version": "12.8.1"}}),
            "etc/os-release": 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04.3 LTS"\n',
        },
    )
    info = probe_system(root, environ={}, run=no_commands, which=lambda name: None)
    assert info.wsl is None
    assert info.nvidia_kernel_driver == "580.159.04"
    assert info.gpu_device_nodes == ("/dev/nvidia0", "/dev/nvidiactl")
    assert [(t.path, t.version) for t in info.cuda_toolkits] == [("/usr/local/cuda-12.8", "12.8.1")]
    assert info.os_release == "Ubuntu 24.04.3 LTS"


def test_nvcc_version_is_read_from_its_output(tmp_path):
    def fake_nvcc(argv, **kwargs):
        assert argv == ["/opt/cuda/bin/nvcc", "--version"]
        return CommandResult(0, "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 12.4, V12.4.131\n", "", 0.01)

    info = probe_system(tmp_path, environ={}, run=fake_nvcc, which=lambda name: "/opt/cuda/bin/nvcc" if name == "nvcc" else None)
    assert (info.nvcc_path, info.nvcc_version) == ("/opt/cuda/bin/nvcc", "12.4")


def test_containers_are_recognised(tmp_path):
    docker = probe_system(lay_out(tmp_path / "a", {".dockerenv": ""}), environ={}, run=no_commands, which=lambda n: None)
    assert docker.container == "docker"
    k8s = probe_system(
        lay_out(tmp_path / "b", {"proc/1/cgroup": "0::/kubepods/besteffort/pod1234\n"}), environ={}, run=no_commands, which=lambda n: None
    )
    assert (k8s.container, k8s.container_evidence) == ("kubernetes", "/proc/1/cgroup mentions kubepods")
    bare = probe_system(tmp_path / "c", environ={}, run=no_commands, which=lambda n: None)
    assert bare.container is None


def test_environment_keeps_what_matters_and_redacts_secrets(tmp_path):
    environ = {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "UV_INDEX_PRIVATE_PASSWORD": "hunter2",
        "UV_EXTRA_INDEX_URL": "https://me:tok@mirror.example.com/simple",
        "HF_TOKEN": "hf_abc",
        "HOME": "/root",
        "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
    }
    info = probe_system(tmp_path, environ=environ, run=no_commands, which=lambda name: None)
    assert info.environment == {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
        "UV_EXTRA_INDEX_URL": "https://***@mirror.example.com/simple",
        "UV_INDEX_PRIVATE_PASSWORD": REDACTED,
    }


def test_toolkit_libraries_on_the_library_path_are_listed(tmp_path):
    root = lay_out(tmp_path, {
        "usr/local/cuda/lib64/libcudnn.so.9": "", "usr/local/cuda/lib64/libcublasLt.so.12": "",
        "usr/local/nvidia/lib64/libcuda.so.1": "", "usr/local/nvidia/lib64/libnvidia-ml.so.1": "",
    })
    info = probe_system(root, environ={"LD_LIBRARY_PATH": "/usr/local/nvidia/lib64:/usr/local/cuda/lib64"},
                        run=no_commands, which=lambda name: None)
    assert info.library_path_cuda == {"/usr/local/cuda/lib64": ("libcublasLt", "libcudnn")}


def test_cuda_home_nvcc_wins_over_path(tmp_path):
    home = tmp_path / "cuda-12.4"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "nvcc").write_text("")
    seen = []

    def fake_nvcc(argv, **kwargs):
        seen.append(argv[0])
        return CommandResult(0, "Cuda compilation tools, release 12.4, V12.4.131\n", "", 0.01)

    info = probe_system(tmp_path, environ={"CUDA_HOME": str(home)}, run=fake_nvcc, which=lambda name: "/usr/bin/nvcc" if name == "nvcc" else None)
    assert seen == [str(home / "bin" / "nvcc")]
    assert info.nvcc_version == "12.4"


def test_shared_memory_and_cuda_compat_libraries_are_read_through_the_root(tmp_path):
    root = lay_out(tmp_path / "root", {"usr/local/cuda-12.4/compat/libcuda.so.550.54.15": "",
                                       "usr/local/cuda-12.4/compat/libnvidia-nvvm.so.4": "", "usr/local/bin/x": ""})
    (root / "dev" / "shm").mkdir(parents=True)
    info = probe_system(root, environ={}, run=lambda argv, **kw: CommandResult(argv, 1, "", "", 0.0), which=lambda n: None)
    assert info.shm is not None and info.shm.size_bytes and info.shm.size_bytes > 0 and info.shm.writable is True
    assert info.cuda_compat_libraries == ("/usr/local/cuda-12.4/compat/libcuda.so.550.54.15",)
    bare = probe_system(tmp_path / "empty", environ={}, run=lambda argv, **kw: CommandResult(argv, 1, "", "", 0.0),
                        which=lambda n: None)
    assert bare.shm is None, "no /dev/shm read is unknown, not a healthy one"
    assert bare.cuda_compat_libraries == ()


# The KFD topology as amdgpu writes it (drivers/gpu/drm/amd/amdkfd/kfd_topology.c, node_show): one "name value" line
# per property; node 0 is the CPU (no SIMDs, gfx_target_version 0).
KFD_CPU = "cpu_cores_count 12\nsimd_count 0\nmem_banks_count 1\ngfx_target_version 0\nvendor_id 0\ndevice_id 0\n"
KFD_RX6600 = ("cpu_cores_count 0\nsimd_count 56\nmem_banks_count 1\ncaps_count 0\nio_links_count 1\n"
              "gfx_target_version 100302\nvendor_id 4098\ndevice_id 29695\nlocation_id 768\ndrm_render_minor 128\n")


def test_amd_gpus_are_read_from_the_kfd_topology_without_root(tmp_path):
    root = lay_out(tmp_path / "root", {
        "sys/class/kfd/kfd/topology/nodes/0/properties": KFD_CPU,
        "sys/class/kfd/kfd/topology/nodes/1/properties": KFD_RX6600,
        "sys/class/kfd/kfd/topology/nodes/2/properties": "gfx_target_version nonsense\n",  # damaged: skipped
        "opt/rocm/.info/version": "5.2.3-109\n",
    })
    info = probe_system(root, environ={"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}, run=no_commands, which=lambda name: None)
    assert [(g.node, g.gfx_target, g.device_id) for g in info.amd_gpus] == [(1, "gfx1032", 0x73ff)]
    assert info.rocm_version == "5.2.3-109"
    assert info.environment["HSA_OVERRIDE_GFX_VERSION"] == "10.3.0"
    bare = probe_system(tmp_path / "empty", environ={}, run=no_commands, which=lambda name: None)
    assert bare.amd_gpus == () and bare.rocm_version is None  # no amdgpu compute driver: no AMD GPU


def test_iommu_groups_and_the_kernels_iommu_options_are_read_and_nothing_else_of_its_command_line(tmp_path):
    root = lay_out(tmp_path / "root", {
        "proc/cmdline": "BOOT_IMAGE=/vmlinuz-6.8.0 root=UUID=1234 ro quiet amd_iommu=on iommu=pt pci=noacs secret=hunter2\n",
        "sys/kernel/iommu_groups/0/type": "DMA-FQ", "sys/kernel/iommu_groups/1/type": "DMA", "sys/kernel/iommu_groups/2/type": "identity",
    })
    info = probe_system(root, environ={}, run=no_commands, which=lambda name: None)
    assert info.iommu_groups == 2
    assert info.kernel_iommu_options == ("amd_iommu=on", "iommu=pt", "pci=noacs")
    bare = probe_system(tmp_path / "empty", environ={}, run=no_commands, which=lambda name: None)
    assert bare.iommu_groups is None and bare.kernel_iommu_options is None  # not read: unknown


def test_processes_of_this_user_holding_a_gpu_are_found_in_proc_and_torchdoctors_own_are_not(tmp_path):
    """What nvidia-smi does not show (a container's processes, a killed job's DataLoader workers) still has the GPU's
    device file open: /proc/PID/fd tells, for this user's processes, without root. torchdoctor and what it started
    (its torch probe holds the GPU while this runs) are left out; the command line beyond the script is not read."""
    from torchdoctor.probes.system import gpu_holders

    proc = tmp_path / "proc"
    layout = {
        # pid: (stat, cmdline, open device files)
        300: ("300 (python) T 1 300 300", "python\0train.py\0--token\0hunter2\0", ["/dev/nvidia0", "/dev/nvidiactl"]),
        301: ("301 (pt_data_worker) S 1 300 300", "python\0-c\0from multiprocessing.spawn import spawn_main\0", ["/dev/nvidia1"]),
        302: ("302 (bash) S 1 302 302", "bash\0", ["/dev/pts/0"]),
        400: ("400 (torchdoctor) S 1 400 400", "python\0-m\0torchdoctor\0check\0", []),
        401: ("401 (python) R 400 400 400", "python\0-c\0import torch\0", ["/dev/nvidia0"]),
    }
    for pid, (stat, cmdline, devices) in layout.items():
        folder = proc / str(pid)
        (folder / "fd").mkdir(parents=True)
        (folder / "stat").write_text(stat)
        (folder / "cmdline").write_text(cmdline)
        for number, device in enumerate(devices):
            (folder / "fd" / str(number)).symlink_to(device)
    holders = gpu_holders(tmp_path, own_pid=400)
    assert [(h.pid, h.name, h.command, h.state, h.parent, h.devices) for h in holders] == [
        (300, "python", "python train.py", "T", 1, (0,)),
        (301, "pt_data_worker", "python -c …", "S", 1, (1,)),
    ]
    assert gpu_holders(tmp_path, own_pid=400, budget_s=0) is None  # past its time: unknown, not "none"
    # An option's value may be a token: only the program and a script's file name are kept.
    (proc / "300" / "cmdline").write_text("python\0--token\0hf_SECRET\0--key=sk-live.sh\0train.py\0")
    (proc / "301" / "cmdline").write_text("/opt/app/bin/server --db postgres://u:pw@h/db --secret abc")  # a title
    commands = {h.pid: h.command for h in gpu_holders(tmp_path, own_pid=400)}
    assert commands == {300: "python train.py", 301: "server"}
    assert gpu_holders(tmp_path / "nothing") is None


def test_the_gpu_holder_scan_reads_this_machines_proc_and_never_lists_torchdoctor_itself():
    import os

    from torchdoctor.probes.system import gpu_holders

    holders = gpu_holders(Path("/"), budget_s=5.0)  # its time on real machines: benchmarks/machine_probes.py
    assert holders is not None and all(h.pid != os.getpid() for h in holders)


def test_amd_device_files_are_read_with_their_group_and_this_users_access_only_where_kfd_lists_a_gpu(tmp_path):
    """ROCm opens /dev/kfd and a render node: their group and whether this user may use them are facts; on a machine
    whose KFD topology lists no GPU they are not looked for."""
    import os

    root = lay_out(tmp_path / "root", {
        "sys/class/kfd/kfd/topology/nodes/1/properties": "gfx_target_version 100302\ndevice_id 29695\n",
        "dev/kfd": "", "dev/dri/renderD128": "", "dev/dri/card0": "",
    })
    (root / "dev/kfd").chmod(0o600)
    (root / "dev/dri/renderD128").chmod(0o000)
    info = probe_system(root, environ={}, run=no_commands, which=lambda name: None)
    assert [f.path for f in info.amd_device_files] == ["/dev/kfd", "/dev/dri/renderD128"]
    kfd, render = info.amd_device_files
    assert kfd.accessible is True and kfd.group  # our own file: the group is ours
    if os.geteuid() != 0:  # root may open anything
        assert render.accessible is False
    assert info.user_groups and kfd.group in info.user_groups
    no_amd = probe_system(tmp_path / "empty", environ={}, run=no_commands, which=lambda name: None)
    assert no_amd.amd_device_files is None


def test_a_cuda_installs_cupti_folder_on_ld_library_path_is_read_as_shadowing_the_wheels(tmp_path):
    """pytorch/pytorch#157381: torch 2.8 loaded a CUDA 12.4 install's libcupti ("undefined symbol:
    cuptiActivityEnableDriverApi, version libcupti.so.12"); CUPTI lives in its own folder of a CUDA install."""
    root = lay_out(tmp_path, {"usr/local/cuda-12.4/extras/CUPTI/lib64/libcupti.so.12": ""})
    folder = "/usr/local/cuda-12.4/extras/CUPTI/lib64"
    info = probe_system(root, environ={"LD_LIBRARY_PATH": folder}, run=no_commands, which=lambda name: None)
    assert info.library_path_cuda == {folder: ("libcupti",)}
