"""Probe the operating system: its kind of host (WSL, container), memory, CPU, CUDA toolkits, variables.

Everything is read through `root` (normally "/") and an injected environment and command runner, so
tests lay out a fake filesystem (a WSL2 box, a container) instead of mocking this module's logic.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from torchdoctor.probes.runner import CommandResult, run_command
from torchdoctor.redact import clean, redact_variable
from torchdoctor.snapshot import AmdGpu, CudaToolkit, DeviceFile, GpuHolder, MountInfo, ShmInfo, SystemInfo, WslInfo

# Variables that change which GPU, CUDA libraries, torch build or index a process gets.
EXACT_VARIABLES = (
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_LAUNCH_BLOCKING", "CUDA_MODULE_LOADING",
    "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDNN_HOME",
    "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_REQUIRE_CUDA", "CUDA_VERSION",
    "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HSA_OVERRIDE_GFX_VERSION",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "PATH",
    "TORCH_CUDA_ARCH_LIST", "TRITON_LIBCUDA_PATH",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_PRE",
    "WSL_DISTRO_NAME", "KUBERNETES_SERVICE_HOST", "container",
)
VARIABLE_PREFIXES = ("PYTORCH_", "TORCH_", "UV_", "NCCL_")

CommandRunner = Callable[..., CommandResult]


def probe_system(
    root: str | Path = "/",
    environ: Mapping[str, str] | None = None,
    run: CommandRunner = run_command,
    which: Callable[[str], str | None] = shutil.which,
    project: str | Path | None = None,
) -> SystemInfo:
    """The machine's facts, read through `root`; `project` is the project folder whose file system
    matters (a Windows drive under WSL, another file system than uv's cache)."""
    root = Path(root)
    environ = os.environ if environ is None else environ
    kernel = _read(root / "proc/sys/kernel/osrelease") or platform.release() or None
    container, container_evidence = detect_container(root, environ)
    nvcc_path, nvcc_version = _nvcc(root, environ, run, which)
    wsl = detect_wsl(kernel, environ)
    mounts = read_mounts(root)
    amd = amd_gpus(root) if platform.system() == "Linux" else None
    return SystemInfo(
        loader_cache=_loader_cache(root, run, which) if platform.system() == "Linux" else {},
        loader_conf_dirs=_loader_conf_dirs(root),
        driver_packages=_driver_packages(root),
        system_driver_libraries=_system_driver_libraries(root),
        nvidia_smi_path=which("nvidia-smi"),
        wsl_details=_wsl_details(root) if wsl else None,
        project_mount=mount_of(mounts, str(project)) if project is not None else None,
        uv_cache_mount=mount_of(mounts, uv_cache_dir(environ)) if project is not None else None,
        os_name=platform.system() or "unknown",
        os_release=_os_release(root),
        kernel_release=kernel.strip() if kernel else None,
        architecture=platform.machine() or None,
        libc=_libc(),
        wsl=wsl,
        container=container,
        container_evidence=container_evidence,
        cpu_model=_cpu_model(root),
        cpu_count=os.cpu_count(),
        memory_total=_memory_total(),
        environment=relevant_environment(environ),
        nvidia_kernel_driver=_kernel_driver(root),
        library_path_cuda=_library_path_cuda(root, environ.get("LD_LIBRARY_PATH", "")),
        gpu_device_nodes=_device_nodes(root),
        nvcc_path=nvcc_path,
        nvcc_version=nvcc_version,
        cuda_toolkits=_toolkits(root),
        shm=_shm(root) if platform.system() == "Linux" else None,
        cuda_compat_libraries=_cuda_compat_libraries(root) if platform.system() == "Linux" else None,
        amd_gpus=amd,
        rocm_version=_first_line(root / "opt/rocm/.info/version"),
        compilers=_compilers(run, which),
        cpu_flags=_cpu_flags(root) if platform.system() == "Linux" else None,
        conda_packages=_conda_packages(environ.get("CONDA_PREFIX")),
        iommu_groups=_translating_groups(root / "sys/kernel/iommu_groups") if platform.system() == "Linux" else None,
        kernel_iommu_options=_iommu_options(root) if platform.system() == "Linux" else None,
        gpu_holders=gpu_holders(root) if platform.system() == "Linux" else None,
        amd_device_files=amd_device_files(root) if platform.system() == "Linux" and amd else None,
        user_groups=_user_groups() if platform.system() == "Linux" else None,
        container_tools=_container_tools(root, which) if platform.system() == "Linux" and not container else None,
    )


def _compilers(run: CommandRunner, which) -> dict[str, str]:
    """The first line of each compiler's and CMake's `--version`, as collect_env reports them (a bug report asks)."""
    found = {}
    for tool in ("gcc", "clang", "cmake"):
        path = which(tool)
        if not path:
            continue
        result = run([path, "--version"], timeout_s=5)
        line = (result.stdout or "").strip().splitlines()[0:1]
        if result.returncode == 0 and line:
            found[tool] = line[0][:160]
    return found


CPU_ISA = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
           "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "asimdhp", "sve", "sve2", "bf16", "i8mm")


def _cpu_flags(root: Path) -> tuple[str, ...] | None:
    """The vector ISA flags of the first CPU in /proc/cpuinfo (x86 `flags`, Arm `Features`), in CPU_ISA's order."""
    text = _read(root / "proc/cpuinfo", 1 << 18)
    if text is None:
        return None
    match = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", text, re.MULTILINE)
    present = set(match.group(1).split()) if match else set()
    return tuple(flag for flag in CPU_ISA if flag in present)


CONDA_WANTED = re.compile(r"^(pytorch|torch|torchvision|torchaudio|pytorch-cuda|cuda-\w+|cudatoolkit|cudnn|nccl|numpy|"
                          r"triton|magma|mkl|libcublas|libcusparse|libnvjitlink)(?:-[a-z]+)*$")


def _conda_packages(prefix: str | None) -> tuple[str, ...] | None:
    """`name version build` of the conda environment's torch-related packages, from conda-meta's file names (conda
    itself is slow to start and is never run)."""
    if not prefix:
        return None
    try:
        names = sorted(n for n in os.listdir(Path(prefix) / "conda-meta") if n.endswith(".json"))[:4000]
    except OSError:
        return None
    found = []
    for name in names:
        parts = name.removesuffix(".json").rsplit("-", 2)
        if len(parts) == 3 and CONDA_WANTED.match(parts[0]):
            found.append(" ".join(parts))
    return tuple(found[:60])


IOMMU_OPTION = re.compile(r"^(?:intel_iommu|amd_iommu|iommu|iommu\.passthrough|iommu\.strict|pcie_acs_override)=|^pci=.*noacs")


def _iommu_options(root: Path) -> tuple[str, ...] | None:
    """The kernel command line's IOMMU and ACS options; the rest of the line (root=, secrets some put there) is not kept."""
    text = _read(root / "proc/cmdline", 1 << 16)
    if text is None:
        return None
    return tuple(token for token in text.split() if IOMMU_OPTION.match(token))[:16]


def _translating_groups(folder: Path) -> int | None:
    """The IOMMU groups whose type is not passthrough ("identity"); a group whose type cannot be read counts."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for _, entry in zip(range(4096), entries)]
    except OSError:
        return None
    return sum(1 for name in names if (_read(folder / name / "type", 64) or "").strip() != "identity")


def gfx_name(target_version: int) -> str:
    """KFD's gfx_target_version (major*10000 + minor*100 + stepping, decimal) as the ISA's name: 100302 -> gfx1032,
    90010 -> gfx90a (minor and stepping are written in hex)."""
    major, minor, stepping = target_version // 10000, target_version // 100 % 100, target_version % 100
    return f"gfx{major}{minor:x}{stepping:x}"


APU_TARGETS = frozenset({"gfx902", "gfx909", "gfx90c", "gfx1013", "gfx1033", "gfx1035", "gfx1036", "gfx1037", "gfx1103",
                         "gfx1150", "gfx1151", "gfx1152", "gfx1153"})
"""ISAs of GPUs built into AMD CPUs (LLVM's AMDGPU processor table: Raven, Renoir, Van Gogh, Rembrandt, Raphael's
iGPU, Mendocino, Phoenix, Strix), which KFD lists beside a discrete GPU."""


def amd_gpus(root: Path) -> tuple[AmdGpu, ...]:
    """The GPUs in AMD's KFD topology: each node with a gfx target (the CPU's node has none). No root needed; ()
    when there is no topology (no amdgpu driver), which on a machine without AMD GPUs is the truth."""
    nodes = root / "sys/class/kfd/kfd/topology/nodes"
    try:
        names = sorted((n for n in os.listdir(nodes) if n.isdigit()), key=int)[:64]
    except OSError:
        return ()
    found = []
    for name in names:
        properties = dict(line.split(None, 1) for line in (_read(nodes / name / "properties", 1 << 16) or "").splitlines()
                          if len(line.split(None, 1)) == 2)
        try:
            target = int(properties.get("gfx_target_version", "0"))
            device = int(properties["device_id"]) if "device_id" in properties else None
        except ValueError:
            continue
        if target > 0:
            gfx = gfx_name(target)
            integrated = properties.get("cpu_cores_count", "0").strip() not in ("", "0") or gfx in APU_TARGETS
            found.append(AmdGpu(node=int(name), gfx_target=gfx, device_id=device, integrated=integrated))
    return tuple(found)


HOLDER_SCAN_S = 0.08
"""How long the scan for processes holding a GPU may take; past it the answer is unknown, not "none"."""
NVIDIA_DEVICE = re.compile(r"^/dev/nvidia(\d+)$")


def gpu_holders(root: Path, own_pid: int | None = None, uid: int | None = None,
                budget_s: float = HOLDER_SCAN_S) -> tuple[GpuHolder, ...] | None:
    """This user's processes with a /dev/nvidiaN open (/proc/PID/fd, readable without root for one's own), except
    torchdoctor and what it started (its torch probe holds the GPU while this runs). Processes are filtered by owner
    first (a stat of /proc/PID), so a host's kernel threads and other users cost little. None when /proc cannot be
    read or the scan ran past its budget (a machine with very many processes of this user): unknown, not "none"."""
    started = time.monotonic()
    own_pid = os.getpid() if own_pid is None else own_pid
    uid = os.getuid() if uid is None else uid
    proc = root / "proc"
    try:
        pids = [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return None
    stats: dict[int, tuple[str, str, int]] = {}
    for pid in pids:
        if time.monotonic() - started > budget_s:
            return None
        if not _owned_by(proc / str(pid), uid):
            continue
        stat = _process_stat(proc / str(pid))
        if stat is not None:
            stats[pid] = stat
    ours = _descendants(own_pid, {pid: parent for pid, (_, _, parent) in stats.items()})
    holders = []
    for pid in sorted(stats):
        if time.monotonic() - started > budget_s:
            return None
        if pid in ours:
            continue
        devices = _open_gpus(proc / str(pid) / "fd")
        if devices:
            name, state, parent = stats[pid]
            holders.append(GpuHolder(pid=pid, name=clean(name), command=_command(proc / str(pid)), state=state,
                                     parent=parent, devices=devices))
    return tuple(holders[:64])


def _process_stat(folder: Path) -> tuple[str, str, int] | None:
    """(name, state letter, parent pid) from /proc/PID/stat; the name stands in parentheses and may hold spaces."""
    line = _read(folder / "stat", 4096)
    if not line or ")" not in line:
        return None
    fields = line[line.rfind(")") + 2:].split()
    try:
        return line[line.find("(") + 1:line.rfind(")")], fields[0], int(fields[1])
    except (IndexError, ValueError):
        return None


def _descendants(pid: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found, todo = {pid}, [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _owned_by(folder: Path, uid: int) -> bool:
    try:
        return folder.stat().st_uid == uid
    except OSError:
        return False


def _open_gpus(fd_folder: Path) -> tuple[int, ...]:
    """N of every /dev/nvidiaN among a process's open files; () when there is none or they cannot be read."""
    try:
        names = os.listdir(fd_folder)[:65536]
    except OSError:
        return ()
    found = set()
    for name in names:
        try:
            match = NVIDIA_DEVICE.match(os.readlink(fd_folder / name))
        except OSError:
            continue
        if match:
            found.add(int(match.group(1)))
    return tuple(sorted(found))


