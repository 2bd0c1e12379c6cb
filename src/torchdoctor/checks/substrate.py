"""TD523-TD525: what a container or a driver install puts under torch, beyond the torch build itself.

Each rule comes from resolved public threads (tests/fixtures/reports/README.md cites them): /dev/shm left at Docker's
64 MB (NCCL "unhandled system error", DataLoader "Bus error"), an image's CUDA forward-compatibility libraries on a
GPU that does not support them (error 804), a driver installed inside the image that shadows the host's. The facts
come from the system probe; a fact it could not read is unknown and keeps a rule silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from torchdoctor.checks.common import (
    GEFORCE_P2P,
    NCCL_TROUBLESHOOTING,
    SHM_ENOUGH,
    driver_library_versions,
    geforce_peer_access,
    gpu_count,
    iommu_in_the_way,
    nccl_kept_off_pcie_p2p,
    nvml_source,
    peer_access_evidence,
    shm_too_small,
    torch_source,
)
from torchdoctor.checks.registry import DISPLAY_ONLY, Finding, rule
from torchdoctor.model import Applicability, Evidence, Fix, Severity
from torchdoctor.snapshot import GpuHolder, GpuProcess, NvmlGpu, Snapshot

COMPAT_804 = re.compile(r"forward compatibility was attempted on non supported HW|error 804\b|CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
                        re.IGNORECASE)


@rule("TD523", "shared-memory-too-small", fix=DISPLAY_ONLY)
def shared_memory_too_small(snapshot: Snapshot) -> Iterator[Finding]:
    """/dev/shm is too small, or not writable, for NCCL and the DataLoader's worker processes.

    What it detects:
        On a machine with an NVIDIA GPU, /dev/shm smaller than 1 GiB (Docker gives a container 64 MB unless it is
        started with `--shm-size` or `--ipc=host`), or one this user cannot write to. An error when it is not
        writable and the machine has several GPUs (NCCL's intra-node transport needs it); else a warning.
    Why it matters:
        NCCL puts its intra-node buffers there: "NCCL WARN Error: failed to extend /dev/shm", then "unhandled system
        error" on the first collective. DataLoader workers pass batches through it: "Bus error" or "DataLoader
        worker ... is killed". Single-process, single-GPU work is not affected.
    Fix safety:
        How the container is started is outside the project: the commands are shown, never run.
    """
    shm = snapshot.system.shm
    count = gpu_count(snapshot)
    evidence = shm_too_small(snapshot)
    if shm is None or count == 0 or not evidence:
        return
    small = shm.size_bytes is not None and shm.size_bytes < SHM_ENOUGH
    container = snapshot.system.container
    size = f"{shm.size_bytes / (1 << 20):.0f} MiB" if shm.size_bytes is not None else "of unknown size"
    problem = (f"/dev/shm is {size}" + (" and not writable" if shm.writable is False else "")
               if small else "/dev/shm is not writable by this user")
    commands: tuple[str, ...] = {
        "kubernetes": ("# in the pod spec: a volume `emptyDir: {medium: Memory, sizeLimit: 16Gi}` mounted at /dev/shm",),
        "podman": ("podman run --ipc=host ...   # or --shm-size=16g",),
    }.get(container or "", ("docker run --ipc=host ...   # or --shm-size=16g (docker compose: shm_size: 16gb)",))
    if not container:
        commands = ("sudo mount -o remount,size=16G /dev/shm   # lasts until reboot; /etc/fstab makes it stay",)
    if shm.writable is False:
        commands = ("sudo chmod 1777 /dev/shm   # the usual mode: everyone may create files, only owners remove them",) + (
            commands if small else ())
    yield Finding(
        Severity.ERROR if shm.writable is False and count > 1 else Severity.WARNING,
        f"{problem}" + (f" in this {container} container" if container else "")
        + ": NCCL and DataLoader workers need shared memory",
        "NCCL keeps its intra-node buffers in /dev/shm (a collective fails with \"failed to extend /dev/shm\" and "
        "\"unhandled system error\"), and the DataLoader's worker processes hand batches over through it (\"Bus error\", "
        "\"DataLoader worker is killed\"). NCCL's guide asks for at least 1 GiB; Docker gives 64 MB unless the container "
        "is started with --ipc=host or --shm-size.",
        (*evidence, Evidence("GPUs", str(count), nvml_source(snapshot))),
        Fix("Give the container (or the machine) more shared memory", Applicability.DISPLAY_ONLY, commands=commands),
    )


@rule("TD524", "cuda-forward-compat-unsupported", fix=DISPLAY_ONLY)
def cuda_forward_compat_unsupported(snapshot: Snapshot) -> Iterator[Finding]:
    """CUDA initialisation failed with error 804: forward compatibility on a GPU that does not support it.

    What it detects:
        The CUDA driver API or torch reporting error 804 ("forward compatibility was attempted on non supported HW").
        NVIDIA's CUDA images carry a forward-compatibility libcuda (/usr/local/cuda/compat) that lets a newer CUDA
        run on an older driver, on data-center GPUs only; on a GeForce or most workstation GPUs it refuses.
    Why it matters:
        Nothing CUDA runs in that container: torch.cuda.is_available() is False, or the first CUDA call raises.
    Fix safety:
        The image and the host's driver are outside the project: the commands are shown, never run.
    """
    driver = snapshot.torch.cuda_driver
    texts = [snapshot.torch.cuda_error or "", *snapshot.torch.cuda_init_warnings, snapshot.torch.error or ""]
    said = next((t for t in texts if COMPAT_804.search(t)), None)
    if not (driver is not None and driver.init_result == 804) and said is None:
        return
    compat = snapshot.system.cuda_compat_libraries or ()
    evidence = [Evidence("cuInit", "804 (CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE)", "CUDA driver API")
                if driver is not None and driver.init_result == 804 else Evidence("CUDA error", said or "", torch_source(snapshot))]
    evidence += [Evidence("forward-compatibility libcuda", ", ".join(compat[:3]), "/usr/local/cuda*/compat")] if compat else []
    evidence += [Evidence("GPU", g.name or "?", nvml_source(snapshot)) for g in snapshot.nvml.gpus[:1]]
    folders = sorted({path.rsplit("/", 1)[0] for path in compat}) or ["/usr/local/cuda/compat"]
    yield Finding(
        Severity.ERROR,
        "CUDA refuses this GPU with error 804: the image's forward-compatibility driver library does not support it",
        "The container loads a libcuda from a CUDA forward-compatibility package (NVIDIA's CUDA images put one in "
        "/usr/local/cuda/compat) instead of the host driver's. Forward compatibility works only on data-center GPUs; "
        "elsewhere CUDA fails with \"forward compatibility was attempted on non supported HW\". Load the host's driver "
        "library, or use an image whose CUDA the host driver supports, or update the host driver.",
        tuple(evidence),
        Fix("Use the host driver's libcuda instead of the image's compat one", Applicability.DISPLAY_ONLY, commands=(
            "export LD_LIBRARY_PATH=$(echo \"$LD_LIBRARY_PATH\" | tr ':' '\\n' | grep -v /compat | paste -sd:)",
            f"# in the image: drop {', '.join(folders)} from /etc/ld.so.conf.d and LD_LIBRARY_PATH, then ldconfig",
            "# or: an image built for a CUDA the host driver supports (nvidia-smi's \"CUDA Version\")",
        )),
    )


@rule("TD525", "driver-installed-in-container", fix=DISPLAY_ONLY)
def driver_installed_in_container(snapshot: Snapshot) -> Iterator[Finding]:
    """A container carries NVIDIA driver libraries of its own, which do not match the host's kernel module.

    What it detects:
        Inside a container: the host's kernel module (/proc/driver/nvidia/version) and a driver library in the
        image with another version (its file name, libnvidia-ml.so.550.54.14), or NVML refusing with "Driver/library
        version mismatch". A driver package installed in the image (dpkg) is named when present.
    Why it matters:
        The NVIDIA container toolkit mounts the host's driver libraries into the container; libraries installed in
        the image shadow them and cannot talk to the host's kernel module: NVML and CUDA fail. A reboot, the remedy
        on a host, changes nothing.
    Fix safety:
        Rebuilding the image is outside the project: the commands are shown, never run.
    """
    system = snapshot.system
    if not system.container or system.wsl:
        return
    kernel = system.nvidia_kernel_driver
    refused = snapshot.nvml.error_code == 18 or "version mismatch" in (snapshot.nvml.error or "").lower()
    disagrees = snapshot.nvml.status == "ok" and bool(kernel) and snapshot.nvml.driver_version not in (None, kernel)
    # A leftover library file the toolkit's mount supersedes is harmless: the files count only when NVML refused or
    # answers with another version than the module's.
    others = [v for v in driver_library_versions(snapshot) if kernel and v != kernel] if refused or disagrees else []
    if not others and not (refused and (kernel or system.driver_packages)):
        return
    evidence = [Evidence("host kernel module", kernel or "unknown", "/proc/driver/nvidia/version")]
    evidence += [Evidence("driver library in the container", ", ".join(others), "the system library folders")] if others else []
    evidence += [Evidence("NVML", snapshot.nvml.error or "", nvml_source(snapshot))] if refused else []
    evidence += [Evidence("driver packages in the image", ", ".join(system.driver_packages), "dpkg status")] if system.driver_packages else []
    packages = " ".join(system.driver_packages) or "'nvidia-driver-*' 'libnvidia-compute-*'"
    yield Finding(
        Severity.ERROR,
        f"this {system.container} container has NVIDIA driver libraries of its own"
        + (f" ({', '.join(others)}) beside the host's kernel module {kernel}" if others else "")
        + ": they shadow the host driver the toolkit mounts",
        "The NVIDIA container toolkit mounts the host driver's user-space libraries, which match the host's kernel "
        "module. A driver installed in the image (a CUDA installer that installs drivers, an apt package) puts other "
        "versions first, and those refuse to talk to the kernel module (\"Failed to initialize NVML: Driver/library "
        "version mismatch\"). Rebooting does not help: remove the driver from the image.",
        tuple(evidence),
        Fix("Remove the driver from the image and let the toolkit mount the host's", Applicability.DISPLAY_ONLY, commands=(
            f"apt-get purge -y {packages}   # in the Dockerfile; then rebuild the image",
            "# CUDA's runfile installer: pass --toolkit (no driver) when building images",
        )),
    )


@rule("TD526", "cuda-visible-devices-in-code", fix=DISPLAY_ONLY)
def cuda_visible_devices_in_code(snapshot: Snapshot) -> Iterator[Finding]:
    """The project's own code sets CUDA_VISIBLE_DEVICES too late, or to GPUs this machine does not have.

    What it detects:
        In the project's .py files (read with `ast`, never run; capped at 2,000 files and half a second): an assignment
        of CUDA_VISIBLE_DEVICES (`os.environ[...] = `, `setdefault`, `update`, `putenv`) after a CUDA call in the same
        function or module body (`torch.cuda.…()`, `.cuda()`, `.to("cuda")`): a warning; and a
        literal value none of whose ordinals this machine's GPUs reach: a warning too (the script may be meant for
        another machine).
    Why it matters:
        CUDA reads the variable once, when it starts in the process: set after that, it changes nothing and the job
        runs on GPU 0 ("always used cuda index 0"). An ordinal beyond the GPUs hides them all: is_available() is False.
    Fix safety:
        The project's code is the user's to change: the line is named, nothing is edited.
    """
    scan = snapshot.project.code_scan
    if scan is None or not scan.assignments:
        return
    count = len(snapshot.nvml.gpus) if snapshot.nvml.status == "ok" else None
    for assignment in scan.assignments:
        where = f"{snapshot.project.root}/{assignment.path}:{assignment.line}"
        if assignment.cuda_used_at is not None:
            yield Finding(
                Severity.WARNING,
                f"{assignment.path}:{assignment.line} sets CUDA_VISIBLE_DEVICES after CUDA is first used (line "
                f"{assignment.cuda_used_at}): it changes nothing for that process",
                "CUDA reads CUDA_VISIBLE_DEVICES once, when it starts in the process; a CUDA call before the assignment "
                "started it, so every GPU stays visible and the job runs on GPU 0. Set it before the first CUDA call "
                "(at the top of the entry point), or in the shell: CUDA_VISIBLE_DEVICES=1 python train.py.",
                (Evidence("CUDA_VISIBLE_DEVICES set", assignment.value or "(computed)", where),
                 Evidence("first CUDA call before it", f"line {assignment.cuda_used_at}", where.rsplit(":", 1)[0])),
                Fix("Set it before CUDA starts", Applicability.DISPLAY_ONLY, commands=(
                    f"# move {assignment.path}:{assignment.line} above line {assignment.cuda_used_at}, or run:",
                    "CUDA_VISIBLE_DEVICES=<ordinals> python <script>")),
            )
        ordinals = _ordinals(assignment.value)
        if count and ordinals and all(o >= count for o in ordinals):
            # A warning: the script may be meant for another machine (a cluster node, an example).
            yield Finding(
                Severity.WARNING,
                f"{assignment.path}:{assignment.line} sets CUDA_VISIBLE_DEVICES={assignment.value}, but this machine has "
                f"{count} GPU(s) (ordinals 0-{count - 1}): run here, no GPU is visible to the job",
                "CUDA_VISIBLE_DEVICES lists the GPUs a process may see by their ordinal; one that does not exist hides "
                "them all, so torch.cuda.is_available() is False and the job runs on the CPU or fails.",
                (Evidence("CUDA_VISIBLE_DEVICES set", assignment.value or "", where),
                 Evidence("GPUs", str(count), nvml_source(snapshot))),
                Fix("Name GPUs this machine has, or take the value from the environment", Applicability.DISPLAY_ONLY,
                    commands=(f"# {assignment.path}:{assignment.line}: os.environ.setdefault(\"CUDA_VISIBLE_DEVICES\", \"0\")",)),
            )


def _ordinals(value: str | None) -> list[int]:
    """"1,3" as [1, 3]; [] for a computed value, UUIDs (GPU-…, MIG-…) or anything not a list of ordinals."""
    if not value:
        return []
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return [int(p) for p in parts] if parts and all(p.isdigit() for p in parts) else []


HELD_SHARE = 0.5
"""The share of a GPU's memory in use, while torchdoctor probes, above which it is said: torch's own probe holds
about half a gigabyte (its CUDA context) at most, so half of a card is someone else's work."""

