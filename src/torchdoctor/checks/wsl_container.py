"""TD50x-TD52x: WSL2 and containers, the setups where GPUs most often go missing.

Under WSL2 the GPU is the Windows driver's: the kernel exposes it as /dev/dxg, and the driver's
Linux-side libraries are bind-mounted from the Windows driver store at /usr/lib/wsl/lib. There is no
kernel module and no /proc/driver/nvidia. A Linux driver installed inside WSL shadows those
libraries and breaks everything. The facts come from the system probe (read through a root, so the
tests lay out real WSL file trees); the signals and fixes are NVIDIA's CUDA-on-WSL guide and the
reports cited in each rule (../shared/research/scenarios.md S7, S8, S17, S25, S31-S33, S38).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from torchdoctor.checks.common import nvml_source, torch_source
from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.knowledge import decode_cuda_version
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import Snapshot

WSL_LIB = "/usr/lib/wsl/lib"
# NVIDIA's CUDA on WSL guide: GPU paravirtualisation needs a WSL 2 kernel 5.10.43.3 or newer.
MIN_WSL_KERNEL = Version("5.10.43.3")
WINDOWS_DRIVE_FILESYSTEMS = ("9p", "v9fs", "drvfs")


def wants_cuda(snapshot: Snapshot) -> bool:
    """Does this project expect an NVIDIA GPU? A CUDA torch build, or a CUDA index in pyproject.toml."""
    if snapshot.torch.cuda:
        return True
    pyproject = snapshot.project.pyproject
    return pyproject is not None and any("/cu1" in (i.url or "") or "/nightly/cu" in (i.url or "") for i in pyproject.indexes)


def library_path(snapshot: Snapshot) -> list[str]:
    return [p for p in snapshot.system.environment.get("LD_LIBRARY_PATH", "").split(":") if p]


def kernel_version(release: str | None) -> Version | None:
    """"5.15.133.1-microsoft-standard-WSL2" -> 5.15.133.1."""
    try:
        return Version((release or "").split("-")[0])
    except InvalidVersion:
        return None


def wsl2(snapshot: Snapshot):
    """The WSL details when this is WSL2, else None."""
    system = snapshot.system
    return system.wsl_details if system.wsl == "wsl2" and system.wsl_details is not None else None


def kernel_evidence(snapshot: Snapshot) -> Evidence:
    return Evidence("kernel release", snapshot.system.kernel_release or "unknown", "/proc/sys/kernel/osrelease")


def distro(snapshot: Snapshot) -> str:
    return snapshot.system.environment.get("WSL_DISTRO_NAME") or "<distro>"


@rule("TD501", "wsl1-has-no-gpu", fix=DISPLAY_ONLY)
def wsl1_has_no_gpu(snapshot: Snapshot) -> Iterator[Finding]:
    """The distribution runs under WSL1, which has no GPU support at all.

    What it detects:
        A WSL1 kernel ("4.4.0-NNNNN-Microsoft") while the project uses a CUDA torch build or index.
    Why it matters:
        WSL1 translates Linux system calls and has no /dev/dxg: CUDA can never see the GPU, whatever
        is installed. torch reports "Found no NVIDIA driver on your system".
    Fix safety:
        Converting the distribution to WSL2 is done from Windows.
    """
    if snapshot.system.wsl != "wsl1" or not wants_cuda(snapshot):
        return
    yield Finding(
        Severity.ERROR,
        "This distribution runs under WSL1, which cannot use the GPU",
        "GPU compute under WSL needs WSL2 (a real Linux kernel with GPU paravirtualisation). Convert the"
        " distribution from Windows; your files are kept.",
        (kernel_evidence(snapshot),),
        Fix("Convert the distribution to WSL2 (in PowerShell)", Applicability.DISPLAY_ONLY,
            commands=(f"wsl.exe --set-version {distro(snapshot)} 2", "wsl.exe --update", "wsl.exe --shutdown")),
    )


@rule("TD502", "wsl-gpu-not-exposed", fix=DISPLAY_ONLY)
def wsl_gpu_not_exposed(snapshot: Snapshot) -> Iterator[Finding]:
    """WSL2 does not expose the GPU: /dev/dxg is missing, or the WSL kernel is too old for it.

    What it detects:
        WSL2 without the GPU paravirtualisation device /dev/dxg, or a kernel older than 5.10.43.3.
    Why it matters:
        Without /dev/dxg no library can reach the Windows driver: cuInit returns CUDA_ERROR_NO_DEVICE and
        torch finds no GPU. Old Windows builds, an outdated WSL, or `gpuSupport=false` cause it.
    Fix safety:
        Updating WSL and restarting it is done from Windows.
    """
    details = wsl2(snapshot)
    if details is None or not wants_cuda(snapshot):
        return
    kernel = kernel_version(snapshot.system.kernel_release)
    old_kernel = kernel is not None and kernel < MIN_WSL_KERNEL
    if details.dxg and not old_kernel:
        return
    evidence = [Evidence("/dev/dxg", "present" if details.dxg else "missing", "/dev"), kernel_evidence(snapshot)]
    reason = "/dev/dxg is missing" if not details.dxg else f"the WSL kernel {kernel} is older than {MIN_WSL_KERNEL}"
    yield Finding(
        Severity.ERROR,
        f"WSL2 does not give this distribution the GPU: {reason}",
        "CUDA under WSL2 reaches the Windows driver through the /dev/dxg device, which needs a current WSL"
        f" (kernel {MIN_WSL_KERNEL} or newer) on Windows 10 21H2+ or Windows 11. Update WSL and restart it.",
        tuple(evidence),
        Fix("Update WSL and restart it (in PowerShell)", Applicability.DISPLAY_ONLY,
            commands=("wsl.exe --update", "wsl.exe --shutdown")),
    )


@rule("TD503", "wsl-windows-driver-missing", fix=DISPLAY_ONLY)
def wsl_windows_driver_missing(snapshot: Snapshot) -> Iterator[Finding]:
    """The Windows NVIDIA driver's libraries are not in /usr/lib/wsl/lib.

    What it detects:
        WSL2 with /dev/dxg, but no /usr/lib/wsl/lib/libcuda.so.1 (or no such folder).
    Why it matters:
        The Windows driver provides CUDA to WSL by mapping its libraries there; without them there is no
        libcuda and torch reports "Found no NVIDIA driver". The Windows NVIDIA driver is missing, is too
        old for WSL, or is another vendor's.
    Fix safety:
        Install the current NVIDIA driver on Windows (never a Linux driver in WSL).
    """
    details = wsl2(snapshot)
    if details is None or not details.dxg or not wants_cuda(snapshot):
        return
    files = details.lib_files
    if files is not None and "libcuda.so.1" in files:
        return
    value = "the folder does not exist" if files is None else "no libcuda.so.1 (has: " + (", ".join(sorted(files)) or "nothing") + ")"
    yield Finding(
        Severity.ERROR,
        "The Windows NVIDIA driver is not visible in WSL: /usr/lib/wsl/lib has no libcuda.so.1",
        "Under WSL2 the only NVIDIA driver is the Windows one; it maps libcuda and NVML into /usr/lib/wsl/lib."
        " Install the current Windows driver from nvidia.com (any recent Game Ready or Studio driver"
        " supports WSL), then restart WSL. Do not install a Linux driver inside WSL.",
        (Evidence(WSL_LIB, value, WSL_LIB),),
        Fix("Install the Windows NVIDIA driver, then restart WSL (in PowerShell)", Applicability.DISPLAY_ONLY,
            commands=("wsl.exe --shutdown",)),
    )


@rule("TD504", "wsl-lib-not-on-loader-path", fix=DISPLAY_ONLY)
def wsl_lib_not_on_loader_path(snapshot: Snapshot) -> Iterator[Finding]:
    """/usr/lib/wsl/lib exists but the dynamic loader does not search it.

    What it detects:
        WSL2 with the driver's libcuda.so.1 in /usr/lib/wsl/lib, while neither the loader cache
        (`ldconfig -p`, fed by /etc/ld.so.conf.d/ld.wsl.conf) nor LD_LIBRARY_PATH leads there.
    Why it matters:
        torch and NVML load libcuda.so.1 / libnvidia-ml.so.1 by name; if the loader cannot find them
        CUDA "has no driver". A deleted ld.wsl.conf, a custom image or a container built for WSL cause it.
    Fix safety:
        A root-owned loader configuration file.
    """
    details = wsl2(snapshot)
    if details is None or details.lib_files is None or "libcuda.so.1" not in details.lib_files:
        return
    system = snapshot.system
    cached = any(p.startswith(WSL_LIB + "/") for p in system.loader_cache.get("libcuda.so.1", ()))
    configured = WSL_LIB in system.loader_conf_dirs
    on_path = WSL_LIB in library_path(snapshot)
    if cached or configured or on_path:
        return
    evidence = (
        Evidence("ldconfig -p libcuda.so.1", ", ".join(system.loader_cache.get("libcuda.so.1", ())) or "not found", "ldconfig -p"),
        Evidence("loader folders", ", ".join(system.loader_conf_dirs) or "none", "/etc/ld.so.conf.d"),
        Evidence("LD_LIBRARY_PATH", system.environment.get("LD_LIBRARY_PATH", "unset"), "environment"),
    )
    yield Finding(
        Severity.ERROR,
        "The loader does not search /usr/lib/wsl/lib, so CUDA cannot find the Windows driver's libcuda",
        "WSL registers its driver folder in /etc/ld.so.conf.d/ld.wsl.conf; here it is not registered and"
        " LD_LIBRARY_PATH does not name it, so libcuda.so.1 and libnvidia-ml.so.1 cannot be loaded.",
        evidence,
        Fix("Register the WSL driver folder with the loader", Applicability.DISPLAY_ONLY,
            commands=(f"echo {WSL_LIB} | sudo tee /etc/ld.so.conf.d/ld.wsl.conf", "sudo ldconfig")),
    )


UNVERSIONED_LIBCUDA_BEFORE = {"triton": "2.1", "pytorch-triton": "2.1", "bitsandbytes": "0.43"}
"""Packages that load the driver as `libcuda.so` before these versions: Triton searched `ldconfig -p` for it until
triton PR#1981 (2.1); bitsandbytes' cuda_setup opened `libcuda.so` until its 0.43 rewrite (bitsandbytes#52 and
oobabooga/text-generation-webui#367 are WSL2 users it failed for). numba loads it in every version."""


