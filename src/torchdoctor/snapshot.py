"""The Snapshot: every fact the probes read, frozen, and serialisable to JSON and back.

Checks only ever see a Snapshot, never the machine, so a recorded snapshot of a GPU machine replays
the same diagnoses on a laptop or in CI. A missing GPU, driver, torch or file is a value here
(``status``/``error`` fields), never an exception. Credentials are removed by the probes before a
value lands here, so a snapshot can be attached to a bug report as it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from torchdoctor import serde
from torchdoctor.redact import clean, clean_data, redact_variable

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class InterpreterInfo:
    """Which Python is the project's, and why torchdoctor believes so."""

    path: str
    """The interpreter the torch probe ran in."""
    source: str
    """How it was chosen: "--python", "VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT", ".venv", "PATH" or "current"."""
    reason: str
    """The choice in a sentence, shown in the report."""
    environment: str | None = None
    """The virtual or conda environment the interpreter belongs to, if any."""
    exists: bool = True
    """False when the chosen path does not exist or is not executable."""
    path_python: str | None = None
    """The `python` found first on PATH: what `python train.py` runs."""
    path_python_environment: str | None = None
    """The environment that PATH python belongs to (its pyvenv.cfg or conda-meta folder)."""


@dataclass(frozen=True)
class TorchDevice:
    """One CUDA (or ROCm) device as torch sees it."""

    index: int
    name: str
    capability: tuple[int, int]
    total_memory: int
    """Bytes."""
    multiprocessors: int | None = None


@dataclass(frozen=True)
class CudaDriverInfo:
    """The CUDA driver API (libcuda) as the project's interpreter loads it, asked before torch is imported.

    This is what torch's own CUDA initialisation rests on: cuInit's result tells a missing or broken
    driver apart from a torch problem, without torch.
    """

    library: str | None = None
    """The library name that loaded (libcuda.so.1, nvcuda.dll), or None if none did."""
    error: str | None = None
    """Why no library loaded."""
    init_result: int | None = None
    """cuInit(0)'s CUresult: 0 success, 100 no device, 999 unknown (after suspend), 304 OS call failed ..."""
    device_count: int | None = None
    driver_version: int | None = None
    """cuDriverGetVersion: the newest CUDA this driver supports, 13000 for 13.0."""


TorchStatus = Literal["ok", "not-installed", "import-failed", "crashed", "timed-out", "interpreter-failed", "not-probed"]
"""How the torch probe ended. Statuses are closed sets: serde refuses a recording with another, and a probe's child
that says another is read as a failure (`status_in`), so a comparison with a misspelt status is a type error."""
NvmlStatus = Literal["ok", "module-missing", "library-not-found", "driver-not-loaded", "rm-version-mismatch",
                     "no-permission", "gpu-lost", "timed-out", "error", "not-probed"]
BenchStatus = Literal["ok", "failed", "crashed", "timed-out", "cancelled", "interpreter-failed", "incomplete"]


def status_in(kind: Any, said: object, otherwise: str) -> Any:
    """`said` when it is one of the statuses of `kind` (a Literal), else `otherwise`: what a child process reports is
    read at this edge, never trusted to be one of ours."""
    return said if isinstance(said, str) and said in get_args(kind) else otherwise


@dataclass(frozen=True)
class TorchInfo:
    """What the project's interpreter says about its torch, read in a subprocess."""

    status: TorchStatus
    """"ok", "not-installed", "import-failed", "crashed", "timed-out" or "interpreter-failed"."""
    error: str | None = None
    """For anything but "ok": the failure in one line (exception, signal or timeout)."""
    stderr_tail: str = ""
    """The last lines the probe wrote to stderr: torch's own warnings and tracebacks land here."""
    exit_code: int | None = None
    duration_s: float | None = None
    """Wall time of the whole probe subprocess."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage inside it: pre_s (metadata), import_s, is_available_s, cuda_s (all CUDA queries)."""
    python_version: str | None = None
    python_executable: str | None = None
    python_prefix: str | None = None
    python_platform: str | None = None
    """`sysconfig.get_platform()` of the interpreter, e.g. linux-x86_64 or win-amd64."""
    installed_version: str | None = None
    """The torch distribution's version from its metadata, read without importing it."""
    location: str | None = None
    """Where `import torch` resolves, read with find_spec before importing."""
    version: str | None = None
    """`torch.__version__`, e.g. 2.9.1+cu128."""
    local_tag: str | None = None
    """The PEP 440 local part of the version ("cu128", "cpu", "rocm6.4") or None for PyPI wheels."""
    cuda: str | None = None
    """`torch.version.cuda`: None for CPU and ROCm builds."""
    hip: str | None = None
    git_version: str | None = None
    debug: bool | None = None
    cudnn_version: int | None = None
    cuda_available: bool | None = None
    cuda_init_warnings: tuple[str, ...] = ()
    """Warnings `torch.cuda.is_available()` emitted: most CUDA failures only show up here."""
    cuda_error: str | None = None
    """An exception raised while querying CUDA devices after is_available()."""
    device_count: int | None = None
    devices: tuple[TorchDevice, ...] = ()
    arch_list: tuple[str, ...] = ()
    """`torch.cuda.get_arch_list()`: the SASS (sm_XY) and PTX (compute_XY) targets the build carries."""
    cuda_driver: CudaDriverInfo | None = None
    nccl_version: str | None = None
    mps_available: bool | None = None
    packages: dict[str, str] = field(default_factory=dict)
    """Installed versions of torchvision, torchaudio, triton and every nvidia-*/cuda-* wheel."""
    package_folders: dict[str, str] | None = None
    """The sys.path folder each of `packages` (and torch) was found in; None when not read."""
    torch_installs: tuple[str, ...] | None = None
    """Every `torch-<version>.dist-info` on sys.path, as "<version> in <folder>", the one Python imports first; more
    than one is two installs mixed (pip over conda, the user site over the environment). None when not read."""
    torch_requires: tuple[str, ...] | None = None
    """torch's own Requires-Dist lines for its family and CUDA wheels (triton==3.5.0; platform_system == "Linux" …),
    from its METADATA. None when not read."""
    python_build: str | None = None
    """sys.version whole ("3.12.3 (main, Apr 10 2024, 05:33:47) [GCC 13.2.0]"), as collect_env prints it."""
    xnnpack: bool | None = None
    """torch.backends.xnnpack.enabled; None when not read."""
    xpu_available: bool | None = None
    """torch.xpu.is_available() where torch has it; None when not read."""
    cached_at: str | None = None
    """Set when these facts come from the probe cache: when the full probe ran (see probes/torch_cache.py)."""
    imported: bool = True
    """False when torch was not imported: its version, builds and arch list read from its files (`check --quick`, the
    app's first verdict); availability, devices and import warnings are then unknown, not absent."""