OWN_PROBE_BYTES = 1 << 30
"""More GPU memory in use than torchdoctor's own torch probe could hold (its CUDA context, about half a gigabyte)."""

STOPPED = {"T": "stopped", "t": "stopped by a debugger"}
"""/proc's state letters of a process that keeps its GPU memory and computes nothing until it is continued."""


@rule("TD527", "gpu-memory-held", fix=DISPLAY_ONLY)
def gpu_memory_held(snapshot: Snapshot) -> Iterator[Finding]:
    """Most of a GPU's memory is held by other processes while nothing of the project runs, or by processes left behind.

    What it detects:
        NVML's used and total memory of each GPU, read while torchdoctor probes, and who holds it: the processes
        NVML lists, and this user's processes with the GPU's device file open (/proc/PID/fd), which finds what
        nvidia-smi does not show: a killed job's DataLoader workers living on under init, a container's view. More
        than half in use (torch's own probe holds about half a gigabyte at most), or more than 1 GiB that NVML's listed
        processes do not account for while such a left-behind process holds the GPU: a note naming the holders. A
        process of this user stopped with Ctrl+Z (or by a debugger) that holds the GPU: a note, a warning when more
        than half is in use. A job's own workers (their parent holds the GPU too) are part of it, not left behind.
    Why it matters:
        The next job gets only what is left: "CUDA out of memory. Tried to allocate … (… GiB total capacity; …
        already allocated …)" although the model fits the GPU, and a GEMM or NCCL test reads slower.
    Fix safety:
        Nothing is stopped for you: the processes are named with the command that ends them; that is your decision.
    """
    if snapshot.nvml.status != "ok":
        return
    holders = snapshot.system.gpu_holders
    for gpu in snapshot.nvml.gpus:
        listed = gpu.processes or ()
        device = gpu.minor_number if gpu.minor_number is not None else gpu.index
        on_gpu = [h for h in holders or () if device in h.devices]
        holding = {h.pid for h in on_gpu} | {p.pid for p in listed}
        # Unlisted holders whose parent holds the GPU too are that job's workers; under init, they are left behind.
        opened = [h for h in on_gpu if h.pid not in {p.pid for p in listed} and h.parent not in holding]
        left = [h for h in opened if h.parent == 1]
        total, used = gpu.memory_total, gpu.memory_used
        # Memory NVML's list accounts for: its processes confirmed here. Inside a container NVML may name the host's
        # pids, whose memory is then that of the holders found in /proc under other numbers.
        unexplained = (used - sum(p.used_memory or 0 for p in listed if p.state is not None)) if used is not None else None
        stopped = ([p for p in listed if p.state in STOPPED and (p.used_memory or 0) > 0]
                   + [h for h in opened if h.state in STOPPED and unexplained is not None and unexplained > OWN_PROBE_BYTES])
        held = total is not None and total > 0 and used is not None and used > HELD_SHARE * total
        hidden = bool(left) and unexplained is not None and unexplained > OWN_PROBE_BYTES
        if held or stopped or hidden:
            yield _held_finding(snapshot, gpu, listed, opened, stopped, held)