SCRIPT = re.compile(r"[^/\s]+\.(?:py|sh)$")


def _command(folder: Path) -> str | None:
    """The program and the script it runs ("python train.py", "torchrun train.py", "python -m vllm…"), as file names:
    the other arguments (an option's value may be a token) are never read into a snapshot, nor the rest of a title a
    program wrote over its command line."""
    raw = _read(folder / "cmdline", 1 << 16)
    if not raw:
        return None
    words = [w for w in raw.split("\0") if w]
    if not words:
        return None
    shown = [os.path.basename(words[0].split()[0]) if words[0].split() else ""]
    for word, following in zip(words[1:], [*words[2:], ""]):
        if word == "-c":  # `python -c "…"`: a multiprocessing worker started by spawn, or a one-liner
            shown.append("-c …")
            break
        if word == "-m" and re.fullmatch(r"[\w.]+", following):
            shown += ["-m", following]
            break
        if not word.startswith("-") and SCRIPT.search(word):  # `--config=x.py` is an option, not the script
            shown.append(os.path.basename(word))
            break
    return clean(" ".join(w for w in shown if w))[:120] or None


def amd_device_files(root: Path) -> tuple[DeviceFile, ...]:
    """/dev/kfd and the render nodes (/dev/dri/renderD*), with their group and whether this user may read and write
    them: ROCm opens both, and a user outside their group (`render`, `video`) gets no GPU."""
    paths = [root / "dev/kfd"] if (root / "dev/kfd").exists() else []
    try:
        paths += sorted(p for p in (root / "dev/dri").iterdir() if p.name.startswith("renderD"))[:16]
    except OSError:
        pass
    files = []
    for path in paths:
        try:
            status = path.stat()
        except OSError:
            continue
        files.append(DeviceFile(path="/" + str(path.relative_to(root)), group=_group_name(status.st_gid),
                                accessible=os.access(path, os.R_OK | os.W_OK),
                                group_rw=status.st_mode & 0o060 == 0o060))
    return tuple(files)