def needs_unversioned_libcuda(snapshot: Snapshot) -> list[str]:
    """Installed packages that load the driver as `libcuda.so`: numba, Triton before 2.1, bitsandbytes before 0.43,
    and cuDNN 8, whose libcudnn_cnn_infer.so.8 opens it (pytorch/pytorch#85773: "Could not load library
    libcudnn_cnn_infer.so.8. Error: libcuda.so: cannot open shared object file")."""
    found = []
    for name, version in snapshot.torch.packages.items():
        if name in ("numba", "numba-cuda"):
            found.append(f"{name} {version}")
        elif name in UNVERSIONED_LIBCUDA_BEFORE or name.startswith("nvidia-cudnn-"):
            before = UNVERSIONED_LIBCUDA_BEFORE.get(name, "9")
            try:
                if Version(version) < Version(before):
                    found.append(f"{name} {version}")
            except InvalidVersion:
                continue
    cudnn = snapshot.torch.cudnn_version
    if cudnn is not None and 8000 <= cudnn < 9000 and not any(f.startswith("nvidia-cudnn-") for f in found):
        found.append(f"cuDNN {cudnn // 1000}.{cudnn % 1000 // 100}.{cudnn % 100} (torch's)")
    return found


@rule("TD505", "wsl-libcuda-unversioned-missing", fix=DISPLAY_ONLY)
def wsl_libcuda_unversioned_missing(snapshot: Snapshot) -> Iterator[Finding]:
    """Under WSL2, `libcuda.so` (without a version) does not resolve, and an installed package needs it.

    What it detects:
        WSL2 where /usr/lib/wsl/lib/libcuda.so.1 is a plain file, not a symbolic link (ldconfig says
        "libcuda.so.1 is not a symbolic link" and skips it), the loader cache has no `libcuda.so`,
        neither TRITON_LIBCUDA_PATH nor LD_LIBRARY_PATH points at /usr/lib/wsl/lib, and the environment
        has a package that loads `libcuda.so`: numba, a Triton older than 2.1 (torch < 2.1), bitsandbytes older than
        0.43, or cuDNN 8 (its libcudnn_cnn_infer.so.8 opens it).
    Why it matters:
        Eager torch works (it loads libcuda.so.1), but those packages fail: "libcuda.so cannot found!",
        "cannot find -lcuda", "OSError: libcuda.so: cannot open shared object file". Open since 2020 as
        microsoft/WSL#5548. Current Triton looks for libcuda.so.1 and is not affected, so a WSL2 machine
        without such packages is healthy.
    Fix safety:
        Environment variables for your shell profile or `.env` file.
    """
    details = wsl2(snapshot)
    if details is None or details.lib_files is None or details.lib_files.get("libcuda.so.1") != "file":
        return
    system = snapshot.system
    if system.loader_cache.get("libcuda.so") or system.environment.get("TRITON_LIBCUDA_PATH") or WSL_LIB in library_path(snapshot):
        return
    users = needs_unversioned_libcuda(snapshot)
    if not users:
        return
    yield Finding(
        Severity.WARNING,
        f"`libcuda.so` does not resolve under WSL2, and {', '.join(users)} needs it",
        "The Windows driver store ships libcuda.so, libcuda.so.1 and libcuda.so.1.1 as identical files, so"
        " ldconfig refuses to register them (\"is not a symbolic link\") and only libcuda.so.1 is found by"
        " name. Tools that look for libcuda.so fail while eager torch works. Point them at the folder.",
        (
            Evidence(f"{WSL_LIB}/libcuda.so.1", "a regular file, not a symbolic link", WSL_LIB),
            Evidence("ldconfig -p libcuda.so", "not found", "ldconfig -p"),
            Evidence("TRITON_LIBCUDA_PATH", "unset", "environment"),
            Evidence("packages that load libcuda.so", ", ".join(users), torch_source(snapshot)),
        ),
        Fix("Point Triton and the loader at the WSL driver folder (add to ~/.bashrc or the project's .env)",
            Applicability.DISPLAY_ONLY,
            commands=(f"export TRITON_LIBCUDA_PATH={WSL_LIB}", f"export LD_LIBRARY_PATH={WSL_LIB}:$LD_LIBRARY_PATH")),
    )