@dataclass(frozen=True)
class MigDevice:
    """A MIG device (a compute instance of a GPU instance): what a CUDA process sees of a GPU in MIG mode."""

    uuid: str | None = None
    """"MIG-…": what CUDA_VISIBLE_DEVICES names to give a process this device."""
    memory_total: int | None = None


@dataclass(frozen=True)
class NvmlGpu:
    """One GPU as the NVIDIA driver reports it through NVML."""

    index: int
    name: str | None = None
    pci_device_id: int | None = None
    """The 32-bit PCI id NVML reports: device id in the high half, vendor 0x10DE in the low half."""
    pci_bus_id: str | None = None
    compute_capability: tuple[int, int] | None = None
    memory_total: int | None = None
    memory_used: int | None = None
    pcie_gen_current: int | None = None
    pcie_gen_max: int | None = None
    pcie_width_current: int | None = None
    pcie_width_max: int | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    clock_event_reasons: tuple[str, ...] | None = None
    """Why clocks are held down right now (power cap, thermal, ...): NVML's clock-event reasons."""
    mig_enabled: bool | None = None
    mig_devices: tuple[MigDevice, ...] | None = None
    """The MIG devices created on this GPU when it is in MIG mode: () when none is (CUDA has no device on it), None
    when MIG is off or NVML could not say."""
    persistence_mode: bool | None = None
    minor_number: int | None = None
    """N of this GPU's /dev/nvidiaN, which need not be its NVML index (a container given only some GPUs)."""
    processes: tuple[GpuProcess, ...] | None = None
    """The compute and graphics processes NVML lists on this GPU, but torchdoctor's own; None when it could not say."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Fields NVML could not give for this GPU, with its reason ("not supported", ...)."""


P2pStatus = Literal["ok", "chipset-not-supported", "gpu-not-supported", "topology-not-supported", "disabled-by-regkey",
                   "not-supported", "unknown"]


@dataclass(frozen=True)
class PeerLink:
    """Two GPUs as the driver reports their peer-to-peer access (`nvidia-smi topo -p2p r`, and over NVLink)."""

    gpus: tuple[int, int]
    read: P2pStatus | None = None
    """Whether one may read the other's memory directly (over PCIe or NVLink): "ok", or why not."""
    nvlink: P2pStatus | None = None
    """Whether that goes over NVLink: "ok", or "not-supported" where they are joined by PCIe only."""


@dataclass(frozen=True)
class NvmlInfo:
    """The NVIDIA driver as NVML sees it: the ground truth about GPUs, independent of torch."""

    status: NvmlStatus
    """"ok", "module-missing", "library-not-found", "driver-not-loaded", "rm-version-mismatch",
    "no-permission", "gpu-lost", "timed-out" or "error"; "not-probed" where it was not asked."""
    error: str | None = None
    error_code: int | None = None
    driver_version: str | None = None
    cuda_driver_version: int | None = None
    """The newest CUDA the driver supports, as NVML encodes it: 12080 is CUDA 12.8."""
    nvml_version: str | None = None
    library_path: str | None = None
    """The libnvidia-ml that was loaded (from the probe's memory map), to tell stubs and shadows apart."""
    gpus: tuple[NvmlGpu, ...] = ()
    peer_links: tuple[PeerLink, ...] | None = None
    """For each pair of GPUs, whether the driver lets one read the other's memory directly; None with one GPU, or
    when NVML could not say."""
    duration_s: float | None = None


@dataclass(frozen=True)
class CudaToolkit:
    """A CUDA toolkit installed on the system (not the one inside the torch wheel)."""

    path: str
    version: str | None = None


@dataclass(frozen=True)
class WslInfo:
    """What a WSL machine's GPU path is made of (read only under WSL)."""

    dxg: bool
    """/dev/dxg, the GPU paravirtualisation device, exists."""
    lib_files: dict[str, str] | None = None
    """The driver files in /usr/lib/wsl/lib that CUDA and NVML need, each "symlink" or "file";
    None when the folder does not exist (no Windows NVIDIA driver exposed to WSL)."""
    config_path: str | None = None
    """The Windows user's .wslconfig, when exactly one was found under /mnt/c/Users."""
    config_memory: str | None = None
    """Its `[wsl2] memory=` value, e.g. "8GB"."""


@dataclass(frozen=True)
class MountInfo:
    """The file system a path lives on, from /proc/mounts."""

    path: str
    mount_point: str
    filesystem: str
    """"ext4", "9p" (a Windows drive under WSL), "drvfs", "overlay", "nfs", ..."""


@dataclass(frozen=True)
class ShmInfo:
    """/dev/shm, where NCCL's shared-memory transport and the DataLoader's worker processes put their buffers."""

    size_bytes: int | None = None
    """The file system's size (statvfs); Docker gives a container 64 MB unless started with --shm-size or --ipc=host."""
    writable: bool | None = None
    """Whether this user may create files there; None when it could not be told."""