def _group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return str(gid)


def _user_groups() -> tuple[str, ...] | None:
    try:
        return tuple(sorted({_group_name(gid) for gid in {*os.getgroups(), os.getgid()}}))
    except OSError:
        return None


CONTAINER_TOOLS = ("docker", "podman", "nvidia-ctk", "nvidia-container-cli", "nvidia-container-runtime",
                   "nvidia-container-runtime-hook")


def _container_tools(root: Path, which: Callable[[str], str | None]) -> dict[str, str]:
    """Which container engines and NVIDIA Container Toolkit parts this host has: on PATH, or an NVIDIA CDI spec file
    (what `nvidia-ctk cdi generate` writes for podman and containerd)."""
    found = {name: path for name in CONTAINER_TOOLS if (path := which(name))}
    spec = next((f"/{folder}/{name}" for folder in ("etc/cdi", "var/run/cdi") for name in ("nvidia.yaml", "nvidia.json")
                 if (root / folder / name).exists()), None)
    return found | ({"cdi": spec} if spec else {})


def _first_line(path: Path) -> str | None:
    text = _read(path, 4096)
    line = text.strip().splitlines()[0].strip() if text and text.strip() else ""
    return line or None


def _shm(root: Path) -> ShmInfo | None:
    """/dev/shm's size and whether this user may write there; None when there is no /dev/shm to read."""
    shm = root / "dev/shm"
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    return ShmInfo(size_bytes=stat.f_frsize * stat.f_blocks, writable=os.access(shm, os.W_OK | os.X_OK))