@rule("TD506", "linux-driver-inside-wsl", fix=DISPLAY_ONLY)
def linux_driver_inside_wsl(snapshot: Snapshot) -> Iterator[Finding]:
    """A Linux NVIDIA driver is installed inside WSL2, shadowing the Windows driver's libraries.

    What it detects:
        Under WSL2 any of: dpkg packages nvidia-driver-*, libnvidia-compute-*, nvidia-utils-*,
        cuda-drivers or the `cuda` meta-package; libcuda/libnvidia-ml files in the distribution's library
        folders; the loader resolving libcuda.so.1 or libnvidia-ml.so.1 outside /usr/lib/wsl/lib first;
        an nvidia-smi that is not /usr/lib/wsl/lib/nvidia-smi.
    Why it matters:
        Those libraries talk to a kernel module that does not exist in WSL: "NVIDIA-SMI has failed because
        it couldn't communicate with the NVIDIA driver", NVML "Driver Not Loaded", torch "Found no NVIDIA
        driver". NVIDIA's guide: "Do not install any Linux display driver in WSL".
    Fix safety:
        Removing packages is for you to run; torch wheels need no Linux CUDA driver.
    """
    details = wsl2(snapshot)
    if details is None:
        return
    system = snapshot.system
    evidence = []
    if system.driver_packages:
        evidence.append(Evidence("installed driver packages", ", ".join(system.driver_packages), "/var/lib/dpkg/status"))
    if system.system_driver_libraries:
        evidence.append(Evidence("driver libraries outside WSL's folder", ", ".join(system.system_driver_libraries), "the distribution's library folders"))
    for name in ("libcuda.so.1", "libnvidia-ml.so.1"):
        paths = system.loader_cache.get(name, ())
        if paths and not paths[0].startswith(WSL_LIB + "/"):
            evidence.append(Evidence(f"ldconfig -p {name}", " then ".join(paths), "ldconfig -p"))
    if system.nvidia_smi_path and not system.nvidia_smi_path.startswith(WSL_LIB + "/"):
        evidence.append(Evidence("nvidia-smi on PATH", system.nvidia_smi_path, "PATH"))
    if not evidence:
        return
    packages = system.driver_packages
    commands = []
    if packages:
        commands.append("sudo apt-get purge " + " ".join(f"'{p}'" if "*" in p else p for p in packages))
    else:
        commands.append("sudo apt-get purge 'nvidia-driver-*' 'nvidia-utils-*' 'libnvidia-compute-*' cuda-drivers")
    commands += ["sudo ldconfig", "wsl.exe --shutdown   # from PowerShell, then reopen the distribution"]
    yield Finding(
        Severity.ERROR,
        "A Linux NVIDIA driver is installed inside WSL2 and shadows the Windows driver",
        "Under WSL2 the Windows driver is the only NVIDIA driver; its libraries are in /usr/lib/wsl/lib. A Linux"
        " driver (often pulled in by the `cuda` or `cuda-drivers` meta-packages) puts its own libcuda and"
        " NVML first, and they cannot work without their kernel module. Remove it; keep only a"
        " cuda-toolkit-12-x package from NVIDIA's WSL-Ubuntu repository if you need nvcc.",
        tuple(evidence),
        Fix("Remove the Linux driver from WSL, then restart WSL", Applicability.DISPLAY_ONLY, commands=tuple(commands)),
    )