@dataclass(frozen=True)
class AmdGpu:
    """An AMD GPU as AMD's kernel driver lists it (KFD topology, readable without root)."""

    node: int
    gfx_target: str
    """The ISA the GPU runs, "gfx1032" (an RX 6600): what a ROCm build must carry code for."""
    device_id: int | None = None
    """The PCI device id, 0x73ff; AMD's marketing name is not in the topology."""
    integrated: bool | None = None
    """The GPU built into the CPU (an APU's: KFD lists CPU cores on its node, or its ISA is an APU's, gfx1036 of every
    Ryzen 7000); None when not read."""


@dataclass(frozen=True)
class GpuHolder:
    """A process of this user, not torchdoctor's own, with an NVIDIA GPU's device file open (/proc/PID/fd): a job
    that runs, or one left behind (stopped with Ctrl+Z, a DataLoader worker whose parent was killed)."""

    pid: int
    name: str | None = None
    """The process's name (/proc/PID/comm): "python3", "pt_data_worker"."""
    command: str | None = None
    """The program and its script's file name ("python train.py"), never its other arguments (they may hold secrets)."""
    state: str | None = None
    """/proc/PID/stat's state letter: R running, S sleeping, D in the kernel, T stopped, t traced, Z zombie."""
    parent: int | None = None
    """The parent's pid; 1 (or a subreaper's) when the process that started it has gone."""
    devices: tuple[int, ...] = ()
    """N of each /dev/nvidiaN it has open."""


@dataclass(frozen=True)
class DeviceFile:
    """A GPU device file ROCm opens (/dev/kfd, /dev/dri/renderD128): who owns it and whether this user may use it."""

    path: str
    group: str | None = None
    """The group that owns it ("render", "video"): membership is what grants access."""
    accessible: bool | None = None
    """Whether this process may open it for reading and writing."""
    group_rw: bool | None = None
    """Whether its group may read and write it (mode 0660); a 0600 /dev/kfd admits root alone, whatever the groups."""


@dataclass(frozen=True)
class SystemInfo:
    """The operating system, its kind of host (WSL, container) and the variables that steer CUDA."""

    os_name: str
    """platform.system(): Linux, Windows or Darwin."""
    os_release: str | None = None
    """The distribution or OS version, e.g. "Ubuntu 22.04.4 LTS" or "macOS 14.5"."""
    kernel_release: str | None = None
    architecture: str | None = None
    libc: str | None = None
    wsl: str | None = None
    """"wsl1" or "wsl2" under Windows Subsystem for Linux, else None."""
    container: str | None = None
    """"docker", "podman", "kubernetes", "lxc" or "container" (unknown kind), else None."""
    container_evidence: str | None = None
    cpu_model: str | None = None
    cpu_count: int | None = None
    memory_total: int | None = None
    """Bytes of RAM the OS reports (under WSL2, the VM's limit)."""
    environment: dict[str, str] = field(default_factory=dict)
    """The environment variables that matter to CUDA, torch and uv, with secrets redacted."""
    nvidia_kernel_driver: str | None = None
    """The kernel module's version (/proc/driver/nvidia/version), which can differ from the library's."""
    gpu_device_nodes: tuple[str, ...] = ()
    """/dev/nvidia0, /dev/nvidiactl, /dev/dxg ...: the device files that show a GPU is wired in."""
    library_path_cuda: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """CUDA toolkit libraries (cuDNN, cuBLAS, nvJitLink ...) found in each LD_LIBRARY_PATH folder, which the
    loader prefers over the copies inside the torch wheels."""
    nvcc_path: str | None = None
    nvcc_version: str | None = None
    cuda_toolkits: tuple[CudaToolkit, ...] = ()
    loader_cache: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Where the dynamic loader finds the driver's libraries (`ldconfig -p`), in its order, for
    libcuda.so, libcuda.so.1, libnvidia-ml.so and libnvidia-ml.so.1; a name with no entry is absent."""
    loader_conf_dirs: tuple[str, ...] = ()
    """Folders listed in /etc/ld.so.conf and /etc/ld.so.conf.d/*.conf."""
    driver_packages: tuple[str, ...] = ()
    """Installed distribution packages that carry a Linux NVIDIA driver (dpkg status): under WSL they
    shadow the Windows driver's libraries."""
    system_driver_libraries: tuple[str, ...] = ()
    """libcuda / libnvidia-ml files in the distribution's library folders (not /usr/lib/wsl/lib)."""
    nvidia_smi_path: str | None = None
    wsl_details: WslInfo | None = None
    project_mount: MountInfo | None = None
    uv_cache_mount: MountInfo | None = None
    """The mounts of the project and of uv's cache: on different file systems uv copies instead of
    hard-linking every file of every wheel."""
    shm: ShmInfo | None = None
    """/dev/shm; None when it was not read (another OS, a recording made before it was read): unknown, not healthy."""
    cuda_compat_libraries: tuple[str, ...] | None = None
    """libcuda files of a CUDA forward-compatibility package (/usr/local/cuda*/compat), which NVIDIA's CUDA images
    carry; they work only on data-center GPUs (error 804 elsewhere). None when not looked for."""
    amd_gpus: tuple[AmdGpu, ...] | None = None
    """AMD GPUs in the KFD topology (/sys/class/kfd); () when the amdgpu compute driver lists none or is not loaded,
    None when not read (another OS, a recording made before it was read)."""
    rocm_version: str | None = None
    """The ROCm install's version (/opt/rocm/.info/version), e.g. "6.2.0-66"; None when there is none or unread."""
    compilers: dict[str, str] | None = None
    """The first line of `gcc --version`, `clang --version` and `cmake --version` by name, for the bug report
    (collect_env prints them); a tool not found is absent; None when not looked for."""
    cpu_flags: tuple[str, ...] | None = None
    """The CPU's vector ISA flags (/proc/cpuinfo: avx2, avx512f, amx_bf16 …; asimd, sve on Arm): which CPU kernels
    torch can use. None when not read."""
    conda_packages: tuple[str, ...] | None = None
    """The conda environment's torch, CUDA and NumPy packages (`name version build` from $CONDA_PREFIX/conda-meta),
    for the bug report; None outside conda."""
    iommu_groups: int | None = None
    """How many IOMMU groups translate device addresses (/sys/kernel/iommu_groups/*/type other than "identity", the
    passthrough type; a group whose type cannot be read counts): 0 when none does, None when not read. Peer-to-peer
    traffic between GPUs goes through the IOMMU unless it is in passthrough."""
    kernel_iommu_options: tuple[str, ...] | None = None
    """The IOMMU and ACS options of the kernel command line (/proc/cmdline): `iommu=pt`, `intel_iommu=off`,
    `amd_iommu=on`, `pcie_acs_override=…`, `pci=noacs`; () when it has none, None when not read."""
    amd_device_files: tuple[DeviceFile, ...] | None = None
    """/dev/kfd and /dev/dri/renderD*, which ROCm needs to read and write; () when there are none (a container started
    without --device=/dev/kfd), None when not looked for (no AMD GPU in the topology, another OS)."""
    user_groups: tuple[str, ...] | None = None
    """The names of this process's groups (`id -Gn`); None when not read."""
    container_tools: dict[str, str] | None = None
    """The container engines and NVIDIA Container Toolkit parts found here, by name: docker, podman, nvidia-ctk,
    nvidia-container-cli, nvidia-container-runtime(-hook) on PATH (their path), and "cdi" for an NVIDIA CDI spec
    (/etc/cdi, /var/run/cdi). None when not looked for (another OS, inside a container)."""
    gpu_holders: tuple[GpuHolder, ...] | None = None
    """This user's processes, other than torchdoctor's, that have a GPU open: what holds GPU memory where NVML names no
    process (in a container, NVML's pids are the host's). () when there are none, None when not read in time."""