def _held_finding(snapshot: Snapshot, gpu: NvmlGpu, listed: Sequence[GpuProcess], opened: Sequence[GpuHolder],
                  stopped: Sequence[GpuProcess | GpuHolder], held: bool) -> Finding:
    gib = 1 << 30
    label = f"GPU {gpu.index} ({gpu.name or 'unknown'})"
    amount = (f"{gpu.memory_used / gib:.1f} of {gpu.memory_total / gib:.0f} GiB"
              if gpu.memory_used is not None and gpu.memory_total else "memory")
    names = [_holder_label(p) for p in listed] + [_holder_label(h) for h in opened]
    if stopped:
        first = stopped[0]
        title = (f"{label}: process {first.pid} ({_program(first)}) is {STOPPED[first.state or 'T']} and holds the GPU"
                 + (f" ({amount} in use)" if held else "") + ": it gives nothing back until it ends")
    elif held:
        title = f"{label} has {amount} in use by other processes: a new job gets the rest"
    else:
        title = (f"{label}: {amount} in use, held by process(es) left under init that "
                 + ("nvidia-smi does not list: " if gpu.processes is not None else "this user runs: ")
                 + ", ".join(f"{h.pid} ({_program(h)})" for h in opened[:3]))
    read = _what_was_read(snapshot, gpu)
    why = ((f"While torchdoctor probed, {amount} of this GPU's memory was in use by processes other than the project's. "
            if held else "")
           + ("A stopped process (Ctrl+Z, SIGSTOP, a debugger) keeps its GPU memory and computes nothing until it is "
              "continued or ends. " if stopped else "")
           + ("The processes: " + "; ".join(names) + ". One you did not start, or whose job has ended (a killed job's "
              "DataLoader workers live on under init, parent 1), is left behind. " if names else read)
           + "A job started now fails with \"CUDA out of memory\" as soon as it needs more than what is left.")
    evidence = [Evidence(f"GPU {gpu.index} memory in use", amount, nvml_source(snapshot))] if held else []
    evidence += [Evidence(f"process {p.pid}", _holder_facts(p), nvml_source(snapshot)) for p in listed[:6]]
    evidence += [Evidence(f"process {h.pid}", _holder_facts(h), f"/proc/{h.pid}/fd -> /dev/nvidia{h.devices[0]}")
                 for h in opened[:6]]
    minor = gpu.minor_number if gpu.minor_number is not None else gpu.index
    commands = [f"kill {p.pid}; kill -CONT {p.pid}   # TERM reaches a stopped process once it continues"
                if p.state == "T" else f"kill -KILL {p.pid}   # stopped by a debugger: detach it, or end it"
                for p in stopped[:3]]
    commands += ["nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",
                 f"fuser -v /dev/nvidia{minor}   # processes with the device open, stopped ones included (as root: every "
                 "user's)"]
    return Finding(
        Severity.WARNING if stopped and held else Severity.INFO,
        title,
        why,
        tuple(evidence),
        Fix("End what holds it, if it is left behind" if names else "See which processes hold it",
            Applicability.DISPLAY_ONLY, commands=tuple(commands)),
    )