@rule("TD507", "nvml-wrong-library", fix=DISPLAY_ONLY)
def nvml_wrong_library(snapshot: Snapshot) -> Iterator[Finding]:
    """NVML was loaded from a stub or from a library other than the driver's.

    What it detects:
        The libnvidia-ml the NVML probe loaded lives in a `stubs` folder (CUDA toolkits ship stubs for
        linking only), or under WSL2 anywhere but /usr/lib/wsl/lib.
    Why it matters:
        A stub answers every call with an error; another library talks to a driver that is not there.
        nvidia-smi, nvtop, pynvml and torch's memory queries then fail or report nothing.
    Fix safety:
        The loader path is yours to change.
    """
    path = snapshot.nvml.library_path
    if not path:
        return
    stub = "/stubs/" in path
    wrong_under_wsl = snapshot.system.wsl == "wsl2" and not path.startswith(WSL_LIB + "/")
    if not (stub or wrong_under_wsl):
        return
    where = WSL_LIB if snapshot.system.wsl == "wsl2" else "the driver's folder"
    yield Finding(
        Severity.WARNING,
        f"NVML was loaded from {path}, {'a link-time stub' if stub else 'not the Windows driver'}",
        f"The real libnvidia-ml.so.1 is in {where}; a folder earlier on LD_LIBRARY_PATH or in the loader"
        " configuration puts another copy first.",
        (Evidence("libnvidia-ml loaded", path, nvml_source(snapshot)),
         Evidence("LD_LIBRARY_PATH", snapshot.system.environment.get("LD_LIBRARY_PATH", "unset"), "environment")),
        Fix("Take the stub's folder off the library path", Applicability.DISPLAY_ONLY,
            commands=(f"export LD_LIBRARY_PATH={WSL_LIB}:$LD_LIBRARY_PATH",) if snapshot.system.wsl == "wsl2"
            else ("echo $LD_LIBRARY_PATH   # remove the folder ending in /stubs",)),
    )