@dataclass(frozen=True)
class DeclaredRequirement:
    """A torch-family requirement the project declares, and where."""

    group: str
    """"dependencies", "optional:<extra>" or "group:<name>"."""
    requirement: str
    name: str
    """The normalised package name."""


@dataclass(frozen=True)
class UvIndex:
    """One `[[tool.uv.index]]` entry."""

    position: int
    """Its 1-based place among the index tables: uv tries indexes in this order."""
    name: str | None
    url: str | None
    explicit: bool = False
    default: bool = False
    format: str | None = None
    publish_url: str | None = None
    """Where `uv publish --index` uploads: such an index (testpypi) is for publishing, not an unused source."""


@dataclass(frozen=True)
class UvSource:
    """One entry of `[tool.uv.sources]` for a package (a package may have several, split by marker)."""

    package: str
    kind: str
    """"index", "url", "path", "git", "workspace" or "unknown"."""
    target: str | None = None
    """The index name, URL, path or repository it points at."""
    marker: str | None = None
    extra: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class UvSettings:
    """The `[tool.uv]` settings that change where torch comes from or how it resolves."""

    index_url: str | None = None
    extra_index_url: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    index_strategy: str | None = None
    prerelease: str | None = None
    torch_backend: str | None = None
    """Set in [tool.uv] or [tool.uv.pip]; uv's project commands (lock, sync) ignore it."""
    environments: tuple[str, ...] = ()
    required_environments: tuple[str, ...] = ()
    no_build_isolation: bool = False
    no_build_isolation_package: tuple[str, ...] = ()
    conflicts: Any = None
    """As written: a list of lists of {extra|group|package} tables (read it through `conflict_groups`)."""
    default_groups: tuple[str, ...] | None = None
    """`[tool.uv] default-groups`; ("*all*",) for "all"; None when not set (uv then installs "dev")."""
    extra_build_dependencies: Any = None
    """As written: package -> list of requirements or tables."""

    @property
    def conflict_groups(self) -> list[list]:
        """`conflicts` when it is what uv reads, a list of lists; [] for anything else (a recording may hold anything:
        `conflicts = 5` in a replayed snapshot crashed the rules that iterate it)."""
        return [group for group in self.conflicts if isinstance(group, list)] if isinstance(self.conflicts, list) else []


@dataclass(frozen=True)
class ToolSettings:
    """`[tool.torchdoctor]`: which findings the project wants reported, and which fail a run."""

    select: tuple[str, ...] = ()
    """Codes or code prefixes to report (`TD3`, `TD301`); empty: all."""
    ignore: tuple[str, ...] = ()
    """Codes or code prefixes never to report."""
    fail_on: str | None = None
    """"info", "warning" or "error": the severity from which `check` exits 1."""
    pytorch_index: str | None = None
    """Where the project gets PyTorch's index (a mirror of download.pytorch.org/whl): the base a fix writes an index
    of a CUDA line on, when the project's own indexes name no mirror."""


@dataclass(frozen=True)
class PyprojectInfo:
    """What pyproject.toml says about the project and about where torch comes from."""

    path: str
    name: str | None = None
    has_project_table: bool = False
    requires_python: str | None = None
    dependency_count: int = 0
    torch_requirements: tuple[DeclaredRequirement, ...] = ()
    extension_requirements: tuple[DeclaredRequirement, ...] = ()
    """Packages that compile CUDA code against torch when built from source (flash-attn, deepspeed, apex ...)."""
    extras: tuple[str, ...] = ()
    dependency_groups: tuple[str, ...] = ()
    indexes: tuple[UvIndex, ...] = ()
    sources: tuple[UvSource, ...] = ()
    uv: UvSettings = field(default_factory=UvSettings)
    dynamic: tuple[str, ...] = ()
    """`[project] dynamic`: keys a build backend fills in, which no fix may write."""
    workspace: bool = False
    """The file has `[tool.uv.workspace]`: a workspace root, whose sources and indexes apply to its members."""
    workspace_members: tuple[str, ...] = ()
    """`[tool.uv.workspace] members`: the globs of its members' folders, relative to the root."""
    workspace_exclude: tuple[str, ...] = ()
    settings: ToolSettings = field(default_factory=ToolSettings)
    """`[tool.torchdoctor]`, as read (invalid values are TD001 findings and left out)."""
    packaged: bool = False
    """uv builds and installs the project itself (`[tool.uv] package`, else a `[build-system]` table): a library or
    tool others install, whose published dependencies must stay whole."""