def _what_was_read(snapshot: Snapshot, gpu: NvmlGpu) -> str:
    """Where nobody was named: what was asked and could not tell, never more than was read."""
    parts = ["NVML could not list its processes" if gpu.processes is None else "NVML lists no process on it",
             "the scan for this user's processes holding it did not run or ran out of time"
             if snapshot.system.gpu_holders is None else "none of this user's processes has it open"]
    return (f"{parts[0][0].upper()}{parts[0][1:]}, and {parts[1]}: the memory is held by another user's process, by one "
            "in another container or on the host (NVML cannot name those here), or by one that has exited and is "
            "still being torn down. ")


def _program(process: GpuProcess | GpuHolder) -> str:
    return (process.command if isinstance(process, GpuHolder) else None) or process.name or "unknown"


def _holder_label(process: GpuProcess | GpuHolder) -> str:
    return f"{process.pid} ({_program(process)}, {_holder_facts(process)})"


def _holder_facts(process: GpuProcess | GpuHolder) -> str:
    """"stopped; 12.0 GiB" or "sleeping; parent 1 (init …)": what tells a job that runs from one left behind."""
    state = STOPPED.get(process.state or "") or {
        "R": "running", "S": "sleeping", "D": "waiting in the kernel", "Z": "exited (a zombie)",
        None: "state not read"}.get(process.state, f"state {process.state}")
    parts = [state]
    if isinstance(process, GpuProcess) and process.used_memory:
        parts.append(f"{process.used_memory / (1 << 30):.1f} GiB")
    if isinstance(process, GpuHolder) and process.parent is not None:
        parts.append(f"parent {process.parent}" + (" (init: the process that started it has gone, or it runs as a "
                                                   "service)" if process.parent == 1 else ""))
    return "; ".join(parts)