@rule("TD508", "project-on-windows-drive", fix=DISPLAY_ONLY)
def project_on_windows_drive(snapshot: Snapshot) -> Iterator[Finding]:
    """The project lives on a Windows drive (/mnt/c) while working inside WSL.

    What it detects:
        Under WSL, the project folder is on a 9p/drvfs mount (a Windows drive).
    Why it matters:
        Every file access crosses the 9P protocol: `uv sync` of a 3 GB torch stack is many times slower,
        uv cannot hard-link from its cache ("Failed to hardlink files; falling back to full copy"), and
        data loading and memory-mapped checkpoints crawl.
    Fix safety:
        Moving a project is yours to do.
    """
    mount = snapshot.system.project_mount
    if not snapshot.system.wsl or mount is None or mount.filesystem not in WINDOWS_DRIVE_FILESYSTEMS:
        return
    name = mount.path.rstrip("/").rsplit("/", 1)[-1] or "project"
    yield Finding(
        Severity.WARNING,
        f"The project is on a Windows drive ({mount.mount_point}, {mount.filesystem}): installs and data access are slow",
        "Files under /mnt/<drive> go through the 9P file server between Linux and Windows. Keep projects in"
        " the Linux file system (your home folder) and open them from Windows as \\\\wsl$ if needed.",
        (Evidence("project folder", f"{mount.path} on {mount.mount_point} ({mount.filesystem})", "/proc/mounts"),),
        Fix("Move the project into the Linux file system", Applicability.DISPLAY_ONLY,
            commands=(f"mkdir -p ~/src && cp -a '{mount.path}' ~/src/ && cd ~/src/{name} && uv sync",
                      "export UV_LINK_MODE=copy   # or at least silence the hard-link warning")),
    )


@rule("TD509", "uv-cache-on-another-filesystem", fix=DISPLAY_ONLY)
def uv_cache_on_another_filesystem(snapshot: Snapshot) -> Iterator[Finding]:
    """uv's cache is on another file system than the project, so every install copies.

    What it detects:
        The project and uv's cache (UV_CACHE_DIR, else ~/.cache/uv) are on different mounts and
        UV_LINK_MODE is not set.
    Why it matters:
        uv installs by hard-linking files from its cache, which only works within one file system;
        otherwise it copies every file (gigabytes for torch and its CUDA libraries) and warns
        "Failed to hardlink files; falling back to full copy" on each sync.
    Fix safety:
        An environment variable.
    """
    system = snapshot.system
    project, cache = system.project_mount, system.uv_cache_mount
    if project is None or cache is None or project.mount_point == cache.mount_point:
        return
    if system.environment.get("UV_LINK_MODE") or (system.wsl and project.filesystem in WINDOWS_DRIVE_FILESYSTEMS):
        return  # chosen deliberately, or TD508 already says more
    yield Finding(
        Severity.INFO,
        f"uv's cache ({cache.mount_point}) and the project ({project.mount_point}) are on different file systems: uv copies instead of linking",
        "Hard links cannot cross file systems, so each `uv sync` copies every file of torch's wheels."
        " Put the cache on the project's file system, or tell uv to copy without warning.",
        (Evidence("project", f"{project.path} on {project.mount_point} ({project.filesystem})", "/proc/mounts"),
         Evidence("uv cache", f"{cache.path} on {cache.mount_point} ({cache.filesystem})", "/proc/mounts")),
        Fix("Keep uv's cache beside the project, or choose copying", Applicability.DISPLAY_ONLY,
            commands=(f"export UV_CACHE_DIR={project.mount_point.rstrip('/')}/.cache/uv", "export UV_LINK_MODE=copy")),
    )