@dataclass(frozen=True)
class LockedPackage:
    """One torch-family package version pinned in uv.lock, and the platforms its wheels cover."""

    name: str
    version: str
    source_kind: str | None = None
    """"registry", "url", "path", "git", "editable", "virtual" or "directory"."""
    source: str | None = None
    resolution_markers: tuple[str, ...] = ()
    """Kept so snapshots recorded before the lock graph was read come back whole; no longer read (parsing them was most of a large
    lock's cost, and the resolution model follows the edges' markers, not the entries' forks)."""
    wheel_platforms: tuple[str, ...] = ()
    """Sorted platform tags of its locked wheels, e.g. manylinux_2_28_x86_64, win_amd64."""
    wheel_pythons: tuple[str, ...] = ()
    has_sdist: bool = False
    wheel_tags: tuple[str, ...] = ()
    """Sorted `interpreter-abi-platform` tags of its locked wheels ("cp312-cp312-manylinux_2_28_x86_64"): which Python
    fits which platform, which the two lists above cannot say. Empty in recordings made before it was read."""


@dataclass(frozen=True)
class LockFreshness:
    """uv's own verdict on whether uv.lock matches pyproject.toml: `uv lock --check --offline`."""

    fresh: bool | None
    """True when uv said the lock is up to date, False when it would change it, None when uv could not answer."""
    detail: str = ""
    """uv's last line (why it would change the lock, or why it could not answer)."""


@dataclass(frozen=True)
class LockEdge:
    """One dependency of a uv.lock entry, as uv wrote it: `{ name = "torch", version = "2.8.0+cu128",
    source = { registry = "…/cu128" }, marker = "…", extra = ["…"] }`. uv names the version and source only
    where the name alone is ambiguous in the lock."""

    name: str
    version: str | None = None
    source: str | None = None
    """The source's location (registry URL, path, git URL), credentials redacted, as in LockNode.source."""
    marker: str | None = None
    """uv's marker for this edge; `extra == 'extra-N-pkg-x'` / `group == …` name conflicting extras and groups."""
    extras: tuple[str, ...] = ()
    """The extras of the dependency this edge turns on."""


@dataclass(frozen=True)
class LockNode:
    """One `[[package]]` of uv.lock that lies on a path from the project to a torch-family package: the part
    of the lock graph the resolution model walks, so a recorded snapshot replays the same answer."""

    name: str
    version: str
    source_kind: str | None = None
    source: str | None = None
    dependencies: tuple[LockEdge, ...] = ()
    optional_dependencies: dict[str, tuple[LockEdge, ...]] = field(default_factory=dict)
    dependency_groups: dict[str, tuple[LockEdge, ...]] = field(default_factory=dict)
    """`[package.dev-dependencies]`: uv's record of dependency groups (legacy dev-dependencies are group "dev")."""


@dataclass(frozen=True)
class LockInfo:
    """What uv.lock pinned."""

    path: str
    version: int | None = None
    revision: int | None = None
    requires_python: str | None = None
    resolution_markers: tuple[str, ...] = ()
    supported_markers: tuple[str, ...] = ()
    """The lock's `supported-markers` (from `[tool.uv] environments`): uv installs it nowhere else."""
    package_count: int = 0
    packages: tuple[LockedPackage, ...] = ()
    """The torch family's entries, those of packages that build against torch (flash-attn, apex …), and NumPy's."""
    root_requires_dist: Any = None
    """The project's own `[package.metadata] requires-dist` as locked: compared with pyproject to see a stale lock."""
    root: str | None = None
    """The name of the project's own entry (source editable or virtual "."), where uv starts installing."""
    graph: tuple[LockNode, ...] = ()
    """The entries on a path from the project to a torch-family package (see LockNode); empty in snapshots
    recorded before the graph was read, which the resolution model then says it cannot answer from."""
    freshness: LockFreshness | None = None
    """What `uv lock --check --offline` said, when uv was on PATH at probe time."""


@dataclass(frozen=True)
class RequirementsOption:
    """An index option in a requirements file (`--index-url`, `--extra-index-url`, `--find-links`, `--pre`)."""

    path: str
    line: int
    option: str
    value: str | None = None


@dataclass(frozen=True)
class IndexPythons:
    """The Python versions an index publishes a package for, read from its page (nightly indexes)."""

    index: str
    url: str
    """The package's page, e.g. https://download.pytorch.org/whl/nightly/cu128/torch/."""
    package: str
    newest: str | None = None
    """The newest version on the page, e.g. "2.16.0.dev20261120+cu128"."""
    pythons: tuple[str, ...] = ()
    """The Pythons its wheels are built for, e.g. ("3.10", "3.11", "3.12", "3.13", "3.14")."""
    requires_python: str | None = None
    read_at: str | None = None
    from_cache: bool = False
    error: str | None = None
    """Why the page could not be read now (with a cached answer still given, if there was one)."""


@dataclass(frozen=True)
class RequirementLine:
    """A requirement in a requirements file, as written (markers included)."""

    path: str
    line: int
    requirement: str