def _cuda_compat_libraries(root: Path) -> tuple[str, ...]:
    """The libcuda files of CUDA forward-compatibility packages in the usual place (/usr/local/cuda*/compat)."""
    found = []
    try:
        tops = sorted(n for n in os.listdir(root / "usr/local") if n.startswith("cuda"))
    except OSError:
        return ()
    for top in tops[:16]:
        try:
            names = os.listdir(root / "usr/local" / top / "compat")
        except OSError:
            continue
        found += [f"/usr/local/{top}/compat/{n}" for n in sorted(names) if n.startswith("libcuda.so")]
    return tuple(dict.fromkeys(found))


def relevant_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that matter to CUDA, torch and uv, sorted, with secrets redacted."""
    chosen = {
        name: redact_variable(name, value)
        for name, value in environ.items()
        if name in EXACT_VARIABLES or name.startswith(VARIABLE_PREFIXES)
    }
    return dict(sorted(chosen.items()))


def detect_wsl(kernel_release: str | None, environ: Mapping[str, str]) -> str | None:
    """WSL2 kernels say "microsoft-standard-WSL2"; WSL1 reports a fake "4.4.0-NNNNN-Microsoft"."""
    release = (kernel_release or "").lower()
    if "microsoft" in release or "wsl" in release:
        return "wsl2" if ("wsl2" in release or "microsoft-standard" in release) else "wsl1"
    if environ.get("WSL_DISTRO_NAME") or environ.get("WSL_INTEROP"):
        return "wsl2" if environ.get("WSL_INTEROP") else "wsl1"
    return None


def detect_container(root: Path, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    if (root / ".dockerenv").exists():
        return "docker", "/.dockerenv exists"
    if (root / "run/.containerenv").exists():
        return "podman", "/run/.containerenv exists"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes", "KUBERNETES_SERVICE_HOST is set"
    kind = environ.get("container")
    if kind:
        return kind, f"container={kind} is set"
    cgroup = _read(root / "proc/1/cgroup") or ""
    for marker, name in (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"), ("lxc", "lxc")):
        if marker in cgroup:
            return name, f"/proc/1/cgroup mentions {marker}"
    return None, None


def _read(path: Path, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return None


def _os_release(root: Path) -> str | None:
    system = platform.system()
    if system == "Darwin":
        version = platform.mac_ver()[0]
        return f"macOS {version}" if version else "macOS"
    if system == "Windows":
        return f"Windows {platform.release()} ({platform.version()})"
    text = _read(root / "etc/os-release") or _read(root / "usr/lib/os-release")
    if not text:
        return None
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields.get("PRETTY_NAME") or fields.get("NAME")


def _libc() -> str | None:
    name, version = platform.libc_ver()
    return f"{name} {version}".strip() or None


def _cpu_model(root: Path) -> str | None:
    text = _read(root / "proc/cpuinfo")
    if text:
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    return platform.processor() or None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # psutil missing or unsupported platform: memory stays unknown
        return None


def _kernel_driver(root: Path) -> str | None:
    text = _read(root / "proc/driver/nvidia/version")
    if text:
        match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
        if match:
            return match.group(1)
    version = _read(root / "sys/module/nvidia/version")
    return version.strip() if version else None


def _device_nodes(root: Path) -> tuple[str, ...]:
    dev = root / "dev"
    try:
        names = sorted(n for n in os.listdir(dev) if n.startswith("nvidia") or n == "dxg" or n == "kfd")
    except OSError:
        return ()
    return tuple(f"/dev/{n}" for n in names)


# Toolkit libraries that torch wheels also ship (in nvidia/*/lib); driver libraries (libcuda, libnvidia-ml)
# are deliberately absent: finding those on the path is normal.
TOOLKIT_LIBRARIES = (
    "libcudart", "libcublas", "libcublasLt", "libcudnn", "libcufft", "libcurand", "libcusolver", "libcusparse",
    "libnccl", "libnvJitLink", "libnvrtc", "libcupti", "libcusparseLt",
)


def _library_path_cuda(root: Path, library_path: str) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for folder in dict.fromkeys(p for p in library_path.split(os.pathsep) if p):
        try:
            names = os.listdir(root / folder.lstrip("/"))
        except OSError:
            continue
        libraries = sorted({n.split(".so")[0] for n in names if ".so" in n and n.split(".so")[0] in TOOLKIT_LIBRARIES})
        if libraries:
            found[folder] = tuple(libraries)
    return found


def _nvcc(root: Path, environ: Mapping[str, str], run: CommandRunner, which) -> tuple[str | None, str | None]:
    """The nvcc that torch's extension builder uses: CUDA_HOME's (or CUDA_PATH's) first, then the one on PATH."""
    path = None
    for variable in ("CUDA_HOME", "CUDA_PATH"):
        home = environ.get(variable)
        if home and (Path(home) / "bin" / "nvcc").exists():
            path = str(Path(home) / "bin" / "nvcc")
            break
    path = path or which("nvcc")
    if path is None:
        return None, None
    result = run([path, "--version"], timeout_s=10)
    match = re.search(r"release (\d+\.\d+)", result.stdout)
    return path, match.group(1) if match else None


def _toolkits(root: Path) -> tuple[CudaToolkit, ...]:
    base = root / "usr/local"
    try:
        names = sorted(n for n in os.listdir(base) if n == "cuda" or n.startswith("cuda-"))
    except OSError:
        return ()
    found = []
    for name in names:
        folder = base / name
        version = None
        manifest = _read(folder / "version.json")
        if manifest:
            try:
                version = json.loads(manifest)["cuda"]["version"]
            except (ValueError, KeyError, TypeError):
                version = None
        if version is None:
            legacy = _read(folder / "version.txt") or ""
            match = re.search(r"(\d+\.\d+(?:\.\d+)?)", legacy)
            version = match.group(1) if match else None
        target = os.path.realpath(folder) if folder.is_symlink() else None
        found.append(CudaToolkit(path=f"/usr/local/{name}" + (f" -> {target}" if target else ""), version=version))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# the driver's libraries, and WSL's GPU path

LOADER_NAMES = ("libcuda.so", "libcuda.so.1", "libnvidia-ml.so", "libnvidia-ml.so.1")
WSL_LIB = "usr/lib/wsl/lib"
WSL_LIB_FILES = ("libcuda.so", "libcuda.so.1", "libcuda.so.1.1", "libnvidia-ml.so.1", "nvidia-smi")
# dpkg packages that install a Linux NVIDIA driver (NVIDIA's WSL guide: "Do not install any Linux display
# driver in WSL"; "Do not choose the cuda, cuda-12-x, or cuda-drivers meta-packages under WSL 2").
DRIVER_PACKAGE_PREFIXES = ("nvidia-driver-", "libnvidia-compute-", "nvidia-utils-", "nvidia-dkms-", "cuda-drivers")
DRIVER_META_PACKAGES = ("cuda",)
SYSTEM_LIBRARY_FOLDERS = ("usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "usr/lib64", "usr/lib")


def _loader_cache(root: Path, run: CommandRunner, which) -> dict[str, tuple[str, ...]]:
    """`ldconfig -p` for the driver's libraries: which file each name resolves to, in the loader's order.
    /sbin is often not on a user's PATH, so ldconfig is also looked for there (under `root`)."""
    ldconfig = which("ldconfig") or ("/sbin/ldconfig" if (root / "sbin/ldconfig").exists() else None)
    if ldconfig is None:
        return {}
    result = run([ldconfig, "-p"], timeout_s=10)
    return parse_loader_cache(result.stdout)


def parse_loader_cache(text: str) -> dict[str, tuple[str, ...]]:
    """"\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/wsl/lib/libcuda.so.1" lines, by library name."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, arrow, path = line.strip().partition(" => ")
        if not arrow:
            continue
        name = name.split(" (")[0].strip()
        if name in LOADER_NAMES:
            found.setdefault(name, []).append(path.strip())
    return {name: tuple(paths) for name, paths in sorted(found.items())}


def _loader_conf_dirs(root: Path) -> tuple[str, ...]:
    texts = [_read(root / "etc/ld.so.conf") or ""]
    try:
        confs = sorted(p for p in (root / "etc/ld.so.conf.d").iterdir() if p.name.endswith(".conf"))
    except OSError:
        confs = []
    texts += [_read(p) or "" for p in confs]
    folders = []
    for text in texts:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("include"):
                folders.append(line)
    return tuple(dict.fromkeys(folders))


def _driver_packages(root: Path) -> tuple[str, ...]:
    """Installed packages from dpkg's status file that put a Linux NVIDIA driver on the machine."""
    text = _read(root / "var/lib/dpkg/status", limit=64 << 20)
    if not text:
        return ()
    found = []
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(": ")
            if sep and not line.startswith(" "):
                fields[key] = value.strip()
        name = fields.get("Package", "")
        installed = fields.get("Status", "").endswith(" installed")
        if installed and (name.startswith(DRIVER_PACKAGE_PREFIXES) or name in DRIVER_META_PACKAGES):
            found.append(name)
    return tuple(sorted(found))


def _system_driver_libraries(root: Path) -> tuple[str, ...]:
    found = []
    for folder in SYSTEM_LIBRARY_FOLDERS:
        try:
            names = os.listdir(root / folder)
        except OSError:
            continue
        found += [f"/{folder}/{n}" for n in names if n.startswith(("libcuda.so", "libnvidia-ml.so"))]
    return tuple(sorted(found))


def _wsl_details(root: Path) -> WslInfo:
    folder = root / WSL_LIB
    lib_files = None
    if folder.is_dir():
        lib_files = {}
        for name in WSL_LIB_FILES:
            path = folder / name
            if path.is_symlink():
                lib_files[name] = "symlink"
            elif path.exists():
                lib_files[name] = "file"
    config_path, memory = _wslconfig(root)
    return WslInfo(dxg=(root / "dev/dxg").exists(), lib_files=lib_files, config_path=config_path, config_memory=memory)


def _wslconfig(root: Path) -> tuple[str | None, str | None]:
    """%UserProfile%\\.wslconfig, read through /mnt/c when exactly one user folder has one."""
    try:
        candidates = [p for p in (root / "mnt/c/Users").glob("*/.wslconfig") if p.is_file()]
    except OSError:
        return None, None
    if len(candidates) != 1:
        return None, None
    text = _read(candidates[0]) or ""
    section = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif section == "wsl2" and "=" in line:
            key, _, value = line.partition("=")
            if key.strip().lower() == "memory":
                return "/" + str(candidates[0].relative_to(root)), value.strip()
    return "/" + str(candidates[0].relative_to(root)), None


def read_mounts(root: Path) -> list[tuple[str, str]]:
    """(mount point, file system type) from /proc/mounts, in the kernel's order."""
    text = _read(root / "proc/mounts") or ""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            mounts.append((parts[1].replace("\\040", " "), parts[2]))
    return mounts


def mount_of(mounts: list[tuple[str, str]], path: str) -> MountInfo | None:
    """The mount a path lives on: the longest mount point that contains it (the last one wins a tie)."""
    best = None
    for point, filesystem in mounts:
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, filesystem)
    return MountInfo(path=path, mount_point=best[0], filesystem=best[1]) if best else None


def uv_cache_dir(environ: Mapping[str, str]) -> str:
    """uv's cache folder as uv chooses it on Linux: UV_CACHE_DIR, else $XDG_CACHE_HOME/uv, else ~/.cache/uv."""
    if environ.get("UV_CACHE_DIR"):
        return environ["UV_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "uv")