@rule("TD510", "wsl-memory-below-gpu-memory", fix=DISPLAY_ONLY)
def wsl_memory_below_gpu_memory(snapshot: Snapshot) -> Iterator[Finding]:
    """The WSL2 VM has less memory than the GPU.

    What it detects:
        Under WSL2, the memory Linux sees (the VM's limit: half of Windows' RAM by default, or
        `.wslconfig` memory=) is smaller than the GPU's memory.
    Why it matters:
        Loading a checkpoint that fills the GPU passes through host memory, and pinned memory is capped
        further under WSL ("CUDA error: out of memory" with a free GPU; DataLoader(pin_memory=True)).
        The process is killed or fails long before the GPU is full.
    Fix safety:
        `.wslconfig` is a Windows file; WSL must restart to apply it.
    """
    system = snapshot.system
    if system.wsl != "wsl2" or not system.memory_total:
        return
    gpu_memory = sum(g.memory_total or 0 for g in snapshot.nvml.gpus) or sum(d.total_memory for d in snapshot.torch.devices)
    if not gpu_memory or system.memory_total >= gpu_memory:
        return
    gib = 2**30
    wanted = math.ceil(gpu_memory / gib) + 8
    evidence = [
        Evidence("memory in WSL", f"{system.memory_total / gib:.1f} GiB", "psutil (the VM's limit)"),
        Evidence("GPU memory", f"{gpu_memory / gib:.1f} GiB", nvml_source(snapshot) if snapshot.nvml.gpus else torch_source(snapshot)),
    ]
    details = system.wsl_details
    if details is not None and details.config_path:
        evidence.append(Evidence(".wslconfig memory", details.config_memory or "not set (half of Windows' memory)", details.config_path))
    yield Finding(
        Severity.WARNING,
        f"WSL2 has {system.memory_total / gib:.1f} GiB of memory, less than the GPU's {gpu_memory / gib:.0f} GiB",
        "Models are loaded through host memory, and WSL limits pinned memory further; raise the VM's memory"
        " in %UserProfile%\\.wslconfig and restart WSL.",
        tuple(evidence),
        Fix(f"Give WSL at least {wanted} GB", Applicability.DISPLAY_ONLY,
            commands=(f"# %UserProfile%\\.wslconfig:  [wsl2]  memory={wanted}GB", "wsl.exe --shutdown")),
    )


@rule("TD511", "wsl-gpu-lost", fix=DISPLAY_ONLY)
def wsl_gpu_lost(snapshot: Snapshot) -> Iterator[Finding]:
    """WSL2's GPU path is all there, but the driver does not answer: typically a Windows driver update.

    What it detects:
        WSL2 with /dev/dxg and the driver's libraries in /usr/lib/wsl/lib and no Linux driver shadowing
        them, yet NVML fails or cuInit reports no device / an unknown error.
    Why it matters:
        /usr/lib/wsl/lib is mapped from the Windows driver store when the WSL VM starts; after a Windows
        driver update (or sleep) the running VM keeps the old mapping: nvidia-smi shows "CUDA Version:
        ERR!" and torch loses the GPU until WSL restarts.
    Fix safety:
        Restarting WSL closes every open distribution.
    """
    details = wsl2(snapshot)
    if details is None or not details.dxg or not details.lib_files or "libcuda.so.1" not in details.lib_files:
        return
    if snapshot.system.driver_packages or snapshot.system.system_driver_libraries:
        return  # TD506: a shadowing Linux driver is the cause
    nvml = snapshot.nvml
    driver = snapshot.torch.cuda_driver
    nvml_failed = nvml.status in ("gpu-lost", "error", "driver-not-loaded")
    cuinit_failed = driver is not None and driver.init_result in (100, 999)
    if not (nvml_failed or cuinit_failed):
        return
    evidence = []
    if nvml_failed:
        evidence.append(Evidence("NVML", f"{nvml.status}: {nvml.error}", nvml_source(snapshot)))
    if cuinit_failed and driver is not None:
        evidence.append(Evidence("cuInit(0)", str(driver.init_result), torch_source(snapshot)))
    evidence.append(Evidence(WSL_LIB, ", ".join(sorted(details.lib_files)), WSL_LIB))
    yield Finding(
        Severity.ERROR,
        "WSL2 has lost the GPU: the driver files are there but the driver does not answer",
        "This is what a Windows NVIDIA driver update (or resume from sleep) does to a running WSL VM: it keeps"
        " the old driver mapping. Restarting WSL picks up the new driver.",
        tuple(evidence),
        Fix("Restart WSL (in PowerShell), then reopen the distribution", Applicability.DISPLAY_ONLY,
            commands=("wsl.exe --shutdown",)),
    )


WSL_LIMITATIONS = ("docs.nvidia.com/cuda/wsl-user-guide, \"Known Limitations\": pinned system memory available to "
                   "applications is limited; read 2026-12-06")