@dataclass(frozen=True)
class InstallCommand:
    """A `pip install` or `uv pip install` in a Dockerfile RUN instruction, with build arguments resolved."""

    path: str
    line: int
    """The line the RUN instruction starts on."""
    tool: str
    """"pip" or "uv"."""
    text: str
    """The install command as it runs (ARG/ENV defaults substituted)."""
    packages: tuple[str, ...] = ()
    """The requirement specifiers named on the command line, unquoted."""
    requirement_files: tuple[str, ...] = ()
    pre: bool = False
    upgrade: bool = False
    no_cache_dir: bool = False
    cache_mount: bool = False
    """The RUN instruction mounts a BuildKit cache (`--mount=type=cache`)."""
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    run_flags: tuple[str, ...] = ()
    """The RUN instruction's own flags (`--mount=...`), kept to suggest the line rewritten."""


@dataclass(frozen=True)
class BaseImage:
    line: int
    image: str
    """As resolved from ARG defaults, e.g. "nvidia/cuda:12.8.0-runtime-ubuntu22.04"."""


@dataclass(frozen=True)
class DockerfileInfo:
    """What a Dockerfile installs and on which base image."""

    path: str
    base_images: tuple[BaseImage, ...] = ()
    installs: tuple[InstallCommand, ...] = ()


@dataclass(frozen=True)
class ProjectFileError:
    """A project file torchdoctor could not use, with the place where reading stopped."""

    path: str
    problem: str
    """"malformed", "binary", "empty", "too-large", "unreadable", "invalid-value", or "pip-incompatible" (a
    requirement uv accepts and pip rejects: the file is usable)."""
    message: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class DeviceAssignment:
    """Where the project's own code sets CUDA_VISIBLE_DEVICES (read with `ast`, never run)."""

    path: str
    """Relative to the project root."""
    line: int
    value: str | None = None
    """The literal assigned ("1", "0,1"); None when it is computed."""
    cuda_used_at: int | None = None
    """The line of a CUDA call before it in the same function or module body: the assignment comes too late there."""


@dataclass(frozen=True)
class CodeScan:
    """The scan of the project's .py files: how far it went and what it found."""

    files: int = 0
    truncated: bool = False
    """The caps (files, time) stopped it before every file was read."""
    assignments: tuple[DeviceAssignment, ...] = ()
    duration_s: float | None = None
    pinned_memory: tuple[str, ...] = ()
    """Where the code asks for page-locked host memory ("train.py:42": `pin_memory=True`, `.pin_memory()`), the first
    few: WSL2 limits it."""


@dataclass(frozen=True)
class DocumentedSync:
    """A `uv sync` the project tells its users (or its CI, its image) to run, where it says so."""

    file: str
    """Relative to the project's root: README.md, Makefile, Dockerfile, .github/workflows/ci.yml …"""
    line: int
    command: str
    """The command as written (cleaned of credentials), cut to 200 characters."""
    options: tuple[str, ...] = ()
    """The selections it installs, as the resolution model names them: "--extra gpu", "--group training"; "*extra"
    for --all-extras, "*group" for --all-groups."""


@dataclass(frozen=True)
class ProjectInfo:
    """The project directory's files that decide which torch gets installed."""

    root: str
    found_by: str = ""
    """How the root was found, e.g. "pyproject.toml in the current directory"."""
    pyproject: PyprojectInfo | None = None
    lock: LockInfo | None = None
    requirements_options: tuple[RequirementsOption, ...] = ()
    requirements_files: tuple[str, ...] = ()
    dockerfiles: tuple[str, ...] = ()
    errors: tuple[ProjectFileError, ...] = ()
    requirement_lines: tuple[RequirementLine, ...] = ()
    code_scan: CodeScan | None = None
    """Where the project's Python files set CUDA_VISIBLE_DEVICES; None when they were not scanned."""
    documented_syncs: tuple[DocumentedSync, ...] = ()
    """The `uv sync` commands its README, Makefile, Dockerfiles and CI workflows run (probes/documented.py)."""
    members: tuple[ProjectInfo, ...] = ()
    """A workspace root's members, each read as its own project (its pyproject.toml with the root's sources and
    indexes it does not override, and the workspace's one uv.lock seen from it): what `uv sync --package` installs."""
    dockerfile_details: tuple[DockerfileInfo, ...] = ()
    compose_gpu_files: tuple[str, ...] | None = None
    """Compose files at the project's root (compose.yaml, docker-compose.yml …) that ask for NVIDIA GPUs (`driver:
    nvidia`, `gpus:`, `capabilities: [gpu]`): the project runs in containers with a GPU. None when not read."""
    index_pythons: tuple[IndexPythons, ...] = ()
    """For each nightly PyTorch index the project names: what its newest torch is published for."""
    offline: bool = False
    """Read without asking any package index (`--offline`, TORCHDOCTOR_OFFLINE): re-reading it, proving a fix on it
    and fixing it ask none either."""


@dataclass(frozen=True)
class GpuActivity:
    """What NVML saw on the tested GPU during one part of the GEMM test, sampled every 20 ms: the
    facts that explain a slow result (clocks held down, and why)."""

    samples: int
    sm_clock_median_mhz: float | None = None
    sm_clock_max_mhz: int | None = None
    """The GPU's maximum SM clock, for comparison."""
    clock_event_reasons: dict[str, float] = field(default_factory=dict)
    """Share of the samples (0-1) in which each reason held the clocks down, e.g. {"sw_power_cap": 0.4}."""
    power_max_w: float | None = None
    power_limit_w: float | None = None
    temperature_max_c: int | None = None
    utilization_median_pct: float | None = None
    pcie_gen_min: int | None = None
    pcie_width_min: int | None = None


@dataclass(frozen=True)
class GpuProcess:
    """A process NVML lists on a GPU: while torchdoctor probed, or before the GEMM test started."""

    pid: int
    name: str | None = None
    used_memory: int | None = None
    state: str | None = None
    """/proc/PID/stat's state letter (S sleeping, T stopped …), read only where the process is this user's and has an
    NVIDIA device open (so the pid is this process here: inside a container NVML may name the host's pids); None
    otherwise: another user's, not visible in this PID namespace, or not read."""