@rule("TD528", "iommu-translates-gpu-peer-traffic", fix=DISPLAY_ONLY)
def iommu_translates_gpu_peer_traffic(snapshot: Snapshot) -> Iterator[Finding]:
    """On a machine with several GPUs, the IOMMU is active and not in passthrough mode.

    What it detects:
        Two or more GPUs (NVIDIA's or AMD's), IOMMU groups in /sys/kernel/iommu_groups (the IOMMU translates
        device traffic) and no `iommu=pt` (or the IOMMU off) on the kernel command line. A note: many machines run
        so without trouble; a warning where NCCL_P2P_DISABLE is set, the usual workaround for what this causes.
    Why it matters:
        With the IOMMU translating (and PCIe ACS redirecting peer requests up to the root complex), GPU peer-to-peer
        traffic is slowed or broken: NCCL all-reduce hangs with the GPUs at 100% and no error, or runs at a fraction
        of the bus bandwidth; RCCL the same on AMD. NVIDIA's NCCL troubleshooting guide names IOMMU and ACS;
        real threads: NVIDIA/nccl#257 (intel_iommu=off fixed it), #631, #2079 (ACS), ROCm/rccl#1129 (iommu=pt).
    Fix safety:
        A host setting, not the project's: `NCCL_P2P_DISABLE=1` confirms the cause (and works around it, slower);
        the cure is `iommu=pt` on the kernel command line (and ACS off in the BIOS), which needs root and a reboot.
    """
    evidence = iommu_in_the_way(snapshot)
    if not evidence:
        return
    disabled = snapshot.system.environment.get("NCCL_P2P_DISABLE")
    yield Finding(
        Severity.WARNING if disabled and disabled != "0" else Severity.INFO,
        "the IOMMU translates the traffic between this machine's GPUs (no iommu=pt): multi-GPU jobs may hang or crawl",
        "With the IOMMU active and not in passthrough, peer-to-peer reads and writes between GPUs go through address "
        "translation, and with PCIe ACS on they are sent up to the root complex: NCCL (or RCCL) all-reduce then hangs "
        "with the GPUs busy and no error, or reaches a fraction of its bandwidth. If a multi-GPU job hangs, run it once "
        "with NCCL_P2P_DISABLE=1: if that runs, this is the cause; the cure is `iommu=pt` on the kernel command line "
        "(and ACS off in the BIOS) on the host."
        + (f" NCCL_P2P_DISABLE={disabled} is set here: peer-to-peer is off, which this usually makes necessary."
           if disabled else ""),
        evidence + ((Evidence("NCCL_P2P_DISABLE", disabled, "environment"),) if disabled else ())
        + (Evidence("NCCL's guide", "IOMMU and PCI ACS break or slow GPU peer-to-peer", NCCL_TROUBLESHOOTING),),
        Fix("Confirm with NCCL_P2P_DISABLE=1; then boot the host with iommu=pt", Applicability.DISPLAY_ONLY,
            commands=("NCCL_P2P_DISABLE=1 torchrun --nproc-per-node=2 your_script.py  # runs: the IOMMU/ACS is the cause",
                      "# on the host: add iommu=pt to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then",
                      "sudo update-grub && sudo reboot")),
    )