@rule("TD512", "wsl-pinned-memory-limited", fix=DISPLAY_ONLY)
def wsl_pinned_memory_limited(snapshot: Snapshot) -> Iterator[Finding]:
    """Under WSL2, the project's code asks for pinned (page-locked) host memory, which WSL2 limits.

    What it detects:
        WSL2, and the project's own Python files (read with `ast`, never run) passing `pin_memory=True` or calling
        `.pin_memory()`.
    Why it matters:
        NVIDIA's CUDA on WSL guide lists pinned system memory as limited: a DataLoader with `pin_memory=True` or a
        pinned buffer can fail with "CUDA error: out of memory" while the GPU's memory is free (microsoft/WSL#8447:
        "Once i set pin_memory=False i can use all the memory on the GPU"; vLLM turns pinning off under WSL,
        vllm-project/vllm#188). A note: small pinned buffers work.
    Fix safety:
        The code is the project's: `pin_memory=False` under WSL, when such an error appears.
    """
    scan = snapshot.project.code_scan
    if snapshot.system.wsl != "wsl2" or scan is None or not scan.pinned_memory:
        return
    yield Finding(
        Severity.INFO,
        f"under WSL2 the project asks for pinned host memory ({', '.join(scan.pinned_memory[:3])}), which WSL2 limits",
        "WSL2 gives CUDA only a limited amount of page-locked host memory. A DataLoader with pin_memory=True, or a "
        "large pinned buffer, can fail with \"CUDA error: out of memory\" while the GPU has memory free. If that error "
        "appears, set pin_memory=False when running under WSL (slower host-to-GPU copies, no failure).",
        (Evidence("WSL", snapshot.system.wsl, "the kernel release"),
         *(Evidence("pinned memory asked", place, place.rsplit(":", 1)[0]) for place in scan.pinned_memory[:5]),
         Evidence("NVIDIA's guide", "pinned system memory is limited under WSL", WSL_LIMITATIONS)),
        Fix("Turn pinning off under WSL if the error appears", Applicability.DISPLAY_ONLY,
            commands=("# in the code: DataLoader(..., pin_memory=not is_wsl)  where",
                      "#   is_wsl = 'microsoft' in platform.uname().release.lower()")),
    )


@rule("TD520", "container-without-gpu-access", fix=DISPLAY_ONLY)
def container_without_gpu_access(snapshot: Snapshot) -> Iterator[Finding]:
    """Running in a container that was started without access to the GPU.

    What it detects:
        A container (Docker, Podman, Kubernetes) with no /dev/nvidia* device files and no /dev/dxg,
        while the project uses a CUDA torch build or index, and something says the container was meant to
        have a GPU: NVIDIA_VISIBLE_DEVICES naming GPUs (the runtime was asked and did not deliver: an error),
        or an NVIDIA CUDA image (NVIDIA_REQUIRE_CUDA, NVIDIA_DRIVER_CAPABILITIES) or the driver's libraries
        mounted, with no GPU asked for (a warning). A CPU-only container, with none of these, is a normal
        place to run a CUDA project's CI or CPU code: no finding.
    Why it matters:
        The image may have CUDA, but without the runtime's device files nothing can reach the GPU:
        torch says "Found no NVIDIA driver" although the host has one.
    Fix safety:
        How the container is started is outside the project.
    """
    system = snapshot.system
    if not system.container or not wants_cuda(snapshot):
        return
    nodes = [n for n in system.gpu_device_nodes if n == "/dev/dxg" or n[len("/dev/nvidia"):].isdigit()]
    if nodes:
        return
    visible = system.environment.get("NVIDIA_VISIBLE_DEVICES")
    asked = visible not in (None, "", "void", "none")
    gpu_image = any(system.environment.get(v) for v in ("NVIDIA_REQUIRE_CUDA", "NVIDIA_DRIVER_CAPABILITIES"))
    driver_mounted = any(system.loader_cache.get(name) for name in ("libcuda.so.1", "libnvidia-ml.so.1"))
    if not (asked or gpu_image or driver_mounted) or visible in ("void", "none"):
        return  # a CPU-only container, or one explicitly started without a GPU
    commands = {
        "docker": ("docker run --gpus all <image> ...   # needs the NVIDIA Container Toolkit on the host",),
        "podman": ("podman run --device nvidia.com/gpu=all <image> ...   # CDI: sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml",),
        "kubernetes": ("# in the pod spec: resources: { limits: { nvidia.com/gpu: 1 } }   (NVIDIA device plugin)",),
    }.get(system.container, ("docker run --gpus all <image> ...",))
    meaning = {None: "unset", "void": "void (explicitly no GPU)", "none": "none (no GPU, driver libraries only)", "": "empty"}
    signs = [f"NVIDIA_VISIBLE_DEVICES={visible}"] if asked else []
    signs += [v for v in ("NVIDIA_REQUIRE_CUDA", "NVIDIA_DRIVER_CAPABILITIES") if system.environment.get(v)]
    signs += ["the NVIDIA driver's libraries are mounted"] if driver_mounted else []
    yield Finding(
        Severity.ERROR if asked else Severity.WARNING,
        f"This {system.container} container was started without GPU access"
        + (" although a GPU was asked for" if asked else ""),
        "Containers reach the GPU only through device files that the NVIDIA runtime (or a CDI spec) adds when"
        " the container is started with a GPU request. None are present here, though this container looks meant"
        f" for a GPU ({'; '.join(signs)}).",
        (Evidence("container", f"{system.container} ({system.container_evidence})", "system probe"),
         Evidence("GPU device files", "none", "/dev"),
         Evidence("NVIDIA_VISIBLE_DEVICES", meaning.get(visible, visible or "unset"), "environment")),
        Fix("Start the container with a GPU", Applicability.DISPLAY_ONLY, commands=commands),
    )