@dataclass(frozen=True)
class GpuBaseline:
    """The tested GPU just before the GEMM test started: was something else already using it?"""

    utilization_pct: int | None = None
    """NVML's utilization over its last sampling period (up to a second), before our test ran."""
    memory_used: int | None = None
    processes: tuple[GpuProcess, ...] = ()
    sm_clock_max_mhz: int | None = None
    pcie_gen_max: int | None = None
    pcie_width_max: int | None = None
    power_limit_w: float | None = None


@dataclass(frozen=True)
class GemmResult:
    """One dtype's matrix-multiply rate: single products timed with CUDA events after an L2 flush."""

    dtype: str
    """"bf16", "fp16", "tf32" (fp32 storage, TF32 tensor cores allowed) or "fp32"."""
    n: int | None = None
    """The size of the square product (n×n by n×n); 2n³ floating-point operations per call."""
    tflops: float | None = None
    """Median rate of single products in TFLOP/s (10^12 per second); on a CPU still TFLOP/s, below 1."""
    tflops_p10: float | None = None
    tflops_p90: float | None = None
    tflops_sustained: float | None = None
    """The rate over the whole measurement window: lower than the median when something else (another
    process) took the GPU between or during our calls."""
    calls: int = 0
    unsettled_calls: int = 0
    """Leading calls left out of the rates because the GPU was still stepping down from boost clocks."""
    relative_error: float | None = None
    """Frobenius-norm error of a 64-row slice against float64, None when the result was not finite."""
    finite: bool = True
    error_limit: float | None = None
    seconds: float | None = None
    """Wall time this dtype took: allocation, warm-up, measurement and the check."""
    skipped: str | None = None
    """Why this dtype was not run on this device."""
    activity: GpuActivity | None = None


@dataclass(frozen=True)
class CopyResult:
    """Host↔device copy bandwidth of 32 MiB transfers (median)."""

    direction: str
    """"h2d" (host to device) or "d2h"."""
    memory: str
    """"pinned" (page-locked, DMA straight from it) or "pageable" (staged through a driver buffer)."""
    gb_per_s: float | None = None
    bytes: int | None = None
    error: str | None = None
    """Why it could not run, e.g. pinned memory could not be allocated."""
    activity: GpuActivity | None = None


@dataclass(frozen=True)
class BenchInfo:
    """The GEMM throughput test, run in the project's interpreter (`torchdoctor bench`, `check --bench`)."""

    status: BenchStatus
    """"ok", "failed" (an exception, e.g. out of memory), "crashed", "timed-out", "cancelled" or
    "interpreter-failed"; "incomplete" only while the records are read, before the process's end is known."""
    error: str | None = None
    device_type: str | None = None
    """"cuda", or "cpu" when torch has no usable CUDA (the numbers are then the CPU's)."""
    device_name: str | None = None
    device_index: int | None = None
    capability: tuple[int, int] | None = None
    multiprocessors: int | None = None
    cpu_threads: int | None = None
    torch_version: str | None = None
    torch_cuda: str | None = None
    tf32_override: str | None = None
    """NVIDIA_TF32_OVERRIDE as the test saw it: "1" makes cuBLAS compute fp32 products in TF32."""
    budget_s: float | None = None
    import_s: float | None = None
    cuda_init_s: float | None = None
    """CUDA context and cuBLAS creation: reported apart, it is not the GPU's speed."""
    measure_s: float | None = None
    """All measurement after CUDA initialisation, every dtype and the copies together."""
    wall_s: float | None = None
    nvml_index: int | None = None
    """The NVML index of the tested GPU (matched by UUID or PCI address), when NVML could watch it."""
    sampler_error: str | None = None
    baseline: GpuBaseline | None = None
    gemm: tuple[GemmResult, ...] = ()
    copies: tuple[CopyResult, ...] = ()
    stderr_tail: str | None = None


@dataclass(frozen=True)
class LibraryCode:
    """The SASS and PTX architectures embedded in one shared library of the project's environment."""

    package: str
    """The distribution that installed it (torch, flash-attn, the project itself)."""
    path: str
    """Relative to the environment's site-packages."""
    sass: tuple[str, ...] = ()
    ptx: tuple[str, ...] = ()
    requires_torch: str = ""
    """The package's own torch requirement (`torch==2.5.1` for a wheel built against that release), "" if none."""
    ptx_isa: str = ""
    """The newest PTX ISA version of its PTX ("9.0"), "" without PTX or from a snapshot older than this field."""
    missing_torch_symbols: tuple[str, ...] = ()
    """For an extension: the first (sorted) of torch's C++ symbols it needs that the installed torch does not define."""
    missing_torch_symbol_count: int = 0


@dataclass(frozen=True)
class FleetGpu:
    """One rank's GPU, as torch and NVML (read by the rank itself) see it."""

    name: str | None = None
    capability: tuple[int, int] | None = None
    memory: int | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    numa_node: int | None = None
    sm_clock_max_mhz: int | None = None
    power_limit_w: float | None = None
    power_default_limit_w: float | None = None
    temperature_c: int | None = None
    pcie_gen: int | None = None
    pcie_width: int | None = None
    pcie_gen_max: int | None = None
    pcie_width_max: int | None = None
    nvlink_active: int | None = None
    nvlink_version: int | None = None
    """NVML's nvmlNvlinkVersion_t value, raw (4 = NVLink 3.0, 6 = 4.0, 7 = 5.0)."""
    clock_event_reasons: tuple[str, ...] | None = None
    nvml_error: str | None = None