@rule("TD529", "geforce-peer-access-reported", fix=DISPLAY_ONLY)
def geforce_peer_access_reported(snapshot: Snapshot) -> Iterator[Finding]:
    """The driver reports peer-to-peer access over PCIe between GeForce GPUs, which GeForce cards do not support.

    What it detects:
        Two or more GeForce GPUs of the RTX 30 series or newer, and a pair of them that NVML says may read each other's
        memory directly (`nvidia-smi topo -p2p r`: OK) without an NVLink bridge between them: a warning; a note where
        NCCL_P2P_DISABLE or NCCL_P2P_LEVEL (LOC, NVL) keeps NCCL off that path, since torch's direct copies between
        the GPUs still take it.
    Why it matters:
        NCCL (and `tensor.to("cuda:1")`) use peer-to-peer wherever the driver reports it. NVIDIA says GeForce cards do
        not support it; drivers that reported it anyway (the 545 series on RTX 3090s; several on RTX 4090s) made DDP
        hang at the first all-reduce with the GPUs at 100%, and copies between GPUs return zeros.
    Fix safety:
        NCCL_P2P_DISABLE=1 (NCCL then goes through host memory, slower) is set by you, per job or in your shell; a
        driver that does not report peer access on these cards (535 did not, pytorch/pytorch#119638) is installed on the host.
    """
    reported = geforce_peer_access(snapshot)
    if not reported:
        return
    kept_off = nccl_kept_off_pcie_p2p(snapshot)
    gpus = {g.index: g for g in snapshot.nvml.gpus}
    a, b = reported[0].gpus
    name = gpus[a].name or "GeForce"
    if kept_off:
        yield Finding(
            Severity.INFO,
            f"the driver reports peer-to-peer access between GPU {a} and GPU {b} ({name}) over PCIe, which GeForce cards "
            f"do not support; {kept_off} keeps NCCL off it, not direct copies between the GPUs",
            f"{kept_off} makes NCCL go through host memory, which cures its hangs; but torch's own copies from one GPU to "
            "another (`tensor.to(\"cuda:1\")`, a model split over GPUs with device_map) still take the peer path the "
            "driver reports, and have returned zeros on such cards. A driver that does not report peer access here "
            "cures both.",
            (*peer_access_evidence(snapshot), Evidence(kept_off.split("=")[0], kept_off.split("=")[1], "environment"),
             Evidence("GeForce and peer access", "not supported", GEFORCE_P2P)),
        )
        return
    yield Finding(
        Severity.WARNING,
        f"the driver ({snapshot.nvml.driver_version or 'version unknown'}) reports peer-to-peer access between GPU {a} "
        f"and GPU {b} ({name}) over PCIe, which GeForce cards do not support: multi-GPU jobs may hang",
        "NCCL and copies between GPUs use peer-to-peer wherever the driver reports it. NVIDIA says GeForce cards do not "
        "support it, and drivers that reported it anyway made DDP hang at its first all-reduce (GPUs at 100%, no error) "
        "and copies from one GPU to another return zeros. NCCL_P2P_DISABLE=1 sends the traffic through host memory "
        "instead; a driver that does not report peer access on these cards cures it on the host. (A kernel module "
        "patched to give these cards peer access, such as tinygrad's, is the exception: there it is meant.)",
        (*peer_access_evidence(snapshot), Evidence("driver", snapshot.nvml.driver_version or "unknown", nvml_source(snapshot)),
         Evidence("GeForce and peer access", "not supported", GEFORCE_P2P)),
        Fix("Keep NCCL off peer-to-peer on these GPUs", Applicability.DISPLAY_ONLY, commands=(
            "export NCCL_P2P_DISABLE=1   # then rerun the job; NCCL goes through host memory",
            "nvidia-smi topo -p2p r   # the driver's answer; after a driver change it should not read OK",
        )),
    )