@rule("TD521", "container-cuda-newer-than-driver", fix=DISPLAY_ONLY)
def container_cuda_newer_than_driver(snapshot: Snapshot) -> Iterator[Finding]:
    """The container image asks for a newer CUDA than the host's driver supports.

    What it detects:
        NVIDIA_REQUIRE_CUDA (set by nvidia/cuda images, e.g. "cuda>=12.8 brand=...") against the newest
        CUDA the host driver supports (NVML).
    Why it matters:
        The image's CUDA libraries (and anything compiled against them) need that driver; the NVIDIA
        runtime normally refuses to start such a container, so getting here means the check was disabled
        (NVIDIA_DISABLE_REQUIRE) and CUDA calls will fail with "driver version is insufficient".
        torch wheels bring their own CUDA runtime, but compiled extensions in the image do not.
    Fix safety:
        A host driver update or an older base image.
    """
    required_text = snapshot.system.environment.get("NVIDIA_REQUIRE_CUDA", "")
    supported = decode_cuda_version(snapshot.nvml.cuda_driver_version)
    if not required_text.startswith("cuda>=") or supported is None:
        return
    try:
        required = Version(required_text.split()[0][len("cuda>="):])
    except InvalidVersion:
        return
    if (required.major, required.minor) <= supported:
        return
    yield Finding(
        Severity.WARNING,
        f"The image needs CUDA {required.major}.{required.minor}; the host driver {snapshot.nvml.driver_version} supports up to {supported[0]}.{supported[1]}",
        "The base image's CUDA is newer than the driver on this host. Update the host driver, or build from"
        f" an image of CUDA {supported[0]}.{supported[1]} or older.",
        (Evidence("NVIDIA_REQUIRE_CUDA", required_text.split()[0], "the image's environment"),
         Evidence("driver supports CUDA", f"{supported[0]}.{supported[1]} (driver {snapshot.nvml.driver_version})", nvml_source(snapshot))),
        Fix("Match the image to the host driver", Applicability.DISPLAY_ONLY,
            commands=(f"# FROM nvidia/cuda:{supported[0]}.{supported[1]}.0-runtime-ubuntu22.04   (or update the host driver)",)),
    )


@rule("TD522", "cuda-visible-devices-out-of-range", fix=DISPLAY_ONLY)
def cuda_visible_devices_out_of_range(snapshot: Snapshot) -> Iterator[Finding]:
    """CUDA_VISIBLE_DEVICES names GPUs that do not exist.

    What it detects:
        A numeric entry in CUDA_VISIBLE_DEVICES at or above the number of GPUs NVML sees.
    Why it matters:
        CUDA reads the list up to the first invalid entry and ignores the rest, so "1" on a one-GPU
        machine hides the only GPU ("no CUDA-capable device is detected") and "0,2" on two GPUs gives one.
    Fix safety:
        The variable is set outside the project.
    """
    visible = snapshot.system.environment.get("CUDA_VISIBLE_DEVICES")
    nvml = snapshot.nvml
    if not visible or nvml.status != "ok" or not nvml.gpus:
        return
    count = len(nvml.gpus)
    entries = [e.strip() for e in visible.split(",") if e.strip()]
    missing = [e for e in entries if e.isdigit() and int(e) >= count]
    if not missing:
        return
    usable = []
    for entry in entries:
        if not entry.isdigit() or int(entry) >= count:
            break
        usable.append(entry)
    seen = f"CUDA sees {len(usable)} GPU(s): {','.join(usable)}" if usable else "CUDA sees no GPU"
    valid = ",".join(str(i) for i in range(count))
    yield Finding(
        Severity.ERROR,
        f"CUDA_VISIBLE_DEVICES={visible} names GPU(s) {', '.join(missing)}, but this machine has {count} (0-{count - 1})",
        f"CUDA stops reading the list at the first GPU that does not exist; {seen}.",
        (Evidence("CUDA_VISIBLE_DEVICES", visible, "environment"),
         Evidence("GPUs", str(count), nvml_source(snapshot))),
        Fix("Name GPUs that exist", Applicability.DISPLAY_ONLY, commands=(f"export CUDA_VISIBLE_DEVICES={valid}",)),
    )