@dataclass(frozen=True)
class FleetRank:
    """What one rank of a `torchdoctor fleet` job reported about itself before anything was measured."""

    rank: int
    local_rank: int = 0
    node_rank: int = 0
    host: str = ""
    pid: int | None = None
    python: str | None = None
    executable: str | None = None
    torch: str | None = None
    cuda: str | None = None
    nccl: str | None = None
    cudnn: int | None = None
    driver: str | None = None
    device: str = "cpu"
    cpu_affinity: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    """NCCL_*, CUDA_*, TORCH_NCCL_*, GLOO_*, NVIDIA_*, UCX_*, FI_* variables, OMP_NUM_THREADS, LD_LIBRARY_PATH, LD_PRELOAD."""
    gpu: FleetGpu | None = None
    p2p: tuple[tuple[bool, ...], ...] = ()
    """Peer access between this node's GPUs (row i, column j: can GPU i reach GPU j), from its local rank 0."""
    startup_s: float | None = None


@dataclass(frozen=True)
class FleetGemm:
    """One rank's short GEMM test, run on every rank at once, with what NVML saw on its GPU meanwhile."""

    rank: int
    dtype: str = ""
    n: int = 0
    tflops: float | None = None
    sm_clock_median_mhz: float | None = None
    clock_event_reasons: dict[str, float] = field(default_factory=dict)
    """Share of the samples in which each reason held the clocks down."""
    processes: tuple[int, ...] | None = None
    """The processes NVML saw computing on this GPU at the end (the rank's own among them)."""
    error: str | None = None


@dataclass(frozen=True)
class CollectiveResult:
    """One collective at one size: the mean time of a call, on the slowest rank."""

    op: str
    bytes: int
    """The bytes moved per call: the buffer (all-reduce) or the gathered buffer (all-gather)."""
    seconds: float
    iterations: int = 0
    size: int = 0
    """The nominal size it was run at (1 MB … 1 GB); `bytes` is a little less when the ranks do not divide it."""


@dataclass(frozen=True)
class FleetInfo:
    """A `torchdoctor fleet` run: every rank's facts, its GEMM test, the collectives, and what did not finish."""

    world_size: int
    backend: str = ""
    timeout_s: float = 0.0
    ranks: tuple[FleetRank, ...] = ()
    gemm: tuple[FleetGemm, ...] = ()
    collectives: tuple[CollectiveResult, ...] = ()
    missing: dict[str, str] = field(default_factory=dict)
    """Rank → the phase it did not report in within the timeout ("facts", "gemm", "collectives")."""
    errors: tuple[str, ...] = ()
    """Errors the ranks reported (a collective that raised), each "rank N (phase): message"."""
    done: bool = False
    """Whether rank 0 finished; False when the job was stopped or died first."""
    command: str = ""
    """The torchrun command that ran it."""
    launcher_error: str | None = None
    """Why the job produced no results at all (torchrun missing, every rank failing): its last lines."""

    def rank(self, number: int) -> FleetRank | None:
        return next((r for r in self.ranks if r.rank == number), None)


@dataclass(frozen=True)
class Snapshot:
    """All the facts of one run: the machine, the project's interpreter and torch, and the project."""

    created_at: str
    """ISO 8601 time the probes ran, UTC."""
    torchdoctor_version: str
    interpreter: InterpreterInfo
    torch: TorchInfo
    nvml: NvmlInfo
    system: SystemInfo
    project: ProjectInfo
    bench: BenchInfo | None = None
    """The GEMM test, when it was asked for; None otherwise."""
    gpu_code: tuple[LibraryCode, ...] = ()
    """The GPU code in torch's libraries and in the installed packages that build against torch (extensions)."""
    fleet: FleetInfo | None = None
    """A `torchdoctor fleet` run (several ranks under torchrun), when that is what was run; None otherwise."""
    schema_version: int = SCHEMA_VERSION

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(finite_plain(serde.to_plain(self)), indent=indent, sort_keys=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        """Read a snapshot back; raises SnapshotError with a one-line reason on anything unusable."""
        try:
            data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except json.JSONDecodeError as error:
            raise SnapshotError(f"not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
        except RecursionError:
            raise SnapshotError("not a torchdoctor snapshot (nested thousands of levels deep)") from None
        if not isinstance(data, dict):
            raise SnapshotError("not a torchdoctor snapshot (the top level is not an object)")
        if "snapshot" in data and "diagnoses" in data:
            data = data["snapshot"]  # a `check --format json` report carries its snapshot
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            shown = clean(repr(version))[:80]  # never echo what a file says unread: it may be anything
            raise SnapshotError(f"snapshot schema version {shown} is not supported (this torchdoctor reads {SCHEMA_VERSION})")
        try:
            # A snapshot may come from anyone: what it says is cleaned as the probes clean what they read, secret-named
            # variables included.
            data = clean_data(data)
            system = data.get("system")
            if isinstance(system, dict) and isinstance(system.get("environment"), dict):
                system["environment"] = {name: redact_variable(str(name), value) if isinstance(value, str) else value
                                         for name, value in system["environment"].items()}
            return serde.from_plain(cls, data)
        except RecursionError:
            raise SnapshotError("not a valid torchdoctor snapshot: nested too deep") from None
        except serde.SerdeError as error:
            raise SnapshotError(f"not a valid torchdoctor snapshot: {error}") from None


def _no_constant(name: str) -> float:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise json.JSONDecodeError(f"{text} is out of range", text, 0)
    return value


def finite_plain(value: Any) -> Any:
    """Plain data JSON can write: a non-finite float (a probe's nan) as null, anything else that is not JSON (a TOML
    date kept as written) as its text. The last guard: readers already keep such values out."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not isinstance(value, (dict, list, str, int, float, bool)) and value is not None:
        return str(value)
    if isinstance(value, dict):
        return {key: finite_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_plain(item) for item in value]
    return value


class SnapshotError(ValueError):
    """A snapshot file that cannot be used; the message fits on one line."""
